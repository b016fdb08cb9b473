/*
 * core_test.c - unit tests for the small core modules: the arena and growable buffer
 * (mem), randomness helpers (constant-time compare, UUIDv7, base64url, hex), RFC 3339
 * time handling, the scalar parsers, the error table and the log line escaper.
 *
 * Everything here is pure and fast; no files, sockets or threads. Each test pins one
 * contract from the module's header, with the edges (empty, boundary, one past the
 * boundary) spelled out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena ---- */

static void arena_alignment(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    const uintptr_t align = _Alignof(max_align_t);
    for (size_t n = 0; n < 300; n++) {
        unsigned char *p = arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        memset(p, 0xab, n); /* ASan catches a short allocation */
    }
    arena_free(a);
}

static void arena_used_counts_rounded_sizes(void **state)
{
    (void)state;
    struct arena *a = arena_new(4096);
    const size_t align = _Alignof(max_align_t);
    assert_int_equal(arena_used(a), 0);
    arena_alloc(a, 1);
    assert_int_equal(arena_used(a), align);
    arena_alloc(a, align + 1);
    assert_int_equal(arena_used(a), 3 * align);
    arena_alloc(a, 0); /* still a distinct, aligned slot */
    assert_int_equal(arena_used(a), 4 * align);
    arena_free(a);
}

static void arena_big_allocations(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    char *small1 = arena_strdup(a, "before");
    size_t big_n = 1u << 20;
    unsigned char *big = arena_alloc(a, big_n);
    memset(big, 0x5a, big_n);
    char *small2 = arena_strdup(a, "after");
    unsigned char *big2 = arena_alloc(a, 3000); /* larger than a chunk, smaller than big */
    memset(big2, 0x11, 3000);
    /* nothing overlaps: every allocation still holds what was written */
    assert_string_equal(small1, "before");
    assert_string_equal(small2, "after");
    for (size_t i = 0; i < big_n; i += 4099)
        assert_int_equal(big[i], 0x5a);
    assert_int_equal(big[big_n - 1], 0x5a);
    assert_int_equal(big2[2999], 0x11);
    assert_true(arena_used(a) >= big_n + 3000);
    arena_free(a);
}

static void arena_reset_reuses_first_chunk(void **state)
{
    (void)state;
    struct arena *a = arena_new(1024);
    void *first = arena_alloc(a, 16);
    for (int i = 0; i < 50; i++)
        arena_alloc(a, 700); /* forces many new chunks */
    arena_alloc(a, 100000);
    assert_true(arena_used(a) > 100000);
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    void *again = arena_alloc(a, 16);
    assert_ptr_equal(first, again);
    /* and the arena still works past the first chunk after a reset */
    char *s = arena_alloc(a, 5000);
    memset(s, 'x', 5000);
    arena_free(a);
    arena_free(NULL); /* documented no-op */
}

static void arena_strings(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    assert_string_equal(arena_strdup(a, ""), "");
    assert_string_equal(arena_strdup(a, "hello"), "hello");
    char *n = arena_strndup(a, "abcdef", 3);
    assert_string_equal(n, "abc");
    char *z = arena_strndup(a, "ab\0cd", 5); /* copies n bytes, then a NUL */
    assert_memory_equal(z, "ab\0cd", 6);
    assert_string_equal(arena_printf(a, "%d-%s-%c", 42, "x", 'y'), "42-x-y");
    assert_string_equal(arena_printf(a, "%s", ""), "");
    /* a formatted string far larger than a chunk */
    char big[2000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *p = arena_printf(a, "<%s>", big);
    assert_int_equal(strlen(p), sizeof(big) + 1);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[sizeof(big)], '>');
    arena_free(a);
}

/* ----------------------------------------------------------------- buf ---- */

static void buf_cap_is_enforced(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    b.max = 10;
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_putc(&b, 'x'), MC_ETOOBIG);
    assert_int_equal(buf_puts(&b, "y"), MC_ETOOBIG);
    assert_int_equal(buf_printf(&b, "%d", 1), MC_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(buf_append(&b, "", 0), 0); /* zero bytes fit even when full */
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    /* a single append over the cap fails whole, nothing partial */
    assert_int_equal(buf_append(&b, "0123456789A", 11), MC_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_printf(&b, "%s", "0123456789AB"), MC_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_free(&b);
    assert_null(b.data);
}

static void buf_grows_and_terminates(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_puts(&b, ""), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%04d,", i), 0);
    assert_int_equal(b.len, 5000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 4995, "0999,", 5);
    assert_true(b.cap > b.len);
    /* embedded NULs are data */
    buf_reset(&b);
    assert_int_equal(buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4);
    buf_free(&b);
}

static void buf_steal_hands_over(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    char *empty = buf_steal(&b);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);
    buf_printf(&b, "id=%s", "abc");
    char *s = buf_steal(&b);
    assert_string_equal(s, "id=abc");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* the buffer is usable again and independent of the stolen string */
    buf_puts(&b, "new");
    assert_string_equal(b.data, "new");
    assert_string_equal(s, "id=abc");
    free(s);
    buf_free(&b);
}

/* -------------------------------------------------------------- compare ---- */

static void ct_compare(void **state)
{
    (void)state;
    unsigned char x[64], y[64];
    mc_random_bytes(x, sizeof(x));
    memcpy(y, x, sizeof(x));
    assert_true(mc_ct_equal(x, y, sizeof(x)));
    assert_true(mc_ct_equal(x, y, 0));
    for (size_t i = 0; i < sizeof(x); i++) {
        y[i] ^= 0x01;
        assert_false(mc_ct_equal(x, y, sizeof(x)));
        y[i] ^= 0x81; /* high bit only */
        assert_false(mc_ct_equal(x, y, sizeof(x)));
        y[i] ^= 0x80;
    }
    assert_true(mc_ct_equal(x, y, sizeof(x)));

    assert_true(mc_ct_streq("", ""));
    assert_true(mc_ct_streq("secret-token", "secret-token"));
    assert_false(mc_ct_streq("secret-token", "secret-tokeN"));
    assert_false(mc_ct_streq("abc", "abcd"));
    assert_false(mc_ct_streq("abcd", "abc"));
    assert_false(mc_ct_streq("", "a"));
    assert_false(mc_ct_streq("a", ""));
}

/* ---------------------------------------------------------------- uuid ---- */

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)(c - 'a' + 10);
}

static uint64_t uuid_ms(const char *u)
{
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (u[i] == '-')
            continue;
        ms = ms << 4 | hexval(u[i]);
    }
    return ms;
}

static void uuid_v7_format(void **state)
{
    (void)state;
    for (int k = 0; k < 200; k++) {
        char u[UUID_STR_LEN];
        int64_t before = mc_now_ms();
        uuid_v7(u);
        int64_t after = mc_now_ms();
        assert_int_equal(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(u[i], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[i]));
        }
        assert_int_equal(u[14], '7');           /* version */
        assert_non_null(strchr("89ab", u[19])); /* RFC 9562 variant 10xx */
        uint64_t ms = uuid_ms(u);
        assert_in_range(ms, (uint64_t)before, (uint64_t)after);
        assert_true(uuid_valid(u));
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void uuid_v7_unique_and_time_ordered(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][UUID_STR_LEN];
    for (int i = 0; i < N; i++)
        uuid_v7(ids[i]);
    qsort(ids, N, UUID_STR_LEN, cmp_str);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);

    /* the time prefix follows the (test-offset) clock: later clock, larger id */
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    uuid_v7(a);
    mc_clock_set_offset(5000);
    uuid_v7(b);
    mc_clock_set_offset(0);
    assert_true(uuid_ms(b) >= uuid_ms(a) + 5000);
    assert_true(strcmp(a, b) < 0);
}

static void uuid_valid_edges(void **state)
{
    (void)state;
    assert_true(uuid_valid("0190c5e2-1234-7abc-8def-0123456789ab"));
    assert_true(uuid_valid("0190C5E2-1234-7ABC-8DEF-0123456789AB"));
    assert_true(uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(uuid_valid(NULL));
    assert_false(uuid_valid(""));
    assert_false(uuid_valid("0190c5e2-1234-7abc-8def-0123456789a"));   /* 35 */
    assert_false(uuid_valid("0190c5e2-1234-7abc-8def-0123456789abc")); /* 37 */
    assert_false(uuid_valid("0190c5e2-1234-7abc-8def-0123456789ag"));  /* not hex */
    assert_false(uuid_valid("0190c5e21234-7abc-8def-0123456789abcd")); /* dash moved */
    assert_false(uuid_valid("0190c5e2_1234_7abc_8def_0123456789ab"));
    assert_false(uuid_valid("{0190c5e2-1234-7abc-8def-0123456789ab}"));
    assert_false(uuid_valid("0190c5e2-1234-7abc-8def-0123456789ab\n"));
    assert_false(uuid_valid(" 0190c5e2-1234-7abc-8def-0123456789ab"));
    assert_false(uuid_valid("0190c5e212347abc8def0123456789ab"));
}

/* ------------------------------------------------------------ base64url ---- */

static void b64url_known_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10, without padding */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(b64url_encoded_len(n), strlen(enc[i]));
        b64url_encode(plain[i], n, out);
        assert_string_equal(out, enc[i]);
    }
    /* the two url-safe characters, where standard base64 has '+' and '/' */
    const unsigned char bytes[] = {0xfb, 0xff};
    char out[8];
    b64url_encode(bytes, 2, out);
    assert_string_equal(out, "-_8");
    unsigned char back[4];
    size_t n = 0;
    assert_int_equal(b64url_decode("-_8", 3, back, sizeof(back), &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(back, bytes, 2);
}

static void b64url_round_trip(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 64; len++) {
        for (int rep = 0; rep < 8; rep++) {
            unsigned char in[64], back[64];
            char enc[100];
            mc_random_bytes(in, len);
            b64url_encode(in, len, enc);
            assert_int_equal(strlen(enc), b64url_encoded_len(len));
            assert_int_not_equal(strlen(enc) % 4, 1);
            for (const char *p = enc; *p; p++)
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_",
                                       *p));
            size_t n = 999;
            assert_int_equal(b64url_decode(enc, strlen(enc), back, len, &n), 0);
            assert_int_equal(n, len);
            assert_memory_equal(back, in, len);
            if (len > 0) { /* one byte short of room */
                assert_int_equal(b64url_decode(enc, strlen(enc), back, len - 1, &n), MC_ETOOBIG);
            }
        }
    }
}

static void b64url_rejects(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t n = 0;
#define BAD(s) assert_int_equal(b64url_decode((s), sizeof(s) - 1, out, sizeof(out), &n), MC_EBADREQ)
    BAD("Zg=="); /* padding */
    BAD("Zm8=");
    BAD("Zm9v+A"); /* standard alphabet */
    BAD("Zm9v/A");
    BAD("Zm9 v"); /* whitespace */
    BAD("Zm9v\n");
    BAD("Zm\0v"); /* embedded NUL */
    BAD("Zm9v\xc3\xa9");
    BAD("Z"); /* len % 4 == 1 */
    BAD("Zm9vY");
    BAD("Zm9vYmFyZ");
    BAD("Zh");  /* "f" with non-zero trailing bits; canonical is "Zg" */
    BAD("Zm9"); /* "fo" with trailing bits; canonical is "Zm8" */
    BAD("-_9"); /* 0xfb 0xff with a trailing bit set */
#undef BAD
    /* the empty string is a valid encoding of nothing */
    n = 99;
    assert_int_equal(b64url_decode("", 0, out, 0, &n), 0);
    assert_int_equal(n, 0);
}

static void hex_encoding(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    mc_hex(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    char one[1] = {'z'};
    mc_hex(in, 0, one);
    assert_int_equal(one[0], '\0');
}

/* ------------------------------------------------------------- rfc3339 ---- */

static void rfc3339_format_values(void **state)
{
    (void)state;
    char out[RFC3339_LEN];
    rfc3339_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    rfc3339_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    rfc3339_format(-86400000, out);
    assert_string_equal(out, "1969-12-31T00:00:00.000Z");
    rfc3339_format(-86400001, out);
    assert_string_equal(out, "1969-12-30T23:59:59.999Z");
    rfc3339_format(1709164800000LL + 45296789, out); /* 2024-02-29 12:34:56.789 */
    assert_string_equal(out, "2024-02-29T12:34:56.789Z");
    rfc3339_format(-2208988800000LL, out);
    assert_string_equal(out, "1900-01-01T00:00:00.000Z");
    rfc3339_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    rfc3339_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
    assert_int_equal(strlen(out), RFC3339_LEN - 1);
}

static void rfc3339_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01t00:00:00z", 0},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1900-01-01T00:00:00Z", -2208988800000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"2024-01-01T05:30:00+05:30", 1704067200000LL},
        {"2023-12-31T16:00:00-08:00", 1704067200000LL},
        {"2024-01-01T00:00:00+00:00", 1704067200000LL},
        {"2024-01-01T00:00:00-00:00", 1704067200000LL},
        {"2024-01-01T00:00:00.1Z", 1704067200100LL},
        {"2024-01-01T00:00:00.12Z", 1704067200120LL},
        {"2024-01-01T00:00:00.123Z", 1704067200123LL},
        {"2024-01-01T00:00:00.1239Z", 1704067200123LL}, /* truncated, not rounded */
        {"2024-01-01T00:00:00.12345Z", 1704067200123LL},
        {"2024-01-01T00:00:00.123456Z", 1704067200123LL},
        {"2024-01-01T00:00:00.1234567Z", 1704067200123LL},
        {"2024-01-01T00:00:00.12345678Z", 1704067200123LL},
        {"2024-01-01T00:00:00.999999999Z", 1704067200999LL},
        {"2024-01-01T00:00:00.5+01:00", 1704067200500LL - 3600000},
        {"2016-12-31T23:59:60Z", 1483228799000LL}, /* leap second folds into :59 */
        {"2024-12-31T23:59:59Z", 1735689599000LL},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = 12345;
        int rc = rfc3339_parse(ok[i].s, &ms);
        if (rc != 0 || ms != ok[i].ms)
            print_error("input %s: rc %d ms %lld\n", ok[i].s, rc, (long long)ms);
        assert_int_equal(rc, 0);
        assert_true(ms == ok[i].ms);
    }
}

static void rfc3339_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2024-01-01",
        "2024-01-01T00:00:00",  /* no offset */
        "2023-02-29T00:00:00Z", /* not a leap year */
        "2100-02-29T00:00:00Z", /* century, not a leap year */
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:61Z",
        "2024-01-01 00:00:00Z",            /* space instead of T */
        "2024-01-01T00:00:00.Z",           /* empty fraction */
        "2024-01-01T00:00:00.1234567890Z", /* 10 fraction digits */
        "2024-01-01T00:00:00ZZ",
        "2024-01-01T00:00:00Z ",
        "2024-01-01T00:00:00Zx",
        " 2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00+0530",
        "2024-01-01T00:00:00+05",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+05:60",
        "2024-01-01T00:00:00+05:30x",
        "2024-1-01T00:00:00Z",
        "2024-01-01T0:00:00Z",
        "+2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00,5Z",
        "2024/01/01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 777;
        int rc = rfc3339_parse(bad[i], &ms);
        if (rc != MC_EBADREQ)
            print_error("accepted: '%s'\n", bad[i]);
        assert_int_equal(rc, MC_EBADREQ);
        assert_true(ms == 777); /* output untouched on failure */
    }
    int64_t ms;
    assert_int_equal(rfc3339_parse(NULL, &ms), MC_EBADREQ);
    /* the representable range is years 0000..9999 UTC, offsets included */
    assert_int_equal(rfc3339_parse("0000-01-01T00:00:00Z", &ms), 0);
    assert_true(ms == -62167219200000LL);
    assert_int_equal(rfc3339_parse("9999-12-31T23:59:59.999Z", &ms), 0);
    assert_true(ms == 253402300799999LL);
    assert_int_equal(rfc3339_parse("0000-01-01T00:00:00+00:01", &ms), MC_EBADREQ);
    assert_int_equal(rfc3339_parse("9999-12-31T23:59:59.999-00:01", &ms), MC_EBADREQ);
    assert_int_equal(rfc3339_parse("0000-01-01T00:30:00+00:30", &ms), 0);
    assert_true(ms == -62167219200000LL);
}

static void rfc3339_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 2000; i++) {
        uint64_t r;
        mc_random_bytes(&r, sizeof(r));
        /* years 1900..2199, millisecond resolution */
        int64_t ms = -2208988800000LL + (int64_t)(r % 9467280000000ULL);
        char s[RFC3339_LEN];
        rfc3339_format(ms, s);
        int64_t back = 0;
        assert_int_equal(rfc3339_parse(s, &back), 0);
        assert_true(back == ms);
    }
}

static void date_parse_values(void **state)
{
    (void)state;
    int64_t d = 42;
    assert_int_equal(date_parse("1970-01-01", &d), 0);
    assert_true(d == 0);
    assert_int_equal(date_parse("1969-12-31", &d), 0);
    assert_true(d == -1);
    assert_int_equal(date_parse("2000-03-01", &d), 0);
    assert_true(d == 951868800 / 86400);
    assert_int_equal(date_parse("2024-02-29", &d), 0);
    assert_true(d == 1709164800 / 86400);
    assert_true(days_from_civil(2024, 2, 29) == 1709164800 / 86400);
    d = 42;
    assert_int_equal(date_parse("2023-02-29", &d), MC_EBADREQ);
    assert_int_equal(date_parse("2024-02-29T00:00:00Z", &d), MC_EBADREQ);
    assert_int_equal(date_parse("2024-2-29", &d), MC_EBADREQ);
    assert_int_equal(date_parse("2024-02-29 ", &d), MC_EBADREQ);
    assert_int_equal(date_parse("", &d), MC_EBADREQ);
    assert_int_equal(date_parse(NULL, &d), MC_EBADREQ);
    assert_int_equal(date_parse("2024-00-10", &d), MC_EBADREQ);
    assert_int_equal(date_parse("20240229", &d), MC_EBADREQ);
    assert_true(d == 42);
}

/* --------------------------------------------------------------- parse ---- */

static void parse_int_range_values(void **state)
{
    (void)state;
    long long v = 0;
    assert_int_equal(parse_int_range("0", 0, 10, &v), 0);
    assert_true(v == 0);
    assert_int_equal(parse_int_range("-0", 0, 10, &v), 0);
    assert_true(v == 0);
    assert_int_equal(parse_int_range("10", 0, 10, &v), 0);
    assert_true(v == 10);
    assert_int_equal(parse_int_range("-7", -10, 10, &v), 0);
    assert_true(v == -7);
    assert_int_equal(parse_int_range("007", 0, 10, &v), 0);
    assert_true(v == 7);
    assert_int_equal(parse_int_range("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), 0);
    assert_true(v == LLONG_MAX);
    assert_int_equal(parse_int_range("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), 0);
    assert_true(v == LLONG_MIN);

    v = 99;
    /* out of range, overflow included */
    assert_int_equal(parse_int_range("11", 0, 10, &v), MC_EINVAL);
    assert_int_equal(parse_int_range("-1", 0, 10, &v), MC_EINVAL);
    assert_int_equal(parse_int_range("9223372036854775808", LLONG_MIN, LLONG_MAX, &v), MC_EINVAL);
    assert_int_equal(parse_int_range("-9223372036854775809", LLONG_MIN, LLONG_MAX, &v), MC_EINVAL);
    assert_int_equal(parse_int_range("99999999999999999999999", 0, 10, &v), MC_EINVAL);
    /* not a number */
    static const char *const bad[] = {"",     "-",   "+",   "+5", " 5",  "5 ",  "--5", "5-",
                                      "0x10", "1e3", "1.0", "5a", "\t5", "-+5", "٣"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_int_range(bad[i], LLONG_MIN, LLONG_MAX, &v), MC_EBADREQ);
    assert_int_equal(parse_int_range(NULL, 0, 10, &v), MC_EBADREQ);
    assert_true(v == 99);
}

static void parse_bool_values(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "TRUE", "True", "1", "yes", "YES", "on", "On"};
    static const char *const no[] = {"false", "FALSE", "0", "no", "No", "off", "OFF"};
    static const char *const bad[] = {"",      "2",     "t",     "f",  "y",       "n",
                                      "truee", " true", "true ", "01", "enabled", "-1"};
    bool b;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        assert_int_equal(parse_bool(yes[i], &b), 0);
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = true;
        assert_int_equal(parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_bool(bad[i], &b), MC_EBADREQ);
    assert_int_equal(parse_bool(NULL, &b), MC_EBADREQ);
}

static void parse_duration_values(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t secs;
    } ok[] = {{"30s", 30},
              {"15m", 900},
              {"1h", 3600},
              {"7d", 604800},
              {"900", 900},
              {"0", 0},
              {"0s", 0},
              {"3660d", 316224000},
              {"316224000", 316224000},
              {"5270400m", 316224000},
              {"87840h", 316224000}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t s = -1;
        assert_int_equal(parse_duration(ok[i].s, &s), 0);
        assert_true(s == ok[i].secs);
    }
    static const char *const syntax[] = {"",
                                         "1x",
                                         "-1m",
                                         "s",
                                         "m",
                                         "1 h",
                                         " 1h",
                                         "1h ",
                                         "+1h",
                                         "1H",
                                         "1.5h",
                                         "1hm",
                                         "h1",
                                         "1ms",
                                         "-0",
                                         "0x10",
                                         "1234567890123456789012345"};
    for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
        int64_t s = -1;
        int rc = parse_duration(syntax[i], &s);
        if (rc != MC_EBADREQ)
            print_error("'%s' gave %d\n", syntax[i], rc);
        assert_int_equal(rc, MC_EBADREQ);
        assert_true(s == -1);
    }
    static const char *const huge[] = {
        "3661d", "316224001", "5270401m", "87841h", "99999999999999999999d", "9999999999999999999"};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        int64_t s = -1;
        assert_int_equal(parse_duration(huge[i], &s), MC_EINVAL);
        assert_true(s == -1);
    }
    int64_t s;
    assert_int_equal(parse_duration(NULL, &s), MC_EBADREQ);
}

/* ----------------------------------------------------------------- err ---- */

static void err_table_complete(void **state)
{
    (void)state;
    static const int status[MC_ERR_COUNT] = {
        [MC_OK] = 200,        [MC_ENOMEM] = 503,     [MC_EBADREQ] = 400,   [MC_EINVAL] = 422,
        [MC_EUNAUTH] = 401,   [MC_EFORBIDDEN] = 403, [MC_ENOTFOUND] = 404, [MC_EMETHOD] = 405,
        [MC_ECONFLICT] = 409, [MC_EPRECOND] = 412,   [MC_ETOOBIG] = 413,   [MC_EMEDIA] = 415,
        [MC_ELOCKED] = 423,   [MC_ERATE] = 429,      [MC_EINTERNAL] = 500, [MC_EUNAVAIL] = 503,
        [MC_EBUSY] = 503,     [MC_EIO] = 500,        [MC_ECONFIG] = 500,   [MC_EDB] = 500,
        [MC_ECORRUPT] = 500,
    };
    for (int e = 0; e < MC_ERR_COUNT; e++) {
        const struct mc_err_info *info = mc_err_http(e);
        assert_non_null(info);
        assert_int_equal(info->http_status, status[e]);
        assert_non_null(info->type);
        assert_non_null(info->title);
        assert_true(strlen(info->title) > 0);
        if (e != MC_OK)
            assert_int_equal(strncmp(info->type, "/problems/", 10), 0);
        const char *name = mc_strerror(e);
        assert_string_not_equal(name, "unknown");
        for (int f = 0; f < e; f++) /* names are distinct */
            assert_string_not_equal(name, mc_strerror(f));
        /* 5xx titles are generic: nothing internal leaks through the table */
        if (info->http_status == 500)
            assert_string_equal(info->title, "Internal error");
    }
    assert_string_equal(mc_strerror(MC_ENOTFOUND), "not_found");
    assert_string_equal(mc_err_http(MC_ENOTFOUND)->type, "/problems/not-found");
    const int unknown[] = {-1, MC_ERR_COUNT, MC_ERR_COUNT + 1, 1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(mc_err_http(unknown[i])->http_status, 500);
        assert_string_equal(mc_strerror(unknown[i]), "unknown");
    }
}

/* ----------------------------------------------------------------- log ---- */

static char *escape(const char *s)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    log_json_escape(&b, s);
    return buf_steal(&b);
}

#define ASSERT_ESCAPES(in, want)                                                                   \
    do {                                                                                           \
        char *got_ = escape(in);                                                                   \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void log_escape_cases(void **state)
{
    (void)state;
    ASSERT_ESCAPES("", "");
    ASSERT_ESCAPES("plain text 123", "plain text 123");
    ASSERT_ESCAPES("say \"hi\"", "say \\\"hi\\\"");
    ASSERT_ESCAPES("a\\b", "a\\\\b");
    ASSERT_ESCAPES("line1\nline2", "line1\\u000aline2");
    ASSERT_ESCAPES("\r\t\b\f", "\\u000d\\u0009\\u0008\\u000c");
    ASSERT_ESCAPES("\x01\x1f", "\\u0001\\u001f");
    ASSERT_ESCAPES("\x1b[31mred\x1b[0m", "\\u001b[31mred\\u001b[0m");
    ASSERT_ESCAPES("del\x7f", "del\\u007f");
    ASSERT_ESCAPES("~", "~");
    /* valid UTF-8 of every length is kept byte for byte */
    ASSERT_ESCAPES("caf\xc3\xa9", "caf\xc3\xa9");
    ASSERT_ESCAPES("\xe2\x82\xac", "\xe2\x82\xac");
    ASSERT_ESCAPES("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");
    ASSERT_ESCAPES("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    /* invalid UTF-8 becomes U+FFFD, one per bad byte */
    ASSERT_ESCAPES("\xff", "\\ufffd");
    ASSERT_ESCAPES("a\x80z", "a\\ufffdz");
    ASSERT_ESCAPES("\xc3", "\\ufffd"); /* truncated at the end */
    ASSERT_ESCAPES("\xe2\x82", "\\ufffd\\ufffd");
    ASSERT_ESCAPES("\xc3(", "\\ufffd(");                                /* bad continuation */
    ASSERT_ESCAPES("\xc0\xaf", "\\ufffd\\ufffd");                       /* overlong '/' */
    ASSERT_ESCAPES("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");            /* overlong, 3 bytes */
    ASSERT_ESCAPES("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");            /* UTF-16 surrogate */
    ASSERT_ESCAPES("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
    ASSERT_ESCAPES("\xf8\x88\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
}

static void log_escape_is_valid_json(void **state)
{
    (void)state;
    /* every single byte and random byte strings: the result always parses as a JSON
     * string and contains no raw control characters */
    for (int round = 0; round < 500; round++) {
        unsigned char raw[65];
        size_t n = 1 + (size_t)round % 64;
        mc_random_bytes(raw, n);
        for (size_t i = 0; i < n; i++)
            if (raw[i] == 0)
                raw[i] = (unsigned char)(round < 256 ? round | 1 : 0x7f);
        if (round < 255) {
            raw[0] = (unsigned char)(round + 1);
            n = 1;
        }
        raw[n] = '\0';
        struct buf b = BUF_INIT;
        buf_putc(&b, '"');
        log_json_escape(&b, (const char *)raw);
        buf_putc(&b, '"');
        for (size_t i = 0; i < b.len; i++)
            assert_true((unsigned char)b.data[i] >= 0x20 && (unsigned char)b.data[i] != 0x7f);
        json_error_t je;
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
        if (j == NULL)
            print_error("not JSON: %s (%s)\n", b.data, je.text);
        assert_non_null(j);
        assert_true(json_is_string(j));
        json_decref(j);
        buf_free(&b);
    }
}

static void log_level_names(void **state)
{
    (void)state;
    enum log_level l = LOG_FATAL;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("WARN", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("warning", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_ERROR);
    assert_int_equal(log_level_parse("fatal", &l), MC_EINVAL); /* not settable */
    assert_int_equal(log_level_parse("", &l), MC_EINVAL);
    assert_int_equal(log_level_parse("verbose", &l), MC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_alignment),
        cmocka_unit_test(arena_used_counts_rounded_sizes),
        cmocka_unit_test(arena_big_allocations),
        cmocka_unit_test(arena_reset_reuses_first_chunk),
        cmocka_unit_test(arena_strings),
        cmocka_unit_test(buf_cap_is_enforced),
        cmocka_unit_test(buf_grows_and_terminates),
        cmocka_unit_test(buf_steal_hands_over),
        cmocka_unit_test(ct_compare),
        cmocka_unit_test(uuid_v7_format),
        cmocka_unit_test(uuid_v7_unique_and_time_ordered),
        cmocka_unit_test(uuid_valid_edges),
        cmocka_unit_test(b64url_known_vectors),
        cmocka_unit_test(b64url_round_trip),
        cmocka_unit_test(b64url_rejects),
        cmocka_unit_test(hex_encoding),
        cmocka_unit_test(rfc3339_format_values),
        cmocka_unit_test(rfc3339_parse_valid),
        cmocka_unit_test(rfc3339_parse_invalid),
        cmocka_unit_test(rfc3339_round_trip),
        cmocka_unit_test(date_parse_values),
        cmocka_unit_test(parse_int_range_values),
        cmocka_unit_test(parse_bool_values),
        cmocka_unit_test(parse_duration_values),
        cmocka_unit_test(err_table_complete),
        cmocka_unit_test(log_escape_cases),
        cmocka_unit_test(log_escape_is_valid_json),
        cmocka_unit_test(log_level_names),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
