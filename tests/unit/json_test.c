/*
 * json_test.c - unit tests for core/json: the strict parser (duplicates, nesting depth,
 * UTF-8, NUL, empty and trailing input), field checking, every typed getter (absent,
 * null, wrong type → 400-class, out of range → 422-class), verrs bookkeeping and the
 * VERRS_MAX bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Parses a NUL-terminated literal; returns the rc and keeps the message. */
static int parse(const char *s, json_t **out, char *err)
{
    return json_parse_strict(s, strlen(s), out, err, 200);
}

static void expect_reject(const char *s)
{
    json_t *j = (json_t *)1;
    char err[200] = "";
    int rc = parse(s, &j, err);
    if (rc != MC_EBADREQ)
        print_error("accepted: %s\n", s);
    assert_int_equal(rc, MC_EBADREQ);
    assert_null(j);
    assert_true(strlen(err) > 0);
}

static json_t *expect_accept(const char *s)
{
    json_t *j = NULL;
    char err[200] = "";
    int rc = parse(s, &j, err);
    if (rc != 0)
        print_error("rejected: %.80s: %s\n", s, err);
    assert_int_equal(rc, 0);
    assert_non_null(j);
    return j;
}

/* Builds depth levels of arrays ("[[...1...]]") or objects ({"k":{"k":...1}}). */
static char *nested(int depth, bool objects)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < depth; i++)
        buf_puts(&b, objects ? "{\"k\":" : "[");
    buf_puts(&b, "1");
    for (int i = 0; i < depth; i++)
        buf_putc(&b, objects ? '}' : ']');
    return buf_steal(&b);
}

/* ---------------------------------------------------------------- parse ---- */

static void parse_rejects_duplicate_keys(void **state)
{
    (void)state;
    expect_reject("{\"a\":1,\"a\":2}");
    expect_reject("{\"a\":1,\"b\":2,\"a\":1}");
    expect_reject("{\"x\":{\"a\":1,\"a\":2}}");
    expect_reject("[{\"a\":1,\"a\":null}]");
    json_decref(expect_accept("[{\"a\":1},{\"a\":2}]"));
    json_decref(expect_accept("{\"a\":{\"a\":1}}"));
    json_decref(expect_accept("{\"a\":1,\"A\":2}"));
    char err[200];
    json_t *j;
    assert_int_equal(parse("{\"a\":1,\"a\":2}", &j, err), MC_EBADREQ);
    assert_non_null(strstr(err, "duplicate"));
}

static void parse_depth_limit(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        char *ok = nested(JSON_MAX_DEPTH, objects);
        char *bad = nested(JSON_MAX_DEPTH + 1, objects);
        json_decref(expect_accept(ok));
        expect_reject(bad);
        char err[200];
        json_t *j;
        assert_int_equal(parse(bad, &j, err), MC_EBADREQ);
        assert_non_null(strstr(err, "64"));
        assert_int_equal(json_nesting_depth(ok, strlen(ok), JSON_MAX_DEPTH), JSON_MAX_DEPTH);
        assert_int_equal(json_nesting_depth(bad, strlen(bad), JSON_MAX_DEPTH), JSON_MAX_DEPTH + 1);
        free(ok);
        free(bad);
    }
    /* mixed nesting counts both kinds; siblings do not add up */
    struct buf b = BUF_INIT;
    for (int i = 0; i < 32; i++)
        buf_puts(&b, "[{\"k\":");
    buf_puts(&b, "1");
    for (int i = 0; i < 32; i++)
        buf_puts(&b, "}]");
    json_decref(expect_accept(b.data));
    buf_reset(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < 200; i++)
        buf_puts(&b, i ? ",[[1]]" : "[[1]]");
    buf_putc(&b, ']');
    assert_int_equal(json_nesting_depth(b.data, b.len, JSON_MAX_DEPTH), 3);
    json_decref(expect_accept(b.data));
    buf_free(&b);
    /* a depth scan stops early and reports limit + 1 */
    assert_int_equal(json_nesting_depth("[[[[[", 5, 2), 3);
    assert_int_equal(json_nesting_depth("", 0, 2), 0);
}

static void parse_depth_ignores_strings(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    /* brackets inside a string are text */
    buf_puts(&b, "{\"s\":\"");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "[{");
    buf_puts(&b, "\"}");
    assert_int_equal(json_nesting_depth(b.data, b.len, JSON_MAX_DEPTH), 1);
    json_decref(expect_accept(b.data));
    /* an escaped quote does not end the string */
    buf_reset(&b);
    buf_puts(&b, "[\"a\\\"");
    for (int i = 0; i < 100; i++)
        buf_putc(&b, '[');
    buf_puts(&b, "\"]");
    assert_int_equal(json_nesting_depth(b.data, b.len, JSON_MAX_DEPTH), 1);
    json_decref(expect_accept(b.data));
    /* an escaped backslash does end the string: the nesting after it counts */
    buf_reset(&b);
    buf_puts(&b, "[\"a\\\\\"");
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        buf_puts(&b, ",[");
    buf_puts(&b, "1");
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        buf_putc(&b, ']');
    buf_putc(&b, ']');
    assert_int_equal(json_nesting_depth(b.data, b.len, JSON_MAX_DEPTH), JSON_MAX_DEPTH + 1);
    buf_free(&b);
    /* keys with brackets and escaped quotes */
    json_t *j = expect_accept("{\"[\\\"{\":\"}]\"}");
    assert_string_equal(json_string_value(json_object_get(j, "[\"{")), "}]");
    json_decref(j);
}

static void parse_rejects_bad_text(void **state)
{
    (void)state;
    expect_reject("\"\xff\"");           /* invalid UTF-8 */
    expect_reject("{\"a\":\"ab\xc3\"}"); /* truncated sequence */
    expect_reject("[\"\xc0\xaf\"]");     /* overlong */
    expect_reject("[\"\xed\xa0\x80\"]"); /* encoded surrogate */
    expect_reject("{\"\xff\":1}");       /* in a key */
    expect_reject("[\"\\u0000\"]");      /* NUL escape */
    expect_reject("{\"\\u0000\":1}");
    expect_reject("[\"\\ud800\"]"); /* lone surrogate escape */
    expect_reject("{} x");          /* trailing garbage */
    expect_reject("{}{}");
    expect_reject("1 2");
    expect_reject("[1,]");
    expect_reject("{\"a\":1,}");
    expect_reject("{'a':1}");
    expect_reject("[01]");
    expect_reject("[NaN]");
    expect_reject("[1e999]");
    expect_reject("[99999999999999999999]");
    expect_reject("   ");
    expect_reject("[1");
    /* a raw NUL byte inside the buffer */
    json_t *j = (json_t *)1;
    char err[200];
    assert_int_equal(json_parse_strict("[\"a\0b\"]", 7, &j, err, sizeof(err)), MC_EBADREQ);
    assert_null(j);
    assert_int_equal(json_parse_strict("{}\0", 3, &j, err, sizeof(err)), MC_EBADREQ);
    /* whitespace around a value is fine, and so are scalars at the top */
    json_decref(expect_accept(" \n\t{\"a\": [1, 2.5, \"x\", true, null]} \r\n"));
    json_decref(expect_accept("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
    json_decref(expect_accept("42"));
}

static void parse_empty_input(void **state)
{
    (void)state;
    json_t *j = (json_t *)1;
    char err[200] = "";
    assert_int_equal(json_parse_strict("", 0, &j, err, sizeof(err)), MC_EBADREQ);
    assert_null(j);
    assert_non_null(strstr(err, "empty"));
    /* len wins over the terminator: a non-empty string passed with length 0 is empty */
    assert_int_equal(json_parse_strict("{}", 0, &j, err, sizeof(err)), MC_EBADREQ);
}

static void parse_error_is_client_safe(void **state)
{
    (void)state;
    /* the reason names position and problem but does not echo the client's bytes */
    static const char *const inputs[] = {
        "{\"password\": \"hunter2secret",
        "{\"note\": \"unterminated private text",
        "{\"card\":4111111111111111,\"card\":1}",
        "[\"\\u0000private\"]",
    };
    static const char *const secrets[] = {"hunter2secret", "private", "card", "private"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        json_t *j;
        char err[200] = "";
        assert_int_equal(parse(inputs[i], &j, err), MC_EBADREQ);
        if (strstr(err, secrets[i]) != NULL)
            print_error("echoed input: %s\n", err);
        assert_null(strstr(err, secrets[i]));
        assert_non_null(strstr(err, "line 1"));
    }
    /* a tiny err buffer is truncated, never overrun */
    char small[8];
    memset(small, 'z', sizeof(small));
    json_t *j;
    assert_int_equal(json_parse_strict("[1", 2, &j, small, 5), MC_EBADREQ);
    assert_int_equal(strlen(small), 4);
    assert_int_equal(small[5], 'z');
}

/* -------------------------------------------------------------- fields ---- */

static json_t *obj(const char *text)
{
    json_t *j = NULL;
    char err[200];
    int rc = parse(text, &j, err);
    if (rc != 0)
        print_error("fixture: %s\n", err);
    assert_int_equal(rc, 0);
    return j;
}

static void check_fields_unknown(void **state)
{
    (void)state;
    static const char *const allowed[] = {"name", "age", NULL};
    struct verrs v = {0};
    json_t *j = obj("{\"name\":\"x\",\"age\":1}");
    json_check_fields(j, allowed, &v);
    assert_int_equal(v.n, 0);
    assert_int_equal(verrs_result(&v), 0);
    json_decref(j);

    j = obj("{\"name\":\"x\",\"role\":\"admin\",\"Age\":3}");
    json_check_fields(j, allowed, &v);
    assert_int_equal(v.n, 2);
    assert_true(v.structural);
    assert_int_equal(verrs_result(&v), MC_EBADREQ);
    assert_int_equal(mc_err_http(verrs_result(&v))->http_status, 400);
    bool role = false, age = false;
    for (int i = 0; i < v.n; i++) {
        role = role || strcmp(v.items[i].field, "role") == 0;
        age = age || strcmp(v.items[i].field, "Age") == 0;
        assert_string_equal(v.items[i].message, "unknown field");
    }
    assert_true(role && age);
    json_decref(j);

    /* a hostile key is bounded and reduced to printable ASCII */
    memset(&v, 0, sizeof(v));
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"a\\u001b[31m\\n\xc3\xa9");
    for (int i = 0; i < 200; i++)
        buf_putc(&b, 'k');
    buf_puts(&b, "\":1}");
    j = obj(b.data);
    json_check_fields(j, allowed, &v);
    assert_int_equal(v.n, 1);
    const char *f = v.items[0].field;
    assert_true(strlen(f) < 48);
    for (const char *p = f; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_int_equal(strncmp(f, "a?[31m??", 8), 0);
    json_decref(j);
    buf_free(&b);
}

static void get_str(void **state)
{
    (void)state;
    json_t *j = obj("{\"s\":\"h\xc3\xa9llo\",\"n\":5,\"e\":\"\",\"z\":null,\"long\":\"abcdef\"}");
    struct verrs v = {0};
    const char *out = NULL;
    /* length in code points: "héllo" is 5, not 6 bytes */
    assert_true(json_get_str(j, "s", true, 5, 5, &out, &v));
    assert_string_equal(out, "h\xc3\xa9llo");
    assert_int_equal(v.n, 0);
    assert_true(json_get_str(j, "e", true, 0, 5, &out, &v));
    assert_string_equal(out, "");
    assert_int_equal(v.n, 0);

    out = NULL;
    assert_false(json_get_str(j, "absent", false, 1, 5, &out, &v));
    assert_false(json_get_str(j, "z", false, 1, 5, &out, &v));
    assert_int_equal(v.n, 0); /* optional absent / null: no problem */
    assert_null(out);

    assert_false(json_get_str(j, "long", true, 1, 5, &out, &v)); /* 6 > 5 */
    assert_int_equal(v.n, 1);
    assert_false(v.structural);
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_string_equal(v.items[0].field, "long");
    assert_string_equal(v.items[0].message, "must be 1 to 5 characters long");
    assert_false(json_get_str(j, "e", true, 1, 5, &out, &v)); /* empty < 1 */
    assert_int_equal(v.n, 2);
    assert_int_equal(verrs_result(&v), MC_EINVAL);

    assert_false(json_get_str(j, "n", true, 0, 5, &out, &v)); /* wrong type */
    assert_int_equal(v.n, 3);
    assert_string_equal(v.items[2].field, "n");
    assert_string_equal(v.items[2].message, "must be a string");
    assert_true(v.structural);
    assert_int_equal(verrs_result(&v), MC_EBADREQ);

    assert_false(json_get_str(j, "missing", true, 0, 5, &out, &v));
    assert_false(json_get_str(j, "z", true, 0, 5, &out, &v)); /* null counts as missing */
    assert_int_equal(v.n, 5);
    assert_string_equal(v.items[3].field, "missing");
    assert_string_equal(v.items[3].message, "is required");
    assert_string_equal(v.items[4].field, "z");
    assert_null(out);
    /* wrong type even when optional */
    struct verrs w = {0};
    assert_false(json_get_str(j, "n", false, 0, 5, &out, &w));
    assert_int_equal(verrs_result(&w), MC_EBADREQ);
    json_decref(j);
}

static void get_int(void **state)
{
    (void)state;
    json_t *j = obj("{\"i\":7,\"lo\":-5,\"r\":1.5,\"whole\":2.0,\"s\":\"7\",\"b\":true,"
                    "\"big\":9223372036854775807,\"z\":null}");
    struct verrs v = {0};
    long long out = 0;
    assert_true(json_get_int(j, "i", true, 7, 7, &out, &v));
    assert_true(out == 7);
    assert_true(json_get_int(j, "lo", true, -5, 0, &out, &v));
    assert_true(out == -5);
    assert_true(json_get_int(j, "big", true, 0, INT64_MAX, &out, &v));
    assert_true(out == INT64_MAX);
    assert_false(json_get_int(j, "z", false, 0, 1, &out, &v));
    assert_false(json_get_int(j, "nope", false, 0, 1, &out, &v));
    assert_int_equal(v.n, 0);

    out = 123;
    assert_false(json_get_int(j, "i", true, 0, 6, &out, &v));   /* above */
    assert_false(json_get_int(j, "lo", true, -4, 0, &out, &v)); /* below */
    assert_int_equal(v.n, 2);
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_string_equal(v.items[0].message, "must be between 0 and 6");
    assert_string_equal(v.items[1].message, "must be between -4 and 0");
    assert_true(out == 123);

    static const char *const wrong[] = {"r", "whole", "s", "b"};
    for (size_t i = 0; i < 4; i++) {
        struct verrs w = {0};
        assert_false(json_get_int(j, wrong[i], true, 0, 100, &out, &w));
        assert_int_equal(w.n, 1);
        assert_string_equal(w.items[0].field, wrong[i]);
        assert_string_equal(w.items[0].message, "must be an integer");
        assert_int_equal(verrs_result(&w), MC_EBADREQ);
    }
    struct verrs m = {0};
    assert_false(json_get_int(j, "nope", true, 0, 1, &out, &m));
    assert_int_equal(verrs_result(&m), MC_EBADREQ);
    assert_string_equal(m.items[0].message, "is required");
    json_decref(j);
}

static void get_num(void **state)
{
    (void)state;
    json_t *j = obj("{\"d\":36.6,\"i\":40,\"neg\":-0.5,\"s\":\"36.6\",\"a\":[1]}");
    struct verrs v = {0};
    double out = 0;
    assert_true(json_get_num(j, "d", true, 30, 45, &out, &v));
    assert_true(out > 36.59 && out < 36.61);
    assert_true(json_get_num(j, "i", true, 40, 40, &out, &v)); /* integers are numbers */
    assert_true(out == 40.0);
    assert_true(json_get_num(j, "neg", false, -1, 0, &out, &v));
    assert_int_equal(v.n, 0);
    assert_false(json_get_num(j, "d", true, 37, 45, &out, &v));
    assert_false(json_get_num(j, "i", true, 0, 39.999, &out, &v));
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_int_equal(v.n, 2);
    struct verrs w = {0};
    assert_false(json_get_num(j, "s", true, 0, 100, &out, &w));
    assert_false(json_get_num(j, "a", true, 0, 100, &out, &w));
    assert_int_equal(w.n, 2);
    assert_string_equal(w.items[1].message, "must be a number");
    assert_int_equal(verrs_result(&w), MC_EBADREQ);
    json_decref(j);
}

static void get_bool(void **state)
{
    (void)state;
    json_t *j = obj("{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"z\":null}");
    struct verrs v = {0};
    bool out = false;
    assert_true(json_get_bool(j, "t", true, &out, &v));
    assert_true(out);
    assert_true(json_get_bool(j, "f", true, &out, &v));
    assert_false(out);
    assert_false(json_get_bool(j, "z", false, &out, &v));
    assert_int_equal(v.n, 0);
    assert_false(json_get_bool(j, "one", true, &out, &v));
    assert_false(json_get_bool(j, "s", false, &out, &v));
    assert_false(json_get_bool(j, "z", true, &out, &v));
    assert_int_equal(v.n, 3);
    assert_string_equal(v.items[0].message, "must be true or false");
    assert_string_equal(v.items[2].message, "is required");
    assert_int_equal(verrs_result(&v), MC_EBADREQ);
    json_decref(j);
}

static void get_enum(void **state)
{
    (void)state;
    static const char *const roles[] = {"patient", "clinician", "admin", NULL};
    json_t *j = obj("{\"r\":\"clinician\",\"bad\":\"Admin\",\"n\":2}");
    struct verrs v = {0};
    int idx = -1;
    assert_true(json_get_enum(j, "r", true, roles, &idx, &v));
    assert_int_equal(idx, 1);
    assert_false(json_get_enum(j, "none", false, roles, &idx, &v));
    assert_int_equal(v.n, 0);
    assert_false(json_get_enum(j, "bad", true, roles, &idx, &v)); /* case matters */
    assert_int_equal(v.n, 1);
    assert_string_equal(v.items[0].field, "bad");
    assert_string_equal(v.items[0].message, "must be one of: patient, clinician, admin");
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_false(json_get_enum(j, "n", true, roles, &idx, &v));
    assert_string_equal(v.items[1].message, "must be a string");
    assert_int_equal(verrs_result(&v), MC_EBADREQ);
    assert_int_equal(idx, 1);

    /* a long value list is cut to fit, never overflowing the message */
    static const char *const many[] = {
        "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccc",
        "dddddddddddddddddddd", "eeeeeeeeeeeeeeeeeeee", "ffffffffffffffffffff",
        "gggggggggggggggggggg", "hhhhhhhhhhhhhhhhhhhh", NULL};
    struct verrs w = {0};
    assert_false(json_get_enum(j, "bad", true, many, &idx, &w));
    assert_int_equal(w.n, 1);
    assert_int_equal(strncmp(w.items[0].message, "must be one of: aaaa", 20), 0);
    assert_true(strlen(w.items[0].message) < sizeof(w.items[0].message));
    assert_null(strstr(w.items[0].message, "hhhh"));
    json_decref(j);
}

static void get_instant_and_date(void **state)
{
    (void)state;
    json_t *j = obj("{\"at\":\"2024-02-29T12:00:00+01:00\",\"bad\":\"2023-02-29T12:00:00Z\","
                    "\"n\":1709164800000,\"d\":\"2024-02-29\",\"dbad\":\"2023-02-29\","
                    "\"dlong\":\"2024-02-29T00:00:00Z\",\"empty\":\"\","
                    "\"huge\":\"2024-02-29T12:00:00.123456789+01:00 and some more text\"}");
    struct verrs v = {0};
    int64_t ms = 0, days = 0;
    assert_true(json_get_instant(j, "at", true, &ms, &v));
    assert_true(ms == 1709164800000LL + 11 * 3600000LL);
    assert_true(json_get_date(j, "d", true, &days, &v));
    assert_true(days == 1709164800 / 86400);
    assert_false(json_get_instant(j, "none", false, &ms, &v));
    assert_false(json_get_date(j, "none", false, &days, &v));
    assert_int_equal(v.n, 0);

    assert_false(json_get_instant(j, "bad", true, &ms, &v));
    assert_string_equal(v.items[0].message, "must be an RFC 3339 date-time");
    assert_false(json_get_date(j, "dbad", true, &days, &v));
    assert_string_equal(v.items[1].message, "must be a date YYYY-MM-DD");
    assert_false(json_get_date(j, "dlong", true, &days, &v));
    assert_false(json_get_instant(j, "empty", true, &ms, &v));
    assert_false(json_get_instant(j, "huge", true, &ms, &v));
    assert_int_equal(v.n, 5);
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_true(ms == 1709164800000LL + 11 * 3600000LL); /* untouched by failures */

    struct verrs w = {0};
    assert_false(json_get_instant(j, "n", true, &ms, &w)); /* epoch numbers are not instants */
    assert_false(json_get_date(j, "missing", true, &days, &w));
    assert_int_equal(w.n, 2);
    assert_string_equal(w.items[0].message, "must be a string");
    assert_string_equal(w.items[1].message, "is required");
    assert_int_equal(verrs_result(&w), MC_EBADREQ);
    json_decref(j);
}

/* --------------------------------------------------------------- verrs ---- */

static void verrs_result_codes(void **state)
{
    (void)state;
    struct verrs v = {0};
    assert_int_equal(verrs_result(&v), 0);
    verrs_add(&v, MC_EINVAL, "a", "bad %d", 1);
    assert_int_equal(verrs_result(&v), MC_EINVAL);
    assert_int_equal(mc_err_http(verrs_result(&v))->http_status, 422);
    verrs_add(&v, MC_EBADREQ, NULL, "whole body");
    assert_int_equal(verrs_result(&v), MC_EBADREQ);
    assert_string_equal(v.items[1].field, "");
    verrs_add(&v, MC_EINVAL, "b", "later value problems keep it structural");
    assert_int_equal(verrs_result(&v), MC_EBADREQ);
    assert_string_equal(v.items[0].message, "bad 1");
}

static void verrs_overflow_is_bounded(void **state)
{
    (void)state;
    struct {
        struct verrs v;
        unsigned char canary[256];
    } s;
    memset(&s, 0, sizeof(s));
    memset(s.canary, 0xa5, sizeof(s.canary));
    char longfield[300];
    memset(longfield, 'f', sizeof(longfield) - 1);
    longfield[sizeof(longfield) - 1] = '\0';
    for (int i = 0; i < 100; i++)
        verrs_add(&s.v, MC_EINVAL, i % 2 ? longfield : "x", "problem %d %s", i, longfield);
    assert_int_equal(s.v.n, 100);
    for (size_t i = 0; i < sizeof(s.canary); i++)
        assert_int_equal(s.canary[i], 0xa5);
    /* the kept items are the first VERRS_MAX, truncated to their arrays */
    assert_string_equal(s.v.items[0].field, "x");
    assert_int_equal(strlen(s.v.items[1].field), sizeof(s.v.items[1].field) - 1);
    assert_int_equal(strncmp(s.v.items[VERRS_MAX - 1].message, "problem 15 ", 11), 0);
    assert_int_equal(strlen(s.v.items[3].message), sizeof(s.v.items[3].message) - 1);
    assert_int_equal(verrs_result(&s.v), MC_EINVAL);
    /* a structural problem past the bound still decides the status */
    verrs_add(&s.v, MC_EBADREQ, "late", "wrong type");
    assert_int_equal(verrs_result(&s.v), MC_EBADREQ);
    assert_int_equal(s.canary[0], 0xa5);
}

static void utf8_length_counts_code_points(void **state)
{
    (void)state;
    assert_int_equal(utf8_length(""), 0);
    assert_int_equal(utf8_length("abc"), 3);
    assert_int_equal(utf8_length("caf\xc3\xa9"), 4);
    assert_int_equal(utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects_duplicate_keys),
        cmocka_unit_test(parse_depth_limit),
        cmocka_unit_test(parse_depth_ignores_strings),
        cmocka_unit_test(parse_rejects_bad_text),
        cmocka_unit_test(parse_empty_input),
        cmocka_unit_test(parse_error_is_client_safe),
        cmocka_unit_test(check_fields_unknown),
        cmocka_unit_test(get_str),
        cmocka_unit_test(get_int),
        cmocka_unit_test(get_num),
        cmocka_unit_test(get_bool),
        cmocka_unit_test(get_enum),
        cmocka_unit_test(get_instant_and_date),
        cmocka_unit_test(verrs_result_codes),
        cmocka_unit_test(verrs_overflow_is_bounded),
        cmocka_unit_test(utf8_length_counts_code_points),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
