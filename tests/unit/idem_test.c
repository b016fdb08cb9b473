/*
 * idem_test.c - the Idempotency-Key syntax check of modules/idem; the claim, replay and
 * concurrency rules need a server and a database and run in tests/api/idempotency.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "modules/idem/idem.h"

#include <string.h>

static void key_syntax(void **state)
{
    (void)state;
    char k[IDEM_KEY_MAX + 2];
    assert_true(idem_key_valid("a"));
    assert_true(idem_key_valid("3f2b9c1e-retry ~!@#$%^&*()"));
    assert_false(idem_key_valid(""));
    assert_false(idem_key_valid("tab\there"));
    assert_false(idem_key_valid("bell\x07"));
    assert_false(idem_key_valid("del\x7f"));
    assert_false(idem_key_valid("caf\xc3\xa9")); /* ASCII only */
    memset(k, 'k', IDEM_KEY_MAX);
    k[IDEM_KEY_MAX] = '\0';
    assert_true(idem_key_valid(k));
    k[IDEM_KEY_MAX] = 'k';
    k[IDEM_KEY_MAX + 1] = '\0';
    assert_false(idem_key_valid(k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
