/*
 * mod.h - what every module may use: the shared services and request helpers.
 *
 * The HTTP server's application pointer is a struct services; handlers reach the
 * database through mod_db() so that one request borrows at most one connection and
 * always gives it back.
 */
#ifndef MC_MODULES_MOD_H
#define MC_MODULES_MOD_H

#include <stdint.h>

struct config;
struct db;
struct db_conn;
struct http_req;
struct http_server;

struct services {
    struct config *cfg;       /* borrowed from main */
    struct db *db;            /* owned by the app */
    struct http_server *http; /* set while serving */
    int64_t started_mono_ns;  /* process start, for uptime and readiness timing */
};

/* The services of the request's server. */
struct services *mod_services(const struct http_req *req);

/* The request's database connection, borrowed on first use and returned when the
 * response has been sent. Returns 0, MC_EBUSY or MC_EUNAVAIL. */
int mod_db(struct http_req *req, struct db_conn **out);

#endif
