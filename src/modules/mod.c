/*
 * mod.c - shared module helpers (see mod.h).
 */
#include "modules/mod.h"
#include "http/http.h"
#include "core/config.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"

#include <string.h>

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
    struct db_conn *c = http_local(req, MOD_LOCAL_DB);
    if (c != NULL) {
        *out = c;
        return 0;
    }
    int rc = db_acquire(mod_services(req)->db, DB_ACQUIRE_TIMEOUT_MS, &c);
    if (rc != 0)
        return rc;
    http_set_local(req, MOD_LOCAL_DB, c);
    http_on_done(req, release_conn, c);
    *out = c;
    return 0;
}

int mod_audit(struct http_req *req, struct db_conn *c, const struct audit_event *e)
{
    const struct config *cfg = mod_services(req)->cfg;
    if (!config_bool(cfg, CFG_ENABLE_AUDIT_LOGS))
        return 0;
    struct audit_event ev = *e;
    if (ev.ip == NULL)
        ev.ip = http_client_ip(req);
    if (ev.request_id == NULL)
        ev.request_id = http_request_id(req);
    if (ev.severity == NULL)
        ev.severity = "info";
    const char *key = config_str(cfg, CFG_AUDIT_HMAC_SECRET);
    return audit_append(c, (const unsigned char *)key, strlen(key), &ev);
}

struct audit_tx {
    struct http_req *req;
    const struct audit_event *e;
};

static int audit_tx_fn(struct db_conn *c, void *arg)
{
    struct audit_tx *a = arg;
    return mod_audit(a->req, c, a->e);
}

int mod_audit_tx(struct http_req *req, const struct audit_event *e)
{
    struct db_conn *c = NULL;
    int rc = mod_db(req, &c);
    if (rc != 0)
        return rc;
    struct audit_tx a = {req, e};
    return db_tx(c, audit_tx_fn, &a);
}

struct page_tx {
    struct http_req *req;
    const struct audit_event *read;
    const struct audit_filter *f;
    json_t *items;
    char *next;
    size_t cap;
};

static int page_tx_fn(struct db_conn *c, void *arg)
{
    struct page_tx *x = arg;
    json_decref(x->items); /* a retried transaction starts over */
    x->items = NULL;
    int rc = audit_list(c, x->f, &x->items, x->next, x->cap);
    if (rc == 0)
        rc = mod_audit(x->req, c, x->read);
    return rc;
}

int mod_audit_page(struct http_req *req, const struct audit_event *read,
                   const struct audit_filter *f, json_t **items, char *next, size_t cap)
{
    struct db_conn *c = NULL;
    struct page_tx x = {req, read, f, NULL, next, cap};
    int rc = mod_db(req, &c);
    if (rc == 0)
        rc = db_tx(c, page_tx_fn, &x);
    if (rc != 0) {
        json_decref(x.items);
        return rc;
    }
    *items = x.items;
    return 0;
}
