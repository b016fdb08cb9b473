/*
 * duration_fuzz.c - libFuzzer target for the scalar parsers (core/parse.h).
 *
 * Gives the NUL-terminated input to parse_duration, parse_int_range (several ranges) and
 * parse_bool. Checks: a parsed duration lies in 0..10 years and came from digits with at
 * most one unit suffix; a parsed integer lies in its range and came from an optional '-'
 * and digits only; a parsed boolean came from one of the eight accepted words. Rejections
 * use only the documented codes.
 */
#include "core/err.h"
#include "core/parse.h"
#include "fuzz_util.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

#define TEN_YEARS_S (10LL * 366 * 86400)

static bool digits_only(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void check_duration(const char *s)
{
    int64_t secs = -1;
    int rc = parse_duration(s, &secs);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ || rc == MC_EINVAL);
    if (rc != 0)
        return;
    FUZZ_CHECK(secs >= 0 && secs <= TEN_YEARS_S);
    size_t n = strlen(s);
    char last = s[n - 1];
    bool unit = last == 's' || last == 'm' || last == 'h' || last == 'd';
    FUZZ_CHECK(digits_only(s, unit ? n - 1 : n));
}

static void check_int(const char *s, long long min, long long max)
{
    long long v = 0;
    int rc = parse_int_range(s, min, max, &v);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ || rc == MC_EINVAL);
    if (rc != 0)
        return;
    FUZZ_CHECK(v >= min && v <= max);
    FUZZ_CHECK(digits_only(s[0] == '-' ? s + 1 : s, strlen(s[0] == '-' ? s + 1 : s)));
}

static void check_bool(const char *s)
{
    static const char *const words[] = {"true", "1", "yes", "on", "false", "0", "no", "off"};
    bool b = false;
    int rc = parse_bool(s, &b);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ);
    if (rc != 0)
        return;
    int hit = -1;
    for (int i = 0; i < 8 && hit < 0; i++)
        if (strcasecmp(s, words[i]) == 0)
            hit = i;
    FUZZ_CHECK(hit >= 0 && b == (hit < 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    check_duration(s);
    check_int(s, LLONG_MIN, LLONG_MAX);
    check_int(s, 0, 65535);
    check_int(s, -5, 5);
    check_int(s, 1, 0); /* empty range: never succeeds */
    check_bool(s);
    free(s);
    return 0;
}
