/*
 * jwt_test.c - the access-token signer and verifier against security.md B1: every
 * malformed, forged or misused token is refused, and a good one round-trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/rand.h"
#include "modules/auth/jwt.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char key_text[] = "0123456789abcdef0123456789abcdef-test-key";
static const int64_t now = 1796310000; /* 2026-12-03 */

static struct jwt_keys keys(void)
{
    return (struct jwt_keys){(const unsigned char *)key_text, strlen(key_text), "mimicare",
                             "mimicare-api"};
}

static struct jwt_claims claims(void)
{
    struct jwt_claims c = {0};
    uuid_v7(c.sub);
    uuid_v7(c.sid);
    uuid_v7(c.jti);
    c.iat = now;
    c.exp = now + 900;
    return c;
}

/* Builds a token from raw header and payload JSON, signed with HMAC-SHA256 under key
 * (or with the given signature text when sig != NULL). */
static void forge(const char *header, const char *payload, const char *sig, const char *key,
                  char *out, size_t cap)
{
    char h[512], p[1024];
    b64url_encode(header, strlen(header), h);
    b64url_encode(payload, strlen(payload), p);
    int n = snprintf(out, cap, "%s.%s", h, p);
    if (sig != NULL) {
        snprintf(out + n, cap - (size_t)n, ".%s", sig);
        return;
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, (size_t)n);
    crypto_auth_hmacsha256_final(&st, mac);
    out[n++] = '.';
    b64url_encode(mac, sizeof(mac), out + n);
}

static void payload_json(const struct jwt_claims *c, const char *iss, const char *aud,
                         const char *extra, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"sid\":\"%s\",\"jti\":\"%s\","
             "\"iat\":%lld,\"exp\":%lld%s}",
             iss, aud, c->sub, c->sid, c->jti, (long long)c->iat, (long long)c->exp, extra);
}

static void assert_refused(const char *token, const char *why_part)
{
    struct jwt_keys k = keys();
    struct jwt_claims out;
    const char *why = NULL;
    assert_int_equal(jwt_verify(&k, token, now, &out, &why), 4 /* MC_EUNAUTH */);
    assert_non_null(why);
    if (why_part != NULL && strstr(why, why_part) == NULL) {
        fprintf(stderr, "reason was '%s', expected '%s'\n", why, why_part);
        fail();
    }
}

static void round_trip(void **state)
{
    (void)state;
    struct jwt_keys k = keys();
    struct jwt_claims c = claims(), out;
    char tok[JWT_MAX_LEN];
    assert_int_equal(jwt_sign(&k, &c, tok, sizeof(tok)), 0);
    assert_int_equal(jwt_verify(&k, tok, now, &out, NULL), 0);
    assert_string_equal(out.sub, c.sub);
    assert_string_equal(out.sid, c.sid);
    assert_string_equal(out.jti, c.jti);
    assert_int_equal(out.exp, c.exp);
}

static void refuses_alg_none_and_others(void **state)
{
    (void)state;
    struct jwt_claims c = claims();
    char p[1024], tok[JWT_MAX_LEN];
    payload_json(&c, "mimicare", "mimicare-api", "", p, sizeof(p));
    forge("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", p, "", key_text, tok, sizeof(tok));
    assert_refused(tok, NULL);
    forge("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "algorithm");
    forge("{\"alg\":\"HS512\",\"typ\":\"at+jwt\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "algorithm");
    forge("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "algorithm");
    forge("{\"alg\":\"hs256\",\"typ\":\"at+jwt\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "algorithm");
}

static void refuses_wrong_type_and_extra_header(void **state)
{
    (void)state;
    struct jwt_claims c = claims();
    char p[1024], tok[JWT_MAX_LEN];
    payload_json(&c, "mimicare", "mimicare-api", "", p, sizeof(p));
    forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "access token"); /* e.g. an ID token */
    forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"../../etc/passwd\"}", p, NULL, key_text,
          tok, sizeof(tok));
    assert_refused(tok, "header");
    forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"1' OR '1'='1\"}", p, NULL, key_text, tok,
          sizeof(tok));
    assert_refused(tok, "header");
    forge("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, NULL);
}

static void refuses_tampering_and_other_keys(void **state)
{
    (void)state;
    struct jwt_keys k = keys();
    struct jwt_claims c = claims();
    char tok[JWT_MAX_LEN];
    assert_int_equal(jwt_sign(&k, &c, tok, sizeof(tok)), 0);
    char *dot = strchr(tok, '.');
    for (size_t i = 0; i < 3; i++) { /* flip characters in the payload */
        char t2[JWT_MAX_LEN];
        memcpy(t2, tok, sizeof(t2));
        char *ch = t2 + (dot - tok) + 5 + (ptrdiff_t)i * 7;
        *ch = *ch == 'A' ? 'B' : 'A';
        assert_refused(t2, NULL);
    }
    char p[1024];
    payload_json(&c, "mimicare", "mimicare-api", "", p, sizeof(p));
    forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", p, NULL, "another-key-of-32-characters-long!",
          tok, sizeof(tok));
    assert_refused(tok, "signature");
    assert_refused("", NULL);
    assert_refused("a.b", NULL);
    assert_refused("a.b.c.d", NULL);
    assert_refused("....", NULL);
    char huge[JWT_MAX_LEN + 10];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_refused(huge, NULL);
}

static void refuses_bad_claims(void **state)
{
    (void)state;
    struct jwt_claims c = claims();
    char p[1024], tok[JWT_MAX_LEN];
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";
    c.exp = now - 61;
    payload_json(&c, "mimicare", "mimicare-api", "", p, sizeof(p));
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "expired");
    c = claims();
    payload_json(&c, "mimicare", "mimicare-api", ",\"nbf\":1896310000", p, sizeof(p));
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "not yet");
    payload_json(&c, "https://evil.example", "mimicare-api", "", p, sizeof(p));
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "issuer");
    payload_json(&c, "mimicare", "other-api", "", p, sizeof(p));
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "audience");
    snprintf(p, sizeof(p),
             "{\"iss\":\"mimicare\",\"aud\":\"mimicare-api\",\"sub\":\"%s\",\"sid\":\"%s\","
             "\"jti\":\"%s\",\"iat\":%lld}",
             c.sub, c.sid, c.jti, (long long)now);
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "exp"); /* missing exp */
    snprintf(p, sizeof(p),
             "{\"iss\":\"mimicare\",\"aud\":\"mimicare-api\",\"sub\":\"1 OR 1=1\",\"sid\":\"%s\","
             "\"jti\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
             c.sid, c.jti, (long long)now, (long long)now + 60);
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "sub");
    snprintf(p, sizeof(p), "[1,2,3]");
    forge(hdr, p, NULL, key_text, tok, sizeof(tok));
    assert_refused(tok, "JSON");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refuses_alg_none_and_others),
        cmocka_unit_test(refuses_wrong_type_and_extra_header),
        cmocka_unit_test(refuses_tampering_and_other_keys),
        cmocka_unit_test(refuses_bad_claims),
    };
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
