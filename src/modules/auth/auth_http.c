/*
 * auth_http.c - the /api/v1/auth endpoints: register, verify e-mail, login, refresh,
 * logout, sessions. Handlers validate, call auth.c / users.c, audit and render.
 */
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "infra/mail/mail.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/auth/auth_int.h"
#include "modules/auth/password.h"
#include "modules/mod.h"
#include "modules/ratelimit/ratelimit.h"
#include "modules/users/users.h"

#include <stdio.h>
#include <string.h>

#define VERIFY_TOKEN_TTL_MS (24LL * 3600 * 1000)
#define GENERIC_LOGIN_FAIL  "invalid e-mail or password"

static json_t *tokens_json(const struct auth_tokens *t, json_t *user)
{
    json_t *o = json_object();
    json_object_set_new(o, "accessToken", json_string(t->access));
    json_object_set_new(o, "refreshToken", json_string(t->refresh));
    json_object_set_new(o, "tokenType", json_string("Bearer"));
    json_object_set_new(o, "expiresIn", json_integer(t->expires_in_s));
    json_object_set_new(o, "sessionId", json_string(t->sid));
    if (user != NULL)
        json_object_set_new(o, "user", user);
    return o;
}

/* Per-IP limit for unauthenticated auth endpoints; fails closed (503) if kv is down. */
static int limit_ip(struct http_req *req, struct http_res *res, const char *bucket,
                    enum cfg_id max_id)
{
    const struct services *svc = mod_services(req);
    return rl_enforce(svc->kv, res, bucket, http_client_ip(req), config_int(svc->cfg, max_id),
                      config_int(svc->cfg, CFG_RATE_LIMIT_WINDOW),
                      "too many requests; retry later");
}

/* ---- register / verify ---- */

static int send_mail(struct http_req *req, const char *to, const char *subject, const char *text)
{
    struct mail_msg m = {.to = to, .subject = subject, .text = text};
    int rc = mail_send(mod_services(req)->mail, &m);
    if (rc != 0)
        log_error("mail not sent", LF_S("error", mc_strerror(rc)));
    return rc;
}

struct register_ctx {
    struct http_req *req;
    struct user *u;
    char token[AUTH_TOKEN_LEN];
    bool existed;
};

static int register_tx(struct db_conn *c, void *arg)
{
    struct register_ctx *x = arg;
    struct user old;
    int rc = users_find_by_email(c, x->u->email, &old);
    if (rc == 0) {
        x->existed = true;
        return 0;
    }
    if (rc != MC_ENOTFOUND)
        return rc;
    rc = users_insert(c, x->u, false);
    char hash[65];
    auth_new_secret("mce", x->token, hash);
    int64_t now = mc_now_ms();
    if (rc == 0)
        rc = db_exec(
            c,
            "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at,"
            " expires_at) VALUES (?, ?, 'verify', ?, ?)",
            DB_PARAMS(DBP_T(hash), DBP_T(x->u->id), DBP_I(now), DBP_I(now + VERIFY_TOKEN_TTL_MS)),
            NULL);
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = "patient",
                            .action = "user_register",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int register_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"email",  "password", "name", "phone",
                                         "locale", "timezone", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *email = NULL, *password = NULL, *name = NULL, *phone = NULL, *locale = NULL,
               *tz = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "email", true, 3, USER_EMAIL_MAX, &email, &v);
    json_get_str(b, "password", true, 1, 1024, &password, &v);
    json_get_str(b, "name", true, 1, USER_NAME_MAX, &name, &v);
    json_get_str(b, "phone", false, 3, 32, &phone, &v);
    json_get_str(b, "locale", false, 2, 15, &locale, &v);
    json_get_str(b, "timezone", false, 1, 63, &tz, &v);
    if (email != NULL && !users_email_valid(email))
        verrs_add(&v, MC_EINVAL, "email", "is not a valid e-mail address");
    if (password != NULL)
        pw_check_policy(password, "password", &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    memset(u, 0, sizeof(*u));
    snprintf(u->email, sizeof(u->email), "%s", email);
    snprintf(u->role, sizeof(u->role), "patient");
    snprintf(u->name, sizeof(u->name), "%s", name);
    snprintf(u->phone, sizeof(u->phone), "%s", phone ? phone : "");
    snprintf(u->locale, sizeof(u->locale), "%s", locale ? locale : "en");
    snprintf(u->timezone, sizeof(u->timezone), "%s", tz ? tz : "UTC");
    /* hash even when the address is taken, so both answers take the same time */
    if ((rc = pw_hash(password, u->password_hash)) != 0)
        return rc;
    struct db_conn *c = NULL;
    struct register_ctx x = {.req = req, .u = u};
    if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, register_tx, &x)) != 0)
        return rc;
    const struct config *cfg = mod_services(req)->cfg;
    struct buf text = BUF_INIT;
    if (x.existed)
        buf_printf(&text, "Someone tried to create a Mimicare account with this address.\n"
                          "If it was you, log in or reset your password instead.\n");
    else
        buf_printf(&text,
                   "Welcome to Mimicare.\n\nConfirm your e-mail address by opening\n"
                   "%s/verify-email?token=%s\n\nor by entering this code in the app:\n%s\n\n"
                   "The code is valid for 24 hours.\n",
                   config_str(cfg, CFG_PUBLIC_URL), x.token, x.token);
    /* the account exists either way; a mail failure is logged, not shown (no enumeration) */
    send_mail(req, email, x.existed ? "Mimicare sign-up attempt" : "Confirm your e-mail",
              text.data);
    buf_free(&text);
    http_res_json(res, 202,
                  json_pack("{s:s}", "status",
                            "If the address can be used, a confirmation "
                            "e-mail is on its way."));
    return 0;
}

struct verify_ctx {
    struct http_req *req;
    const char *hash;
    bool ok;
};

static int verify_tx(struct db_conn *c, void *arg)
{
    struct verify_ctx *x = arg;
    int64_t now = mc_now_ms();
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          "SELECT user_id FROM email_tokens WHERE token_hash = ? AND"
                          " purpose = 'verify' AND used_at IS NULL AND expires_at > ?",
                          DB_PARAMS(DBP_T(x->hash), DBP_I(now)), &st);
    if (rc == MC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    char uid[UUID_STR_LEN];
    snprintf(uid, sizeof(uid), "%s", db_col_text(st, 0));
    db_finalize(st);
    rc = db_exec(c, "UPDATE email_tokens SET used_at = ? WHERE token_hash = ?",
                 DB_PARAMS(DBP_I(now), DBP_T(x->hash)), NULL);
    if (rc == 0)
        rc = users_mark_verified(c, uid);
    struct audit_event e = {.actor_id = uid,
                            .action = "user_email_verified",
                            .resource_type = "user",
                            .resource_id = uid,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    x->ok = rc == 0;
    return rc;
}

static int verify_email_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"token", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "token", true, 1, AUTH_TOKEN_LEN, &token, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    char hash[65];
    auth_hash_secret(token, hash);
    struct db_conn *c = NULL;
    struct verify_ctx x = {.req = req, .hash = hash};
    if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, verify_tx, &x)) != 0)
        return rc;
    if (!x.ok) {
        http_res_detail(res, "the code is unknown, used or expired");
        return MC_EBADREQ;
    }
    http_res_json(res, 200, json_pack("{s:s}", "status", "verified"));
    return 0;
}

/* ---- login ---- */

struct attempt {
    char key[65];         /* SHA-256 of the lower-cased e-mail */
    int64_t locked_until; /* ms, 0 = not locked */
};

static int read_lock(struct db_conn *c, struct attempt *a)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT locked_until FROM login_failures WHERE key = ?",
                          DB_PARAMS(DBP_T(a->key)), &st);
    a->locked_until = rc == 0 ? db_col_int(st, 0) : 0;
    db_finalize(st);
    return rc == MC_ENOTFOUND ? 0 : rc;
}

struct fail_ctx {
    struct http_req *req;
    struct attempt *a;
    const char *user_id; /* NULL for unknown addresses */
    bool locked_now;
};

static int fail_tx(struct db_conn *c, void *arg)
{
    struct fail_ctx *x = arg;
    const struct config *cfg = mod_services(x->req)->cfg;
    int64_t now = mc_now_ms();
    int64_t window = config_int(cfg, CFG_RATE_LIMIT_WINDOW) * 1000;
    long long max = config_int(cfg, CFG_MAX_LOGIN_ATTEMPTS);
    long long count = 1;
    int64_t start = now;
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT count, window_start FROM login_failures WHERE key = ?",
                          DB_PARAMS(DBP_T(x->a->key)), &st);
    if (rc == 0 && db_col_int(st, 1) + window > now) {
        count = db_col_int(st, 0) + 1;
        start = db_col_int(st, 1);
    }
    db_finalize(st);
    if (rc != 0 && rc != MC_ENOTFOUND)
        return rc;
    int64_t locked = count >= max ? now + config_int(cfg, CFG_LOCKOUT_DURATION) * 1000 : 0;
    x->locked_now = locked != 0;
    rc = db_exec(
        c,
        "INSERT INTO login_failures (key, count, window_start, locked_until)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count,"
        " window_start = excluded.window_start, locked_until = excluded.locked_until",
        DB_PARAMS(DBP_T(x->a->key), DBP_I(locked ? 0 : count), DBP_I(start), DBP_I(locked)), NULL);
    struct audit_event e = {
        .actor_id = x->user_id, .action = "authn_login_fail", .outcome = "failure"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    if (rc == 0 && x->locked_now) {
        e.action = "authn_login_fail_max";
        rc = mod_audit(x->req, c, &e);
        e.action = "authn_login_lock";
        e.severity = "high";
        if (rc == 0)
            rc = mod_audit(x->req, c, &e);
    }
    return rc;
}

static int locked_answer(struct http_res *res, int64_t locked_until)
{
    char retry[24];
    int64_t secs = (locked_until - mc_now_ms() + 999) / 1000;
    snprintf(retry, sizeof(retry), "%lld", (long long)(secs > 0 ? secs : 1));
    http_res_header(res, "Retry-After", retry);
    http_res_detail(res, "too many failed attempts; try again later or reset your password");
    return MC_ERATE;
}

/* ---- the login steps the second factor reuses (auth_int.h) ---- */

static void login_key(const char *email, char key[65])
{
    char lc[USER_EMAIL_MAX + 1];
    users_email_lc(email, lc, sizeof(lc));
    auth_hash_secret(lc, key);
}

int auth_limit_ip(struct http_req *req, struct http_res *res, const char *bucket)
{
    return limit_ip(req, res, bucket, CFG_RATE_LIMIT_LOGIN_MAX);
}

int auth_login_locked(struct http_res *res, struct db_conn *c, const char *email)
{
    struct attempt a;
    login_key(email, a.key);
    int rc = read_lock(c, &a);
    if (rc == 0 && a.locked_until > mc_now_ms())
        rc = locked_answer(res, a.locked_until);
    return rc;
}

int auth_login_failed(struct http_req *req, struct db_conn *c, const char *email,
                      const char *user_id)
{
    struct attempt a = {.locked_until = 0};
    login_key(email, a.key);
    struct fail_ctx f = {.req = req, .a = &a, .user_id = user_id};
    return db_tx(c, fail_tx, &f);
}

struct success_ctx {
    struct http_req *req;
    const struct user *u;
    const char *key;
    const char *rehash; /* new hash to store, or NULL */
    struct auth_tokens *t;
};

static int success_tx(struct db_conn *c, void *arg)
{
    struct success_ctx *x = arg;
    int rc = db_exec(c, "DELETE FROM login_failures WHERE key = ?", DB_PARAMS(DBP_T(x->key)), NULL);
    if (rc == 0 && x->rehash != NULL)
        rc = users_set_password_hash(c, x->u->id, x->rehash);
    if (rc == 0)
        rc = auth_session_create(x->req, c, x->u->id, x->t);
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "authn_login_success",
                            .resource_type = "session",
                            .resource_id = x->t->sid,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

int auth_login_succeeded(struct http_req *req, struct db_conn *c, const struct user *u,
                         struct auth_tokens *t)
{
    char key[65];
    login_key(u->email, key);
    struct success_ctx s = {.req = req, .u = u, .key = key, .rehash = NULL, .t = t};
    return success_tx(c, &s);
}

json_t *auth_login_body(const struct auth_tokens *t, const struct user *u)
{
    return tokens_json(t, users_to_json(u));
}

bool auth_staff_mfa_required(const struct config *cfg, const char *role)
{
    if (strcmp(role, "patient") == 0)
        return false;
    long long mode = config_int(cfg, CFG_REQUIRE_STAFF_MFA); /* auto|true|false */
    return mode == 1 || (mode == 0 && config_env(cfg) == APP_ENV_PRODUCTION);
}

static int login_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"email", "password", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *email = NULL, *password = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "email", true, 1, USER_EMAIL_MAX, &email, &v);
    json_get_str(b, "password", true, 1, 1024, &password, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = limit_ip(req, res, "login", CFG_RATE_LIMIT_LOGIN_MAX)) != 0)
        return rc;
    const struct services *svc = mod_services(req);
    struct attempt a;
    char lc[USER_EMAIL_MAX + 1];
    users_email_lc(email, lc, sizeof(lc));
    auth_hash_secret(lc, a.key);
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    if ((rc = mod_db(req, &c)) != 0 || (rc = read_lock(c, &a)) != 0)
        return rc;
    if (a.locked_until > mc_now_ms())
        return locked_answer(res, a.locked_until);
    int found = users_find_by_email(c, email, u);
    if (found != 0 && found != MC_ENOTFOUND)
        return found;
    bool known = found == 0 && u->password_hash[0] != '\0';
    rc = pw_verify(known ? u->password_hash : NULL, password);
    if (rc == MC_EBUSY)
        return rc;
    if (rc != 0 || strcmp(u->status, "active") != 0) {
        struct fail_ctx f = {.req = req, .a = &a, .user_id = found == 0 ? u->id : NULL};
        if ((rc = db_tx(c, fail_tx, &f)) != 0)
            return rc;
        /* the attempt that reaches the limit is still an ordinary failure; the lock
         * answers from the next one on (security.md A5) */
        http_res_detail(res, GENERIC_LOGIN_FAIL);
        return MC_EUNAUTH;
    }
    if (strcmp(u->role, "patient") == 0 && !u->email_verified &&
        config_bool(svc->cfg, CFG_EMAIL_VERIFICATION_REQUIRED)) {
        http_res_detail(res, "confirm your e-mail address first (see the e-mail we sent)");
        return MC_EFORBIDDEN;
    }
    char *rehash = NULL;
    if (pw_needs_rehash(u->password_hash)) {
        rehash = arena_alloc(http_arena(req), PW_HASH_LEN);
        if (pw_hash(password, rehash) != 0)
            rehash = NULL; /* keep the old hash; try again next time */
    }
    /* with TOTP enabled, or staff where a second factor is required, the password alone
     * yields no tokens but a challenge for /auth/mfa/verify (security.md A9) */
    bool answered = false;
    rc = auth_mfa_login_gate(req, res, c, u, auth_staff_mfa_required(svc->cfg, u->role), rehash,
                             &answered);
    if (rc != 0 || answered)
        return rc;
    struct auth_tokens *t = arena_alloc(http_arena(req), sizeof(*t));
    struct success_ctx s = {.req = req, .u = u, .key = a.key, .rehash = rehash, .t = t};
    if ((rc = db_tx(c, success_tx, &s)) != 0)
        return rc;
    http_res_json(res, 200, tokens_json(t, users_to_json(u)));
    return 0;
}

/* ---- refresh, logout, sessions ---- */

static int refresh_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"refreshToken", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "refreshToken", true, 1, 256, &token, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    struct auth_tokens *t = arena_alloc(http_arena(req), sizeof(*t));
    char uid[UUID_STR_LEN] = "";
    rc = auth_session_refresh(req, token, t, uid);
    if (rc == MC_EUNAUTH) {
        http_res_detail(res, "invalid_grant: the refresh token is invalid, expired or revoked");
        return rc;
    }
    if (rc == MC_ECONFLICT) {
        http_res_detail(res, "this refresh token was just rotated; use the newer one");
        return rc;
    }
    if (rc != 0)
        return rc;
    http_res_json(res, 200, tokens_json(t, NULL));
    return 0;
}

struct revoke_ctx {
    struct http_req *req;
    const struct auth_user *u;
    const char *sid; /* one session, or NULL for all */
    const char *action;
    int verdict;
};

static int revoke_tx(struct db_conn *c, void *arg)
{
    struct revoke_ctx *x = arg;
    int rc = x->sid ? auth_session_revoke(c, x->u->id, x->sid, "logout")
                    : auth_session_revoke_all(c, x->u->id, NULL, "logout_all");
    x->verdict = rc;
    if (rc == MC_ENOTFOUND)
        return 0;
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = x->action,
                            .resource_type = "session",
                            .resource_id = x->sid,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int revoke(struct http_req *req, struct http_res *res, const char *sid, bool all,
                  const char *action)
{
    const struct auth_user *u;
    struct db_conn *c = NULL;
    int rc = auth_require(req, res, &u);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0)
        return rc;
    struct revoke_ctx x = {
        .req = req, .u = u, .sid = all ? NULL : (sid ? sid : u->sid), .action = action};
    if ((rc = db_tx(c, revoke_tx, &x)) != 0)
        return rc;
    if (x.verdict != 0)
        return x.verdict;
    http_res_body(res, 204, "application/json; charset=utf-8", "", 0);
    return 0;
}

static int logout_post(struct http_req *req, struct http_res *res)
{
    return revoke(req, res, NULL, false, "authn_logout");
}

static int logout_all_post(struct http_req *req, struct http_res *res)
{
    return revoke(req, res, NULL, true, "authn_logout_all");
}

static int session_delete(struct http_req *req, struct http_res *res)
{
    return revoke(req, res, http_param(req, "id"), false, "authn_session_revoke");
}

static int sessions_get(struct http_req *req, struct http_res *res)
{
    const struct auth_user *u;
    struct db_conn *c = NULL;
    struct db_stmt *st = NULL;
    int rc = auth_require(req, res, &u);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0)
        return rc;
    int64_t now = mc_now_ms();
    rc = db_query(c,
                  "SELECT id, created_at, last_seen_at, ip, user_agent FROM sessions"
                  " WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
                  " ORDER BY created_at DESC LIMIT 200",
                  DB_PARAMS(DBP_T(u->id), DBP_I(now)), &st);
    if (rc != 0)
        return rc;
    json_t *items = json_array();
    int s;
    while ((s = db_step(st)) == 1) {
        char c1[RFC3339_LEN], c2[RFC3339_LEN];
        rfc3339_format(db_col_int(st, 1), c1);
        rfc3339_format(db_col_int(st, 2), c2);
        const char *ip = db_col_text(st, 3), *ua = db_col_text(st, 4);
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id",
                                               db_col_text(st, 0), "createdAt", c1, "lastSeenAt",
                                               c2, "ip", ip ? ip : "", "userAgent", ua ? ua : "",
                                               "current", strcmp(db_col_text(st, 0), u->sid) == 0));
    }
    db_finalize(st);
    if (s < 0) {
        json_decref(items);
        return -s;
    }
    http_res_json(res, 200, json_pack("{s:o, s:n}", "items", items, "nextCursor"));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_POST, "/api/v1/auth/register", register_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/verify-email", verify_email_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/login", login_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/refresh", refresh_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/logout", logout_post, 0, 0, "user"},
    {HTTP_POST, "/api/v1/auth/logout-all", logout_all_post, 0, 0, "user"},
    {HTTP_GET, "/api/v1/auth/sessions", sessions_get, 0, 0, "user"},
    {HTTP_DELETE, "/api/v1/auth/sessions/{id:uuid}", session_delete, 0, 0, "user"},
};

const struct http_route *auth_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
