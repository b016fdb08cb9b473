/*
 * modules.h - the route table of every module, gathered by app.c.
 * Each module exports one function returning its static table.
 */
#ifndef MC_APP_MODULES_H
#define MC_APP_MODULES_H

#include "http/http.h"

#include <stddef.h>

const struct http_route *ops_routes(size_t *n);
const struct http_route *clinic_routes(size_t *n);
const struct http_route *oauth_routes(size_t *n);
const struct http_route *apikeys_routes(size_t *n);
const struct http_route *care_routes(size_t *n);  /* modules/care */
const struct http_route *admin_routes(size_t *n); /* modules/admin */

struct db_conn;
/* Demo data of each module, run in one transaction by `mimicare seed --demo`. */
int clinic_seed_demo(struct db_conn *c);

#endif
