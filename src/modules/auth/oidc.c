/*
 * oidc.c - ID-token verification for federated sign-in (see oidc.h).
 *
 * Three parts: the JWKS cache (fetch with libcurl, keep per URL until max-age), JWK to
 * OpenSSL key conversion plus the signature check, and the claim checks. Nothing here
 * touches the database; oauth_http.c decides what a verified identity may do.
 */
#include "modules/auth/oidc.h"

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#define JWKS_MAX_BYTES  (256 * 1024) /* a JWKS is a few KiB; refuse anything silly */
#define JWKS_TIMEOUT_MS 3000
#define JWKS_DEFAULT_S  3600 /* cache lifetime without Cache-Control max-age */
#define JWKS_SLOTS      4    /* distinct JWKS URLs (Google, Apple, room for tests) */
#define RSA_MIN_BITS    2048

/* ---- JWKS cache ---- */

struct jwks_slot {
    char url[512];     /* "" = free */
    json_t *keys;      /* the "keys" array, owned; NULL before the first fetch */
    int64_t expires_s; /* monotonic seconds after which keys must be refetched */
    int64_t fetched_s; /* monotonic seconds of the last fetch attempt */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct jwks_slot cache[JWKS_SLOTS];
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    /* once per process, never cleaned up: other layers use libcurl too */
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

struct fetch_buf {
    struct buf body; /* response bytes, capped */
    long max_age_s;  /* from Cache-Control, -1 when absent */
    bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct fetch_buf *f = arg;
    size_t len = size * n;
    if (f->body.len + len > JWKS_MAX_BYTES) {
        f->too_big = true;
        return 0;
    }
    buf_append(&f->body, p, len);
    return len;
}

/* Picks max-age=N out of a Cache-Control header line (case-insensitive name). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct fetch_buf *f = arg;
    size_t len = size * n;
    static const char name[] = "cache-control:";
    if (len <= sizeof(name) - 1 || strncasecmp(p, name, sizeof(name) - 1) != 0)
        return len;
    char line[256];
    size_t cp = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, p, cp);
    line[cp] = '\0';
    for (char *q = line; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    const char *m = strstr(line, "max-age=");
    if (m != NULL) {
        char *end = NULL;
        long v = strtol(m + 8, &end, 10);
        if (end != m + 8 && v >= 0)
            f->max_age_s = v > 86400 ? 86400 : v;
    }
    return len;
}

/* Fetches url and returns its "keys" array (new reference) and max-age, or NULL. */
static json_t *jwks_fetch(const char *url, long *max_age_s)
{
    struct fetch_buf f = {.body = BUF_INIT, .max_age_s = -1};
    json_t *keys = NULL;
    long status = 0;
    pthread_once(&curl_once, curl_init_once);
    CURL *h = curl_easy_init();
    if (h == NULL)
        goto out;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)JWKS_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)JWKS_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200) {
        log_warn("jwks fetch failed", LF_S("url", url), LF_S("error", curl_easy_strerror(cc)),
                 LF_I("status", status));
        goto out;
    }
    json_error_t jerr;
    json_t *doc =
        json_loadb(f.body.data ? f.body.data : "", f.body.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *k = json_object_get(doc, "keys");
    if (json_is_array(k))
        keys = json_incref(k);
    else
        log_warn("jwks document has no keys array", LF_S("url", url));
    json_decref(doc);
    *max_age_s = f.max_age_s >= 0 ? f.max_age_s : JWKS_DEFAULT_S;
out:
    if (h != NULL)
        curl_easy_cleanup(h);
    buf_free(&f.body);
    return keys;
}

static struct jwks_slot *slot_for(const char *url)
{
    struct jwks_slot *free_slot = NULL;
    for (int i = 0; i < JWKS_SLOTS; i++) {
        if (strcmp(cache[i].url, url) == 0)
            return &cache[i];
        if (free_slot == NULL && cache[i].url[0] == '\0')
            free_slot = &cache[i];
    }
    if (free_slot == NULL) { /* more URLs than slots: recycle the first */
        free_slot = &cache[0];
        json_decref(free_slot->keys);
        memset(free_slot, 0, sizeof(*free_slot));
    }
    snprintf(free_slot->url, sizeof(free_slot->url), "%s", url);
    return free_slot;
}

static json_t *find_kid(json_t *keys, const char *kid)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *v = json_string_value(json_object_get(k, "kid"));
        if (v != NULL && strcmp(v, kid) == 0)
            return k;
    }
    return NULL;
}

/* Returns a copy of the JWK named kid (caller decrefs) in *out, or NULL when the provider
 * has no such key. 0, or MC_EUNAVAIL when the JWKS could not be fetched. */
static int jwks_lookup(const char *url, const char *kid, json_t **out)
{
    int rc = 0;
    *out = NULL;
    pthread_mutex_lock(&cache_mu);
    struct jwks_slot *s = slot_for(url);
    int64_t now = mono_s();
    bool fresh = s->keys != NULL && now < s->expires_s;
    json_t *k = fresh ? find_kid(s->keys, kid) : NULL;
    /* refetch when stale, or once for an unknown kid (the provider may have rotated) */
    if (k == NULL && (!fresh || now - s->fetched_s >= OIDC_REFETCH_MIN_S)) {
        long max_age = JWKS_DEFAULT_S;
        s->fetched_s = now;
        json_t *keys = jwks_fetch(url, &max_age);
        if (keys != NULL) {
            json_decref(s->keys);
            s->keys = keys;
            s->expires_s = now + max_age;
            fresh = true;
        } else if (!fresh) {
            rc = MC_EUNAVAIL;
            goto out;
        }
        k = find_kid(s->keys, kid);
    }
    if (k != NULL)
        *out = json_deep_copy(k);
out:
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

void oidc_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < JWKS_SLOTS; i++) {
        json_decref(cache[i].keys);
        memset(&cache[i], 0, sizeof(cache[i]));
    }
    pthread_mutex_unlock(&cache_mu);
}

/* ---- JWK → key, signature ---- */

/* Decodes the base64url member name of jwk into out (cap bytes). */
static bool jwk_bytes(json_t *jwk, const char *name, unsigned char *out, size_t cap, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    return s != NULL && b64url_decode(s, strlen(s), out, cap, len) == 0 && *len > 0;
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
    unsigned char n[1024], e[16];
    size_t nlen = 0, elen = 0;
    EVP_PKEY *key = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    if (!jwk_bytes(jwk, "n", n, sizeof(n), &nlen) || !jwk_bytes(jwk, "e", e, sizeof(e), &elen))
        goto out;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL || BN_num_bits(bn_n) < RSA_MIN_BITS ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto out;
    key = key_from_params("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return key;
}

static EVP_PKEY *ec_key(json_t *jwk)
{
    unsigned char x[48], y[48], point[65];
    size_t xlen = 0, ylen = 0;
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (crv == NULL || strcmp(crv, "P-256") != 0 || !jwk_bytes(jwk, "x", x, sizeof(x), &xlen) ||
        !jwk_bytes(jwk, "y", y, sizeof(y), &ylen) || xlen != 32 || ylen != 32)
        goto out;
    point[0] = 0x04; /* uncompressed point, SEC 1 §2.3.3 */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
        goto out;
    key = key_from_params("EC", bld); /* rejects points not on the curve */
out:
    OSSL_PARAM_BLD_free(bld);
    return key;
}

static EVP_PKEY *jwk_key(json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL)
        return NULL;
    if (strcmp(kty, "RSA") == 0)
        return rsa_key(jwk);
    if (strcmp(kty, "EC") == 0)
        return ec_key(jwk);
    return NULL;
}

EVP_PKEY *oidc_jwk_to_key(const char *jwk_json)
{
    json_error_t jerr;
    json_t *jwk = json_loads(jwk_json, JSON_REJECT_DUPLICATES, &jerr);
    EVP_PKEY *key = json_is_object(jwk) ? jwk_key(jwk) : NULL;
    json_decref(jwk);
    return key;
}

/* JWS ES256 carries r||s (RFC 7518 §3.4); OpenSSL wants DER. Returns the DER length. */
static int es256_der(const unsigned char *sig, unsigned char **der)
{
    int len = -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    len = i2d_ECDSA_SIG(es, der);
out:
    ECDSA_SIG_free(es);
    return len;
}

bool oidc_sig_ok(EVP_PKEY *key, const char *alg, const void *input, size_t input_len,
                 const unsigned char *sig, size_t sig_len)
{
    bool ok = false;
    unsigned char *der = NULL;
    const unsigned char *check = sig;
    size_t check_len = sig_len;
    EVP_MD_CTX *md = NULL;
    int id = EVP_PKEY_get_base_id(key);
    if (strcmp(alg, "RS256") == 0) {
        if (id != EVP_PKEY_RSA || sig_len != (size_t)EVP_PKEY_get_size(key))
            goto out;
    } else if (strcmp(alg, "ES256") == 0) {
        int len;
        if (id != EVP_PKEY_EC || sig_len != 64 || (len = es256_der(sig, &der)) <= 0)
            goto out;
        check = der;
        check_len = (size_t)len;
    } else {
        goto out;
    }
    md = EVP_MD_CTX_new();
    ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerify(md, check, check_len, input, input_len) == 1;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

/* ---- the token ---- */

struct jws {
    const char *signing_input; /* header "." payload, borrowed from the token */
    size_t signing_len;
    json_t *header;  /* owned */
    json_t *payload; /* owned */
    unsigned char sig[1024];
    size_t sig_len;
};

static json_t *b64_json(const char *s, size_t len)
{
    unsigned char raw[OIDC_TOKEN_MAX];
    size_t n = 0;
    json_error_t jerr;
    if (b64url_decode(s, len, raw, sizeof(raw), &n) != 0)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool jws_split(const char *token, struct jws *j)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return false;
    j->signing_input = token;
    j->signing_len = (size_t)(d2 - token);
    j->header = b64_json(token, (size_t)(d1 - token));
    j->payload = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
    return j->header != NULL && j->payload != NULL &&
           b64url_decode(d2 + 1, strlen(d2 + 1), j->sig, sizeof(j->sig), &j->sig_len) == 0;
}

static bool issuer_ok(const char *issuers, const char *iss, char *canonical, size_t cap)
{
    bool first = true, ok = false;
    const char *p = issuers;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t > 0 && p[t - 1] == ' ')
            t--;
        if (t > 0 && first) {
            snprintf(canonical, cap, "%.*s", (int)t, p);
            first = false;
        }
        if (t > 0 && strlen(iss) == t && memcmp(iss, p, t) == 0)
            ok = true;
        p += n;
    }
    return ok;
}

static bool aud_ok(json_t *payload, const char *client_id)
{
    json_t *aud = json_object_get(payload, "aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), client_id) == 0;
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return false;
    bool found = false;
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a) if (json_is_string(a) &&
                                      strcmp(json_string_value(a), client_id) == 0) found = true;
    /* several audiences: the token must say it was issued to us (OIDC Core §3.1.3.7) */
    const char *azp = json_string_value(json_object_get(payload, "azp"));
    return found && (json_array_size(aud) == 1 || (azp != NULL && strcmp(azp, client_id) == 0));
}

static bool nonce_ok(const struct oidc_provider *p, json_t *payload, const char *nonce)
{
    const char *claim = json_string_value(json_object_get(payload, "nonce"));
    if (claim == NULL || nonce == NULL || nonce[0] == '\0')
        return false;
    if (strlen(claim) == strlen(nonce) && mc_ct_equal(claim, nonce, strlen(nonce)))
        return true;
    if (!p->nonce_sha256_ok || strlen(claim) != 64)
        return false;
    /* Apple: the app sends SHA-256(raw nonce) in the request and the token echoes it */
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)nonce, strlen(nonce));
    mc_hex(h, sizeof(h), hex);
    return mc_ct_equal(hex, claim, 64);
}

static bool claims_ok(const struct oidc_provider *p, json_t *pl, const char *nonce, int64_t now_s,
                      struct oidc_identity *out, const char **why)
{
    const char *iss = json_string_value(json_object_get(pl, "iss"));
    const char *sub = json_string_value(json_object_get(pl, "sub"));
    json_t *exp = json_object_get(pl, "exp"), *iat = json_object_get(pl, "iat");
    if (iss == NULL || !issuer_ok(p->issuers, iss, out->issuer, sizeof(out->issuer)))
        return *why = "iss", false;
    if (!aud_ok(pl, p->client_id))
        return *why = "aud", false;
    if (!json_is_integer(exp) || json_integer_value(exp) <= now_s)
        return *why = "exp", false;
    if (!json_is_integer(iat) || json_integer_value(iat) > now_s + OIDC_CLOCK_SKEW_S)
        return *why = "iat", false;
    if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof(out->subject))
        return *why = "sub", false;
    if (!nonce_ok(p, pl, nonce))
        return *why = "nonce", false;
    snprintf(out->subject, sizeof(out->subject), "%s", sub);
    const char *email = json_string_value(json_object_get(pl, "email"));
    if (email != NULL && strlen(email) < sizeof(out->email))
        snprintf(out->email, sizeof(out->email), "%s", email);
    json_t *ev = json_object_get(pl, "email_verified"); /* Apple sends "true" */
    out->email_verified =
        json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    const char *name = json_string_value(json_object_get(pl, "name"));
    if (name != NULL && strlen(name) < sizeof(out->name))
        snprintf(out->name, sizeof(out->name), "%s", name);
    return true;
}

int oidc_verify(const struct oidc_provider *p, const char *token, const char *nonce, int64_t now_s,
                struct oidc_identity *out, const char **why)
{
    int rc = MC_EUNAUTH;
    const char *reason = "malformed";
    struct jws *j = mc_xcalloc(1, sizeof(*j));
    json_t *jwk = NULL;
    EVP_PKEY *key = NULL;
    memset(out, 0, sizeof(*out));
    if (strlen(token) > OIDC_TOKEN_MAX || !jws_split(token, j))
        goto out;
    const char *alg = json_string_value(json_object_get(j->header, "alg"));
    const char *kid = json_string_value(json_object_get(j->header, "kid"));
    if (alg == NULL || (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0)) {
        reason = "alg";
        goto out;
    }
    if (kid == NULL || kid[0] == '\0' || json_object_get(j->header, "crit") != NULL) {
        reason = "kid";
        goto out;
    }
    int lrc = jwks_lookup(p->jwks_url, kid, &jwk);
    if (lrc != 0) {
        rc = lrc;
        reason = "jwks unavailable";
        goto out;
    }
    const char *jalg = json_string_value(json_object_get(jwk, "alg"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (jwk == NULL || (jalg != NULL && strcmp(jalg, alg) != 0) ||
        (use != NULL && strcmp(use, "sig") != 0) || (key = jwk_key(jwk)) == NULL) {
        reason = "kid";
        goto out;
    }
    if (!oidc_sig_ok(key, alg, j->signing_input, j->signing_len, j->sig, j->sig_len)) {
        reason = "signature";
        goto out;
    }
    if (!claims_ok(p, j->payload, nonce, now_s, out, &reason))
        goto out;
    rc = 0;
    reason = "ok";
out:
    if (why != NULL)
        *why = reason;
    EVP_PKEY_free(key);
    json_decref(jwk);
    json_decref(j->header);
    json_decref(j->payload);
    free(j);
    return rc;
}
