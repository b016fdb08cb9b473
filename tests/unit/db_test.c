/*
 * db_test.c - unit tests for the database interface (infra/db) and the embedded
 * migrations, run against SQLite (a temporary file) always and against PostgreSQL when
 * TEST_DATABASE_URL is set; the same test functions run for both backends. With
 * MC_REQUIRE_PG=1 a missing TEST_DATABASE_URL is a failure, not a skip.
 *
 * Every run creates its own tables (t_unit_<random>_parent/_child) and drops them at the
 * end; PostgreSQL migration tests run in a throw-away schema selected through the URL's
 * search_path option, so parallel runs and other suites do not collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/embed.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "infra/db/migrate.h"

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fix {
    bool pg;         /* PostgreSQL backend */
    char url[1024];  /* DATABASE_URL-style URL of the test database */
    char dir[64];    /* SQLite: temp directory holding the files */
    char prefix[32]; /* t_unit_<hex>: table names start with this */
    struct db *db;   /* pool of 4 */
};

static struct fix sqlite_fix, pg_fix;

/* ----------------------------------------------------------------- helpers ---- */

/* Expands @P / @C into this run's parent and child table names. The result lives in one
 * of a few rotating static buffers, enough for the nesting used below. */
static const char *q(const struct fix *f, const char *text)
{
    static char bufs[4][1024];
    static int next;
    char *out = bufs[next++ % 4];
    size_t o = 0;
    for (const char *p = text; *p && o + 40 < sizeof(bufs[0]); p++) {
        if (p[0] == '@' && (p[1] == 'P' || p[1] == 'C')) {
            o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "%s_%s", f->prefix,
                                  p[1] == 'P' ? "parent" : "child");
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static struct db_conn *acquire(struct fix *f)
{
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(f->db, 2000, &c), 0);
    assert_non_null(c);
    return c;
}

static void exec_ok(struct fix *f, struct db_conn *c, const char *text)
{
    int rc = db_exec(c, q(f, text), NULL, 0, NULL);
    if (rc != 0)
        print_error("%s: %s (%s)\n", text, mc_strerror(rc), db_last_error(c));
    assert_int_equal(rc, 0);
}

static long long count_rows(struct fix *f, struct db_conn *c, const char *table)
{
    char text[128];
    snprintf(text, sizeof(text), "SELECT count(*) FROM %s", table);
    struct db_stmt *st = NULL;
    assert_int_equal(db_query_row(c, q(f, text), NULL, 0, &st), 0);
    long long n = db_col_int(st, 0);
    db_finalize(st);
    return n;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const struct db_options opts4 = {.pool_size = 4, .statement_timeout_ms = 5000};

static void random_prefix(char *out, size_t cap)
{
    unsigned char r[4];
    char hex[9];
    mc_random_bytes(r, sizeof(r));
    mc_hex(r, sizeof(r), hex);
    snprintf(out, cap, "t_unit_%s", hex);
}

static int create_tables(struct fix *f)
{
    char err[256];
    int rc = db_open(f->url, &opts4, &f->db, err, sizeof(err));
    if (rc != 0) {
        print_error("db_open(%s): %s\n", f->pg ? "postgres" : "sqlite", err);
        return -1;
    }
    struct db_conn *c = NULL;
    if (db_acquire(f->db, 2000, &c) != 0)
        return -1;
    rc = db_exec(c, q(f, "CREATE TABLE @P (id TEXT PRIMARY KEY, label TEXT)"), NULL, 0, NULL);
    if (rc == 0)
        rc = db_exec(c,
                     q(f, "CREATE TABLE @C ("
                          " id BIGINT PRIMARY KEY,"
                          " parent_id TEXT REFERENCES @P(id),"
                          " name TEXT UNIQUE,"
                          " n BIGINT,"
                          " r DOUBLE PRECISION,"
                          " note TEXT,"
                          " must TEXT NOT NULL DEFAULT 'x')"),
                     NULL, 0, NULL);
    if (rc != 0)
        print_error("create tables: %s\n", db_last_error(c));
    db_release(c);
    return rc == 0 ? 0 : -1;
}

static int group_setup_sqlite(void **state)
{
    struct fix *f = &sqlite_fix;
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mc_db_test_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->url, sizeof(f->url), "sqlite:%s/test.db", f->dir);
    random_prefix(f->prefix, sizeof(f->prefix));
    *state = f;
    return create_tables(f);
}

static int group_setup_pg(void **state)
{
    struct fix *f = &pg_fix;
    memset(f, 0, sizeof(*f));
    f->pg = true;
    snprintf(f->url, sizeof(f->url), "%s", getenv("TEST_DATABASE_URL"));
    random_prefix(f->prefix, sizeof(f->prefix));
    *state = f;
    return create_tables(f);
}

static int group_teardown(void **state)
{
    struct fix *f = *state;
    if (f->db != NULL) {
        struct db_conn *c = NULL;
        if (db_acquire(f->db, 2000, &c) == 0) {
            db_exec(c, q(f, "DROP TABLE IF EXISTS @C"), NULL, 0, NULL);
            db_exec(c, q(f, "DROP TABLE IF EXISTS @P"), NULL, 0, NULL);
            db_release(c);
        }
        db_close(f->db);
        f->db = NULL;
    }
    if (f->dir[0] != '\0')
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Empties both tables before each test. */
static int clean(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = NULL;
    if (db_acquire(f->db, 2000, &c) != 0)
        return -1;
    int rc = db_exec(c, q(f, "DELETE FROM @C"), NULL, 0, NULL);
    if (rc == 0)
        rc = db_exec(c, q(f, "DELETE FROM @P"), NULL, 0, NULL);
    db_release(c);
    return rc == 0 && db_pool_in_use(f->db) == 0 ? 0 : -1;
}

/* Every test must give back what it borrowed. */
static int check_released(void **state)
{
    struct fix *f = *state;
    return db_pool_in_use(f->db) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------- open ---- */

static void pragma_or_show(struct db_conn *c, const char *sql, char *out, size_t cap)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, sql, NULL, 0, &st);
    if (rc != 0)
        print_error("%s: %s\n", sql, db_last_error(c));
    assert_int_equal(rc, 0);
    snprintf(out, cap, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "(null)");
    db_finalize(st);
}

static void open_checks_settings(void **state)
{
    struct fix *f = *state;
    assert_int_equal(db_kind(f->db), f->pg ? DB_POSTGRES : DB_SQLITE);
    assert_string_equal(db_kind_name(f->db), f->pg ? "postgres" : "sqlite");
    assert_int_equal(db_pool_size(f->db), 4);
    /* the settings hold on every pooled connection, not only the first */
    struct db_conn *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = acquire(f);
    for (int i = 0; i < 3; i++) {
        char v[64];
        assert_ptr_equal(db_conn_db(c[i]), f->db);
        assert_int_equal(db_ping(c[i]), 0);
        if (!f->pg) {
            pragma_or_show(c[i], "PRAGMA journal_mode", v, sizeof(v));
            assert_string_equal(v, "wal");
            pragma_or_show(c[i], "PRAGMA synchronous", v, sizeof(v));
            assert_string_equal(v, "2"); /* FULL */
            pragma_or_show(c[i], "PRAGMA foreign_keys", v, sizeof(v));
            assert_string_equal(v, "1");
            pragma_or_show(c[i], "PRAGMA busy_timeout", v, sizeof(v));
            assert_string_equal(v, "5000");
        } else {
            pragma_or_show(c[i], "SHOW fsync", v, sizeof(v));
            assert_string_equal(v, "on");
            pragma_or_show(c[i], "SHOW synchronous_commit", v, sizeof(v));
            assert_string_not_equal(v, "off");
            pragma_or_show(c[i], "SHOW statement_timeout", v, sizeof(v));
            assert_string_equal(v, "5s");
            pragma_or_show(c[i], "SHOW TimeZone", v, sizeof(v));
            assert_string_equal(v, "UTC");
        }
    }
    assert_int_equal(db_pool_in_use(f->db), 3);
    for (int i = 0; i < 3; i++)
        db_release(c[i]);
    db_release(NULL);
    assert_int_equal(db_pool_in_use(f->db), 0);
}

static void open_rejects_bad_urls(void **state)
{
    struct fix *f = *state;
    struct db *db = (struct db *)1;
    char err[256] = "";
    assert_int_equal(db_open("mysql://localhost/x", &opts4, &db, err, sizeof(err)), MC_ECONFIG);
    assert_null(db);
    assert_true(strlen(err) > 0);
    if (!f->pg) {
        /* only one missing directory level is created */
        err[0] = '\0';
        char url[160];
        snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/x.db", f->dir);
        assert_int_equal(db_open(url, &opts4, &db, err, sizeof(err)), MC_EUNAVAIL);
        assert_null(db);
        assert_non_null(strstr(err, "x.db"));
        /* one level is: sqlite:DIR/sub/x.db works and the file is in WAL mode */
        snprintf(url, sizeof(url), "sqlite:%s/sub/x.db", f->dir);
        assert_int_equal(db_open(url, &opts4, &db, err, sizeof(err)), 0);
        db_close(db);
        struct stat st;
        snprintf(url, sizeof(url), "%s/sub", f->dir);
        assert_int_equal(stat(url, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
    } else {
        /* a wrong password: unavailable, and the message does not carry it */
        char url[1100];
        const char *at = strchr(f->url + strlen("postgresql://"), '@');
        assert_non_null(at);
        snprintf(url, sizeof(url), "postgresql://mimicare:Wr0ngPassw0rdXyz%s", at);
        err[0] = '\0';
        assert_int_equal(db_open(url, &opts4, &db, err, sizeof(err)), MC_EUNAVAIL);
        assert_null(db);
        assert_true(strlen(err) > 0);
        assert_null(strstr(err, "Wr0ngPassw0rdXyz"));
        /* nothing listening */
        assert_int_equal(
            db_open("postgresql://u:p@127.0.0.1:1/none", &opts4, &db, err, sizeof(err)),
            MC_EUNAVAIL);
    }
}

/* ----------------------------------------------------------------- values ---- */

static const char tricky[] = "it's \"quoted\"; DROP TABLE x; -- ? $1 /* ? */ \\ %s %n \t\r\n"
                             "\xf0\x9f\x98\x80 caf\xc3\xa9 \xf0\x9d\x84\x9e \xe2\x82\xac";

static void params_round_trip(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    long long changes = -1;
    assert_int_equal(db_exec(c, q(f, "INSERT INTO @P (id, label) VALUES (?, ?)"),
                             DB_PARAMS(DBP_T("p1"), DBP_T(tricky)), &changes),
                     0);
    assert_true(changes == 1);
    const char *nothing = NULL;
    static const struct {
        long long id;
        long long n;
        double r;
        const char *note; /* NULL = SQL NULL */
    } rows[] = {
        {1, 0, 0.0, ""},
        {2, LLONG_MAX, 0.1, tricky},
        {3, LLONG_MIN, -1e300, NULL},
        {4, -42, 3.141592653589793, "plain"},
    };
    for (size_t i = 0; i < 4; i++) {
        int rc =
            db_exec(c,
                    q(f, "INSERT INTO @C (id, parent_id, name, n, r, note) "
                         "VALUES (?, ?, ?, ?, ?, ?)"),
                    DB_PARAMS(DBP_I(rows[i].id), i % 2 ? DBP_T("p1") : DBP_NULL_, DBP_TN(nothing),
                              DBP_I(rows[i].n), DBP_R(rows[i].r), DBP_TN(rows[i].note)),
                    NULL);
        if (rc != 0)
            print_error("insert %zu: %s\n", i, db_last_error(c));
        assert_int_equal(rc, 0);
    }
    struct db_stmt *st = NULL;
    assert_int_equal(db_query(c,
                              q(f, "SELECT id, parent_id, name, n, r, note FROM @C "
                                   "WHERE id >= ? ORDER BY id"),
                              DB_PARAMS(DBP_I(1)), &st),
                     0);
    assert_int_equal(db_col_count(st), 6);
    assert_string_equal(db_col_name(st, 0), "id");
    assert_string_equal(db_col_name(st, 5), "note");
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(db_step(st), 1);
        assert_true(db_col_int(st, 0) == rows[i].id);
        assert_true(db_col_null(st, 1) == (i % 2 == 0));
        if (i % 2)
            assert_string_equal(db_col_text(st, 1), "p1");
        else
            assert_null(db_col_text(st, 1));
        assert_true(db_col_null(st, 2));
        assert_true(db_col_int(st, 3) == rows[i].n);
        assert_true(db_col_real(st, 4) == rows[i].r); /* exact, not approximately */
        if (rows[i].note == NULL) {
            assert_true(db_col_null(st, 5));
            assert_null(db_col_text(st, 5));
        } else {
            assert_false(db_col_null(st, 5)); /* '' is not NULL */
            assert_string_equal(db_col_text(st, 5), rows[i].note);
        }
    }
    assert_int_equal(db_step(st), 0);
    db_finalize(st);

    /* the text comes back byte-identical and compares equal as a bound parameter; a '?'
     * inside a quoted literal of the SQL is not a placeholder */
    st = NULL;
    assert_int_equal(db_query_row(c,
                                  q(f, "SELECT label, '?' AS lit FROM @P "
                                       "WHERE label = ? AND id = ?"),
                                  DB_PARAMS(DBP_T(tricky), DBP_T("p1")), &st),
                     0);
    assert_int_equal(strlen(db_col_text(st, 0)), strlen(tricky));
    assert_memory_equal(db_col_text(st, 0), tricky, sizeof(tricky));
    assert_string_equal(db_col_text(st, 1), "?");
    db_finalize(st);
    /* the tables survived the text that looks like SQL */
    assert_true(count_rows(f, c, "@C") == 4);
    db_release(c);
}

static void query_row_and_errors(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    struct db_stmt *st = NULL;
    assert_int_equal(
        db_query_row(c, q(f, "SELECT id FROM @P WHERE id = ?"), DB_PARAMS(DBP_T("missing")), &st),
        MC_ENOTFOUND);
    assert_null(st);

    exec_ok(f, c, "INSERT INTO @P (id) VALUES ('a')");
    exec_ok(f, c, "INSERT INTO @C (id, parent_id, name) VALUES (1, 'a', 'one')");
    /* unique: primary key and a UNIQUE column */
    int rc = db_exec(c, q(f, "INSERT INTO @P (id) VALUES (?)"), DB_PARAMS(DBP_T("a")), NULL);
    assert_int_equal(rc, MC_ECONFLICT);
    assert_true(strlen(db_last_error(c)) > 0);
    rc = db_exec(c, q(f, "INSERT INTO @C (id, name) VALUES (?, ?)"),
                 DB_PARAMS(DBP_I(2), DBP_T("one")), NULL);
    assert_int_equal(rc, MC_ECONFLICT);
    /* foreign key and NOT NULL: the client's values are invalid */
    rc = db_exec(c, q(f, "INSERT INTO @C (id, parent_id) VALUES (?, ?)"),
                 DB_PARAMS(DBP_I(3), DBP_T("no-such-parent")), NULL);
    assert_int_equal(rc, MC_EINVAL);
    rc = db_exec(c, q(f, "DELETE FROM @P WHERE id = ?"), DB_PARAMS(DBP_T("a")), NULL);
    assert_int_equal(rc, MC_EINVAL);
    rc = db_exec(c, q(f, "INSERT INTO @C (id, must) VALUES (?, ?)"), DB_PARAMS(DBP_I(4), DBP_NULL_),
                 NULL);
    assert_int_equal(rc, MC_EINVAL);
    /* the same (cached) statement works again after a failure */
    rc = db_exec(c, q(f, "INSERT INTO @P (id) VALUES (?)"), DB_PARAMS(DBP_T("b")), NULL);
    assert_int_equal(rc, 0);
    /* our own mistakes: bad SQL, wrong number of parameters */
    assert_int_equal(db_exec(c, "SELEKT 1", NULL, 0, NULL), MC_EINTERNAL);
    assert_int_equal(db_exec(c, q(f, "SELECT id FROM @P WHERE id = ?"), NULL, 0, NULL),
                     MC_EINTERNAL);
    assert_int_equal(
        db_exec(c, q(f, "SELECT id FROM @P WHERE id = ?"), DB_PARAMS(DBP_T("a"), DBP_T("b")), NULL),
        MC_EINTERNAL);
    st = NULL;
    assert_int_equal(db_query(c, "SELECT * FROM t_unit_no_such_table", NULL, 0, &st), MC_EINTERNAL);
    assert_null(st);
    /* and the connection is still fine */
    assert_int_equal(db_ping(c), 0);
    assert_true(count_rows(f, c, "@P") == 2);
    assert_true(count_rows(f, c, "@C") == 1);
    db_release(c);
}

static void changes_and_nested_queries(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    long long changes = -1;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(db_exec(c, q(f, "INSERT INTO @C (id, n) VALUES (?, ?)"),
                                 DB_PARAMS(DBP_I(i), DBP_I(i * 10)), &changes),
                         0);
        assert_true(changes == 1);
    }
    assert_int_equal(db_exec(c, q(f, "UPDATE @C SET note = ? WHERE n > ?"),
                             DB_PARAMS(DBP_T("big"), DBP_I(25)), &changes),
                     0);
    assert_true(changes == 3);
    assert_int_equal(db_exec(c, q(f, "UPDATE @C SET note = ? WHERE n > ?"),
                             DB_PARAMS(DBP_T("big"), DBP_I(1000)), &changes),
                     0);
    assert_true(changes == 0);
    assert_int_equal(
        db_exec(c, q(f, "DELETE FROM @C WHERE id <= ?"), DB_PARAMS(DBP_I(2)), &changes), 0);
    assert_true(changes == 2);
    assert_int_equal(db_exec(c, q(f, "DELETE FROM @C WHERE id = ?"), DB_PARAMS(DBP_I(99)), NULL),
                     0);

    /* a query run while another one (with the very same SQL) is still open */
    const char *outer_sql = q(f, "SELECT id, n FROM @C WHERE id >= ? ORDER BY id");
    char outer_copy[512];
    snprintf(outer_copy, sizeof(outer_copy), "%s", outer_sql);
    struct db_stmt *outer = NULL;
    assert_int_equal(db_query(c, outer_copy, DB_PARAMS(DBP_I(0)), &outer), 0);
    int rows = 0;
    long long sum = 0;
    while (db_step(outer) == 1) {
        long long id = db_col_int(outer, 0);
        struct db_stmt *inner = NULL;
        assert_int_equal(db_query_row(c, outer_copy, DB_PARAMS(DBP_I(id)), &inner), 0);
        assert_true(db_col_int(inner, 0) == id);
        assert_true(db_col_int(inner, 1) == db_col_int(outer, 1));
        sum += db_col_int(inner, 1);
        db_finalize(inner);
        rows++;
    }
    db_finalize(outer);
    assert_int_equal(rows, 3);
    assert_true(sum == 30 + 40 + 50);
    db_release(c);
}

/* ------------------------------------------------------------ transactions ---- */

struct tx_arg {
    struct fix *f;
    int calls;
    int busy_first; /* return MC_EBUSY on the first busy_first calls */
    int fail_with;  /* after inserting, return this */
};

static int tx_insert(struct db_conn *c, void *p)
{
    struct tx_arg *a = p;
    a->calls++;
    int rc = db_exec(c, q(a->f, "INSERT INTO @C (id, n) VALUES (?, ?)"),
                     DB_PARAMS(DBP_I(100 + a->calls), DBP_I(a->calls)), NULL);
    if (rc != 0)
        return rc;
    rc = db_exec(c, q(a->f, "INSERT INTO @C (id, n) VALUES (?, ?)"),
                 DB_PARAMS(DBP_I(200 + a->calls), DBP_I(a->calls)), NULL);
    if (rc != 0)
        return rc;
    if (a->calls <= a->busy_first)
        return MC_EBUSY;
    return a->fail_with;
}

static void tx_commit_and_rollback(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    struct tx_arg a = {.f = f};
    assert_int_equal(db_tx(c, tx_insert, &a), 0);
    assert_int_equal(a.calls, 1);
    assert_true(count_rows(f, c, "@C") == 2);

    exec_ok(f, c, "DELETE FROM @C");
    a = (struct tx_arg){.f = f, .fail_with = MC_EINVAL};
    assert_int_equal(db_tx(c, tx_insert, &a), MC_EINVAL);
    assert_int_equal(a.calls, 1); /* only busy is retried */
    assert_true(count_rows(f, c, "@C") == 0);

    /* a database error inside the function rolls back what came before it */
    exec_ok(f, c, "INSERT INTO @C (id) VALUES (201)");
    a = (struct tx_arg){.f = f};
    assert_int_equal(db_tx(c, tx_insert, &a), MC_ECONFLICT);
    assert_true(count_rows(f, c, "@C") == 1);
    exec_ok(f, c, "DELETE FROM @C");

    /* by hand */
    assert_int_equal(db_begin(c), 0);
    exec_ok(f, c, "INSERT INTO @C (id) VALUES (1)");
    assert_int_equal(db_rollback(c), 0);
    assert_true(count_rows(f, c, "@C") == 0);
    assert_int_equal(db_begin(c), 0);
    exec_ok(f, c, "INSERT INTO @C (id) VALUES (2)");
    assert_int_equal(db_commit(c), 0);
    assert_true(count_rows(f, c, "@C") == 1);

    /* releasing a connection inside a transaction rolls it back */
    assert_int_equal(db_begin(c), 0);
    exec_ok(f, c, "INSERT INTO @C (id) VALUES (3)");
    db_release(c);
    c = acquire(f);
    assert_true(count_rows(f, c, "@C") == 1);
    /* and the connection is usable for a new transaction */
    a = (struct tx_arg){.f = f};
    assert_int_equal(db_tx(c, tx_insert, &a), 0);
    assert_true(count_rows(f, c, "@C") == 3);
    db_release(c);
}

static void tx_retries_busy(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    struct tx_arg a = {.f = f, .busy_first = 2};
    assert_int_equal(db_tx(c, tx_insert, &a), 0);
    assert_int_equal(a.calls, 3);
    /* only the third attempt's rows remain: 103 and 203 */
    assert_true(count_rows(f, c, "@C") == 2);
    struct db_stmt *st = NULL;
    assert_int_equal(db_query_row(c, q(f, "SELECT min(id), max(id) FROM @C"), NULL, 0, &st), 0);
    assert_true(db_col_int(st, 0) == 103);
    assert_true(db_col_int(st, 1) == 203);
    db_finalize(st);

    /* always busy: gives up after a bounded number of attempts, leaving nothing */
    exec_ok(f, c, "DELETE FROM @C");
    a = (struct tx_arg){.f = f, .busy_first = 1000};
    int64_t t0 = mc_mono_ns();
    assert_int_equal(db_tx(c, tx_insert, &a), MC_EBUSY);
    int64_t took_ms = (mc_mono_ns() - t0) / 1000000;
    assert_in_range(a.calls, 2, 20);
    assert_true(took_ms < 2000);
    assert_true(count_rows(f, c, "@C") == 0);
    db_release(c);
}

/* ------------------------------------------------------------------- pool ---- */

struct waiter {
    struct db *db;
    int rc;
    int64_t waited_ms;
    struct db_conn *c;
};

static void *wait_for_conn(void *p)
{
    struct waiter *w = p;
    int64_t t0 = mc_mono_ns();
    w->rc = db_acquire(w->db, 5000, &w->c);
    w->waited_ms = (mc_mono_ns() - t0) / 1000000;
    return NULL;
}

static void pool_limits(void **state)
{
    struct fix *f = *state;
    struct db_options o = {.pool_size = 3, .statement_timeout_ms = 2000};
    struct db *db = NULL;
    char err[256];
    assert_int_equal(db_open(f->url, &o, &db, err, sizeof(err)), 0);
    assert_int_equal(db_pool_size(db), 3);
    assert_int_equal(db_pool_in_use(db), 0);
    struct db_conn *c[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(db_acquire(db, 100, &c[i]), 0);
        assert_int_equal(db_pool_in_use(db), i + 1);
        assert_int_equal(db_ping(c[i]), 0);
    }
    assert_true(c[0] != c[1] && c[1] != c[2] && c[0] != c[2]);
    /* exhausted: MC_EBUSY once the timeout has passed, not before */
    struct db_conn *extra = (struct db_conn *)1;
    int64_t t0 = mc_mono_ns();
    assert_int_equal(db_acquire(db, 150, &extra), MC_EBUSY);
    int64_t waited = (mc_mono_ns() - t0) / 1000000;
    assert_null(extra);
    assert_in_range(waited, 140, 2000);
    assert_int_equal(db_pool_in_use(db), 3);
    /* a release hands the connection to a waiter right away */
    struct waiter w = {.db = db};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_for_conn, &w), 0);
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    struct db_conn *given = c[1];
    db_release(c[1]);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    assert_ptr_equal(w.c, given);
    assert_in_range(w.waited_ms, 50, 2000);
    assert_int_equal(db_pool_in_use(db), 3);
    db_release(w.c);
    db_release(c[0]);
    db_release(c[2]);
    assert_int_equal(db_pool_in_use(db), 0);
    /* connections are reused, not opened again */
    struct db_conn *again = NULL;
    assert_int_equal(db_acquire(db, 0, &again), 0);
    assert_true(again == c[0] || again == c[1] || again == c[2]);
    db_release(again);
    db_close(db);
}

/* ---------------------------------------------------------- placeholders ---- */

static void rewrite_placeholders(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int count;
    } cases[] = {
        {"", "", 0},
        {"SELECT 1", "SELECT 1", 0},
        {"SELECT ?, ?", "SELECT $1, $2", 2},
        {"SELECT '?', ?", "SELECT '?', $1", 1},
        {"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
        {"SELECT ''?", "SELECT ''$1", 1},
        {"SELECT '''?'", "SELECT '''?'", 0},
        {"SELECT 'a''''?' || ?", "SELECT 'a''''?' || $1", 1},
        {"SELECT \"col?\" FROM t WHERE a = ?", "SELECT \"col?\" FROM t WHERE a = $1", 1},
        {"SELECT \"a\"\"?\" , ?", "SELECT \"a\"\"?\" , $1", 1},
        {"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2", 2},
        {"SELECT ? -- trailing ?", "SELECT $1 -- trailing ?", 1},
        {"SELECT ? /* ? '?' */ , ?", "SELECT $1 /* ? '?' */ , $2", 2},
        {"SELECT ? /* unterminated ?", "SELECT $1 /* unterminated ?", 1},
        {"SELECT 'unterminated ?", "SELECT 'unterminated ?", 0},
        {"SELECT 5-? , 6/?", "SELECT 5-$1 , 6/$2", 2},
        {"??", "$1$2", 2},
        {"-- '\n?", "-- '\n$1", 1},
        {"?,?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12", 12},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = -1;
        char *out = db_rewrite_placeholders(cases[i].in, &n);
        if (strcmp(out, cases[i].out) != 0 || n != cases[i].count)
            print_error("case %zu: '%s' -> '%s' (%d)\n", i, cases[i].in, out, n);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, cases[i].count);
        free(out);
    }
    char *out = db_rewrite_placeholders("a = ?", NULL);
    assert_string_equal(out, "a = $1");
    free(out);
}

/* ------------------------------------------------------------- migrations ---- */

/* Opens a database for migration tests: a fresh SQLite file, or the PostgreSQL test
 * database with search_path set to a new schema. */
static struct db *open_fresh(struct fix *f, char *schema, size_t cap)
{
    char url[1200];
    char err[256];
    struct db *db = NULL;
    schema[0] = '\0';
    if (!f->pg) {
        char rnd[32];
        random_prefix(rnd, sizeof(rnd));
        snprintf(url, sizeof(url), "sqlite:%s/%s.db", f->dir, rnd);
    } else {
        random_prefix(schema, cap);
        size_t n = strlen(schema);
        snprintf(schema + n, cap - n, "_s");
        struct db_conn *c = acquire(f);
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
        assert_int_equal(db_exec(c, sql, NULL, 0, NULL), 0);
        db_release(c);
        snprintf(url, sizeof(url), "%s%soptions=-csearch_path%%3D%s", f->url,
                 strchr(f->url, '?') ? "&" : "?", schema);
    }
    int rc = db_open(url, &opts4, &db, err, sizeof(err));
    if (rc != 0)
        print_error("open %s: %s\n", url, err);
    assert_int_equal(rc, 0);
    return db;
}

static void close_fresh(struct fix *f, struct db *db, const char *schema)
{
    db_close(db);
    if (f->pg && schema[0] != '\0') {
        struct db_conn *c = acquire(f);
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
        assert_int_equal(db_exec(c, sql, NULL, 0, NULL), 0);
        db_release(c);
    }
}

static void migrate_fresh_then_noop(void **state)
{
    struct fix *f = *state;
    char schema[48];
    struct db *db = open_fresh(f, schema, sizeof(schema));
    int want = (int)(f->pg ? embed_migrations_postgres_count : embed_migrations_sqlite_count);
    assert_true(want >= 1);
    char err[256] = "";
    int known = -1, pending = -1;
    assert_int_equal(db_migrate_status(db, &known, &pending, err, sizeof(err)), 0);
    assert_int_equal(known, want);
    assert_int_equal(pending, want);

    int applied = -1;
    int rc = db_migrate(db, &applied, err, sizeof(err));
    if (rc != 0)
        print_error("migrate: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(applied, want);
    assert_int_equal(db_migrate_status(db, &known, &pending, err, sizeof(err)), 0);
    assert_int_equal(pending, 0);
    applied = -1;
    assert_int_equal(db_migrate(db, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(db_migrate(db, NULL, err, sizeof(err)), 0);

    /* the schema is there, with its seed row, and each migration is recorded */
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(db, 1000, &c), 0);
    struct db_stmt *st = NULL;
    assert_int_equal(db_query_row(c, "SELECT count(*) FROM clinic_settings", NULL, 0, &st), 0);
    assert_true(db_col_int(st, 0) == 1);
    db_finalize(st);
    assert_int_equal(db_query_row(c,
                                  "SELECT count(*), min(version), min(length(checksum)) "
                                  "FROM schema_migrations",
                                  NULL, 0, &st),
                     0);
    assert_true(db_col_int(st, 0) == want);
    assert_string_equal(db_col_text(st, 1), "0001");
    assert_true(db_col_int(st, 2) == 64);
    db_finalize(st);
    db_release(c);
    close_fresh(f, db, schema);
}

static void migrate_detects_tampering(void **state)
{
    struct fix *f = *state;
    char schema[48];
    struct db *db = open_fresh(f, schema, sizeof(schema));
    char err[256] = "";
    assert_int_equal(db_migrate(db, NULL, err, sizeof(err)), 0);
    const struct embed_file *first =
        f->pg ? &embed_migrations_postgres[0] : &embed_migrations_sqlite[0];

    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(db, 1000, &c), 0);
    char sum[65];
    struct db_stmt *st = NULL;
    assert_int_equal(db_query_row(c, "SELECT checksum FROM schema_migrations WHERE version = ?",
                                  DB_PARAMS(DBP_T("0001")), &st),
                     0);
    snprintf(sum, sizeof(sum), "%s", db_col_text(st, 0));
    db_finalize(st);
    /* a recorded checksum that no longer matches the embedded file */
    char bad[65];
    snprintf(bad, sizeof(bad), "%s", sum);
    bad[0] = bad[0] == '0' ? '1' : '0';
    assert_int_equal(db_exec(c, "UPDATE schema_migrations SET checksum = ? WHERE version = ?",
                             DB_PARAMS(DBP_T(bad), DBP_T("0001")), NULL),
                     0);
    db_release(c);
    int applied = -1;
    err[0] = '\0';
    assert_int_equal(db_migrate(db, &applied, err, sizeof(err)), MC_ECORRUPT);
    assert_non_null(strstr(err, first->name));
    assert_int_equal(applied, 0);
    int known, pending;
    err[0] = '\0';
    assert_int_equal(db_migrate_status(db, &known, &pending, err, sizeof(err)), MC_ECORRUPT);
    assert_non_null(strstr(err, first->name));

    /* restored: fine again; then a version this binary does not know */
    assert_int_equal(db_acquire(db, 1000, &c), 0);
    assert_int_equal(db_exec(c, "UPDATE schema_migrations SET checksum = ? WHERE version = ?",
                             DB_PARAMS(DBP_T(sum), DBP_T("0001")), NULL),
                     0);
    db_release(c);
    assert_int_equal(db_migrate(db, NULL, err, sizeof(err)), 0);
    assert_int_equal(db_acquire(db, 1000, &c), 0);
    assert_int_equal(
        db_exec(c,
                "INSERT INTO schema_migrations (version, name, checksum, "
                "applied_at) VALUES (?, ?, ?, ?)",
                DB_PARAMS(DBP_T("9999"), DBP_T("from_the_future"), DBP_T(sum), DBP_I(0)), NULL),
        0);
    db_release(c);
    err[0] = '\0';
    assert_int_equal(db_migrate(db, NULL, err, sizeof(err)), MC_ECORRUPT);
    assert_non_null(strstr(err, "9999"));
    assert_int_equal(db_pool_in_use(db), 0);
    close_fresh(f, db, schema);
}

/* ------------------------------------------------------------------- main ---- */

#define DB_TESTS                                                                                   \
    T(open_checks_settings), T(open_rejects_bad_urls), T(params_round_trip),                       \
        T(query_row_and_errors), T(changes_and_nested_queries), T(tx_commit_and_rollback),         \
        T(tx_retries_busy), T(pool_limits), T(migrate_fresh_then_noop),                            \
        T(migrate_detects_tampering)

int main(void)
{
    log_set_level(LOG_FATAL); /* expected failures log errors; keep the output readable */
#define T(fn) cmocka_unit_test_setup_teardown(fn, clean, check_released)
    const struct CMUnitTest backend_tests[] = {DB_TESTS};
#undef T
    const struct CMUnitTest pure_tests[] = {cmocka_unit_test(rewrite_placeholders)};

    int failed = cmocka_run_group_tests_name("db_pure", pure_tests, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("db_sqlite", backend_tests, group_setup_sqlite, group_teardown);
    const char *pg = getenv("TEST_DATABASE_URL");
    const char *require = getenv("MC_REQUIRE_PG");
    if (pg != NULL && pg[0] != '\0') {
        failed += cmocka_run_group_tests_name("db_postgres", backend_tests, group_setup_pg,
                                              group_teardown);
    } else if (require != NULL && strcmp(require, "1") == 0) {
        print_error("MC_REQUIRE_PG=1 but TEST_DATABASE_URL is not set\n");
        failed++;
    } else {
        print_message("[  SKIPPED ] db_postgres: TEST_DATABASE_URL is not set\n");
    }
    return failed;
}
