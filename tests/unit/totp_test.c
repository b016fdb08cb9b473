/*
 * totp_test.c - RFC 6238 appendix B vectors (SHA-1), the 6-digit truncation of the same
 * instants, the ±1 step window and the replay rule, the otpauth URI, the QR SVG,
 * sealing of the secret and recovery-code hashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/mem.h"
#include "modules/auth/totp.h"

#include <string.h>

/* RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890" */
static const unsigned char seed[] = "12345678901234567890";
#define SEED_LEN 20

static const struct {
    int64_t t;
    const char *code8; /* RFC 6238 appendix B, SHA1 column */
    const char *code6; /* the same HOTP value mod 10^6 */
} vectors[] = {
    {59, "94287082", "287082"},         {1111111109, "07081804", "081804"},
    {1111111111, "14050471", "050471"}, {1234567890, "89005924", "005924"},
    {2000000000, "69279037", "279037"}, {20000000000, "65353130", "353130"},
};

static void rfc6238_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char out[TOTP_CODE_MAX];
        int64_t step = totp_step(vectors[i].t);
        assert_int_equal(totp_code(seed, SEED_LEN, step, 8, out), 0);
        assert_string_equal(out, vectors[i].code8);
        assert_int_equal(totp_code(seed, SEED_LEN, step, 6, out), 0);
        assert_string_equal(out, vectors[i].code6);
    }
}

static void window_and_replay(void **state)
{
    (void)state;
    const int64_t now = 1111111111; /* step 37037037, code6 050471 */
    int64_t step = -1;
    assert_true(totp_check(seed, SEED_LEN, now, "050471", -1, &step));
    assert_int_equal(step, totp_step(now));
    /* the same code again is a replay */
    assert_false(totp_check(seed, SEED_LEN, now, "050471", step, &step));
    /* the previous and next steps are accepted once, further ones are not */
    char prev[TOTP_CODE_MAX], next[TOTP_CODE_MAX], far[TOTP_CODE_MAX];
    totp_code(seed, SEED_LEN, totp_step(now) - 1, 6, prev);
    totp_code(seed, SEED_LEN, totp_step(now) + 1, 6, next);
    totp_code(seed, SEED_LEN, totp_step(now) + 2, 6, far);
    int64_t s2 = -1;
    assert_true(totp_check(seed, SEED_LEN, now, prev, -1, &s2));
    assert_int_equal(s2, totp_step(now) - 1);
    assert_false(totp_check(seed, SEED_LEN, now, prev, totp_step(now), &s2)); /* older step */
    assert_true(totp_check(seed, SEED_LEN, now, next, totp_step(now), &s2));
    assert_int_equal(s2, totp_step(now) + 1);
    assert_false(totp_check(seed, SEED_LEN, now, far, -1, &s2));
    assert_false(totp_check(seed, SEED_LEN, now, "05047", -1, &s2));
    assert_false(totp_check(seed, SEED_LEN, now, "0504710", -1, &s2));
    assert_false(totp_check(seed, SEED_LEN, now, "", -1, &s2));
}

static void base32_uri_qr(void **state)
{
    (void)state;
    char b32[TOTP_SECRET_B32_LEN];
    assert_int_equal(totp_base32(seed, SEED_LEN, b32), 0);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    struct buf u = BUF_INIT;
    assert_int_equal(totp_uri("dr.a+b@example.org", b32, &u), 0);
    assert_string_equal(u.data, "otpauth://totp/Mimicare:dr.a%2Bb@example.org?secret="
                                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mimicare");
    struct buf svg = BUF_INIT;
    assert_int_equal(totp_qr_svg(u.data, &svg), 0);
    assert_true(strncmp(svg.data, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", 51) ==
                0);
    assert_non_null(strstr(svg.data, "<rect x=\""));
    assert_null(strstr(svg.data, "script"));
    assert_string_equal(svg.data + svg.len - 6, "</svg>");
    buf_free(&svg);
    buf_free(&u);
}

static void seal_open(void **state)
{
    (void)state;
    const char *master = "0123456789abcdef0123456789abcdef-test-master";
    unsigned char secret[TOTP_SECRET_BYTES], back[TOTP_SECRET_BYTES];
    char sealed[TOTP_SEALED_MAX], again[TOTP_SEALED_MAX];
    totp_new_secret(secret);
    assert_int_equal(totp_seal(master, "user-1", secret, sizeof(secret), sealed, sizeof(sealed)),
                     0);
    assert_int_equal(totp_seal(master, "user-1", secret, sizeof(secret), again, sizeof(again)), 0);
    assert_string_not_equal(sealed, again); /* fresh nonce each time */
    assert_int_equal(totp_open(master, "user-1", sealed, back), 0);
    assert_memory_equal(secret, back, sizeof(secret));
    assert_int_equal(totp_open(master, "user-2", sealed, back), MC_ECORRUPT);
    assert_int_equal(totp_open("another-master-key-0123456789abcdef", "user-1", sealed, back),
                     MC_ECORRUPT);
    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    assert_int_equal(totp_open(master, "user-1", sealed, back), MC_ECORRUPT);
    assert_int_equal(totp_open(master, "user-1", "v1.", back), MC_ECORRUPT);
    assert_int_equal(totp_open(master, "user-1", "garbage", back), MC_ECORRUPT);
}

static void recovery_codes(void **state)
{
    (void)state;
    char a[TOTP_RECOVERY_LEN], b[TOTP_RECOVERY_LEN];
    totp_recovery_new(a);
    totp_recovery_new(b);
    assert_int_equal(strlen(a), 19);
    assert_int_equal(a[4], '-');
    assert_string_not_equal(a, b);
    char h1[65], h2[65], h3[65];
    assert_int_equal(totp_recovery_hash("u1", "abcd-efgh-ijkl-mnop", h1), 0);
    assert_int_equal(totp_recovery_hash("u1", "ABCD EFGH IJKL MNOP", h2), 0);
    assert_string_equal(h1, h2);
    assert_int_equal(totp_recovery_hash("u2", "abcd-efgh-ijkl-mnop", h3), 0);
    assert_string_not_equal(h1, h3);
    assert_int_equal(totp_recovery_hash("u1", "abcdefghijklmnopqrstuvwxyz", h3), MC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc6238_vectors), cmocka_unit_test(window_and_replay),
        cmocka_unit_test(base32_uri_qr),   cmocka_unit_test(seal_open),
        cmocka_unit_test(recovery_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
