/*
 * audit_test.c - unit tests for the audit log (modules/audit): the hash chain, what
 * audit_verify detects, the checkpoint file, the append-only triggers, input checks,
 * audit_list, and concurrent appends.
 *
 * Every test runs against SQLite always and PostgreSQL when TEST_DATABASE_URL is set
 * (MC_REQUIRE_PG=1 makes its absence a failure), each on a freshly migrated database: a
 * new SQLite file, or a new PostgreSQL schema selected through the URL's search_path
 * option and dropped afterwards. Tampering is done the way an attacker with database
 * access would: with the triggers dropped (SQLite) or disabled (PostgreSQL) first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "infra/db/migrate.h"
#include "modules/audit/audit.h"

#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char key[] = "unit-test-audit-key-0123456789abcdef";
#define KEYLEN (sizeof(key) - 1)

struct fix {
    bool pg;
    char base_url[1024]; /* PostgreSQL: TEST_DATABASE_URL */
    char dir[64];        /* temp directory: SQLite files and checkpoints */
    struct db *admin;    /* PostgreSQL: creates and drops the per-test schemas */
    int serial;          /* numbers the per-test databases */
    char schema[48];     /* this test's PostgreSQL schema */
    char cp_path[128];   /* this test's checkpoint file */
    struct db *db;       /* this test's freshly migrated database (pool of 6) */
};

static struct fix sqlite_fix, pg_fix;
static const struct db_options opts = {.pool_size = 6, .statement_timeout_ms = 10000};

/* ------------------------------------------------------------ fixtures ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(struct fix *f, bool pg, void **state)
{
    memset(f, 0, sizeof(*f));
    f->pg = pg;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mc_audit_test_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    if (!pg)
        return 0;
    char err[256];
    snprintf(f->base_url, sizeof(f->base_url), "%s", getenv("TEST_DATABASE_URL"));
    if (db_open(f->base_url, &opts, &f->admin, err, sizeof(err)) != 0) {
        print_error("db_open(postgres): %s\n", err);
        return -1;
    }
    return 0;
}

static int group_setup_sqlite(void **state)
{
    return group_setup(&sqlite_fix, false, state);
}

static int group_setup_pg(void **state)
{
    return group_setup(&pg_fix, true, state);
}

static int group_teardown(void **state)
{
    struct fix *f = *state;
    db_close(f->admin);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* A new database with every migration applied. */
static int fresh_db(void **state)
{
    struct fix *f = *state;
    char url[1300], err[256], rnd[9];
    unsigned char r[4];
    mc_random_bytes(r, sizeof(r));
    mc_hex(r, sizeof(r), rnd);
    f->serial++;
    snprintf(f->cp_path, sizeof(f->cp_path), "%s/checkpoint-%d", f->dir, f->serial);
    if (!f->pg) {
        snprintf(url, sizeof(url), "sqlite:%s/audit-%d.db", f->dir, f->serial);
    } else {
        snprintf(f->schema, sizeof(f->schema), "t_audit_%s_%d", rnd, f->serial);
        char sql[96];
        struct db_conn *c = NULL;
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", f->schema);
        if (db_acquire(f->admin, 2000, &c) != 0 || db_exec(c, sql, NULL, 0, NULL) != 0) {
            db_release(c);
            return -1;
        }
        db_release(c);
        snprintf(url, sizeof(url), "%s%soptions=-csearch_path%%3D%s", f->base_url,
                 strchr(f->base_url, '?') ? "&" : "?", f->schema);
    }
    if (db_open(url, &opts, &f->db, err, sizeof(err)) != 0 ||
        db_migrate(f->db, NULL, err, sizeof(err)) != 0) {
        print_error("fresh database: %s\n", err);
        return -1;
    }
    return 0;
}

static int drop_db(void **state)
{
    struct fix *f = *state;
    int in_use = f->db ? db_pool_in_use(f->db) : 0;
    db_close(f->db);
    f->db = NULL;
    mc_clock_set_offset(0);
    if (f->pg && f->schema[0] != '\0') {
        char sql[96];
        struct db_conn *c = NULL;
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", f->schema);
        if (db_acquire(f->admin, 2000, &c) == 0)
            db_exec(c, sql, NULL, 0, NULL);
        db_release(c);
    }
    return in_use == 0 ? 0 : -1; /* every test gives back what it borrowed */
}

/* ------------------------------------------------------------- helpers ---- */

static struct db_conn *acquire(struct fix *f)
{
    struct db_conn *c = NULL;
    assert_int_equal(db_acquire(f->db, 5000, &c), 0);
    return c;
}

static int append_tx(struct db_conn *c, void *arg)
{
    return audit_append(c, key, KEYLEN, arg);
}

/* Appends e in its own transaction on c. */
static int append_on(struct db_conn *c, const struct audit_event *e)
{
    return db_tx(c, append_tx, (void *)e);
}

/* Appends n events, actor "user-<i>" and patient "pat-<i % 3>". */
static void append_n(struct fix *f, int n)
{
    struct db_conn *c = acquire(f);
    for (int i = 0; i < n; i++) {
        char actor[32], patient[32];
        snprintf(actor, sizeof(actor), "user-%d", i);
        snprintf(patient, sizeof(patient), "pat-%d", i % 3);
        struct audit_event e = {.actor_id = actor,
                                .actor_role = "doctor",
                                .action = "phi_read",
                                .resource_type = "vitals",
                                .patient_id = patient,
                                .outcome = "success",
                                .ip = "203.0.113.7",
                                .request_id = "req-1"};
        assert_int_equal(append_on(c, &e), 0);
    }
    db_release(c);
}

/* Reads the first line of path into line (cap bytes). */
static void read_line(const char *path, char *line, size_t cap)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, (int)cap, fp));
    fclose(fp);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Asserts verify fails and its report starts with "seq <seq>:" and mentions why. */
static void expect_bad(struct fix *f, const char *cp_path, long long seq, const char *why)
{
    char report[512], want[32];
    int rc = audit_verify(f->db, key, KEYLEN, cp_path, report, sizeof(report));
    snprintf(want, sizeof(want), "seq %lld:", seq);
    if (rc != MC_ECORRUPT || strncmp(report, want, strlen(want)) != 0 || !strstr(report, why))
        print_error("verify: %s (%s); wanted '%s' ... '%s'\n", report, mc_strerror(rc), want, why);
    assert_int_equal(rc, MC_ECORRUPT);
    assert_true(strncmp(report, want, strlen(want)) == 0);
    assert_non_null(strstr(report, why));
}

static void expect_intact(struct fix *f, const char *cp_path, long long n)
{
    char report[512], want[96];
    int rc = audit_verify(f->db, key, KEYLEN, cp_path, report, sizeof(report));
    if (rc != 0)
        print_error("verify: %s\n", report);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "audit log intact: %lld events, head %lld", n, n);
    assert_string_equal(report, want);
}

static void exec_all(struct db_conn *c, const char *const *sql, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(db_exec(c, sql[i], NULL, 0, NULL), 0);
}

/* Runs SQL as an attacker with database access: the append-only triggers are dropped
 * (SQLite) or disabled for the statement (PostgreSQL). */
static void tamper(struct fix *f, const char *sql, const struct db_param *p, int n)
{
    static const char *const sqlite_drop[] = {
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
        "DROP TRIGGER IF EXISTS audit_events_in_order",
        "DROP TRIGGER IF EXISTS audit_head_forward_only",
        "DROP TRIGGER IF EXISTS audit_head_no_delete",
    };
    static const char *const pg_off[] = {"ALTER TABLE audit_events DISABLE TRIGGER USER",
                                         "ALTER TABLE audit_head DISABLE TRIGGER USER"};
    static const char *const pg_on[] = {"ALTER TABLE audit_events ENABLE TRIGGER USER",
                                        "ALTER TABLE audit_head ENABLE TRIGGER USER"};
    struct db_conn *c = acquire(f);
    if (f->pg)
        exec_all(c, pg_off, 2);
    else
        exec_all(c, sqlite_drop, sizeof(sqlite_drop) / sizeof(sqlite_drop[0]));
    int rc = db_exec(c, sql, p, n, NULL);
    if (rc != 0)
        print_error("%s: %s\n", sql, db_last_error(c));
    assert_int_equal(rc, 0);
    if (f->pg)
        exec_all(c, pg_on, 2);
    db_release(c);
}

static void row_hash_of(struct fix *f, long long seq, char out[65])
{
    struct db_conn *c = acquire(f);
    struct db_stmt *st = NULL;
    assert_int_equal(
        db_query_row(c, "SELECT hash FROM audit_events WHERE seq = ?", DB_PARAMS(DBP_I(seq)), &st),
        0);
    snprintf(out, 65, "%s", db_col_text(st, 0));
    db_finalize(st);
    db_release(c);
}

/* The documented canonical form (audit.c's purpose block), computed independently. */
static void expected_hash(struct db_stmt *st, char out[65])
{
    crypto_auth_hmacsha256_state h;
    unsigned char mac[32];
    char field[600];
    crypto_auth_hmacsha256_init(&h, key, KEYLEN);
    const char *prev = db_col_text(st, 14);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)prev, strlen(prev));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)"\naudit-row-v1\n", 14);
    for (int i = 0; i < 15; i++) {
        const char *v = db_col_text(st, i);
        int n = v ? snprintf(field, sizeof(field), "%zu:%s,", strlen(v), v)
                  : snprintf(field, sizeof(field), "-,");
        crypto_auth_hmacsha256_update(&h, (const unsigned char *)field, (size_t)n);
    }
    crypto_auth_hmacsha256_final(&h, mac);
    mc_hex(mac, sizeof(mac), out);
}

/* --------------------------------------------------------------- chain ---- */

static void append_chains_rows(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    const struct audit_event events[] = {
        {.action = "authn_login_fail", .outcome = "failure", .ip = "::1", .detail = ""},
        {.actor_id = "u1",
         .actor_role = "patient",
         .action = "authn_login_success",
         .outcome = "success",
         .request_id = "r-2"},
        {.actor_id = "u2",
         .actor_role = "doctor",
         .action = "phi_read",
         .resource_type = "vitals",
         .resource_id = "v-9",
         .patient_id = "u1",
         .outcome = "success",
         .severity = "high",
         .detail = "break-glass: caf\xc3\xa9 emergency"},
    };
    int64_t before = mc_now_ms();
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(append_on(c, &events[i]), 0);
    struct db_stmt *st = NULL;
    assert_int_equal(db_query(c,
                              "SELECT seq, id, at, actor_id, actor_role, action, resource_type, "
                              "resource_id, patient_id, outcome, severity, ip, request_id, "
                              "detail, prev_hash, hash FROM audit_events ORDER BY seq",
                              NULL, 0, &st),
                     0);
    char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
    for (long long seq = 1; seq <= 3; seq++) {
        char want[65];
        assert_int_equal(db_step(st), 1);
        assert_true(db_col_int(st, 0) == seq);
        assert_true(uuid_valid(db_col_text(st, 1)));
        assert_in_range(db_col_int(st, 2), before, mc_now_ms());
        assert_string_equal(db_col_text(st, 5), events[seq - 1].action);
        assert_string_equal(db_col_text(st, 10), seq == 3 ? "high" : "info");
        assert_string_equal(db_col_text(st, 14), prev);
        expected_hash(st, want);
        assert_string_equal(db_col_text(st, 15), want);
        snprintf(prev, sizeof(prev), "%s", want);
    }
    db_finalize(st);
    /* NULL and "" are different values: row 1's actor_id is NULL, its detail "" */
    assert_int_equal(db_query_row(c,
                                  "SELECT actor_id IS NULL, detail FROM audit_events "
                                  "WHERE seq = 1",
                                  NULL, 0, &st),
                     0);
    assert_true(db_col_int(st, 0) == 1);
    assert_string_equal(db_col_text(st, 1), "");
    db_finalize(st);
    assert_int_equal(db_query_row(c, "SELECT seq, hash FROM audit_head", NULL, 0, &st), 0);
    assert_true(db_col_int(st, 0) == 3);
    assert_string_equal(db_col_text(st, 1), prev);
    db_finalize(st);
    db_release(c);
}

static void append_joins_callers_tx(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    struct audit_event e = {.action = "phi_create", .outcome = "success"};
    /* outside a transaction: refused, nothing written */
    assert_int_equal(audit_append(c, key, KEYLEN, &e), MC_EINTERNAL);
    /* an empty key is refused too */
    assert_int_equal(db_begin(c), 0);
    assert_true(db_in_tx(c));
    assert_int_equal(audit_append(c, key, 0, &e), MC_EINTERNAL);
    /* the event rolls back with the access it records */
    assert_int_equal(audit_append(c, key, KEYLEN, &e), 0);
    assert_int_equal(db_rollback(c), 0);
    assert_false(db_in_tx(c));
    db_release(c);
    expect_intact(f, NULL, 0);
    append_n(f, 1);
    expect_intact(f, NULL, 1);
}

static void append_validates_fields(void **state)
{
    struct fix *f = *state;
    struct db_conn *c = acquire(f);
    static const char *const bad_text[] = {
        "a\nb",
        "a\rb",
        "\x1b[31mred",
        "tab\there",
        "del\x7f",
        "c1\xc2\x85",
        "bad\xff",
        "overlong\xc0\xaf",
        "surrogate\xed\xa0\x80",
        "cut\xe2\x82",
    };
    char long_text[AUDIT_DETAIL_MAX + 2];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    assert_int_equal(db_begin(c), 0);
    for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
        struct audit_event e1 = {
            .action = "phi_read", .outcome = "success", .actor_id = bad_text[i]};
        struct audit_event e2 = {.action = "phi_read", .outcome = "success", .detail = bad_text[i]};
        assert_int_equal(audit_append(c, key, KEYLEN, &e1), MC_EINVAL);
        assert_int_equal(audit_append(c, key, KEYLEN, &e2), MC_EINVAL);
    }
    const struct audit_event bad[] = {
        {.outcome = "success"},
        {.action = "", .outcome = "success"},
        {.action = "PHI read", .outcome = "success"},
        {.action = "phi_read"},
        {.action = "phi_read", .outcome = "ok"},
        {.action = "phi_read", .outcome = "success", .severity = "low"},
        {.action = "phi_read", .outcome = "success", .detail = long_text},
        {.action = "phi_read", .outcome = "success", .ip = long_text + AUDIT_DETAIL_MAX - 256},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(audit_append(c, key, KEYLEN, &bad[i]), MC_EINVAL);
    /* the longest allowed values and non-ASCII text are fine */
    long_text[AUDIT_DETAIL_MAX] = '\0';
    struct audit_event ok = {.action = "phi_read",
                             .outcome = "denied",
                             .detail = long_text,
                             .resource_type = "\xe6\x96\x87\xf0\x9f\x98\x80",
                             .ip = long_text + AUDIT_DETAIL_MAX - 256};
    assert_int_equal(audit_append(c, key, KEYLEN, &ok), 0);
    assert_int_equal(db_commit(c), 0);
    db_release(c);
    expect_intact(f, NULL, 1);
}

/* ------------------------------------------------------------- tamper ---- */

static void verify_detects_altered_row(void **state)
{
    struct fix *f = *state;
    append_n(f, 5);
    expect_intact(f, NULL, 5);
    tamper(f, "UPDATE audit_events SET action = ? WHERE seq = ?",
           DB_PARAMS(DBP_T("phi_update"), DBP_I(3)));
    expect_bad(f, NULL, 3, "altered");
}

static void verify_detects_deleted_row(void **state)
{
    struct fix *f = *state;
    append_n(f, 5);
    tamper(f, "DELETE FROM audit_events WHERE seq = ?", DB_PARAMS(DBP_I(3)));
    expect_bad(f, NULL, 3, "missing");
}

static void verify_detects_swapped_rows(void **state)
{
    struct fix *f = *state;
    append_n(f, 5);
    /* rows 2 and 4 trade places: each keeps its content and hash */
    tamper(f, "UPDATE audit_events SET seq = 1000 WHERE seq = 2", NULL, 0);
    tamper(f, "UPDATE audit_events SET seq = 2 WHERE seq = 4", NULL, 0);
    tamper(f, "UPDATE audit_events SET seq = 4 WHERE seq = 1000", NULL, 0);
    expect_bad(f, NULL, 2, "reordered");
}

static void verify_detects_inserted_row(void **state)
{
    struct fix *f = *state;
    char h2[65], h6[65];
    append_n(f, 5);
    row_hash_of(f, 2, h2);
    /* make room at seq 3, forge a row chained to seq 2, move the head along */
    for (long long s = 5; s >= 3; s--)
        tamper(f, "UPDATE audit_events SET seq = ? WHERE seq = ?",
               DB_PARAMS(DBP_I(s + 1), DBP_I(s)));
    tamper(f,
           "INSERT INTO audit_events (seq, id, at, actor_id, action, outcome, severity, "
           "prev_hash, hash) VALUES (3, 'forged', 0, 'mallory', 'phi_read', 'success', 'info', ?, "
           "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')",
           DB_PARAMS(DBP_T(h2)));
    row_hash_of(f, 6, h6);
    tamper(f, "UPDATE audit_head SET seq = 6, hash = ?", DB_PARAMS(DBP_T(h6)));
    expect_bad(f, NULL, 3, "forged");
}

static void verify_detects_head_mismatch(void **state)
{
    struct fix *f = *state;
    append_n(f, 4);
    /* newest row deleted, head left alone */
    tamper(f, "DELETE FROM audit_events WHERE seq = 4", NULL, 0);
    expect_bad(f, NULL, 4, "audit_head");
    /* a forged row appended past the head */
    char h3[65];
    row_hash_of(f, 3, h3);
    tamper(f, "UPDATE audit_head SET seq = 3, hash = ?", DB_PARAMS(DBP_T(h3)));
    expect_intact(f, NULL, 3);
    tamper(f,
           "INSERT INTO audit_events (seq, id, at, action, outcome, severity, prev_hash, hash) "
           "VALUES (4, 'x', 0, 'phi_read', 'success', 'info', ?, ?)",
           DB_PARAMS(DBP_T(h3), DBP_T(h3)));
    expect_bad(f, NULL, 4, "forged");
}

static void checkpoint_detects_truncated_tail(void **state)
{
    struct fix *f = *state;
    char h4[65], line[256];
    append_n(f, 6);
    assert_int_equal(audit_checkpoint_write(f->db, key, KEYLEN, f->cp_path), 0);
    struct stat sb;
    assert_int_equal(stat(f->cp_path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    expect_intact(f, f->cp_path, 6);
    /* the last two rows go and the head is rewound: the chain alone looks fine */
    row_hash_of(f, 4, h4);
    tamper(f, "DELETE FROM audit_events WHERE seq > 4", NULL, 0);
    tamper(f, "UPDATE audit_head SET seq = 4, hash = ?", DB_PARAMS(DBP_T(h4)));
    expect_intact(f, NULL, 4);
    expect_bad(f, f->cp_path, 5, "checkpoint");
    /* the checkpointer keeps the evidence instead of overwriting it */
    char again[256];
    read_line(f->cp_path, line, sizeof(line));
    assert_true(strncmp(line, "6 ", 2) == 0);
    assert_int_equal(audit_checkpoint_write(f->db, key, KEYLEN, f->cp_path), MC_ECORRUPT);
    read_line(f->cp_path, again, sizeof(again));
    assert_string_equal(again, line);
    /* new events past the old head: the checkpoint's row is not the one recorded */
    append_n(f, 3);
    expect_intact(f, NULL, 7);
    expect_bad(f, f->cp_path, 6, "checkpoint");
}

static void checkpoint_file_is_authenticated(void **state)
{
    struct fix *f = *state;
    char report[512], line[256];
    append_n(f, 2);
    assert_int_equal(audit_checkpoint_write(f->db, key, KEYLEN, f->cp_path), 0);
    append_n(f, 1);
    assert_int_equal(audit_checkpoint_write(f->db, key, KEYLEN, f->cp_path), 0);
    expect_intact(f, f->cp_path, 3);
    read_line(f->cp_path, line, sizeof(line));
    assert_int_equal(strlen(line), 2 + 64 + 1 + 64 + 1);
    /* another seq with the same hash and MAC */
    line[0] = '2';
    write_text(f->cp_path, line);
    assert_int_equal(audit_verify(f->db, key, KEYLEN, f->cp_path, report, sizeof(report)),
                     MC_ECORRUPT);
    assert_non_null(strstr(report, "fails authentication"));
    /* another key */
    line[0] = '3';
    write_text(f->cp_path, line);
    expect_intact(f, f->cp_path, 3);
    assert_int_equal(
        audit_verify(f->db, (const unsigned char *)"other", 5, f->cp_path, report, sizeof(report)),
        MC_ECORRUPT);
    /* garbage */
    write_text(f->cp_path, "3 nothex\n");
    assert_int_equal(audit_verify(f->db, key, KEYLEN, f->cp_path, report, sizeof(report)),
                     MC_ECORRUPT);
    assert_non_null(strstr(report, "malformed"));
    /* no file: intact (a warning is logged) */
    unlink(f->cp_path);
    expect_intact(f, f->cp_path, 3);
}

static void triggers_refuse_changes(void **state)
{
    struct fix *f = *state;
    static const char *const refused[] = {
        "UPDATE audit_events SET action = 'x' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3", "DELETE FROM audit_events",
        /* rows that skip the head, heads that go back or point elsewhere, no head */
        "INSERT INTO audit_events (seq, id, at, action, outcome, severity, prev_hash, hash) "
        "VALUES (9, 'x', 0, 'a', 'success', 'info', 'p', 'h')",
        "UPDATE audit_head SET seq = 2", "UPDATE audit_head SET seq = 4, hash = 'h'",
        "DELETE FROM audit_head", "TRUNCATE audit_events", /* PostgreSQL only */
    };
    size_t n = sizeof(refused) / sizeof(refused[0]) - (f->pg ? 0 : 1);
    append_n(f, 3);
    struct db_conn *c = acquire(f);
    for (size_t i = 0; i < n; i++) {
        int rc = db_exec(c, refused[i], NULL, 0, NULL);
        if (rc != MC_EINVAL)
            print_error("%s: %s\n", refused[i], mc_strerror(rc));
        assert_int_equal(rc, MC_EINVAL);
    }
    db_release(c);
    expect_intact(f, NULL, 3);
}

/* ---------------------------------------------------------------- list ---- */

static void list_one(struct fix *f, struct audit_filter *flt, int want)
{
    struct db_conn *c = acquire(f);
    json_t *items = NULL;
    char cursor[AUDIT_CURSOR_CAP];
    assert_int_equal(audit_list(c, flt, &items, cursor, sizeof(cursor)), 0);
    if ((int)json_array_size(items) != want)
        print_error("wanted %d, got %zu\n", want, json_array_size(items));
    assert_int_equal(json_array_size(items), want);
    assert_string_equal(cursor, "");
    json_decref(items);
    db_release(c);
}

static void list_filters_and_pages(void **state)
{
    struct fix *f = *state;
    const int64_t t0 = 1800000000000; /* 2027-01-15 */
    struct db_conn *c = acquire(f);
    for (int i = 0; i < 12; i++) {
        char actor[16], patient[16];
        snprintf(actor, sizeof(actor), "user-%d", i % 2);
        snprintf(patient, sizeof(patient), "pat-%d", i % 3);
        mc_clock_set_offset(0);
        mc_clock_set_offset(t0 + i * 1000 - mc_now_ms()); /* now = t0 + i s (+ a few ms) */
        struct audit_event e = {.actor_id = actor,
                                .actor_role = "doctor",
                                .action = i % 4 == 0 ? "phi_create" : "phi_read",
                                .outcome = i == 5 ? "denied" : "success",
                                .patient_id = patient,
                                .request_id = "rq",
                                .resource_type = "vitals"};
        assert_int_equal(append_on(c, &e), 0);
    }
    mc_clock_set_offset(0);
    db_release(c);

    list_one(f, &(struct audit_filter){0}, 12);
    list_one(f, &(struct audit_filter){.actor_id = "user-1"}, 6);
    list_one(f, &(struct audit_filter){.patient_id = "pat-2"}, 4);
    list_one(f, &(struct audit_filter){.action = "phi_create"}, 3);
    list_one(f, &(struct audit_filter){.outcome = "denied"}, 1);
    list_one(f, &(struct audit_filter){.actor_id = "user-0", .action = "phi_create"}, 3);
    list_one(f, &(struct audit_filter){.from_ms = t0 + 2500, .to_ms = t0 + 6000}, 3);
    list_one(f, &(struct audit_filter){.from_ms = t0 + 11000}, 1);
    list_one(f, &(struct audit_filter){.to_ms = t0 + 500}, 1);
    list_one(f, &(struct audit_filter){.patient_id = "nobody"}, 0);

    /* pages of 5, newest first, no event twice */
    c = acquire(f);
    char cursor[AUDIT_CURSOR_CAP] = "";
    long long expect_seq = 12;
    int pages = 0;
    do {
        json_t *items = NULL;
        char prev_cursor[AUDIT_CURSOR_CAP];
        snprintf(prev_cursor, sizeof(prev_cursor), "%s", cursor);
        struct audit_filter flt = {.limit = 5, .cursor = prev_cursor};
        assert_int_equal(audit_list(c, &flt, &items, cursor, sizeof(cursor)), 0);
        pages++;
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            assert_true(json_integer_value(json_object_get(it, "seq")) == expect_seq--);
            assert_non_null(json_string_value(json_object_get(it, "id")));
            assert_string_equal(json_string_value(json_object_get(it, "actorRole")), "doctor");
            assert_string_equal(json_string_value(json_object_get(it, "resourceType")), "vitals");
            assert_string_equal(json_string_value(json_object_get(it, "requestId")), "rq");
            assert_string_equal(json_string_value(json_object_get(it, "severity")), "info");
            assert_true(json_is_null(json_object_get(it, "resourceId")));
            assert_true(json_is_null(json_object_get(it, "detail")));
            assert_null(json_object_get(it, "hash"));
            assert_null(json_object_get(it, "prevHash"));
            assert_null(json_object_get(it, "prev_hash"));
            assert_int_equal(json_object_size(it), 14);
        }
        if (pages == 1) {
            json_t *first = json_array_get(items, 0);
            assert_true(strncmp(json_string_value(json_object_get(first, "at")),
                                "2027-01-15T08:00:11.", 20) == 0);
            assert_string_equal(json_string_value(json_object_get(first, "patientId")), "pat-2");
            assert_string_equal(json_string_value(json_object_get(first, "actorId")), "user-1");
        }
        assert_int_equal(json_array_size(items), pages < 3 ? 5 : 2);
        assert_true(strchr(cursor, ':') == NULL); /* opaque, not "a1:<seq>" in clear */
        json_decref(items);
    } while (cursor[0] != '\0');
    assert_int_equal(pages, 3);
    assert_true(expect_seq == 0);

    /* bad requests */
    json_t *items = (json_t *)1;
    char small[8];
    assert_int_equal(audit_list(c, &(struct audit_filter){.limit = AUDIT_LIST_MAX + 1}, &items,
                                cursor, sizeof(cursor)),
                     MC_EINVAL);
    assert_null(items);
    assert_int_equal(
        audit_list(c, &(struct audit_filter){.limit = -1}, &items, cursor, sizeof(cursor)),
        MC_EINVAL);
    assert_int_equal(audit_list(c, &(struct audit_filter){.from_ms = 5, .to_ms = 4}, &items, cursor,
                                sizeof(cursor)),
                     MC_EINVAL);
    assert_int_equal(audit_list(c, &(struct audit_filter){0}, &items, small, sizeof(small)),
                     MC_EINVAL);
    static const char *const bad_cursors[] = {"!!",      "MTI",    "YTE6MA",
                                              "YTE6LTE", "YTE6eA", "eHg6MTI"};
    for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(bad_cursors[0]); i++)
        assert_int_equal(audit_list(c, &(struct audit_filter){.cursor = bad_cursors[i]}, &items,
                                    cursor, sizeof(cursor)),
                         MC_EBADREQ);
    assert_int_equal(audit_list(c, &(struct audit_filter){.limit = AUDIT_LIST_MAX}, &items, cursor,
                                sizeof(cursor)),
                     0);
    assert_int_equal(json_array_size(items), 12);
    json_decref(items);
    db_release(c);
}

/* --------------------------------------------------------- concurrency ---- */

struct writer {
    struct fix *f;
    int id;
    int failures;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct db_conn *c = NULL;
    char actor[16];
    snprintf(actor, sizeof(actor), "writer-%d", w->id);
    if (db_acquire(w->f->db, 5000, &c) != 0) {
        w->failures = 50;
        return NULL;
    }
    for (int i = 0; i < 50; i++) {
        struct audit_event e = {.actor_id = actor, .action = "phi_read", .outcome = "success"};
        if (append_on(c, &e) != 0)
            w->failures++;
    }
    db_release(c);
    return NULL;
}

static void concurrent_appends_stay_chained(void **state)
{
    struct fix *f = *state;
    pthread_t th[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){.f = f, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    expect_intact(f, NULL, 200);
    assert_int_equal(audit_checkpoint_write(f->db, key, KEYLEN, f->cp_path), 0);
    expect_intact(f, f->cp_path, 200);
}

/* The background thread writes a checkpoint at once and a last one when stopped. */
static void checkpointer_thread_writes(void **state)
{
    struct fix *f = *state;
    struct audit_checkpointer *cp = NULL;
    assert_int_equal(audit_checkpointer_start(f->db, key, KEYLEN, f->cp_path, 3600, &cp), 0);
    for (int i = 0; i < 200 && access(f->cp_path, F_OK) != 0; i++)
        usleep(10000);
    assert_int_equal(access(f->cp_path, F_OK), 0);
    append_n(f, 2);
    audit_checkpointer_stop(cp);
    audit_checkpointer_stop(NULL);
    char line[256];
    read_line(f->cp_path, line, sizeof(line));
    assert_true(strncmp(line, "2 ", 2) == 0);
    expect_intact(f, f->cp_path, 2);
}

/* ---------------------------------------------------------------- main ---- */

#define AUDIT_TESTS                                                                                \
    T(append_chains_rows), T(append_joins_callers_tx), T(append_validates_fields),                 \
        T(verify_detects_altered_row), T(verify_detects_deleted_row),                              \
        T(verify_detects_swapped_rows), T(verify_detects_inserted_row),                            \
        T(verify_detects_head_mismatch), T(checkpoint_detects_truncated_tail),                     \
        T(checkpoint_file_is_authenticated), T(triggers_refuse_changes),                           \
        T(list_filters_and_pages), T(concurrent_appends_stay_chained),                             \
        T(checkpointer_thread_writes)

int main(void)
{
    log_set_level(LOG_FATAL); /* expected failures log errors; keep the output readable */
    if (sodium_init() < 0)
        return 1;
#define T(fn) cmocka_unit_test_setup_teardown(fn, fresh_db, drop_db)
    const struct CMUnitTest tests[] = {AUDIT_TESTS};
#undef T
    int failed =
        cmocka_run_group_tests_name("audit_sqlite", tests, group_setup_sqlite, group_teardown);
    const char *pg = getenv("TEST_DATABASE_URL");
    const char *require = getenv("MC_REQUIRE_PG");
    if (pg != NULL && pg[0] != '\0') {
        failed +=
            cmocka_run_group_tests_name("audit_postgres", tests, group_setup_pg, group_teardown);
    } else if (require != NULL && strcmp(require, "1") == 0) {
        print_error("MC_REQUIRE_PG=1 but TEST_DATABASE_URL is not set\n");
        failed++;
    } else {
        print_message("[  SKIPPED ] audit_postgres: TEST_DATABASE_URL is not set\n");
    }
    return failed;
}
