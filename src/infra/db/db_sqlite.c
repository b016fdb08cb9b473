/*
 * db_sqlite.c - the embedded SQLite driver (see db.h).
 *
 * One sqlite3 handle per pooled connection (SQLITE_OPEN_NOMUTEX: a connection is used
 * by one thread at a time). Every connection runs with WAL, synchronous=FULL (acknowledged
 * writes survive power loss, security.md K2), foreign_keys=ON and a busy timeout; the
 * settings are read back and a mismatch refuses the connection (K4). Prepared statements
 * are cached per connection, keyed by their SQL text.
 */
#include "infra/db/db_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_SLOTS 64

struct cached {
    char *sql; /* owned copy of the SQL, NULL if the slot is empty */
    sqlite3_stmt *st;
    bool busy; /* handed out and not yet finalized */
};

struct sqlite_conn {
    struct db_conn base;
    sqlite3 *h;
    struct cached cache[CACHE_SLOTS];
};

struct sqlite_stmt {
    struct db_stmt base;
    sqlite3_stmt *st;
    struct cached *slot; /* NULL when not cached */
    long long changes;
};

static struct sqlite_conn *sc(struct db_conn *c)
{
    return (struct sqlite_conn *)c;
}

static struct sqlite_stmt *ss(struct db_stmt *s)
{
    return (struct sqlite_stmt *)s;
}

static int map_rc(struct db_conn *c, int rc)
{
    snprintf(c->err, sizeof(c->err), "%s", sqlite3_errmsg(sc(c)->h));
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MC_EBUSY;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return MC_ECONFLICT;
        return MC_EINVAL;
    case SQLITE_NOMEM:
        return MC_ENOMEM;
    case SQLITE_FULL:
        return MC_EUNAVAIL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return MC_EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return MC_ECORRUPT;
    default:
        return MC_EDB;
    }
}

/* Creates the parent directory of path (one level, as ./var) if missing. */
static void make_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return;
    char dir[1024];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof(dir))
        return;
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        log_warn("cannot create database directory", LF_S("dir", dir));
}

static int pragma_text(sqlite3 *h, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    out[0] = '\0';
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_connect(struct db *db, struct db_conn **out, char *err, size_t errlen)
{
    struct sqlite_conn *c = mc_xcalloc(1, sizeof(*c));
    c->base.drv = &db_sqlite_driver;
    c->base.db = db;
    make_parent_dir(db->target);
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(db->target, &c->h, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database '%s': %s", db->target,
                 c->h ? sqlite3_errmsg(c->h) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(c->h, db->opts.statement_timeout_ms);
    char got[32];
    /* WAL first: it is a property of the file, set once and kept */
    pragma_text(c->h, "PRAGMA journal_mode=WAL", got, sizeof(got));
    if (strcmp(got, "wal") != 0 && strcmp(db->target, ":memory:") != 0) {
        snprintf(err, errlen, "SQLite refused WAL mode (got '%s')", got);
        goto fail;
    }
    char *msg = NULL;
    rc = sqlite3_exec(c->h, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "SQLite pragmas failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        goto fail;
    }
    pragma_text(c->h, "PRAGMA synchronous", got, sizeof(got));
    if (strcmp(got, "2") != 0 && strcmp(got, "3") != 0) { /* FULL or EXTRA */
        snprintf(err, errlen, "SQLite synchronous is %s, FULL required", got);
        goto fail;
    }
    pragma_text(c->h, "PRAGMA foreign_keys", got, sizeof(got));
    if (strcmp(got, "1") != 0) {
        snprintf(err, errlen, "SQLite foreign_keys is off");
        goto fail;
    }
    *out = &c->base;
    return 0;
fail:
    sqlite3_close(c->h);
    free(c);
    return MC_EUNAVAIL;
}

static void sqlite_disconnect(struct db_conn *base)
{
    struct sqlite_conn *c = sc(base);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    int rc = sqlite3_close(c->h);
    if (rc != SQLITE_OK)
        log_error("sqlite3_close failed", LF_S("error", sqlite3_errmsg(c->h)));
    free(c);
}

static int sqlite_revive(struct db_conn *c)
{
    (void)c;
    return 0;
}

static unsigned slot_of(const char *sql)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % CACHE_SLOTS;
}

static int bind_all(struct db_conn *c, sqlite3_stmt *st, const struct db_param *p, int n)
{
    if (sqlite3_bind_parameter_count(st) != n) {
        snprintf(c->err, sizeof(c->err), "statement wants %d parameters, got %d",
                 sqlite3_bind_parameter_count(st), n);
        return MC_EINTERNAL;
    }
    for (int i = 0; i < n; i++) {
        int rc;
        switch (p[i].type) {
        case DBP_INT:
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
            break;
        case DBP_REAL:
            rc = sqlite3_bind_double(st, i + 1, p[i].d);
            break;
        case DBP_TEXT:
            rc = sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_TRANSIENT);
            break;
        default:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        }
        if (rc != SQLITE_OK)
            return map_rc(c, rc);
    }
    return 0;
}

static int sqlite_query(struct db_conn *base, const char *sql, const struct db_param *p, int n,
                        struct db_stmt **out)
{
    struct sqlite_conn *c = sc(base);
    struct cached *slot = &c->cache[slot_of(sql)];
    sqlite3_stmt *st = NULL;
    int rc;
    if (slot->sql != NULL && !slot->busy && strcmp(slot->sql, sql) == 0) {
        st = slot->st;
    } else {
        rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
            rc = map_rc(base, rc);
            log_error("SQL prepare failed", LF_S("error", base->err));
            return rc == MC_EDB ? MC_EINTERNAL : rc;
        }
        if (!slot->busy) {
            sqlite3_finalize(slot->st);
            free(slot->sql);
            slot->sql = mc_xstrdup(sql);
            slot->st = st;
        } else {
            slot = NULL; /* the cached twin is in use (nested query): keep this one private */
        }
    }
    rc = bind_all(base, st, p, n);
    if (rc != 0) {
        if (slot == NULL)
            sqlite3_finalize(st);
        else
            sqlite3_clear_bindings(st);
        return rc;
    }
    struct sqlite_stmt *s = mc_xmalloc(sizeof(*s));
    s->base.conn = base;
    s->st = st;
    s->slot = slot;
    s->changes = 0;
    if (slot != NULL)
        slot->busy = true;
    *out = &s->base;
    return 0;
}

static int sqlite_step(struct db_stmt *base)
{
    struct sqlite_stmt *s = ss(base);
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE) {
        /* sqlite3_changes64 keeps the last write's count; a read changes nothing */
        s->changes = sqlite3_stmt_readonly(s->st) ? 0 : sqlite3_changes64(sc(base->conn)->h);
        return 0;
    }
    return -map_rc(base->conn, rc);
}

static int sqlite_col_count(struct db_stmt *s)
{
    return sqlite3_column_count(ss(s)->st);
}

static const char *sqlite_col_name(struct db_stmt *s, int i)
{
    return sqlite3_column_name(ss(s)->st, i);
}

static bool sqlite_col_null(struct db_stmt *s, int i)
{
    return sqlite3_column_type(ss(s)->st, i) == SQLITE_NULL;
}

static const char *sqlite_col_text(struct db_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(ss(s)->st, i);
}

static long long sqlite_col_int(struct db_stmt *s, int i)
{
    return sqlite3_column_int64(ss(s)->st, i);
}

static double sqlite_col_real(struct db_stmt *s, int i)
{
    return sqlite3_column_double(ss(s)->st, i);
}

static long long sqlite_changes(struct db_stmt *s)
{
    return ss(s)->changes;
}

static void sqlite_finalize(struct db_stmt *base)
{
    struct sqlite_stmt *s = ss(base);
    if (s->slot != NULL) {
        sqlite3_reset(s->st);
        sqlite3_clear_bindings(s->st);
        s->slot->busy = false;
    } else {
        sqlite3_finalize(s->st);
    }
    free(s);
}

static int sqlite_exec_script(struct db_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(sc(c)->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(c->err, sizeof(c->err), "%s", msg ? msg : sqlite3_errmsg(sc(c)->h));
        sqlite3_free(msg);
        return ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) ? MC_EBUSY : MC_EDB;
    }
    return 0;
}

const struct db_driver db_sqlite_driver = {
    .kind = DB_SQLITE,
    .name = "sqlite",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .revive = sqlite_revive,
    .query = sqlite_query,
    .step = sqlite_step,
    .col_count = sqlite_col_count,
    .col_name = sqlite_col_name,
    .col_null = sqlite_col_null,
    .col_text = sqlite_col_text,
    .col_int = sqlite_col_int,
    .col_real = sqlite_col_real,
    .changes = sqlite_changes,
    .finalize = sqlite_finalize,
    .exec_script = sqlite_exec_script,
    .begin_sql = "BEGIN IMMEDIATE",
};
