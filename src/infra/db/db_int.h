/*
 * db_int.h - internals shared by db.c and the drivers (db_sqlite.c, db_pg.c).
 * Nothing outside src/infra/db includes this.
 */
#ifndef MC_INFRA_DB_INT_H
#define MC_INFRA_DB_INT_H

#include "infra/db/db.h"

#include <pthread.h>

struct db_driver {
    enum db_kind kind;
    const char *name;
    /* Opens a connection for db and applies/validates session settings. */
    int (*connect)(struct db *db, struct db_conn **out, char *err, size_t errlen);
    void (*disconnect)(struct db_conn *c);
    /* Reconnects a broken connection; 0 if usable afterwards. */
    int (*revive)(struct db_conn *c);
    int (*query)(struct db_conn *c, const char *sql, const struct db_param *p, int n,
                 struct db_stmt **out);
    int (*step)(struct db_stmt *st);
    int (*col_count)(struct db_stmt *st);
    const char *(*col_name)(struct db_stmt *st, int i);
    bool (*col_null)(struct db_stmt *st, int i);
    const char *(*col_text)(struct db_stmt *st, int i);
    long long (*col_int)(struct db_stmt *st, int i);
    double (*col_real)(struct db_stmt *st, int i);
    long long (*changes)(struct db_stmt *st);
    void (*finalize)(struct db_stmt *st);
    int (*exec_script)(struct db_conn *c, const char *sql);
    const char *begin_sql; /* how this driver opens a write transaction */
};

struct db_conn {
    const struct db_driver *drv;
    struct db *db;
    struct db_conn *next_free; /* pool free list */
    bool in_tx;                /* between db_begin and commit/rollback */
    char err[256];             /* last driver error, for logs */
};

struct db_stmt {
    struct db_conn *conn;
};

struct db {
    const struct db_driver *drv;
    char *target; /* SQLite path or PostgreSQL conninfo URL */
    struct db_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct db_conn *free_list;
    int open;   /* connections created */
    int in_use; /* connections borrowed */
};

extern const struct db_driver db_sqlite_driver;
extern const struct db_driver db_pg_driver;

#endif
