/*
 * auth.c - sessions, token issue and rotation, and the per-request bearer check
 * (see auth.h).
 */
#include "modules/auth/auth.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/password.h"
#include "modules/mod.h"
#include "modules/ratelimit/ratelimit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int auth_init(const struct services *svc)
{
    return pw_init((int)config_int(svc->cfg, CFG_PASSWORD_HASH_CONCURRENCY));
}

void auth_jwt_keys(const struct services *svc, struct jwt_keys *out)
{
    const char *secret = config_str(svc->cfg, CFG_JWT_SECRET);
    out->key = (const unsigned char *)secret;
    out->keylen = strlen(secret);
    out->iss = config_str(svc->cfg, CFG_JWT_ISSUER);
    out->aud = config_str(svc->cfg, CFG_JWT_AUDIENCE);
}

void auth_hash_secret(const char *secret, char hash_hex[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    mc_hex(h, sizeof(h), hash_hex);
}

void auth_new_secret(const char *prefix, char out[AUTH_TOKEN_LEN], char hash_hex[65])
{
    unsigned char raw[32];
    mc_random_bytes(raw, sizeof(raw));
    size_t n = (size_t)snprintf(out, AUTH_TOKEN_LEN, "%.3s_", prefix);
    b64url_encode(raw, sizeof(raw), out + n);
    auth_hash_secret(out, hash_hex);
}

static int issue_access(const struct services *svc, const char *user_id, const char *sid,
                        struct auth_tokens *out)
{
    struct jwt_keys k;
    struct jwt_claims c = {0};
    auth_jwt_keys(svc, &k);
    snprintf(c.sub, sizeof(c.sub), "%s", user_id);
    snprintf(c.sid, sizeof(c.sid), "%s", sid);
    uuid_v7(c.jti);
    c.iat = mc_now_ms() / 1000;
    out->expires_in_s = config_int(svc->cfg, CFG_JWT_ACCESS_TOKEN_EXPIRATION);
    c.exp = c.iat + out->expires_in_s;
    snprintf(out->sid, sizeof(out->sid), "%s", sid);
    return jwt_sign(&k, &c, out->access, sizeof(out->access));
}

static int insert_refresh(struct db_conn *c, const char *sid, int64_t expires_at,
                          struct auth_tokens *out)
{
    char hash[65];
    auth_new_secret("mcr", out->refresh, hash);
    return db_exec(c,
                   "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)"
                   " VALUES (?, ?, ?, ?)",
                   DB_PARAMS(DBP_T(hash), DBP_T(sid), DBP_I(mc_now_ms()), DBP_I(expires_at)), NULL);
}

/* Absolute end of a session started at created_ms: the shorter of the refresh-family
 * lifetime and the re-authentication age (security.md B4). */
static int64_t session_end(const struct config *cfg, int64_t created_ms)
{
    int64_t family = config_int(cfg, CFG_JWT_REFRESH_TOKEN_EXPIRATION) * 1000;
    int64_t reauth = config_int(cfg, CFG_SESSION_MAX_AGE) * 1000;
    return created_ms + (family < reauth ? family : reauth);
}

int auth_session_create(struct http_req *req, struct db_conn *c, const char *user_id,
                        struct auth_tokens *out)
{
    const struct services *svc = mod_services(req);
    char sid[UUID_STR_LEN];
    char ua[201];
    const char *agent = http_header(req, "User-Agent");
    snprintf(ua, sizeof(ua), "%s", agent ? agent : "");
    uuid_v7(sid);
    int64_t now = mc_now_ms();
    int64_t end = session_end(svc->cfg, now);
    int rc = db_exec(c,
                     "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip,"
                     " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     DB_PARAMS(DBP_T(sid), DBP_T(user_id), DBP_I(now), DBP_I(now), DBP_I(end),
                               DBP_T(http_client_ip(req)), DBP_T(ua)),
                     NULL);
    if (rc == 0)
        rc = insert_refresh(c, sid, end, out);
    if (rc == 0)
        rc = issue_access(svc, user_id, sid, out);
    return rc;
}

int auth_session_revoke(struct db_conn *c, const char *user_id, const char *sid, const char *reason)
{
    long long n = 0;
    int rc = db_exec(c,
                     "UPDATE sessions SET revoked_at = ?, revoked_reason = ?"
                     " WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                     DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(reason), DBP_T(sid), DBP_T(user_id)), &n);
    return rc != 0 ? rc : (n == 0 ? MC_ENOTFOUND : 0);
}

int auth_session_revoke_all(struct db_conn *c, const char *user_id, const char *keep_sid,
                            const char *reason)
{
    return db_exec(c,
                   "UPDATE sessions SET revoked_at = ?, revoked_reason = ?"
                   " WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
                   DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(reason), DBP_T(user_id),
                             DBP_T(keep_sid ? keep_sid : "")),
                   NULL);
}

/* ---- refresh ---- */

struct refresh_ctx {
    struct http_req *req;
    const char *hash;
    struct auth_tokens *out;
    char *user_id;
    int verdict; /* what the caller gets after a committed transaction */
};

static int refresh_tx(struct db_conn *c, void *arg)
{
    struct refresh_ctx *x = arg;
    const struct services *svc = mod_services(x->req);
    int64_t now = mc_now_ms();
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          "SELECT r.session_id, r.used_at, r.expires_at, s.user_id, s.revoked_at,"
                          " s.expires_at, s.last_seen_at, u.status"
                          " FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id"
                          " JOIN users u ON u.id = s.user_id WHERE r.token_hash = ?",
                          DB_PARAMS(DBP_T(x->hash)), &st);
    if (rc == MC_ENOTFOUND) {
        x->verdict = MC_EUNAUTH;
        return 0;
    }
    if (rc != 0)
        return rc;
    char sid[UUID_STR_LEN];
    snprintf(sid, sizeof(sid), "%s", db_col_text(st, 0));
    snprintf(x->user_id, UUID_STR_LEN, "%s", db_col_text(st, 3));
    bool used = !db_col_null(st, 1);
    int64_t used_at = db_col_int(st, 1);
    int64_t idle_ms = config_int(svc->cfg, CFG_SESSION_TIMEOUT) * 1000;
    bool dead = db_col_int(st, 2) <= now || !db_col_null(st, 4) || db_col_int(st, 5) <= now ||
                db_col_int(st, 6) + idle_ms <= now || strcmp(db_col_text(st, 7), "active") != 0;
    db_finalize(st);
    if (dead) {
        x->verdict = MC_EUNAUTH;
        return 0;
    }
    if (used) {
        /* within the grace a reuse is a concurrent retry (409), later it is theft */
        if (now - used_at <= config_int(svc->cfg, CFG_REFRESH_REUSE_GRACE) * 1000) {
            x->verdict = MC_ECONFLICT;
            return 0;
        }
        /* replay of a rotated token: the family is compromised (RFC 9700 4.14.2) */
        x->verdict = MC_EUNAUTH;
        rc = auth_session_revoke(c, x->user_id, sid, "refresh_reuse");
        if (rc == 0) {
            struct audit_event e = {.actor_id = x->user_id,
                                    .action = "authn_token_reuse",
                                    .resource_type = "session",
                                    .resource_id = sid,
                                    .outcome = "failure",
                                    .severity = "high"};
            rc = mod_audit(x->req, c, &e);
        }
        return rc;
    }
    long long n = 0;
    rc =
        db_exec(c, "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                DB_PARAMS(DBP_I(now), DBP_T(x->hash)), &n);
    if (rc != 0)
        return rc;
    if (n == 0) { /* a concurrent refresh won the race */
        x->verdict = MC_ECONFLICT;
        return 0;
    }
    rc = db_exec(c, "UPDATE sessions SET last_seen_at = ? WHERE id = ?",
                 DB_PARAMS(DBP_I(now), DBP_T(sid)), NULL);
    if (rc == 0)
        rc = insert_refresh(c, sid, session_end(svc->cfg, now), x->out);
    if (rc == 0)
        rc = issue_access(svc, x->user_id, sid, x->out);
    x->verdict = rc;
    return rc;
}

int auth_session_refresh(struct http_req *req, const char *refresh, struct auth_tokens *out,
                         char user_id[UUID_STR_LEN])
{
    struct db_conn *c = NULL;
    char hash[65];
    int rc = mod_db(req, &c);
    if (rc != 0)
        return rc;
    if (strlen(refresh) >= AUTH_TOKEN_LEN || strncmp(refresh, "mcr_", 4) != 0)
        return MC_EUNAUTH;
    auth_hash_secret(refresh, hash);
    struct refresh_ctx x = {.req = req, .hash = hash, .out = out, .user_id = user_id};
    rc = db_tx(c, refresh_tx, &x);
    return rc != 0 ? rc : x.verdict;
}

/* ---- the bearer check ---- */

const char *auth_parse_bearer(const char *header)
{
    if (header == NULL || strncasecmp(header, "Bearer", 6) != 0 ||
        (header[6] != ' ' && header[6] != '\t'))
        return NULL;
    const char *t = header + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strnlen(t, JWT_MAX_LEN + 1);
    if (n == 0 || n > JWT_MAX_LEN)
        return NULL;
    /* token68 characters only (RFC 7235 2.1); a JWT is base64url and dots */
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
        if (!ok)
            return NULL;
    }
    return t;
}

static int deny(struct http_req *req, struct http_res *res, const char *why, const char *uid)
{
    http_res_header(res, "WWW-Authenticate", "Bearer realm=\"mimicare\", error=\"invalid_token\"");
    http_res_detail(res, "missing, invalid or expired access token");
    struct audit_event e = {
        .actor_id = uid, .action = "authn_token_invalid", .outcome = "failure", .detail = why};
    int rc = mod_audit_tx(req, &e);
    return rc != 0 ? rc : MC_EUNAUTH;
}

/* Reads the session named by claims; 0 and role/verdict, or a db error. */
static int check_session(struct http_req *req, struct db_conn *c, const struct jwt_claims *cl,
                         char role[16], const char **why)
{
    const struct config *cfg = mod_services(req)->cfg;
    int64_t now = mc_now_ms();
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          "SELECT s.user_id, s.last_seen_at, s.expires_at, s.revoked_at, u.role,"
                          " u.status FROM sessions s JOIN users u ON u.id = s.user_id"
                          " WHERE s.id = ?",
                          DB_PARAMS(DBP_T(cl->sid)), &st);
    if (rc == MC_ENOTFOUND) {
        *why = "unknown session";
        return 0;
    }
    if (rc != 0)
        return rc;
    int64_t last_seen = db_col_int(st, 1);
    int64_t idle_ms = config_int(cfg, CFG_SESSION_TIMEOUT) * 1000;
    if (strcmp(db_col_text(st, 0), cl->sub) != 0)
        *why = "session of another user";
    else if (!db_col_null(st, 3))
        *why = "session revoked";
    else if (db_col_int(st, 2) <= now)
        *why = "session too old";
    else if (last_seen + idle_ms <= now)
        *why = "session idle";
    else if (strcmp(db_col_text(st, 5), "active") != 0)
        *why = "account disabled";
    snprintf(role, 16, "%s", db_col_text(st, 4));
    db_finalize(st);
    if (*why == NULL && now - last_seen >= 1000)
        rc = db_exec(c, "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
                     DB_PARAMS(DBP_I(now), DBP_T(cl->sid), DBP_I(now)), NULL);
    return rc;
}

int auth_require(struct http_req *req, struct http_res *res, const struct auth_user **out)
{
    const struct auth_user *cached = http_local(req, MOD_LOCAL_AUTH);
    if (cached != NULL) {
        *out = cached;
        return 0;
    }
    const char *token = auth_parse_bearer(http_header(req, "Authorization"));
    if (token == NULL)
        return deny(req, res, "no bearer token", NULL);
    struct jwt_keys k;
    struct jwt_claims cl;
    const char *why = NULL;
    auth_jwt_keys(mod_services(req), &k);
    if (jwt_verify(&k, token, mc_now_ms() / 1000, &cl, &why) != 0)
        return deny(req, res, why, NULL);
    struct db_conn *c = NULL;
    char role[16] = "";
    int rc = mod_db(req, &c);
    if (rc == 0)
        rc = check_session(req, c, &cl, role, &why);
    if (rc != 0)
        return rc;
    if (why != NULL)
        return deny(req, res, why, cl.sub);
    /* per-user limit on authenticated requests; a kv outage fails closed (503) */
    const struct services *svc = mod_services(req);
    rc = rl_enforce(svc->kv, res, "user", cl.sub, config_int(svc->cfg, CFG_RATE_LIMIT_USER_MAX),
                    config_int(svc->cfg, CFG_RATE_LIMIT_WINDOW),
                    "too many requests for this account; retry later");
    if (rc != 0)
        return rc;
    struct auth_user *u = arena_alloc(http_arena(req), sizeof(*u));
    memcpy(u->id, cl.sub, sizeof(u->id));
    memcpy(u->sid, cl.sid, sizeof(u->sid));
    snprintf(u->role, sizeof(u->role), "%s", role);
    http_set_local(req, MOD_LOCAL_AUTH, u);
    *out = u;
    return 0;
}

static bool role_in(const char *role, const char *roles)
{
    size_t n = strlen(role);
    for (const char *p = roles; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, role, n) == 0)
            return true;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return false;
}

int auth_require_role(struct http_req *req, struct http_res *res, const char *roles,
                      const struct auth_user **out)
{
    int rc = auth_require(req, res, out);
    if (rc != 0 || role_in((*out)->role, roles))
        return rc;
    struct audit_event e = {.actor_id = (*out)->id,
                            .actor_role = (*out)->role,
                            .action = "authz_fail",
                            .resource_type = "route",
                            .resource_id = http_route_pattern(req),
                            .outcome = "denied"};
    rc = mod_audit_tx(req, &e);
    return rc != 0 ? rc : MC_EFORBIDDEN;
}
