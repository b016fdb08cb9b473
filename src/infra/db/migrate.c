/*
 * migrate.c - applies embedded SQL migrations (see migrate.h).
 */
#include "infra/db/migrate.h"
#include "core/embed.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MIGRATION_LOCK 727274001 /* arbitrary, fixed advisory lock key */

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version TEXT PRIMARY KEY,"
                                       " name TEXT NOT NULL,"
                                       " checksum TEXT NOT NULL,"
                                       " applied_at BIGINT NOT NULL)";

static void table_for(struct db *db, const struct embed_file **t, size_t *n)
{
    if (db_kind(db) == DB_POSTGRES) {
        *t = embed_migrations_postgres;
        *n = embed_migrations_postgres_count;
    } else {
        *t = embed_migrations_sqlite;
        *n = embed_migrations_sqlite_count;
    }
}

static void checksum(const struct embed_file *f, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, f->data, f->len);
    mc_hex(h, sizeof(h), out);
}

/* "0001_init.sql" → version "0001", name "init". */
static void split_name(const char *file, char *version, size_t vcap, char *name, size_t ncap)
{
    const char *us = strchr(file, '_');
    size_t vlen = us ? (size_t)(us - file) : strlen(file);
    snprintf(version, vcap, "%.*s", (int)vlen, file);
    const char *rest = us ? us + 1 : "";
    const char *dot = strrchr(rest, '.');
    snprintf(name, ncap, "%.*s", (int)(dot ? (size_t)(dot - rest) : strlen(rest)), rest);
}

/* Checks recorded migrations against the embedded ones; counts pending. */
static int verify_applied(struct db_conn *c, const struct embed_file *t, size_t n, bool *done,
                          char *err, size_t errlen)
{
    struct db_stmt *st = NULL;
    int rc = db_query(c, "SELECT version, checksum FROM schema_migrations ORDER BY version", NULL,
                      0, &st);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read schema_migrations: %s", db_last_error(c));
        return rc;
    }
    int s;
    while ((s = db_step(st)) == 1) {
        const char *version = db_col_text(st, 0);
        const char *sum = db_col_text(st, 1);
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            char v[32], name[128], want[65];
            split_name(t[i].name, v, sizeof(v), name, sizeof(name));
            if (strcmp(v, version) != 0)
                continue;
            found = true;
            done[i] = true;
            checksum(&t[i], want);
            if (strcmp(want, sum ? sum : "") != 0) {
                snprintf(err, errlen,
                         "migration %s was edited after it was applied "
                         "(checksum differs); add a new migration instead",
                         t[i].name);
                rc = MC_ECORRUPT;
            }
        }
        if (!found && rc == 0) {
            snprintf(err, errlen,
                     "database has migration %s that this binary does not know "
                     "(was a newer version run against it?)",
                     version);
            rc = MC_ECORRUPT;
        }
    }
    if (s < 0 && rc == 0)
        rc = -s;
    db_finalize(st);
    return rc;
}

struct apply_ctx {
    const struct embed_file *f;
    bool skipped; /* another instance applied it first */
};

static int apply_one(struct db_conn *c, void *arg)
{
    struct apply_ctx *a = arg;
    char version[32], name[128], sum[65];
    split_name(a->f->name, version, sizeof(version), name, sizeof(name));
    checksum(a->f, sum);
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT 1 FROM schema_migrations WHERE version = ?",
                          DB_PARAMS(DBP_T(version)), &st);
    db_finalize(st);
    if (rc == 0) {
        a->skipped = true;
        return 0;
    }
    if (rc != MC_ENOTFOUND)
        return rc;
    rc = db_exec_script(c, (const char *)a->f->data);
    if (rc != 0)
        return rc;
    return db_exec(c,
                   "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                   "VALUES (?, ?, ?, ?)",
                   DB_PARAMS(DBP_T(version), DBP_T(name), DBP_T(sum), DBP_I(mc_now_ms())), NULL);
}

static int run(struct db *db, bool apply, int *applied, int *pending, char *err, size_t errlen)
{
    const struct embed_file *t;
    size_t n;
    table_for(db, &t, &n);
    struct db_conn *c = NULL;
    int rc = db_acquire(db, 10000, &c);
    if (rc != 0) {
        snprintf(err, errlen, "no database connection");
        return rc;
    }
    bool pg = db_kind(db) == DB_POSTGRES;
    bool *done = mc_xcalloc(n ? n : 1, sizeof(bool));
    *applied = 0;
    *pending = 0;
    if (pg) {
        rc = db_exec(c, "SELECT pg_advisory_lock(?)", DB_PARAMS(DBP_I(PG_MIGRATION_LOCK)), NULL);
        if (rc != 0) {
            snprintf(err, errlen, "cannot take the migration lock: %s", db_last_error(c));
            goto out;
        }
    }
    rc = db_exec_script(c, create_table_sql);
    if (rc == 0)
        rc = verify_applied(c, t, n, done, err, errlen);
    else
        snprintf(err, errlen, "cannot create schema_migrations: %s", db_last_error(c));
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (done[i])
            continue;
        (*pending)++;
        if (!apply)
            continue;
        struct apply_ctx a = {.f = &t[i]};
        rc = db_tx(c, apply_one, &a);
        if (rc != 0) {
            snprintf(err, errlen, "migration %s failed: %s", t[i].name, db_last_error(c));
            break;
        }
        if (!a.skipped) {
            (*applied)++;
            log_info("migration applied", LF_S("file", t[i].name));
        }
    }
    if (pg)
        db_exec(c, "SELECT pg_advisory_unlock(?)", DB_PARAMS(DBP_I(PG_MIGRATION_LOCK)), NULL);
out:
    free(done);
    db_release(c);
    return rc;
}

int db_migrate(struct db *db, int *applied, char *err, size_t errlen)
{
    int a = 0, p = 0;
    int rc = run(db, true, &a, &p, err, errlen);
    if (applied != NULL)
        *applied = a;
    return rc;
}

int db_migrate_status(struct db *db, int *known, int *pending, char *err, size_t errlen)
{
    const struct embed_file *t;
    size_t n;
    int a = 0;
    table_for(db, &t, &n);
    *known = (int)n;
    return run(db, false, &a, pending, err, errlen);
}
