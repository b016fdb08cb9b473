/*
 * pwlist_test.c - unit tests for the embedded common/breached password list
 * (modules/auth/password_list): the index covers every line of both embedded files, the
 * lookup folds ASCII case, the trailing digits/symbols rule with its 8-character floor,
 * and what must not match (random strings, leading digits, short stems, non-ASCII).
 *
 * The first test also prints what indexing costs in resident memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/embed.h"
#include "core/rand.h"
#include "modules/auth/password_list.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void init_indexes_every_entry(void **state)
{
    (void)state;
    assert_int_equal(pwlist_size(), 0);
    long before = rss_kib();
    assert_int_equal(pwlist_init(), 0);
    long after = rss_kib();
    assert_int_equal(pwlist_init(), 0); /* idempotent */
    print_message("pwlist: %zu entries, RSS +%ld KiB at init\n", pwlist_size(), after - before);
    assert_true(pwlist_size() >= 10000);
    assert_true(pwlist_size() < 20000);
}

/* Calls fn for every line of an embedded file (copied, NUL-terminated). */
static size_t each_line(const char *file, void (*fn)(const char *line))
{
    const struct embed_file *f = embed_find(embed_passwords, file);
    assert_non_null(f);
    size_t count = 0;
    const char *p = (const char *)f->data, *end = p + f->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[256];
        assert_true(n > 0 && n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        fn(line);
        count++;
        p += n + 1;
    }
    return count;
}

static void assert_listed(const char *line)
{
    if (!pwlist_contains(line))
        fail_msg("not found: '%s'", line);
}

static void assert_listed_upper(const char *line)
{
    char up[256];
    size_t i = 0;
    for (; line[i] != '\0'; i++)
        up[i] = (line[i] >= 'a' && line[i] <= 'z') ? (char)(line[i] - 32) : line[i];
    up[i] = '\0';
    if (!pwlist_contains(up))
        fail_msg("not found in upper case: '%s'", up);
}

static void every_extra_line_is_listed(void **state)
{
    (void)state;
    assert_true(each_line("extra.txt", assert_listed) >= 5);
    each_line("extra.txt", assert_listed_upper);
    assert_true(pwlist_contains("password1234"));
    assert_true(pwlist_contains("mimicare1234"));
}

static void every_common_line_is_listed(void **state)
{
    (void)state;
    assert_true(each_line("common-passwords.txt", assert_listed) >= 10000);
}

static void case_is_folded(void **state)
{
    (void)state;
    assert_true(pwlist_contains("PASSWORD1234"));
    assert_true(pwlist_contains("PassWord1234"));
    assert_true(pwlist_contains("iLoveYou1234"));
    assert_true(pwlist_contains("QwErTyUiOp123"));
    assert_true(pwlist_contains("Dragon"));
}

static void trailing_digits_and_symbols_are_stripped(void **state)
{
    (void)state;
    assert_true(pwlist_contains("Password!2024"));
    assert_true(pwlist_contains("sunshine99!!"));
    assert_true(pwlist_contains("basketball 2024"));
    assert_true(pwlist_contains("trustno1!!!!"));      /* stops at the 8-char entry */
    assert_true(pwlist_contains("superman123456789")); /* 8-char stem, long tail */
    /* stems shorter than 8 characters are not looked up */
    assert_false(pwlist_contains("dragon!2024$"));
    assert_false(pwlist_contains("kitten123456"));
    assert_true(pwlist_contains("monkey123456")); /* but "monkey123" is itself listed */
    /* only the tail is stripped, and only digits and symbols */
    assert_false(pwlist_contains("1234password"));
    assert_false(pwlist_contains("passwordx1234"));
    assert_false(pwlist_contains("password1234x"));
}

static void unrelated_passwords_pass(void **state)
{
    (void)state;
    assert_false(pwlist_contains("vT7#qLm2!xR9wKp4"));
    assert_false(pwlist_contains("correct horse battery staple"));
    assert_false(pwlist_contains("pässwörd1234"));
    assert_false(pwlist_contains(""));
    for (int i = 0; i < 100; i++) {
        unsigned char raw[12];
        char pw[17];
        mc_random_bytes(raw, sizeof(raw));
        b64url_encode(raw, sizeof(raw), pw); /* 16 characters */
        assert_int_equal(strlen(pw), 16);
        if (pwlist_contains(pw))
            fail_msg("random password listed: '%s'", pw);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_indexes_every_entry),
        cmocka_unit_test(every_extra_line_is_listed),
        cmocka_unit_test(every_common_line_is_listed),
        cmocka_unit_test(case_is_folded),
        cmocka_unit_test(trailing_digits_and_symbols_are_stripped),
        cmocka_unit_test(unrelated_passwords_pass),
    };
    return cmocka_run_group_tests_name("pwlist", tests, NULL, NULL);
}
