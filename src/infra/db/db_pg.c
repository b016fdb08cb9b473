/*
 * db_pg.c - the PostgreSQL driver over libpq (see db.h).
 *
 * Queries use PQexecParams with text parameters; the SQL's '?' placeholders are
 * rewritten to $n. Each connection sets statement_timeout and UTC, and the first one
 * refuses a server with fsync or synchronous_commit off (security.md K4).
 * SQLSTATE classes map to the error enum: 40001/40P01 → MC_EBUSY (retry),
 * 23505 → MC_ECONFLICT, other 23xxx → MC_EINVAL, 08xxx/57xxx/53xxx → MC_EUNAVAIL.
 */
#include "infra/db/db_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 64

struct pg_conn {
    struct db_conn base;
    PGconn *h;
};

struct pg_stmt {
    struct db_stmt base;
    PGresult *res;
    int row; /* current row, -1 before the first db_step */
    int nrows;
    long long changes;
};

static struct pg_conn *pc(struct db_conn *c)
{
    return (struct pg_conn *)c;
}

static struct pg_stmt *ps(struct db_stmt *s)
{
    return (struct pg_stmt *)s;
}

static int map_state(struct db_conn *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pc(c)->h);
    snprintf(c->err, sizeof(c->err), "%s%s%s", state ? state : "", state ? " " : "",
             msg ? msg : "");
    size_t n = strlen(c->err);
    while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
        c->err[--n] = '\0';
    if (PQstatus(pc(c)->h) != CONNECTION_OK)
        return MC_EUNAVAIL;
    if (state == NULL)
        return MC_EDB;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return MC_EBUSY;
    if (strcmp(state, "23505") == 0)
        return MC_ECONFLICT;
    if (strncmp(state, "23", 2) == 0)
        return MC_EINVAL;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strncmp(state, "53", 2) == 0)
        return MC_EUNAVAIL;
    if (strncmp(state, "42", 2) == 0)
        return MC_EINTERNAL; /* syntax or missing object: a bug of ours */
    return MC_EDB;
}

static int simple(struct db_conn *c, const char *sql, char *out, size_t cap)
{
    PGresult *res = PQexec(pc(c)->h, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        rc = map_state(c, res);
    else if (out != NULL && PQntuples(res) > 0)
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

static int session_setup(struct db_conn *c, bool check_durability, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET TIME ZONE 'UTC'",
             c->db->opts.statement_timeout_ms);
    if (simple(c, sql, NULL, 0) != 0) {
        snprintf(err, errlen, "PostgreSQL session setup failed: %s", c->err);
        return MC_EUNAVAIL;
    }
    if (!check_durability)
        return 0;
    char v[32];
    if (simple(c, "SHOW fsync", v, sizeof(v)) != 0 || strcmp(v, "on") != 0) {
        snprintf(err, errlen,
                 "PostgreSQL runs with fsync=%s; refusing (acknowledged writes "
                 "could be lost)",
                 v);
        return MC_ECONFIG;
    }
    if (simple(c, "SHOW synchronous_commit", v, sizeof(v)) != 0 || strcmp(v, "off") == 0) {
        snprintf(err, errlen, "PostgreSQL runs with synchronous_commit=off; refusing");
        return MC_ECONFIG;
    }
    return 0;
}

/* libpq prints NOTICEs (e.g. "relation ... already exists, skipping") to stderr by
 * default, which breaks the JSON-lines log; route them through the logger instead. */
static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", message);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_debug("postgresql notice", LF_S("detail", msg));
}

static int pg_connect(struct db *db, struct db_conn **out, char *err, size_t errlen)
{
    struct pg_conn *c = mc_xcalloc(1, sizeof(*c));
    c->base.drv = &db_pg_driver;
    c->base.db = db;
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {db->target, "mimicare", "5", NULL};
    c->h = PQconnectdbParams(keys, vals, 1);
    int rc = MC_EUNAVAIL;
    if (c->h == NULL || PQstatus(c->h) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password */
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 c->h ? PQerrorMessage(c->h) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = '\0';
        goto fail;
    }
    PQsetNoticeProcessor(c->h, pg_notice, NULL);
    rc = session_setup(&c->base, db->open == 0, err, errlen);
    if (rc != 0)
        goto fail;
    *out = &c->base;
    return 0;
fail:
    PQfinish(c->h);
    free(c);
    return rc;
}

static void pg_disconnect(struct db_conn *c)
{
    PQfinish(pc(c)->h);
    free(c);
}

static int pg_revive(struct db_conn *base)
{
    struct pg_conn *c = pc(base);
    if (PQstatus(c->h) == CONNECTION_OK)
        return 0;
    PQreset(c->h);
    if (PQstatus(c->h) != CONNECTION_OK) {
        snprintf(base->err, sizeof(base->err), "%s", PQerrorMessage(c->h));
        return MC_EUNAVAIL;
    }
    char err[256];
    return session_setup(base, false, err, sizeof(err));
}

static int pg_query(struct db_conn *base, const char *sql, const struct db_param *p, int n,
                    struct db_stmt **out)
{
    if (n > MAX_PARAMS) {
        snprintf(base->err, sizeof(base->err), "too many parameters (%d)", n);
        return MC_EINTERNAL;
    }
    int want = 0;
    char *text = db_rewrite_placeholders(sql, &want);
    if (want != n) {
        snprintf(base->err, sizeof(base->err), "statement wants %d parameters, got %d", want, n);
        free(text);
        return MC_EINTERNAL;
    }
    const char *values[MAX_PARAMS];
    char nums[MAX_PARAMS][32];
    for (int i = 0; i < n; i++) {
        switch (p[i].type) {
        case DBP_INT:
            snprintf(nums[i], sizeof(nums[i]), "%lld", p[i].i);
            values[i] = nums[i];
            break;
        case DBP_REAL:
            snprintf(nums[i], sizeof(nums[i]), "%.17g", p[i].d);
            values[i] = nums[i];
            break;
        case DBP_TEXT:
            values[i] = p[i].s;
            break;
        default:
            values[i] = NULL;
            break;
        }
    }
    PGresult *res = PQexecParams(pc(base)->h, text, n, NULL, n ? values : NULL, NULL, NULL, 0);
    free(text);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        int rc = map_state(base, res);
        PQclear(res);
        if (rc == MC_EINTERNAL || rc == MC_EDB)
            log_error("SQL failed", LF_S("error", base->err));
        return rc;
    }
    struct pg_stmt *st = mc_xcalloc(1, sizeof(*st));
    st->base.conn = base;
    st->res = res;
    st->row = -1;
    st->nrows = s == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    const char *tuples = PQcmdTuples(res);
    st->changes = (tuples && *tuples) ? strtoll(tuples, NULL, 10) : 0;
    *out = &st->base;
    return 0;
}

static int pg_step(struct db_stmt *s)
{
    struct pg_stmt *st = ps(s);
    if (st->row + 1 >= st->nrows) {
        st->row = st->nrows;
        return 0;
    }
    st->row++;
    return 1;
}

static int pg_col_count(struct db_stmt *s)
{
    return PQnfields(ps(s)->res);
}

static const char *pg_col_name(struct db_stmt *s, int i)
{
    return PQfname(ps(s)->res, i);
}

static bool pg_col_null(struct db_stmt *s, int i)
{
    struct pg_stmt *st = ps(s);
    return st->row < 0 || st->row >= st->nrows || i >= PQnfields(st->res) ||
           PQgetisnull(st->res, st->row, i);
}

static const char *pg_col_text(struct db_stmt *s, int i)
{
    if (pg_col_null(s, i))
        return NULL;
    return PQgetvalue(ps(s)->res, ps(s)->row, i);
}

static long long pg_col_int(struct db_stmt *s, int i)
{
    const char *t = pg_col_text(s, i);
    if (t == NULL)
        return 0;
    if (t[0] == 't' && t[1] == '\0')
        return 1; /* boolean */
    return strtoll(t, NULL, 10);
}

static double pg_col_real(struct db_stmt *s, int i)
{
    const char *t = pg_col_text(s, i);
    return t ? strtod(t, NULL) : 0.0;
}

static long long pg_changes(struct db_stmt *s)
{
    return ps(s)->changes;
}

static void pg_finalize(struct db_stmt *s)
{
    PQclear(ps(s)->res);
    free(s);
}

static int pg_exec_script(struct db_conn *c, const char *sql)
{
    return simple(c, sql, NULL, 0);
}

const struct db_driver db_pg_driver = {
    .kind = DB_POSTGRES,
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .revive = pg_revive,
    .query = pg_query,
    .step = pg_step,
    .col_count = pg_col_count,
    .col_name = pg_col_name,
    .col_null = pg_col_null,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_real = pg_col_real,
    .changes = pg_changes,
    .finalize = pg_finalize,
    .exec_script = pg_exec_script,
    .begin_sql = "BEGIN",
};
