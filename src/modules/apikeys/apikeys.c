/*
 * apikeys.c - the key check integration routes start with, and the at-rest encryption of
 * stored keys (see apikeys.h). The admin endpoints are in apikeys_http.c.
 *
 * Lookup is by SHA-256 of the presented key: the database compares hashes, so its timing
 * says nothing about the key; the row's hash is compared again in constant time and the
 * stored ciphertext must decrypt to the presented key, which catches a tampered row.
 */
#include "modules/apikeys/apikeys.h"

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/mod.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KDF_LABEL "mimicare api-keys v1" /* domain separation from other uses of the secret */

/* A 32-byte subkey of secret for this purpose only. */
static void derive_key(const char *secret,
                       unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    crypto_generichash_update(&st, (const unsigned char *)KDF_LABEL, sizeof(KDF_LABEL));
    crypto_generichash_update(&st, (const unsigned char *)secret, strlen(secret));
    crypto_generichash_final(&st, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
}

int apikeys_seal(const char *secret, const char *id, const char *key, char nonce_b64[48],
                 char ct_b64[128])
{
    unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char ct[AUTH_TOKEN_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    unsigned long long ct_len = 0;
    size_t key_len = strlen(key);
    if (key_len >= AUTH_TOKEN_LEN)
        return MC_EINTERNAL;
    derive_key(secret, k);
    randombytes_buf(nonce, sizeof(nonce));
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ct_len, (const unsigned char *)key, key_len,
                                               (const unsigned char *)id, strlen(id), NULL, nonce,
                                               k);
    sodium_memzero(k, sizeof(k));
    b64url_encode(nonce, sizeof(nonce), nonce_b64);
    b64url_encode(ct, (size_t)ct_len, ct_b64);
    return 0;
}

int apikeys_open(const char *secret, const char *id, const char *nonce_b64, const char *ct_b64,
                 char *key, size_t cap)
{
    unsigned char k[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned char ct[AUTH_TOKEN_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
    size_t nonce_len = 0, ct_len = 0;
    unsigned long long pt_len = 0;
    if (b64url_decode(nonce_b64, strlen(nonce_b64), nonce, sizeof(nonce), &nonce_len) != 0 ||
        nonce_len != sizeof(nonce) ||
        b64url_decode(ct_b64, strlen(ct_b64), ct, sizeof(ct), &ct_len) != 0 ||
        ct_len < crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        ct_len - crypto_aead_xchacha20poly1305_ietf_ABYTES >= cap)
        return MC_ECORRUPT;
    derive_key(secret, k);
    int bad =
        crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)key, &pt_len, NULL, ct, ct_len,
                                                   (const unsigned char *)id, strlen(id), nonce, k);
    sodium_memzero(k, sizeof(k));
    if (bad != 0)
        return MC_ECORRUPT;
    key[pt_len] = '\0';
    return 0;
}

bool apikeys_has_scope(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = scopes; *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, scope, n) == 0)
            return true;
        p += len;
        while (*p == ' ')
            p++;
    }
    return false;
}

/* The key of an "Authorization: ApiKey mck_..." header, or NULL. Points into header. */
static const char *parse_header(const char *h)
{
    static const char scheme[] = "ApiKey ";
    if (h == NULL || strncasecmp(h, scheme, sizeof(scheme) - 1) != 0)
        return NULL;
    const char *k = h + sizeof(scheme) - 1;
    while (*k == ' ')
        k++;
    size_t len = strlen(k);
    if (len != AUTH_TOKEN_LEN - 1 || strncmp(k, "mck_", 4) != 0)
        return NULL;
    for (size_t i = 4; i < len; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return NULL;
    }
    return k;
}

struct authn_ctx {
    struct http_req *req;
    const char *key;  /* presented key */
    const char *hash; /* its SHA-256 hex */
    const char *scope;
    struct apikey *out;
    int verdict; /* 0, MC_EUNAUTH or MC_EFORBIDDEN */
    const char *why;
};

/* Decides the verdict for the row st (already stepped). */
static void judge_row(struct authn_ctx *x, struct db_stmt *st)
{
    const struct config *cfg = mod_services(x->req)->cfg;
    char plain[AUTH_TOKEN_LEN];
    snprintf(x->out->id, sizeof(x->out->id), "%s", db_col_text(st, 0));
    snprintf(x->out->name, sizeof(x->out->name), "%s", db_col_text(st, 1));
    snprintf(x->out->scopes, sizeof(x->out->scopes), "%s", db_col_text(st, 2));
    const char *row_hash = db_col_text(st, 3);
    if (strlen(row_hash) != 64 || !mc_ct_equal(row_hash, x->hash, 64)) {
        x->verdict = MC_EUNAUTH, x->why = "unknown key";
    } else if (apikeys_open(config_str(cfg, CFG_API_KEY_ENCRYPTION_SECRET), x->out->id,
                            db_col_text(st, 4), db_col_text(st, 5), plain, sizeof(plain)) != 0 ||
               strlen(plain) != strlen(x->key) || !mc_ct_equal(plain, x->key, strlen(x->key))) {
        x->verdict = MC_EUNAUTH, x->why = "crypt_decrypt_fail";
    } else if (!db_col_null(st, 6)) {
        x->verdict = MC_EUNAUTH, x->why = "revoked";
    } else if (x->scope != NULL && !apikeys_has_scope(x->out->scopes, x->scope)) {
        x->verdict = MC_EFORBIDDEN, x->why = "scope";
    }
    sodium_memzero(plain, sizeof(plain));
}

static int authn_tx(struct db_conn *c, void *arg)
{
    struct authn_ctx *x = arg;
    struct db_stmt *st = NULL;
    x->verdict = 0;
    x->why = NULL;
    int rc = db_query_row(c,
                          "SELECT id, name, scopes, key_hash, key_nonce, key_ciphertext, revoked_at"
                          " FROM api_keys WHERE key_hash = ?",
                          DB_PARAMS(DBP_T(x->hash)), &st);
    if (rc == MC_ENOTFOUND) {
        x->verdict = MC_EUNAUTH, x->why = "unknown key";
        x->out->id[0] = '\0';
        rc = 0;
    } else if (rc != 0) {
        return rc;
    } else {
        judge_row(x, st);
    }
    db_finalize(st);
    bool decrypt_fail = x->why != NULL && strcmp(x->why, "crypt_decrypt_fail") == 0;
    struct audit_event e = {.actor_role = "integration",
                            .action = x->verdict == 0 ? "apikey_auth_success"
                                      : decrypt_fail  ? "crypt_decrypt_fail"
                                                      : "apikey_auth_fail",
                            .resource_type = "api_key",
                            .resource_id = x->out->id[0] ? x->out->id : NULL,
                            .outcome = x->verdict == 0               ? "success"
                                       : x->verdict == MC_EFORBIDDEN ? "denied"
                                                                     : "failure",
                            .severity = decrypt_fail ? "high" : NULL,
                            .detail = x->why};
    if (x->verdict == 0)
        rc = db_exec(c, "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
                     DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(x->out->id)), NULL);
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

int apikeys_authenticate(struct http_req *req, struct http_res *res, const char *scope,
                         struct apikey *out)
{
    memset(out, 0, sizeof(*out));
    const char *key = parse_header(http_header(req, "Authorization"));
    char hash[65];
    struct authn_ctx x = {.req = req, .key = key, .hash = hash, .scope = scope, .out = out};
    struct db_conn *c = NULL;
    int rc;
    if (key == NULL) {
        struct audit_event e = {.actor_role = "integration",
                                .action = "apikey_auth_fail",
                                .outcome = "failure",
                                .detail = "no api key"};
        if ((rc = mod_audit_tx(req, &e)) != 0)
            return rc;
        x.verdict = MC_EUNAUTH;
    } else {
        auth_hash_secret(key, hash);
        if ((rc = mod_db(req, &c)) != 0 || (rc = db_tx(c, authn_tx, &x)) != 0)
            return rc;
    }
    if (x.verdict == MC_EUNAUTH) {
        memset(out, 0, sizeof(*out));
        http_res_header(res, "WWW-Authenticate", "ApiKey realm=\"mimicare\"");
        http_res_detail(res, "a valid API key is required");
    } else if (x.verdict == MC_EFORBIDDEN) {
        http_res_detail(res, "the API key lacks the scope %s", scope);
    }
    return x.verdict;
}
