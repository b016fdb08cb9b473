/*
 * app.h - the application: configuration, backends and routes assembled in one place.
 *
 * main.c builds a struct app from a loaded config; modules reach shared resources
 * (the database) through the helpers here, never through globals.
 */
#ifndef MC_APP_APP_H
#define MC_APP_APP_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct db;
struct db_conn;
struct http_req;
struct http_server;
struct http_route;

#include "modules/mod.h"

struct app {
    struct services svc;       /* what handlers see (http_app(req) points here) */
    struct http_route *routes; /* owned: every module's routes in one table */
    size_t nroutes;
};

/* Opens the database named by the config; started_mono_ns is when the process began. Returns 0 or
 * an MC_E* code with err set. */
int app_open(struct config *cfg, int64_t started_mono_ns, struct app **out, char *err,
             size_t errlen);
/* Closes everything app_open and app_serve opened. */
void app_close(struct app *app);

/* Starts the HTTP server on the configured address (port_override > 0 wins, 0 = config,
 * -1 = any free port) and blocks until SIGINT/SIGTERM, then shuts down gracefully.
 * Returns 0 or an error code. */
int app_serve(struct app *app, int port_override);

/* Creates a verified user (the `mimicare user create` command). password may be NULL:
 * then one is generated and written to generated (cap bytes). Returns 0, MC_ECONFLICT
 * (e-mail taken), MC_EINVAL/MC_EBADREQ (bad input, reason in err) or a db error. */
int app_user_create(struct app *app, const char *role, const char *email, const char *name,
                    const char *password, char *generated, size_t cap, char *err, size_t errlen);

/* Every module's routes in one new table, in match order (caller frees). Needs no
 * configuration: `mimicare routes` prints it. */
struct http_route *app_routes(size_t *n);

/* Fills the demo clinic (idempotent). Returns 0 or an error. */
int app_seed_demo(struct app *app, char *err, size_t errlen);

#endif
