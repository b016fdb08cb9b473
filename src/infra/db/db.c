/*
 * db.c - driver-independent parts of the database layer: the pool, transactions with
 * retry, the placeholder rewrite and the thin dispatch to the driver (see db.h).
 */
#include "infra/db/db_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int db_open(const char *url, const struct db_options *opts, struct db **out, char *err,
            size_t errlen)
{
    const struct db_driver *drv;
    const char *target;
    *out = NULL;
    if (strncmp(url, "sqlite:", 7) == 0) {
        drv = &db_sqlite_driver;
        target = url + 7;
        if (strncmp(target, "//", 2) == 0)
            target += 2; /* sqlite:///abs/path */
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        drv = &db_pg_driver;
        target = url;
    } else {
        snprintf(err, errlen, "DATABASE_URL must start with sqlite: or postgresql://");
        return MC_ECONFIG;
    }
    struct db *db = mc_xcalloc(1, sizeof(*db));
    db->drv = drv;
    db->target = mc_xstrdup(target);
    db->opts = *opts;
    if (db->opts.pool_size < 1)
        db->opts.pool_size = 1;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cv, NULL);
    /* open and check the first connection now so that a bad URL fails at start-up */
    struct db_conn *c = NULL;
    int rc = drv->connect(db, &c, err, errlen);
    if (rc != 0) {
        db_close(db);
        return rc;
    }
    db->open = 1;
    c->next_free = NULL;
    db->free_list = c;
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (db == NULL)
        return;
    if (db->in_use > 0)
        log_error("database closed with connections still borrowed", LF_I("inUse", db->in_use));
    struct db_conn *c = db->free_list;
    while (c != NULL) {
        struct db_conn *next = c->next_free;
        db->drv->disconnect(c);
        c = next;
    }
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    free(db->target);
    free(db);
}

enum db_kind db_kind(const struct db *db)
{
    return db->drv->kind;
}

const char *db_kind_name(const struct db *db)
{
    return db->drv->name;
}

int db_pool_size(const struct db *db)
{
    return db->opts.pool_size;
}

int db_pool_in_use(const struct db *db)
{
    pthread_mutex_lock((pthread_mutex_t *)&db->mu);
    int n = db->in_use;
    pthread_mutex_unlock((pthread_mutex_t *)&db->mu);
    return n;
}

struct db *db_conn_db(const struct db_conn *c)
{
    return c->db;
}

int db_acquire(struct db *db, int timeout_ms, struct db_conn **out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    *out = NULL;
    pthread_mutex_lock(&db->mu);
    while (db->free_list == NULL && db->open >= db->opts.pool_size) {
        if (pthread_cond_timedwait(&db->cv, &db->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&db->mu);
            log_warn("database pool exhausted", LF_I("size", db->opts.pool_size));
            return MC_EBUSY;
        }
    }
    struct db_conn *c = db->free_list;
    if (c != NULL)
        db->free_list = c->next_free;
    else
        db->open++; /* reserve a slot, connect outside the lock */
    db->in_use++;
    pthread_mutex_unlock(&db->mu);

    int rc = 0;
    if (c == NULL) {
        char err[256];
        rc = db->drv->connect(db, &c, err, sizeof(err));
        if (rc != 0)
            log_error("database connect failed", LF_S("error", err));
    } else if (db->drv->revive(c) != 0) {
        log_error("database connection lost", LF_S("error", c->err));
        rc = MC_EUNAVAIL;
        db->drv->disconnect(c);
        c = NULL;
    }
    if (rc != 0 || c == NULL) {
        pthread_mutex_lock(&db->mu);
        db->open--;
        db->in_use--;
        pthread_cond_signal(&db->cv);
        pthread_mutex_unlock(&db->mu);
        return MC_EUNAVAIL;
    }
    *out = c;
    return 0;
}

void db_release(struct db_conn *c)
{
    if (c == NULL)
        return;
    struct db *db = c->db;
    if (c->in_tx) {
        log_warn("connection released inside a transaction; rolling back");
        db_rollback(c);
    }
    pthread_mutex_lock(&db->mu);
    c->next_free = db->free_list;
    db->free_list = c;
    db->in_use--;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

int db_query(struct db_conn *c, const char *sql, const struct db_param *p, int n,
             struct db_stmt **out)
{
    *out = NULL;
    return c->drv->query(c, sql, p, n, out);
}

int db_step(struct db_stmt *st)
{
    return st->conn->drv->step(st);
}

int db_query_row(struct db_conn *c, const char *sql, const struct db_param *p, int n,
                 struct db_stmt **out)
{
    struct db_stmt *st = NULL;
    int rc = db_query(c, sql, p, n, &st);
    if (rc != 0)
        return rc;
    int s = db_step(st);
    if (s == 1) {
        *out = st;
        return 0;
    }
    db_finalize(st);
    return s == 0 ? MC_ENOTFOUND : -s;
}

int db_exec(struct db_conn *c, const char *sql, const struct db_param *p, int n, long long *changes)
{
    struct db_stmt *st = NULL;
    int rc = db_query(c, sql, p, n, &st);
    if (rc != 0)
        return rc;
    int s;
    while ((s = db_step(st)) == 1)
        ;
    rc = s < 0 ? -s : 0;
    if (rc == 0 && changes != NULL)
        *changes = c->drv->changes(st);
    db_finalize(st);
    return rc;
}

int db_col_count(struct db_stmt *st)
{
    return st->conn->drv->col_count(st);
}

const char *db_col_name(struct db_stmt *st, int i)
{
    return st->conn->drv->col_name(st, i);
}

bool db_col_null(struct db_stmt *st, int i)
{
    return st->conn->drv->col_null(st, i);
}

const char *db_col_text(struct db_stmt *st, int i)
{
    return st->conn->drv->col_text(st, i);
}

long long db_col_int(struct db_stmt *st, int i)
{
    return st->conn->drv->col_int(st, i);
}

double db_col_real(struct db_stmt *st, int i)
{
    return st->conn->drv->col_real(st, i);
}

void db_finalize(struct db_stmt *st)
{
    if (st != NULL)
        st->conn->drv->finalize(st);
}

int db_exec_script(struct db_conn *c, const char *sql)
{
    return c->drv->exec_script(c, sql);
}

int db_begin(struct db_conn *c)
{
    int rc = db_exec(c, c->drv->begin_sql, NULL, 0, NULL);
    if (rc == 0)
        c->in_tx = true;
    return rc;
}

int db_commit(struct db_conn *c)
{
    int rc = db_exec(c, "COMMIT", NULL, 0, NULL);
    if (rc != 0) {
        db_rollback(c);
        return rc;
    }
    c->in_tx = false;
    return 0;
}

int db_rollback(struct db_conn *c)
{
    c->in_tx = false;
    return db_exec(c, "ROLLBACK", NULL, 0, NULL);
}

bool db_in_tx(const struct db_conn *c)
{
    return c->in_tx;
}

int db_tx(struct db_conn *c, db_tx_fn fn, void *arg)
{
    enum { MAX_ATTEMPTS = 6 };
    int rc = MC_EBUSY;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            /* jittered exponential backoff: 1-2 ms, 2-4 ms, ... 32-64 ms */
            unsigned char r;
            mc_random_bytes(&r, 1);
            long us = (1000L << (attempt - 1)) * (256 + r) / 256;
            struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        rc = db_begin(c);
        if (rc == 0) {
            rc = fn(c, arg);
            if (rc == 0)
                rc = db_commit(c);
            else
                db_rollback(c);
        }
        if (rc != MC_EBUSY)
            return rc;
    }
    log_warn("transaction gave up after retries", LF_I("attempts", MAX_ATTEMPTS));
    return rc;
}

int db_ping(struct db_conn *c)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT 1", NULL, 0, &st);
    db_finalize(st);
    return rc;
}

const char *db_last_error(const struct db_conn *c)
{
    return c->err;
}

char *db_rewrite_placeholders(const char *sql, int *count)
{
    struct buf b = BUF_INIT;
    int n = 0;
    const char *p = sql;
    while (*p) {
        char c = *p;
        if (c == '\'' || c == '"') {
            /* copy a quoted literal or identifier; a doubled quote stays inside */
            const char *q = p + 1;
            while (*q && !(*q == c && q[1] != c))
                q += (*q == c) ? 2 : 1;
            if (*q)
                q++;
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == '-' && p[1] == '-') {
            const char *q = strchr(p, '\n');
            q = q ? q : p + strlen(p);
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == '/' && p[1] == '*') {
            const char *q = strstr(p + 2, "*/");
            q = q ? q + 2 : p + strlen(p);
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == '?') {
            buf_printf(&b, "$%d", ++n);
            p++;
        } else {
            buf_putc(&b, c);
            p++;
        }
    }
    if (count != NULL)
        *count = n;
    return buf_steal(&b);
}
