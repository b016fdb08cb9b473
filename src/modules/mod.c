/*
 * mod.c - shared module helpers (see mod.h).
 */
#include "modules/mod.h"
#include "http/http.h"
#include "infra/db/db.h"

#define DB_ACQUIRE_TIMEOUT_MS 5000

struct services *mod_services(const struct http_req *req)
{
    return http_app(req);
}

static void release_conn(void *c)
{
    db_release(c);
}

int mod_db(struct http_req *req, struct db_conn **out)
{
    struct db_conn *c = http_local(req);
    if (c != NULL) {
        *out = c;
        return 0;
    }
    int rc = db_acquire(mod_services(req)->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc != 0)
        return rc;
    http_set_local(req, c);
    http_on_done(req, release_conn, c);
    *out = c;
    return 0;
}
