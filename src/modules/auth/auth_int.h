/*
 * auth_int.h - inside the auth module: the login steps that the second factor
 * (mfa_http.c) shares with the password login (auth_http.c), so a wrong TOTP code counts
 * toward the same lockout as a wrong password and a verified one ends like a login.
 */
#ifndef MC_AUTH_AUTH_INT_H
#define MC_AUTH_AUTH_INT_H

#include "modules/auth/auth.h"

#include <jansson.h>
#include <stdbool.h>

struct config;
struct user;

/* The per-address limit (RATE_LIMIT_LOGIN_MAX per RATE_LIMIT_WINDOW) of the endpoints that
 * guess at accounts, one bucket each ("login", "forgot", "reset", "oauth"). 0, MC_ERATE
 * (answered) or MC_EUNAVAIL. */
int auth_limit_ip(struct http_req *req, struct http_res *res, const char *bucket);

/* 0 if email's account is not locked out; MC_ERATE with Retry-After and detail on res
 * if it is; or a db error. */
int auth_login_locked(struct http_res *res, struct db_conn *c, const char *email);

/* Counts a failed attempt for email (own transaction), audited like a failed login and
 * locking the account at MAX_LOGIN_ATTEMPTS. user_id may be NULL. */
int auth_login_failed(struct http_req *req, struct db_conn *c, const char *email,
                      const char *user_id);

/* Inside c's transaction: clears the failure count, creates the session and its tokens
 * (*t) and audits authn_login_success. */
int auth_login_succeeded(struct http_req *req, struct db_conn *c, const struct user *u,
                         struct auth_tokens *t);

/* The login answer's body (new reference): tokens and the user. */
json_t *auth_login_body(const struct auth_tokens *t, const struct user *u);

/* True when role must log in with a second factor: staff (not patients) under
 * REQUIRE_STAFF_MFA=true, or =auto in production. */
bool auth_staff_mfa_required(const struct config *cfg, const char *role);

/* Called by login after a correct password. When u has TOTP enabled or
 * staff_required, stores rehash (if not NULL), opens a 5-minute single-use challenge,
 * answers 200 {mfaRequired, mfaToken, enroll} and sets *answered; otherwise leaves res
 * alone. Returns 0 or an error. */
int auth_mfa_login_gate(struct http_req *req, struct http_res *res, struct db_conn *c,
                        const struct user *u, bool staff_required, const char *rehash,
                        bool *answered);

#endif
