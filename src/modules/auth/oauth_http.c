/*
 * oauth_http.c - sign-in with Google and Apple: POST /api/v1/auth/oauth/{google,apple}.
 *
 * The app signs the user in with the provider itself and sends us the ID token with the
 * nonce it generated. oidc.c verifies the token; here we map the verified (issuer,
 * subject) to an account (user_identities) and open a session exactly like /auth/login.
 * POST /api/v1/auth/oauth/{google,apple}/link verifies a token the same way for a signed-in
 * patient and binds its identity to her account (409 if it is bound to any account).
 *
 * Identity binding (security.md C2): an identity we have not seen whose e-mail belongs to
 * an existing account is refused with 409 - the provider's word about an address is not
 * enough to enter an account someone else may have created with a password. Otherwise an
 * unknown identity with a provider-verified e-mail gets a new, verified patient account.
 */
#include "app/modules.h"
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/auth/auth_int.h"
#include "modules/auth/oidc.h"
#include "modules/mod.h"
#include "modules/ratelimit/ratelimit.h"
#include "modules/users/users.h"

#include <stdio.h>
#include <string.h>

#define OAUTH_NONCE_MAX 512

/* The same shape as /auth/login answers with. */
static json_t *tokens_json(const struct auth_tokens *t, json_t *user)
{
    json_t *o = json_object();
    json_object_set_new(o, "accessToken", json_string(t->access));
    json_object_set_new(o, "refreshToken", json_string(t->refresh));
    json_object_set_new(o, "tokenType", json_string("Bearer"));
    json_object_set_new(o, "expiresIn", json_integer(t->expires_in_s));
    json_object_set_new(o, "sessionId", json_string(t->sid));
    json_object_set_new(o, "user", user);
    return o;
}

/* Fills p for provider name from configuration. false when it is not configured. */
static bool provider_config(const struct config *cfg, const char *name, struct oidc_provider *p)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    if (strcmp(name, "google") == 0) {
        p->jwks_url = config_str(cfg, CFG_GOOGLE_JWKS_URL);
        p->issuers = config_str(cfg, CFG_GOOGLE_ISSUERS);
        p->client_id = config_str(cfg, CFG_GOOGLE_CLIENT_ID);
    } else {
        p->jwks_url = config_str(cfg, CFG_APPLE_JWKS_URL);
        p->issuers = config_str(cfg, CFG_APPLE_ISSUER);
        p->client_id = config_str(cfg, CFG_APPLE_CLIENT_ID);
        p->nonce_sha256_ok = true; /* Apple's documented form: SHA-256 hex of the nonce */
    }
    return p->client_id[0] != '\0' && p->issuers[0] != '\0' && p->jwks_url[0] != '\0';
}

struct signin_ctx {
    struct http_req *req;
    const char *provider;
    const struct oidc_identity *id;
    struct user *u;
    struct auth_tokens *t;
    int verdict; /* 0, or MC_ECONFLICT / MC_EINVAL / MC_EFORBIDDEN decided inside */
};

static int audit_outcome(struct signin_ctx *x, struct db_conn *c, const char *action,
                         const char *outcome)
{
    struct audit_event e = {.actor_id = x->u->id[0] ? x->u->id : NULL,
                            .actor_role = x->u->id[0] ? x->u->role : NULL,
                            .action = action,
                            .resource_type = "session",
                            .resource_id = x->t->sid[0] ? x->t->sid : NULL,
                            .outcome = outcome,
                            .detail = x->provider};
    return mod_audit(x->req, c, &e);
}

/* An identity we have not seen: refuse if its e-mail is taken, else create a patient. */
static int create_account(struct signin_ctx *x, struct db_conn *c)
{
    const struct oidc_identity *id = x->id;
    if (id->email[0] == '\0' || !users_email_valid(id->email) || !id->email_verified) {
        x->verdict = MC_EINVAL;
        return 0;
    }
    int rc = users_find_by_email(c, id->email, x->u);
    if (rc == 0) {
        x->verdict = MC_ECONFLICT;
        memset(x->u, 0, sizeof(*x->u)); /* the failure is not that account's doing */
        return 0;
    }
    if (rc != MC_ENOTFOUND)
        return rc;
    memset(x->u, 0, sizeof(*x->u));
    snprintf(x->u->email, sizeof(x->u->email), "%s", id->email);
    snprintf(x->u->role, sizeof(x->u->role), "patient");
    snprintf(x->u->name, sizeof(x->u->name), "%s", id->name[0] ? id->name : id->email);
    snprintf(x->u->status, sizeof(x->u->status), "active");
    if ((rc = users_insert(c, x->u, true)) != 0)
        return rc;
    rc = db_exec(c,
                 "INSERT INTO user_identities (provider, issuer, subject, user_id, email,"
                 " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                 DB_PARAMS(DBP_T(x->provider), DBP_T(id->issuer), DBP_T(id->subject),
                           DBP_T(x->u->id), DBP_T(id->email), DBP_I(x->u->created_at)),
                 NULL);
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = "patient",
                            .action = "user_register",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success",
                            .detail = x->provider};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int signin_tx(struct db_conn *c, void *arg)
{
    struct signin_ctx *x = arg;
    struct db_stmt *st = NULL;
    x->verdict = 0;
    memset(x->u, 0, sizeof(*x->u));
    memset(x->t, 0, sizeof(*x->t));
    int rc = db_query_row(c, "SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?",
                          DB_PARAMS(DBP_T(x->id->issuer), DBP_T(x->id->subject)), &st);
    if (rc == 0) {
        char uid[UUID_STR_LEN];
        snprintf(uid, sizeof(uid), "%s", db_col_text(st, 0));
        db_finalize(st);
        if ((rc = users_find_by_id(c, uid, x->u)) != 0)
            return rc;
        /* staff sign in with a password and a second factor, never through a provider */
        if (strcmp(x->u->status, "active") != 0 || strcmp(x->u->role, "patient") != 0)
            x->verdict = MC_EFORBIDDEN;
    } else if (rc == MC_ENOTFOUND) {
        if ((rc = create_account(x, c)) != 0)
            return rc;
    } else {
        return rc;
    }
    if (x->verdict != 0)
        return audit_outcome(x, c, "authn_login_fail", "failure");
    return 0;
}

/* The session, once the account is known and any second factor is settled. */
static int session_tx(struct db_conn *c, void *arg)
{
    struct signin_ctx *x = arg;
    int rc = auth_session_create(x->req, c, x->u->id, x->t);
    if (rc == 0)
        rc = audit_outcome(x, c, "authn_login_success", "success");
    return rc;
}

static int fail_audit(struct http_req *req, const char *action, const char *provider)
{
    struct audit_event e = {.action = action, .outcome = "failure", .detail = provider};
    return mod_audit_tx(req, &e);
}

/* The steps sign-in and linking share: the provider's configuration, the body
 * {idToken, nonce}, the per-address limit and the token's verification. Returns 0 with
 * *out (request arena) or an error with res answered; a refused token is audited as
 * fail_action and is MC_EUNAUTH. */
static int verified_identity(struct http_req *req, struct http_res *res, const char *provider,
                             const char *fail_action, struct oidc_identity **out)
{
    static const char *const fields[] = {"idToken", "nonce", NULL};
    const struct services *svc = mod_services(req);
    struct oidc_provider p;
    if (!provider_config(svc->cfg, provider, &p))
        return http_res_detail(res, "%s sign-in is not configured", provider), MC_ENOTFOUND;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL, *nonce = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "idToken", true, 1, OIDC_TOKEN_MAX, &token, &v);
    json_get_str(b, "nonce", true, 1, OAUTH_NONCE_MAX, &nonce, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = auth_limit_ip(req, res, "oauth")) != 0)
        return rc;

    struct oidc_identity *id = arena_alloc(http_arena(req), sizeof(*id));
    const char *why = NULL;
    rc = oidc_verify(&p, token, nonce, mc_now_ms() / 1000, id, &why);
    if (rc == MC_EUNAVAIL)
        return http_res_detail(res, "%s sign-in is unavailable; try again later", provider), rc;
    if (rc != 0) {
        log_info("id token refused", LF_S("provider", provider), LF_S("reason", why));
        if ((rc = fail_audit(req, fail_action, provider)) != 0)
            return rc;
        return http_res_detail(res, "the ID token is not valid"), MC_EUNAUTH;
    }
    *out = id;
    return 0;
}

static int signin(struct http_req *req, struct http_res *res, const char *provider)
{
    struct oidc_identity *id = NULL;
    int rc = verified_identity(req, res, provider, "authn_login_fail", &id);
    if (rc != 0)
        return rc;
    struct signin_ctx x = {.req = req,
                           .provider = provider,
                           .id = id,
                           .u = arena_alloc(http_arena(req), sizeof(struct user)),
                           .t = arena_alloc(http_arena(req), sizeof(struct auth_tokens))};
    struct db_conn *c = NULL;
    if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, signin_tx, &x)) != 0)
        return rc;
    switch (x.verdict) {
    case 0:
        break;
    case MC_ECONFLICT:
        return http_res_detail(res, "an account with this e-mail exists; log in and link it"),
               MC_ECONFLICT;
    case MC_EINVAL:
        return http_res_detail(res, "the %s account has no verified e-mail address", provider),
               MC_EINVAL;
    default:
        return http_res_detail(res, "this account cannot sign in this way"), MC_EFORBIDDEN;
    }
    /* a patient who turned on TOTP proves it here too: the provider is one factor */
    bool answered = false;
    if ((rc = auth_mfa_login_gate(req, res, c, x.u, false, NULL, &answered)) != 0 || answered)
        return rc;
    if ((rc = db_tx(c, session_tx, &x)) != 0)
        return rc;
    http_res_json(res, 200, tokens_json(x.t, users_to_json(x.u)));
    return 0;
}

/* ---- linking an identity to the signed-in account ---- */

struct link_ctx {
    struct http_req *req;
    const char *provider;
    const struct oidc_identity *id;
    const struct user *u;
    bool taken; /* out: the identity belongs to an account already (this one or another) */
};

static int link_tx(struct db_conn *c, void *arg)
{
    struct link_ctx *x = arg;
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?",
                          DB_PARAMS(DBP_T(x->id->issuer), DBP_T(x->id->subject)), &st);
    db_finalize(st);
    x->taken = rc == 0;
    if (rc == MC_ENOTFOUND)
        rc = db_exec(c,
                     "INSERT INTO user_identities (provider, issuer, subject, user_id, email,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     DB_PARAMS(DBP_T(x->provider), DBP_T(x->id->issuer), DBP_T(x->id->subject),
                               DBP_T(x->u->id), DBP_TN(x->id->email[0] ? x->id->email : NULL),
                               DBP_I(mc_now_ms())),
                     NULL);
    if (rc != 0)
        return rc;
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "identity_link",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = x->taken ? "failure" : "success",
                            .detail = x->provider};
    return mod_audit(x->req, c, &e);
}

/* POST /auth/oauth/{provider}/link: the bearer proves the account, the ID token the
 * identity; from then on the identity signs into this account. */
static int link_identity(struct http_req *req, struct http_res *res, const char *provider)
{
    const struct auth_user *au = NULL;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    int rc = auth_require(req, res, &au);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0 || (rc = users_find_by_id(c, au->id, u)) != 0)
        return rc;
    /* staff sign in with a password and a second factor only, so they have nothing to link */
    if (strcmp(u->role, "patient") != 0)
        return http_res_detail(res, "this account cannot sign in this way"), MC_EFORBIDDEN;
    struct oidc_identity *id = NULL;
    if ((rc = verified_identity(req, res, provider, "identity_link", &id)) != 0)
        return rc;
    struct link_ctx x = {.req = req, .provider = provider, .id = id, .u = u};
    rc = db_tx(c, link_tx, &x);
    if (rc != 0 && rc != MC_ECONFLICT) /* conflict: linked by a concurrent request */
        return rc;
    if (rc == MC_ECONFLICT || x.taken)
        return http_res_detail(res, "this %s account is linked to an account already", provider),
               MC_ECONFLICT;
    http_res_json(res, 200, json_pack("{s:b, s:s}", "linked", 1, "provider", provider));
    return 0;
}

static int google_link_post(struct http_req *req, struct http_res *res)
{
    return link_identity(req, res, "google");
}

static int apple_link_post(struct http_req *req, struct http_res *res)
{
    return link_identity(req, res, "apple");
}

static int google_post(struct http_req *req, struct http_res *res)
{
    return signin(req, res, "google");
}

static int apple_post(struct http_req *req, struct http_res *res)
{
    return signin(req, res, "apple");
}

static const struct http_route routes[] = {
    {HTTP_POST, "/api/v1/auth/oauth/google", google_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/oauth/apple", apple_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/oauth/google/link", google_link_post, HTTP_BODY_JSON, 0, "patient"},
    {HTTP_POST, "/api/v1/auth/oauth/apple/link", apple_link_post, HTTP_BODY_JSON, 0, "patient"},
};

const struct http_route *oauth_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
