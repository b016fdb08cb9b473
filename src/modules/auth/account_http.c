/*
 * account_http.c - the signed-in user's own account: GET/PATCH /api/v1/me, password
 * change, and the forgot/reset flow (single-use hashed e-mail tokens, 30 minutes).
 * A password change or reset revokes every other session (security.md A7).
 */
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
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

#define RESET_TOKEN_TTL_MS (30LL * 60 * 1000)

/* ---- GET/PATCH /me ---- */

static int me_get(struct http_req *req, struct http_res *res)
{
    const struct auth_user *au;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    int rc = auth_require(req, res, &au);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0 || (rc = users_find_by_id(c, au->id, u)) != 0)
        return rc;
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%lld\"", u->version);
    http_res_header(res, "ETag", etag);
    http_res_json(res, 200, users_to_json(u));
    return 0;
}

struct patch_ctx {
    struct http_req *req;
    const struct auth_user *au;
    const char *name, *phone, *locale, *tz;
    bool phone_null;
    long long if_match; /* -1 = no If-Match */
    struct user *u;
    int verdict;
};

static int patch_tx(struct db_conn *c, void *arg)
{
    struct patch_ctx *x = arg;
    int rc = users_find_by_id(c, x->au->id, x->u);
    if (rc != 0)
        return rc;
    if (x->if_match >= 0 && x->if_match != x->u->version) {
        x->verdict = MC_EPRECOND;
        return 0;
    }
    long long n = 0;
    rc = db_exec(c,
                 "UPDATE users SET name = COALESCE(?, name), locale = COALESCE(?, locale),"
                 " timezone = COALESCE(?, timezone), phone = CASE WHEN ? = 1 THEN NULL"
                 " ELSE COALESCE(?, phone) END, updated_at = ?, version = version + 1"
                 " WHERE id = ? AND version = ?",
                 DB_PARAMS(DBP_TN(x->name), DBP_TN(x->locale), DBP_TN(x->tz),
                           DBP_I(x->phone_null ? 1 : 0), DBP_TN(x->phone), DBP_I(mc_now_ms()),
                           DBP_T(x->au->id), DBP_I(x->u->version)),
                 &n);
    if (rc == 0 && n == 0)
        rc = MC_EBUSY; /* raced with another update: db_tx retries */
    struct audit_event e = {.actor_id = x->au->id,
                            .actor_role = x->au->role,
                            .action = "user_update",
                            .resource_type = "user",
                            .resource_id = x->au->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    if (rc == 0)
        rc = users_find_by_id(c, x->au->id, x->u);
    return rc;
}

static long long parse_if_match(const char *h)
{
    char digits[24];
    long long v;
    size_t n = h ? strlen(h) : 0;
    if (n < 3 || n > 22 || h[0] != '"' || h[n - 1] != '"')
        return -2;
    memcpy(digits, h + 1, n - 2);
    digits[n - 2] = '\0';
    return parse_int_range(digits, 0, 1LL << 50, &v) == 0 ? v : -2;
}

static int me_patch(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"name", "phone", "locale", "timezone", NULL};
    const struct auth_user *au;
    int rc = auth_require(req, res, &au);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    struct patch_ctx x = {.req = req, .au = au, .if_match = -1};
    json_check_fields(b, fields, &v);
    json_get_str(b, "name", false, 1, USER_NAME_MAX, &x.name, &v);
    json_get_str(b, "locale", false, 2, 15, &x.locale, &v);
    json_get_str(b, "timezone", false, 1, 63, &x.tz, &v);
    x.phone_null = json_is_null(json_object_get(b, "phone"));
    json_get_str(b, "phone", false, 3, 32, &x.phone, &v);
    const char *im = http_header(req, "If-Match");
    if (im != NULL && (x.if_match = parse_if_match(im)) == -2)
        verrs_add(&v, MC_EBADREQ, "If-Match", "must be a version ETag like \"3\"");
    if ((rc = verrs_result(&v)) != 0)
        return http_res_verrs(res, &v), rc;
    struct db_conn *c = NULL;
    x.u = arena_alloc(http_arena(req), sizeof(*x.u));
    if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, patch_tx, &x)) != 0)
        return rc;
    if (x.verdict != 0) {
        http_res_detail(res, "the account changed since you read it; reload and retry");
        return x.verdict;
    }
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%lld\"", x.u->version);
    http_res_header(res, "ETag", etag);
    http_res_json(res, 200, users_to_json(x.u));
    return 0;
}

/* ---- password change / forgot / reset ---- */

struct pwset_ctx {
    struct http_req *req;
    const char *user_id;
    const char *role;
    const char *hash;       /* new password hash */
    const char *keep_sid;   /* session that stays (change), NULL (reset) */
    const char *token_hash; /* reset token to consume, or NULL */
    const char *email;      /* to clear a lockout */
    bool token_ok;
};

static int pwset_tx(struct db_conn *c, void *arg)
{
    struct pwset_ctx *x = arg;
    int64_t now = mc_now_ms();
    int rc = 0;
    if (x->token_hash != NULL) {
        long long n = 0;
        rc =
            db_exec(c,
                    "UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND purpose ="
                    " 'reset' AND used_at IS NULL AND expires_at > ? AND user_id = ?",
                    DB_PARAMS(DBP_I(now), DBP_T(x->token_hash), DBP_I(now), DBP_T(x->user_id)), &n);
        x->token_ok = rc == 0 && n == 1;
        if (!x->token_ok)
            return rc;
    }
    rc = users_set_password_hash(c, x->user_id, x->hash);
    if (rc == 0)
        rc = auth_session_revoke_all(c, x->user_id, x->keep_sid, "password_change");
    if (rc == 0 && x->email != NULL) {
        char lc[USER_EMAIL_MAX + 1], key[65];
        users_email_lc(x->email, lc, sizeof(lc));
        auth_hash_secret(lc, key);
        rc = db_exec(c, "DELETE FROM login_failures WHERE key = ?", DB_PARAMS(DBP_T(key)), NULL);
    }
    struct audit_event e = {.actor_id = x->user_id,
                            .actor_role = x->role,
                            .action = "authn_password_change",
                            .resource_type = "user",
                            .resource_id = x->user_id,
                            .outcome = "success",
                            .detail = x->token_hash ? "reset" : "change"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static void notify_password_changed(struct http_req *req, const char *email)
{
    struct mail_msg m = {.to = email,
                         .subject = "Your Mimicare password was changed",
                         .text = "The password of your Mimicare account was just changed and "
                                 "every other session was signed out.\nIf this was not you, "
                                 "reset your password now and contact the clinic.\n"};
    int rc = mail_send(mod_services(req)->mail, &m);
    if (rc != 0)
        log_error("password-change notice not sent", LF_S("error", mc_strerror(rc)));
}

static int password_change_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"currentPassword", "newPassword", NULL};
    const struct auth_user *au;
    int rc = auth_require(req, res, &au);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *cur = NULL, *neu = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "currentPassword", true, 1, 1024, &cur, &v);
    json_get_str(b, "newPassword", true, 1, 1024, &neu, &v);
    if (neu != NULL)
        pw_check_policy(neu, "newPassword", &v);
    if ((rc = verrs_result(&v)) != 0)
        return http_res_verrs(res, &v), rc;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    if ((rc = mod_db(req, &c)) != 0 || (rc = users_find_by_id(c, au->id, u)) != 0)
        return rc;
    rc = pw_verify(u->password_hash[0] ? u->password_hash : NULL, cur);
    if (rc == MC_EUNAUTH) {
        verrs_add(&v, MC_EBADREQ, "currentPassword", "is not correct");
        return http_res_verrs(res, &v), MC_EBADREQ;
    }
    char *hash = arena_alloc(http_arena(req), PW_HASH_LEN);
    if (rc != 0 || (rc = pw_hash(neu, hash)) != 0)
        return rc;
    struct pwset_ctx x = {
        .req = req, .user_id = au->id, .role = au->role, .hash = hash, .keep_sid = au->sid};
    if ((rc = db_tx(c, pwset_tx, &x)) != 0)
        return rc;
    notify_password_changed(req, u->email);
    http_res_body(res, 204, "application/json; charset=utf-8", "", 0);
    return 0;
}

struct forgot_ctx {
    const char *user_id;
    char token[AUTH_TOKEN_LEN];
};

static int forgot_tx(struct db_conn *c, void *arg)
{
    struct forgot_ctx *x = arg;
    char hash[65];
    int64_t now = mc_now_ms();
    auth_new_secret("mce", x->token, hash);
    return db_exec(
        c,
        "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at)"
        " VALUES (?, ?, 'reset', ?, ?)",
        DB_PARAMS(DBP_T(hash), DBP_T(x->user_id), DBP_I(now), DBP_I(now + RESET_TOKEN_TTL_MS)),
        NULL);
}

static int forgot_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"email", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *email = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "email", true, 1, USER_EMAIL_MAX, &email, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = auth_limit_ip(req, res, "forgot")) != 0)
        return rc;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    if ((rc = mod_db(req, &c)) != 0)
        return rc;
    rc = users_find_by_email(c, email, u);
    if (rc == 0 && strcmp(u->status, "active") == 0) {
        struct forgot_ctx x = {.user_id = u->id};
        if ((rc = db_tx(c, forgot_tx, &x)) != 0)
            return rc;
        struct buf text = BUF_INIT;
        buf_printf(&text,
                   "To choose a new Mimicare password open\n%s/reset-password?token=%s\n\n"
                   "or enter this code in the app:\n%s\n\nThe code is valid for 30 minutes. "
                   "If you did not ask for it, ignore this e-mail.\n",
                   config_str(mod_services(req)->cfg, CFG_PUBLIC_URL), x.token, x.token);
        struct mail_msg m = {
            .to = u->email, .subject = "Reset your Mimicare password", .text = text.data};
        if (mail_send(mod_services(req)->mail, &m) != 0)
            log_error("reset e-mail not sent");
        buf_free(&text);
    } else if (rc != MC_ENOTFOUND && rc != 0) {
        return rc;
    }
    /* the same answer whether or not the address has an account */
    http_res_json(res, 202,
                  json_pack("{s:s}", "status",
                            "If the address has an account, a reset e-mail "
                            "is on its way."));
    return 0;
}

static int reset_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"token", "newPassword", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL, *neu = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "token", true, 1, AUTH_TOKEN_LEN, &token, &v);
    json_get_str(b, "newPassword", true, 1, 1024, &neu, &v);
    if (neu != NULL)
        pw_check_policy(neu, "newPassword", &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = auth_limit_ip(req, res, "reset")) != 0)
        return rc;
    char th[65];
    auth_hash_secret(token, th);
    struct db_conn *c = NULL;
    struct db_stmt *st = NULL;
    if ((rc = mod_db(req, &c)) != 0)
        return rc;
    rc = db_query_row(c,
                      "SELECT u.id, u.role, u.email FROM email_tokens t JOIN users u ON"
                      " u.id = t.user_id WHERE t.token_hash = ? AND t.purpose = 'reset'",
                      DB_PARAMS(DBP_T(th)), &st);
    if (rc == MC_ENOTFOUND) {
        http_res_detail(res, "the code is unknown, used or expired");
        return MC_EBADREQ;
    }
    if (rc != 0)
        return rc;
    struct arena *a = http_arena(req);
    struct pwset_ctx x = {.req = req,
                          .user_id = arena_strdup(a, db_col_text(st, 0)),
                          .role = arena_strdup(a, db_col_text(st, 1)),
                          .email = arena_strdup(a, db_col_text(st, 2)),
                          .token_hash = th};
    db_finalize(st);
    char *hash = arena_alloc(a, PW_HASH_LEN);
    if ((rc = pw_hash(neu, hash)) != 0)
        return rc;
    x.hash = hash;
    if ((rc = db_tx(c, pwset_tx, &x)) != 0)
        return rc;
    if (!x.token_ok) {
        http_res_detail(res, "the code is unknown, used or expired");
        return MC_EBADREQ;
    }
    notify_password_changed(req, x.email);
    http_res_json(res, 200, json_pack("{s:s}", "status", "password changed"));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/api/v1/me", me_get, 0, 0, "user"},
    {HTTP_PATCH, "/api/v1/me", me_patch, HTTP_BODY_JSON, 0, "user"},
    {HTTP_POST, "/api/v1/auth/password/change", password_change_post, HTTP_BODY_JSON, 0, "user"},
    {HTTP_POST, "/api/v1/auth/password/forgot", forgot_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/password/reset", reset_post, HTTP_BODY_JSON, 0, "public"},
};

const struct http_route *account_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
