/*
 * apikeys_http.c - admin endpoints for API keys (create, list, revoke) and
 * GET /api/v1/integrations/whoami, the smallest route an integration can call with its key.
 */
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/apikeys/apikeys.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/mod.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static bool scope_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > APIKEY_SCOPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Reads "scopes" (array of distinct valid scopes) into out as a space-separated list. */
static void read_scopes(json_t *b, struct buf *out, struct verrs *v)
{
    json_t *arr = json_object_get(b, "scopes");
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > APIKEY_SCOPES_MAX) {
        verrs_add(v, arr == NULL || json_is_array(arr) ? MC_EINVAL : MC_EBADREQ, "scopes",
                  "must be an array of 1 to %d scopes", APIKEY_SCOPES_MAX);
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        const char *str = json_string_value(s);
        if (str == NULL || !scope_valid(str)) {
            verrs_add(v, MC_EINVAL, "scopes", "each scope is 1-64 of [a-z0-9:._-]");
            return;
        }
        if (out->len > 0 && apikeys_has_scope(out->data, str)) {
            verrs_add(v, MC_EINVAL, "scopes", "lists %s twice", str);
            return;
        }
        if (out->len > 0)
            buf_putc(out, ' ');
        buf_puts(out, str);
    }
}

static json_t *scopes_json(const char *scopes)
{
    json_t *a = json_array();
    for (const char *p = scopes; *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len > 0)
            json_array_append_new(a, json_stringn(p, len));
        p += len;
        while (*p == ' ')
            p++;
    }
    return a;
}

struct create_ctx {
    struct http_req *req;
    const struct auth_user *admin;
    const char *name;
    const char *scopes;
    char id[UUID_STR_LEN];
    char key[AUTH_TOKEN_LEN];
    int64_t created_at;
};

static int create_tx(struct db_conn *c, void *arg)
{
    struct create_ctx *x = arg;
    char hash[65], nonce[48], ct[128];
    const struct config *cfg = mod_services(x->req)->cfg;
    uuid_v7(x->id);
    auth_new_secret("mck", x->key, hash);
    x->created_at = mc_now_ms();
    int rc = apikeys_seal(config_str(cfg, CFG_API_KEY_ENCRYPTION_SECRET), x->id, x->key, nonce, ct);
    if (rc == 0)
        rc = db_exec(c,
                     "INSERT INTO api_keys (id, name, scopes, key_hash, key_nonce,"
                     " key_ciphertext, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     DB_PARAMS(DBP_T(x->id), DBP_T(x->name), DBP_T(x->scopes), DBP_T(hash),
                               DBP_T(nonce), DBP_T(ct), DBP_T(x->admin->id), DBP_I(x->created_at)),
                     NULL);
    struct audit_event e = {.actor_id = x->admin->id,
                            .actor_role = x->admin->role,
                            .action = "apikey_create",
                            .resource_type = "api_key",
                            .resource_id = x->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int keys_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"name", "scopes", NULL};
    const struct auth_user *admin;
    int rc = auth_require_role(req, res, "admin", &admin);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *name = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "name", true, 1, APIKEY_NAME_MAX, &name, &v);
    struct buf scopes = BUF_INIT;
    read_scopes(b, &scopes, &v);
    if ((rc = verrs_result(&v)) != 0) {
        buf_free(&scopes);
        return http_res_verrs(res, &v), rc;
    }
    struct create_ctx *x = arena_alloc(http_arena(req), sizeof(*x));
    memset(x, 0, sizeof(*x));
    x->req = req;
    x->admin = admin;
    x->name = name;
    x->scopes = arena_strdup(http_arena(req), scopes.data);
    buf_free(&scopes);
    struct db_conn *c = NULL;
    if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, create_tx, x)) != 0)
        return rc;
    char ts[RFC3339_LEN];
    rfc3339_format(x->created_at, ts);
    http_res_json(res, 201,
                  json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", x->id, "name", x->name, "key",
                            x->key, "scopes", scopes_json(x->scopes), "createdAt", ts));
    sodium_memzero(x->key, sizeof(x->key));
    return 0;
}

static json_t *row_json(struct db_stmt *st)
{
    char c1[RFC3339_LEN];
    rfc3339_format(db_col_int(st, 4), c1);
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "id", db_col_text(st, 0), "name",
                          db_col_text(st, 1), "scopes", scopes_json(db_col_text(st, 2)),
                          "createdBy", db_col_text(st, 3), "createdAt", c1);
    for (int i = 5; i <= 6; i++) {
        const char *field = i == 5 ? "lastUsedAt" : "revokedAt";
        if (db_col_null(st, i)) {
            json_object_set_new(o, field, json_null());
        } else {
            char ts[RFC3339_LEN];
            rfc3339_format(db_col_int(st, i), ts);
            json_object_set_new(o, field, json_string(ts));
        }
    }
    return o;
}

static int keys_get(struct http_req *req, struct http_res *res)
{
    const struct auth_user *admin;
    struct db_conn *c = NULL;
    struct db_stmt *st = NULL;
    int rc = auth_require_role(req, res, "admin", &admin);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0)
        return rc;
    rc = db_query(c,
                  "SELECT id, name, scopes, created_by, created_at, last_used_at, revoked_at"
                  " FROM api_keys ORDER BY created_at DESC, id DESC LIMIT 500",
                  NULL, 0, &st);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int s;
    while ((s = db_step(st)) == 1)
        json_array_append_new(items, row_json(st));
    db_finalize(st);
    if (s < 0) {
        json_decref(items);
        return -s;
    }
    http_res_json(res, 200, json_pack("{s:o, s:n}", "items", items, "nextCursor"));
    return 0;
}

struct revoke_ctx {
    struct http_req *req;
    const struct auth_user *admin;
    const char *id;
    bool found;
};

static int revoke_tx(struct db_conn *c, void *arg)
{
    struct revoke_ctx *x = arg;
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT revoked_at FROM api_keys WHERE id = ?",
                          DB_PARAMS(DBP_T(x->id)), &st);
    db_finalize(st);
    x->found = rc == 0;
    if (rc == MC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    rc = db_exec(c, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                 DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(x->id)), NULL);
    struct audit_event e = {.actor_id = x->admin->id,
                            .actor_role = x->admin->role,
                            .action = "apikey_revoke",
                            .resource_type = "api_key",
                            .resource_id = x->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int key_delete(struct http_req *req, struct http_res *res)
{
    const struct auth_user *admin;
    struct db_conn *c = NULL;
    int rc = auth_require_role(req, res, "admin", &admin);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0)
        return rc;
    struct revoke_ctx x = {.req = req, .admin = admin, .id = http_param(req, "id")};
    if ((rc = db_tx(c, revoke_tx, &x)) != 0)
        return rc;
    if (!x.found)
        return http_res_detail(res, "no such API key"), MC_ENOTFOUND;
    http_res_body(res, 204, "application/json; charset=utf-8", "", 0);
    return 0;
}

/* Who the presented key is; ?scope=x also checks that the key holds scope x (403 if not). */
static int whoami_get(struct http_req *req, struct http_res *res)
{
    struct apikey k;
    const char *scope = http_query(req, "scope");
    if (scope != NULL && !scope_valid(scope))
        return http_res_detail(res, "scope is 1-64 of [a-z0-9:._-]"), MC_EBADREQ;
    int rc = apikeys_authenticate(req, res, scope, &k);
    if (rc != 0)
        return rc;
    http_res_json(
        res, 200,
        json_pack("{s:s, s:s, s:o}", "id", k.id, "name", k.name, "scopes", scopes_json(k.scopes)));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_POST, "/api/v1/admin/api-keys", keys_post, HTTP_BODY_JSON, 0, "admin"},
    {HTTP_GET, "/api/v1/admin/api-keys", keys_get, 0, 0, "admin"},
    {HTTP_DELETE, "/api/v1/admin/api-keys/{id:uuid}", key_delete, 0, 0, "admin"},
    {HTTP_GET, "/api/v1/integrations/whoami", whoami_get, 0, 0, NULL /* an API key, not a user */},
};

const struct http_route *apikeys_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
