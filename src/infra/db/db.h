/*
 * db.h - the database interface: one API over SQLite (embedded) and PostgreSQL.
 *
 * A struct db is a pool of connections to one database, chosen by URL
 * ("sqlite:./var/mimicare.db" or "postgresql://..."). A thread borrows a connection
 * with db_acquire and gives it back with db_release; a connection is used by one thread
 * at a time. SQL is written once with '?' placeholders (rewritten to $n for PostgreSQL)
 * and values are always bound, never spliced into the text.
 *
 * Portable schema rules: ids are TEXT UUIDv7, instants BIGINT epoch ms, booleans
 * INTEGER 0/1, JSON as TEXT.
 */
#ifndef MC_INFRA_DB_H
#define MC_INFRA_DB_H

#include <stdbool.h>
#include <stddef.h>

enum db_kind { DB_SQLITE, DB_POSTGRES };

struct db;
struct db_conn;
struct db_stmt;

enum db_ptype { DBP_NULL, DBP_INT, DBP_REAL, DBP_TEXT };

/* One bound value. Text is borrowed for the duration of the call. */
struct db_param {
    enum db_ptype type;
    long long i;
    double d;
    const char *s;
};

#define DBP_T(v)  ((struct db_param){.type = DBP_TEXT, .s = (v)})
#define DBP_TN(v) ((struct db_param){.type = (v) ? DBP_TEXT : DBP_NULL, .s = (v)})
#define DBP_I(v)  ((struct db_param){.type = DBP_INT, .i = (long long)(v)})
#define DBP_R(v)  ((struct db_param){.type = DBP_REAL, .d = (double)(v)})
#define DBP_NULL_ ((struct db_param){.type = DBP_NULL})
#define DB_PARAMS(...)                                                                             \
    ((const struct db_param[]){__VA_ARGS__}),                                                      \
        (int)(sizeof((const struct db_param[]){__VA_ARGS__}) / sizeof(struct db_param))

struct db_options {
    int pool_size;            /* connections at most (> 0) */
    int statement_timeout_ms; /* PostgreSQL statement_timeout; SQLite busy timeout */
};

/* Opens a pool for url and checks one connection (durability settings included:
 * SQLite WAL + synchronous=FULL + foreign_keys=ON, PostgreSQL fsync and
 * synchronous_commit on). Returns 0, or MC_EUNAVAIL / MC_ECONFIG with a message in err. */
int db_open(const char *url, const struct db_options *opts, struct db **out, char *err,
            size_t errlen);
/* Closes every connection. All connections must have been released. */
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
const char *db_kind_name(const struct db *db);
int db_pool_size(const struct db *db);
int db_pool_in_use(const struct db *db);

/* Borrows a connection, waiting up to timeout_ms for one to be free. Returns 0,
 * MC_EBUSY (pool exhausted) or MC_EUNAVAIL (cannot connect). */
int db_acquire(struct db *db, int timeout_ms, struct db_conn **out);
/* Returns a connection; an open transaction is rolled back. NULL is ignored. */
void db_release(struct db_conn *c);
/* The pool a connection belongs to. */
struct db *db_conn_db(const struct db_conn *c);

/* Runs a statement that returns no rows; *changes (optional) gets the rows affected.
 * Returns 0 or MC_EBUSY (retry), MC_ECONFLICT (unique violation), MC_EINVAL
 * (foreign-key / check violation), MC_EUNAVAIL, MC_EIO, MC_ECORRUPT, MC_EDB. */
int db_exec(struct db_conn *c, const char *sql, const struct db_param *p, int n,
            long long *changes);
/* Starts a query; read rows with db_step and finish with db_finalize. Same errors. */
int db_query(struct db_conn *c, const char *sql, const struct db_param *p, int n,
             struct db_stmt **out);
/* Like db_query, and steps to the first row: MC_ENOTFOUND when there is none. On
 * success the statement is on the row; db_finalize it. */
int db_query_row(struct db_conn *c, const char *sql, const struct db_param *p, int n,
                 struct db_stmt **out);
/* Advances: 1 = a row is available, 0 = done, negative = -MC_E* error. */
int db_step(struct db_stmt *st);
int db_col_count(struct db_stmt *st);
const char *db_col_name(struct db_stmt *st, int i);
bool db_col_null(struct db_stmt *st, int i);
/* Text of column i, NULL for SQL NULL. Valid until the next db_step/db_finalize. */
const char *db_col_text(struct db_stmt *st, int i);
long long db_col_int(struct db_stmt *st, int i);
double db_col_real(struct db_stmt *st, int i);
void db_finalize(struct db_stmt *st);

/* Runs trusted, constant SQL with several statements (migrations only). */
int db_exec_script(struct db_conn *c, const char *sql);

/* Transactions. db_tx runs fn inside BEGIN/COMMIT (SQLite: BEGIN IMMEDIATE) and
 * retries the whole function, with jittered backoff, when the database reports busy or
 * a serialization failure (MC_EBUSY). fn must not have side effects outside the
 * database. Returns fn's result or the commit's. */
typedef int (*db_tx_fn)(struct db_conn *c, void *arg);
int db_tx(struct db_conn *c, db_tx_fn fn, void *arg);
int db_begin(struct db_conn *c);
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c);
/* True between db_begin (or db_tx's own begin) and the commit or rollback: code that must
 * run inside its caller's transaction (e.g. audit_append) checks this. */
bool db_in_tx(const struct db_conn *c);

/* Round trip to the server ("SELECT 1"). */
int db_ping(struct db_conn *c);
/* The last error message from the driver, for logs (may hold schema names, never values). */
const char *db_last_error(const struct db_conn *c);

/* Rewrites '?' placeholders outside quotes and comments into $1, $2, ... Returns a new
 * string (caller frees). Exposed for tests and fuzzing. */
char *db_rewrite_placeholders(const char *sql, int *count);

#endif
