/*
 * sql_placeholder_fuzz.c - libFuzzer target for db_rewrite_placeholders (infra/db/db.h),
 * which turns SQLite-style '?' into PostgreSQL's $1, $2, ... outside quotes and comments.
 *
 * Checks on the NUL-terminated input: the result is never NULL; every '?' that was not
 * rewritten is still there and every inserted "$n" is new, so the output has exactly
 * count fewer '?' and count more '$' than the input; the length grows by the digits of
 * 1..count; "$1" .. "$count" appear in that order; and leaving out count changes nothing.
 */
#include "infra/db/db.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <string.h>

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static size_t ndigits(int n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = fuzz_cstr(data, size);
    int count = -1;
    char *out = db_rewrite_placeholders(sql, &count);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(count >= 0);

    size_t q_in = count_char(sql, '?'), q_out = count_char(out, '?');
    FUZZ_CHECK(q_out + (size_t)count == q_in);
    FUZZ_CHECK(count_char(out, '$') == count_char(sql, '$') + (size_t)count);

    size_t grow = 0;
    for (int k = 1; k <= count; k++)
        grow += ndigits(k);
    FUZZ_CHECK(strlen(out) == strlen(sql) + grow);

    const char *at = out;
    for (int k = 1; k <= count; k++) {
        char want[16];
        snprintf(want, sizeof(want), "$%d", k);
        at = strstr(at, want);
        FUZZ_CHECK(at != NULL);
        at += strlen(want);
    }

    /* count is optional and does not change the text */
    char *same = db_rewrite_placeholders(sql, NULL);
    FUZZ_CHECK(same != NULL && strcmp(same, out) == 0);
    free(same);
    free(out);
    free(sql);
    return 0;
}
