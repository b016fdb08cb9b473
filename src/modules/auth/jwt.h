/*
 * jwt.h - access tokens: HS256 JSON Web Tokens with a pinned algorithm.
 *
 * The header is exactly {"alg":"HS256","typ":"at+jwt"} (RFC 9068's type, so a refresh
 * token, an ID token or any other JWT is not accepted as an access token). Verification
 * refuses every other algorithm (none, HS512, RS256, ...), unknown header fields, a bad
 * signature, a missing or past exp, a future nbf, and a wrong iss or aud (RFC 8725).
 */
#ifndef MC_AUTH_JWT_H
#define MC_AUTH_JWT_H

#include "core/rand.h"

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN 2048

struct jwt_claims {
    char sub[UUID_STR_LEN]; /* user id */
    char sid[UUID_STR_LEN]; /* server-side session id */
    char jti[UUID_STR_LEN]; /* token id */
    int64_t iat;            /* issued at, epoch seconds */
    int64_t exp;            /* expires, epoch seconds */
};

struct jwt_keys {
    const unsigned char *key; /* HMAC key bytes (JWT_SECRET) */
    size_t keylen;
    const char *iss; /* issuer to write and require */
    const char *aud; /* audience to write and require */
};

/* Signs claims (iss and aud come from k). Writes a NUL-terminated token to out.
 * Returns 0 or MC_ETOOBIG. */
int jwt_sign(const struct jwt_keys *k, const struct jwt_claims *c, char *out, size_t cap);

/* Verifies token at time now_s. Returns 0 and fills out, or MC_EUNAUTH; *why (optional)
 * gets a short static reason for the audit log. */
int jwt_verify(const struct jwt_keys *k, const char *token, int64_t now_s, struct jwt_claims *out,
               const char **why);

#endif
