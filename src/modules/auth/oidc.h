/*
 * oidc.h - verification of OpenID Connect ID tokens from Google and Apple (security.md C1).
 *
 * An ID token is a JWS signed by the provider with a key published in its JWKS. We accept
 * RS256 and ES256 only (no "none", no HMAC, nothing else, RFC 8725 §3.1), the header's kid
 * must name a key of the matching type in the JWKS, and the claims must carry exactly one
 * of the configured issuers, our client id as audience, an exp in the future, an iat not in
 * the future (60 s leeway for clock skew) and the nonce the client sent.
 *
 * JWKS documents are fetched with libcurl (3 s timeout) and cached in memory per URL for
 * the response's Cache-Control max-age (1 h without one); an unknown kid triggers one
 * refetch, at most once every OIDC_REFETCH_MIN_S, so a stream of forged kids cannot turn
 * us into a flood against the provider. A provider that cannot be reached is MC_EUNAVAIL.
 */
#ifndef MC_AUTH_OIDC_H
#define MC_AUTH_OIDC_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OIDC_TOKEN_MAX     8192 /* bytes of an ID token we look at */
#define OIDC_REFETCH_MIN_S 5    /* unknown kid: at most one refetch per this many seconds */
#define OIDC_CLOCK_SKEW_S  60   /* iat may be this far ahead of our clock */

/* One identity provider, from configuration. All strings borrowed. */
struct oidc_provider {
    const char *name;      /* "google" | "apple" (audit detail, identities.provider) */
    const char *jwks_url;  /* where its signing keys are published */
    const char *issuers;   /* comma-separated accepted iss values, exact match */
    const char *client_id; /* the aud we require */
    bool nonce_sha256_ok;  /* the nonce claim may be the SHA-256 hex of the raw nonce (Apple) */
};

/* What a verified token says about its subject. */
struct oidc_identity {
    char issuer[256];    /* the provider's first configured issuer (canonical form) */
    char subject[256];   /* sub */
    char email[255];     /* "" when the token has none */
    bool email_verified; /* email_verified claim (true or "true") */
    char name[201];      /* name claim or "" */
};

/* Verifies token for provider p at time now_s against the nonce the client sent.
 * Returns 0 and fills out; MC_EUNAUTH for any invalid token (*why, optional, gets a short
 * static reason for logs - never shown to the client); MC_EUNAVAIL when the JWKS cannot be
 * fetched. Thread-safe. */
int oidc_verify(const struct oidc_provider *p, const char *token, const char *nonce, int64_t now_s,
                struct oidc_identity *out, const char **why);

/* Builds a public key from one JWK (kty RSA with n/e, >= 2048 bits; or kty EC, crv P-256,
 * with x/y). Returns a new key (caller frees with EVP_PKEY_free) or NULL. */
EVP_PKEY *oidc_jwk_to_key(const char *jwk_json);

/* Checks a JWS signature: alg "RS256" (PKCS#1 v1.5) or "ES256" (raw r||s, 64 bytes) over
 * input. Returns true only when the signature verifies with key. */
bool oidc_sig_ok(EVP_PKEY *key, const char *alg, const void *input, size_t input_len,
                 const unsigned char *sig, size_t sig_len);

/* Drops every cached JWKS (tests). */
void oidc_cache_clear(void);

#endif
