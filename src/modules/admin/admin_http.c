/*
 * admin_http.c - administration endpoints (api.md "people", "audit/admin"):
 *   GET   /api/v1/admin/users?q=&role=&limit=&cursor=   search by e-mail or name prefix
 *   POST  /api/v1/admin/users                           create a verified account
 *   PATCH /api/v1/admin/users/{id}                      status (disabling revokes every
 *                                                       session at once) and role
 *   GET   /api/v1/admin/audit?actor=&patient=&action=&outcome=&from=&to=&limit=&cursor=
 * Every call is audited; a role change is audited as authz_change.
 */
#include "modules/admin/admin.h"

#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/auth/password.h"
#include "modules/mod.h"
#include "modules/users/users.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX     200
#define Q_MAX        100 /* bytes of a search prefix */

static int audit_admin(struct http_req *req, struct db_conn *c, const struct auth_user *au,
                       const char *action, const char *rid, const char *detail)
{
    struct audit_event e = {.actor_id = au->id,
                            .actor_role = au->role,
                            .action = action,
                            .resource_type = "user",
                            .resource_id = rid,
                            .outcome = "success",
                            .detail = detail};
    return mod_audit(req, c, &e);
}

/* ---- GET /admin/users ---- */

struct list_ctx {
    struct http_req *req;
    const struct auth_user *au;
    const char *like; /* "prefix%" with LIKE's specials escaped, or NULL */
    const char *role;
    const char *cursor;
    long long limit;
    json_t *items;
    char next[UUID_STR_LEN];
};

/* Lower-cased q with %, _ and \ escaped for LIKE ... ESCAPE '\', then '%'. */
static char *like_prefix(struct arena *a, const char *q)
{
    size_t n = strlen(q);
    char *out = arena_alloc(a, 2 * n + 2), *p = out;
    for (size_t i = 0; i < n; i++) {
        char ch = q[i];
        if (ch == '%' || ch == '_' || ch == '\\')
            *p++ = '\\';
        *p++ = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    *p++ = '%';
    *p = '\0';
    return out;
}

static int list_tx(struct db_conn *c, void *arg)
{
    struct list_ctx *x = arg;
    struct db_stmt *st = NULL;
    long long count = 0;
    /* ids are UUIDv7, so id order is creation order and a stable cursor */
    int rc =
        db_query(c,
                 "SELECT id, email, role, name, status, email_verified_at, created_at"
                 " FROM users WHERE (CAST(? AS TEXT) IS NULL OR email_lc LIKE ? ESCAPE '\\'"
                 " OR lower(name) LIKE ? ESCAPE '\\') AND (CAST(? AS TEXT) IS NULL OR role = ?)"
                 " AND id > ? ORDER BY id LIMIT ?",
                 DB_PARAMS(DBP_TN(x->like), DBP_TN(x->like), DBP_TN(x->like), DBP_TN(x->role),
                           DBP_TN(x->role), DBP_T(x->cursor ? x->cursor : ""), DBP_I(x->limit + 1)),
                 &st);
    json_decref(x->items);
    x->items = json_array();
    x->next[0] = '\0';
    while (rc == 0 && (rc = db_step(st)) == 1) {
        rc = 0;
        if (++count > x->limit) {
            json_t *last = json_array_get(x->items, json_array_size(x->items) - 1);
            snprintf(x->next, sizeof(x->next), "%s",
                     json_string_value(json_object_get(last, "id")));
            break;
        }
        char ts[RFC3339_LEN];
        rfc3339_format(db_col_int(st, 6), ts);
        json_array_append_new(x->items,
                              json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "id", db_col_text(st, 0),
                                        "email", db_col_text(st, 1), "role", db_col_text(st, 2),
                                        "name", db_col_text(st, 3), "status", db_col_text(st, 4),
                                        "emailVerified", !db_col_null(st, 5), "createdAt", ts));
    }
    db_finalize(st);
    if (rc < 0)
        rc = -rc;
    if (rc == 0)
        rc = audit_admin(x->req, c, x->au, "user_list_read", NULL, NULL);
    return rc;
}

static int users_get(struct http_req *req, struct http_res *res)
{
    struct list_ctx x = {.req = req, .limit = PAGE_DEFAULT};
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc != 0)
        return rc;
    const char *q = http_query(req, "q"), *l = http_query(req, "limit");
    x.role = http_query(req, "role");
    x.cursor = http_query(req, "cursor");
    if (l != NULL && parse_int_range(l, 1, PAGE_MAX, &x.limit) != 0)
        return http_res_detail(res, "limit must be 1-200"), MC_EBADREQ;
    if (x.role != NULL && !users_role_valid(x.role))
        return http_res_detail(res, "role must be patient, doctor or admin"), MC_EBADREQ;
    if (x.cursor != NULL && x.cursor[0] != '\0' && !uuid_valid(x.cursor))
        return http_res_detail(res, "cursor is malformed"), MC_EBADREQ;
    json_t *valid = q != NULL ? json_string(q) : NULL; /* NULL for invalid UTF-8 */
    bool q_bad = q != NULL && (strlen(q) > Q_MAX || valid == NULL);
    json_decref(valid);
    if (q_bad)
        return http_res_detail(res, "q must be at most 100 bytes of text"), MC_EBADREQ;
    if (q != NULL && q[0] != '\0')
        x.like = like_prefix(http_arena(req), q);
    struct db_conn *c = NULL;
    if ((rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, list_tx, &x);
    if (rc != 0) {
        json_decref(x.items);
        return rc;
    }
    http_res_json(
        res, 200,
        json_pack("{s:o,s:s?}", "items", x.items, "nextCursor", x.next[0] ? x.next : NULL));
    return 0;
}

/* ---- POST /admin/users ---- */

struct create_ctx {
    struct http_req *req;
    const struct auth_user *au;
    struct user *u;
};

static int create_tx(struct db_conn *c, void *arg)
{
    struct create_ctx *x = arg;
    int rc = users_insert(c, x->u, true);
    char detail[48];
    snprintf(detail, sizeof(detail), "authz_change role=%s", x->u->role);
    if (rc == 0)
        rc = audit_admin(x->req, c, x->au, "user_create", x->u->id, detail);
    return rc;
}

static int users_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"email", "name", "role", "password", NULL};
    static const char *const roles[] = {"patient", "doctor", "admin", NULL};
    struct create_ctx x = {.req = req};
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *email = NULL, *name = NULL, *pw = NULL;
    int role = -1;
    json_check_fields(b, fields, &v);
    if (json_get_str(b, "email", true, 3, USER_EMAIL_MAX, &email, &v) && !users_email_valid(email))
        verrs_add(&v, MC_EINVAL, "email", "is not an e-mail address");
    json_get_str(b, "name", true, 1, USER_NAME_MAX, &name, &v);
    json_get_enum(b, "role", true, roles, &role, &v);
    if (json_get_str(b, "password", false, 1, 1024, &pw, &v))
        pw_check_policy(pw, "password", &v);
    if ((rc = verrs_result(&v)) != 0)
        return http_res_verrs(res, &v), rc;
    char generated[32] = "";
    if (pw == NULL) {
        unsigned char raw[18];
        mc_random_bytes(raw, sizeof(raw));
        b64url_encode(raw, sizeof(raw), generated); /* 24 characters, 144 bits */
        sodium_memzero(raw, sizeof(raw));
        pw = generated;
    }
    x.u = arena_alloc(http_arena(req), sizeof(*x.u));
    memset(x.u, 0, sizeof(*x.u));
    snprintf(x.u->email, sizeof(x.u->email), "%s", email);
    snprintf(x.u->name, sizeof(x.u->name), "%s", name);
    snprintf(x.u->role, sizeof(x.u->role), "%s", roles[role]);
    snprintf(x.u->status, sizeof(x.u->status), "active");
    snprintf(x.u->locale, sizeof(x.u->locale), "en");
    snprintf(x.u->timezone, sizeof(x.u->timezone), "UTC");
    struct db_conn *c = NULL;
    if ((rc = pw_hash(pw, x.u->password_hash)) == 0 && (rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, create_tx, &x);
    if (rc == MC_ECONFLICT)
        http_res_detail(res, "a user with that e-mail already exists");
    if (rc != 0) {
        sodium_memzero(generated, sizeof(generated));
        return rc;
    }
    json_t *out = users_to_json(x.u);
    if (generated[0] != '\0') { /* shown once: never stored or logged in clear */
        json_object_set_new(out, "password", json_string(generated));
        http_res_no_replay(res); /* nor kept for an Idempotency-Key replay */
    }
    sodium_memzero(generated, sizeof(generated));
    http_res_json(res, 201, out);
    return 0;
}

/* ---- PATCH /admin/users/{id} ---- */

struct patch_ctx {
    struct http_req *req;
    const struct auth_user *au;
    const char *id;
    const char *status; /* NULL = unchanged */
    const char *role;   /* NULL = unchanged */
    struct user *u;
};

static int patch_tx(struct db_conn *c, void *arg)
{
    struct patch_ctx *x = arg;
    char detail[64];
    int rc = users_find_by_id(c, x->id, x->u);
    if (rc != 0)
        return rc;
    bool role_changes = x->role != NULL && strcmp(x->role, x->u->role) != 0;
    bool status_changes = x->status != NULL && strcmp(x->status, x->u->status) != 0;
    rc = db_exec(c,
                 "UPDATE users SET status = COALESCE(?, status), role = COALESCE(?, role),"
                 " updated_at = ?, version = version + 1 WHERE id = ?",
                 DB_PARAMS(DBP_TN(x->status), DBP_TN(x->role), DBP_I(mc_now_ms()), DBP_T(x->id)),
                 NULL);
    /* a disabled account is signed out everywhere at once; a new role takes effect at
     * once too, since sessions re-read the user on every request */
    if (rc == 0 && status_changes && strcmp(x->status, "disabled") == 0)
        rc = auth_session_revoke_all(c, x->id, NULL, "disabled");
    if (rc == 0 && role_changes) {
        snprintf(detail, sizeof(detail), "role %s->%s", x->u->role, x->role);
        rc = audit_admin(x->req, c, x->au, "authz_change", x->id, detail);
    }
    if (rc == 0 && status_changes) {
        snprintf(detail, sizeof(detail), "status %s->%s", x->u->status, x->status);
        rc = audit_admin(x->req, c, x->au, "user_status_change", x->id, detail);
    }
    if (rc == 0 && !role_changes && !status_changes)
        rc = audit_admin(x->req, c, x->au, "user_update", x->id, "no change");
    if (rc == 0)
        rc = users_find_by_id(c, x->id, x->u);
    return rc;
}

static int user_patch(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"status", "role", NULL};
    static const char *const statuses[] = {"active", "disabled", NULL};
    static const char *const roles[] = {"patient", "doctor", "admin", NULL};
    struct patch_ctx x = {.req = req, .id = http_param(req, "id")};
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    int si = -1, ri = -1;
    json_check_fields(b, fields, &v); /* id, email, passwordHash, ... → 400 */
    if (json_get_enum(b, "status", false, statuses, &si, &v))
        x.status = statuses[si];
    if (json_get_enum(b, "role", false, roles, &ri, &v))
        x.role = roles[ri];
    if (v.n == 0 && x.status == NULL && x.role == NULL)
        verrs_add(&v, MC_EBADREQ, "", "give status and/or role");
    /* an admin cannot lock herself out (another admin can) */
    if (strcmp(x.id, x.au->id) == 0 && ((x.status && strcmp(x.status, "disabled") == 0) ||
                                        (x.role && strcmp(x.role, "admin") != 0)))
        verrs_add(&v, MC_EINVAL, x.status ? "status" : "role",
                  "you cannot disable or demote your own account");
    if ((rc = verrs_result(&v)) != 0)
        return http_res_verrs(res, &v), rc;
    x.u = arena_alloc(http_arena(req), sizeof(*x.u));
    struct db_conn *c = NULL;
    if ((rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, patch_tx, &x);
    if (rc != 0)
        return rc;
    http_res_json(res, 200, users_to_json(x.u));
    return 0;
}

/* ---- GET /admin/audit ---- */

/* An optional RFC 3339 query parameter; false (detail set) when malformed. */
static bool query_instant(struct http_req *req, struct http_res *res, const char *name,
                          int64_t *out)
{
    const char *s = http_query(req, name);
    if (s == NULL || s[0] == '\0')
        return true;
    if (rfc3339_parse(s, out) == 0 && *out > 0)
        return true;
    http_res_detail(res, "%s must be an RFC 3339 instant", name);
    return false;
}

static const char *query_id(struct http_req *req, const char *name, bool *ok)
{
    const char *s = http_query(req, name);
    if (s != NULL && s[0] == '\0')
        return NULL;
    if (s != NULL && !uuid_valid(s))
        *ok = false;
    return s;
}

static int audit_get(struct http_req *req, struct http_res *res)
{
    struct {
        const struct auth_user *au;
        struct audit_filter f;
        json_t *items;
        char next[AUDIT_CURSOR_CAP];
    } x = {0};
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc != 0)
        return rc;
    bool ok = true;
    long long limit = AUDIT_LIST_DEFAULT;
    const char *l = http_query(req, "limit");
    x.f.actor_id = query_id(req, "actor", &ok);
    x.f.patient_id = query_id(req, "patient", &ok);
    x.f.action = http_query(req, "action");
    x.f.outcome = http_query(req, "outcome");
    x.f.cursor = http_query(req, "cursor");
    if (!ok)
        return http_res_detail(res, "actor and patient must be user ids"), MC_EBADREQ;
    if (l != NULL && parse_int_range(l, 1, AUDIT_LIST_MAX, &limit) != 0)
        return http_res_detail(res, "limit must be 1-200"), MC_EBADREQ;
    if (x.f.action != NULL &&
        (strlen(x.f.action) > AUDIT_ACTION_MAX ||
         strspn(x.f.action, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(x.f.action)))
        return http_res_detail(res, "action must be [a-z0-9_]"), MC_EBADREQ;
    if (x.f.outcome != NULL && strcmp(x.f.outcome, "success") != 0 &&
        strcmp(x.f.outcome, "failure") != 0 && strcmp(x.f.outcome, "denied") != 0)
        return http_res_detail(res, "outcome must be success, failure or denied"), MC_EBADREQ;
    if (!query_instant(req, res, "from", &x.f.from_ms) ||
        !query_instant(req, res, "to", &x.f.to_ms))
        return MC_EBADREQ;
    if (x.f.action != NULL && x.f.action[0] == '\0')
        x.f.action = NULL;
    if (x.f.outcome != NULL && x.f.outcome[0] == '\0')
        x.f.outcome = NULL;
    x.f.limit = (int)limit;
    struct audit_event read = {.actor_id = x.au->id,
                               .actor_role = x.au->role,
                               .action = "audit_read",
                               .resource_type = "audit",
                               .patient_id = x.f.patient_id,
                               .outcome = "success"};
    rc = mod_audit_page(req, &read, &x.f, &x.items, x.next, sizeof(x.next));
    if (rc == MC_EINVAL)
        http_res_detail(res, "from must not be after to");
    if (rc != 0)
        return rc;
    http_res_json(
        res, 200,
        json_pack("{s:o,s:s?}", "items", x.items, "nextCursor", x.next[0] ? x.next : NULL));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/api/v1/admin/users", users_get, 0, 0, "admin"},
    {HTTP_POST, "/api/v1/admin/users", users_post, HTTP_BODY_JSON | HTTP_IDEMPOTENT, 0, "admin"},
    {HTTP_PATCH, "/api/v1/admin/users/{id:uuid}", user_patch, HTTP_BODY_JSON, 0, "admin"},
    {HTTP_GET, "/api/v1/admin/audit", audit_get, 0, 0, "admin"},
};

const struct http_route *admin_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
