/*
 * auth.h - authentication: sessions, tokens and the bearer check every protected
 * handler starts with.
 *
 * A login creates a server-side session (one refresh-token family) and returns a
 * short-lived HS256 access token naming it (sid) plus an opaque refresh token stored only
 * as its SHA-256. Every authenticated request re-checks the session, so logout, admin
 * revocation, idle expiry (SESSION_TIMEOUT) and the absolute age limit (SESSION_MAX_AGE)
 * take effect on the very next request.
 */
#ifndef MC_AUTH_AUTH_H
#define MC_AUTH_AUTH_H

#include "core/rand.h"
#include "http/http.h"
#include "modules/auth/jwt.h"

#include <stdbool.h>
#include <stdint.h>

struct db_conn;
struct services;

#define AUTH_TOKEN_LEN 48 /* "mcr_" + base64url(32 bytes) + NUL */

/* The authenticated caller of a request. */
struct auth_user {
    char id[UUID_STR_LEN];
    char role[16];
    char sid[UUID_STR_LEN];
};

struct auth_tokens {
    char access[JWT_MAX_LEN];
    char refresh[AUTH_TOKEN_LEN];
    int64_t expires_in_s;
    char sid[UUID_STR_LEN];
};

/* Prepares password hashing and the common-password list. Call once at start. */
int auth_init(const struct services *svc);

/* The JWT keys from configuration. */
void auth_jwt_keys(const struct services *svc, struct jwt_keys *out);

/* The token of an "Authorization: Bearer <token>" header value (scheme case-insensitive),
 * or NULL when the header is absent, another scheme, empty, longer than JWT_MAX_LEN or
 * not token68 characters. The result points into header. */
const char *auth_parse_bearer(const char *header);

/* Authenticates the request's "Authorization: Bearer" token against its session.
 * Returns 0 and sets *out (valid for the request), or MC_EUNAUTH (with a
 * WWW-Authenticate header on res; the failure is audited), or a db error. */
int auth_require(struct http_req *req, struct http_res *res, const struct auth_user **out);

/* Like auth_require, then MC_EFORBIDDEN (audited as authz_fail) unless the caller's role
 * is one of roles ("admin", "doctor|admin", ...). */
int auth_require_role(struct http_req *req, struct http_res *res, const char *roles,
                      const struct auth_user **out);

/* Creates a session for user_id and its first tokens, inside c's transaction. */
int auth_session_create(struct http_req *req, struct db_conn *c, const char *user_id,
                        struct auth_tokens *out);

/* Rotates a refresh token (its own transactions). Returns 0 with new tokens and the
 * user's id; MC_EUNAUTH for unknown/expired/revoked; MC_ECONFLICT when the token was
 * rotated a moment ago by a concurrent request (retry with the newer token); a reused
 * token older than that revokes its whole session and is MC_EUNAUTH. */
int auth_session_refresh(struct http_req *req, const char *refresh, struct auth_tokens *out,
                         char user_id[UUID_STR_LEN]);

/* Revokes one session of user_id (MC_ENOTFOUND if it is not theirs), or every session
 * of the user except keep_sid (NULL = all). Inside c's transaction. */
int auth_session_revoke(struct db_conn *c, const char *user_id, const char *sid,
                        const char *reason);
int auth_session_revoke_all(struct db_conn *c, const char *user_id, const char *keep_sid,
                            const char *reason);

/* A new opaque secret ("<prefix>_" + 256 random bits, base64url) and its SHA-256 hex. */
void auth_new_secret(const char *prefix, char out[AUTH_TOKEN_LEN], char hash_hex[65]);
void auth_hash_secret(const char *secret, char hash_hex[65]);

/* Route tables: /auth (login, tokens, sessions) and the caller's own account (/me,
 * password change and reset). */
const struct http_route *auth_routes(size_t *n);
const struct http_route *account_routes(size_t *n);
/* The TOTP second factor: /auth/mfa/totp/{setup,enable,disable}, /auth/mfa/verify,
 * /auth/mfa/recovery-codes. */
const struct http_route *auth_mfa_routes(size_t *n);

#endif
