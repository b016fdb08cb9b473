/*
 * apikeys.h - API keys for integrations (FHIR clients, lab systems, ...).
 *
 * Admins create a key with a name and scopes; the key ("mck_" + 256 random bits,
 * base64url) is shown once. The database holds its SHA-256 (the lookup) and the key itself
 * encrypted with XChaCha20-Poly1305 under a subkey of API_KEY_ENCRYPTION_SECRET (random
 * nonce per row, the row id as associated data), never the key in the clear. A request
 * authenticates with "Authorization: ApiKey mck_...".
 */
#ifndef MC_APIKEYS_APIKEYS_H
#define MC_APIKEYS_APIKEYS_H

#include "core/rand.h"
#include "http/http.h"

#include <stddef.h>

#define APIKEY_NAME_MAX   100
#define APIKEY_SCOPE_MAX  64 /* bytes of one scope: [a-z0-9:._-] */
#define APIKEY_SCOPES_MAX 16 /* scopes per key */

/* The key a request authenticated with. */
struct apikey {
    char id[UUID_STR_LEN];
    char name[APIKEY_NAME_MAX + 1];
    char scopes[APIKEY_SCOPES_MAX * (APIKEY_SCOPE_MAX + 1)]; /* space-separated */
};

/* Authenticates the request's "Authorization: ApiKey <key>" header. scope: a scope the key
 * must hold, or NULL for any valid key. Returns 0 and fills *out; MC_EUNAUTH (missing,
 * unknown or revoked key, with WWW-Authenticate on res); MC_EFORBIDDEN (scope missing);
 * or a database error. Every outcome but a database error is audited
 * (apikey_auth_success / apikey_auth_fail). */
int apikeys_authenticate(struct http_req *req, struct http_res *res, const char *scope,
                         struct apikey *out);

/* True when the space-separated list scopes holds scope exactly. */
bool apikeys_has_scope(const char *scopes, const char *scope);

/* Encrypts key for row id under secret into nonce_b64 / ct_b64 (base64url, NUL-terminated,
 * caps 48 and 128 bytes), and decrypts it back (0, or MC_ECORRUPT when the ciphertext, nonce
 * or id do not authenticate). Exposed for the unit tests. */
int apikeys_seal(const char *secret, const char *id, const char *key, char nonce_b64[48],
                 char ct_b64[128]);
int apikeys_open(const char *secret, const char *id, const char *nonce_b64, const char *ct_b64,
                 char *key, size_t cap);

/* Route table: /api/v1/admin/api-keys and /api/v1/integrations/whoami. */
const struct http_route *apikeys_routes(size_t *n);

#endif
