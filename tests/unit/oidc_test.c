/*
 * oidc_test.c - JWK to OpenSSL key conversion and the JWS signature check used for
 * Google / Apple ID tokens: keys generated here, exported as JWKs, signatures made with
 * the private halves; tampering, wrong algorithm, short RSA keys and off-curve points fail.
 * The claim checks and the JWKS cache run end to end in tests/api/oauth.test.mjs; the API
 * key sealing is checked at the bottom.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/rand.h"
#include "modules/apikeys/apikeys.h"
#include "modules/auth/oidc.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char msg[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0";

static void b64_bn(EVP_PKEY *k, const char *param, char *out)
{
    BIGNUM *bn = NULL;
    unsigned char raw[512];
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    int n = BN_bn2bin(bn, raw);
    b64url_encode(raw, (size_t)n, out);
    BN_free(bn);
}

static void rsa_jwk(EVP_PKEY *k, char *out, size_t cap)
{
    char n[700], e[16];
    b64_bn(k, OSSL_PKEY_PARAM_RSA_N, n);
    b64_bn(k, OSSL_PKEY_PARAM_RSA_E, e);
    snprintf(out, cap, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e);
}

static void ec_jwk(EVP_PKEY *k, char *out, size_t cap, bool flip_y)
{
    unsigned char pt[65];
    size_t len = 0;
    char x[64], y[64];
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len), 1);
    assert_int_equal(len, 65);
    if (flip_y)
        pt[64] ^= 1; /* no longer on the curve */
    b64url_encode(pt + 1, 32, x);
    b64url_encode(pt + 33, 32, y);
    snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
}

static size_t sign(EVP_PKEY *k, unsigned char *sig, size_t cap)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t len = cap;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &len, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(md);
    return len;
}

static void rsa_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char jwk[2048];
    unsigned char sig[512];
    rsa_jwk(priv, jwk, sizeof(jwk));
    EVP_PKEY *pub = oidc_jwk_to_key(jwk);
    assert_non_null(pub);
    size_t n = sign(priv, sig, sizeof(sig));
    assert_true(oidc_sig_ok(pub, "RS256", msg, strlen(msg), sig, n));
    assert_false(oidc_sig_ok(pub, "ES256", msg, strlen(msg), sig, n));
    assert_false(oidc_sig_ok(pub, "RS512", msg, strlen(msg), sig, n));
    assert_false(oidc_sig_ok(pub, "none", msg, strlen(msg), sig, 0));
    assert_false(oidc_sig_ok(pub, "RS256", msg, strlen(msg) - 1, sig, n));
    sig[10] ^= 1;
    assert_false(oidc_sig_ok(pub, "RS256", msg, strlen(msg), sig, n));
    assert_false(oidc_sig_ok(pub, "RS256", msg, strlen(msg), sig, n - 1));
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
}

static void rsa_short_key_refused(void **state)
{
    (void)state;
    EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char jwk[2048];
    rsa_jwk(priv, jwk, sizeof(jwk));
    assert_null(oidc_jwk_to_key(jwk));
    EVP_PKEY_free(priv);
}

static void ec_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char jwk[512];
    unsigned char der[128], raw[64];
    ec_jwk(priv, jwk, sizeof(jwk), false);
    EVP_PKEY *pub = oidc_jwk_to_key(jwk);
    assert_non_null(pub);
    size_t n = sign(priv, der, sizeof(der));
    /* DER → the JWS form r||s */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    assert_non_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    ECDSA_SIG_free(es);
    assert_true(oidc_sig_ok(pub, "ES256", msg, strlen(msg), raw, 64));
    assert_false(oidc_sig_ok(pub, "ES256", msg, strlen(msg), der, n)); /* DER is not JWS */
    assert_false(oidc_sig_ok(pub, "RS256", msg, strlen(msg), raw, 64));
    raw[40] ^= 0x80;
    assert_false(oidc_sig_ok(pub, "ES256", msg, strlen(msg), raw, 64));
    EVP_PKEY_free(pub);
    ec_jwk(priv, jwk, sizeof(jwk), true);
    assert_null(oidc_jwk_to_key(jwk));
    EVP_PKEY_free(priv);
}

static void bad_jwks_refused(void **state)
{
    (void)state;
    assert_null(oidc_jwk_to_key("{}"));
    assert_null(oidc_jwk_to_key("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}"));
    assert_null(oidc_jwk_to_key("{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}"));
    assert_null(oidc_jwk_to_key("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}"));
    assert_null(oidc_jwk_to_key("not json"));
}

static void apikey_seal_round_trip(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef0123456789abcdef-test";
    const char *key = "mck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char nonce[48], ct[128], nonce2[48], ct2[128], out[64];
    assert_int_equal(apikeys_seal(secret, "id-1", key, nonce, ct), 0);
    assert_int_equal(apikeys_seal(secret, "id-1", key, nonce2, ct2), 0);
    assert_string_not_equal(nonce, nonce2); /* a fresh nonce per row */
    assert_null(strstr(ct, key + 4));
    assert_int_equal(apikeys_open(secret, "id-1", nonce, ct, out, sizeof(out)), 0);
    assert_string_equal(out, key);
    assert_int_not_equal(apikeys_open(secret, "id-2", nonce, ct, out, sizeof(out)), 0);
    assert_int_not_equal(
        apikeys_open("another-secret-0123456789abcdef", "id-1", nonce, ct, out, sizeof(out)), 0);
    ct[5] = ct[5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(apikeys_open(secret, "id-1", nonce, ct, out, sizeof(out)), 0);
    assert_true(apikeys_has_scope("fhir:read labs:write", "labs:write"));
    assert_false(apikeys_has_scope("fhir:read labs:write", "fhir"));
    assert_false(apikeys_has_scope("", "fhir:read"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_round_trip),         cmocka_unit_test(rsa_short_key_refused),
        cmocka_unit_test(ec_round_trip),          cmocka_unit_test(bad_jwks_refused),
        cmocka_unit_test(apikey_seal_round_trip),
    };
    return cmocka_run_group_tests_name("oidc", tests, NULL, NULL);
}
