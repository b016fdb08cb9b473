/*
 * policy_test.c - the decision rules of modules/care/policy (who may touch a patient's data),
 * without a database: the database-backed parts run in tests/api/access-matrix.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "modules/care/policy.h"

#include <string.h>

#define P1 "0190a0b0-0000-7000-8000-000000000001"
#define P2 "0190a0b0-0000-7000-8000-000000000002"
#define R  "unconscious, emergency"

static void patient_only_herself(void **state)
{
    (void)state;
    assert_int_equal(policy_decide("patient", P1, P1, POLICY_READ, NULL), POLICY_ALLOW);
    assert_int_equal(policy_decide("patient", P1, P1, POLICY_WRITE, NULL), POLICY_ALLOW);
    assert_int_equal(policy_decide("patient", P1, P2, POLICY_READ, NULL), POLICY_DENY);
    assert_int_equal(policy_decide("patient", P1, P2, POLICY_READ, R), POLICY_DENY);
    assert_int_equal(policy_decide("patient", P1, P1, POLICY_CARE | POLICY_ADMIN, NULL),
                     POLICY_DENY);
}

static void doctor_asks_the_care_team(void **state)
{
    (void)state;
    assert_int_equal(policy_decide("doctor", P1, P2, POLICY_READ, NULL), POLICY_ASK_CARE_TEAM);
    assert_int_equal(policy_decide("doctor", P1, P2, POLICY_WRITE, R), POLICY_ASK_CARE_TEAM);
    assert_int_equal(policy_decide("doctor", P1, P2, POLICY_SELF | POLICY_BREAK_GLASS, R),
                     POLICY_DENY);
    assert_int_equal(policy_decide("doctor", P1, P1, POLICY_SELF, NULL), POLICY_DENY);
}

static void admin_needs_break_glass(void **state)
{
    (void)state;
    assert_int_equal(policy_decide("admin", P1, P2, POLICY_READ, NULL), POLICY_DENY);
    assert_int_equal(policy_decide("admin", P1, P2, POLICY_READ, "abcd"), POLICY_DENY);
    assert_int_equal(policy_decide("admin", P1, P2, POLICY_READ, "abcde"), POLICY_ASK_BREAK_GLASS);
    assert_int_equal(policy_decide("admin", P1, P2, POLICY_WRITE, R), POLICY_DENY);
    assert_int_equal(policy_decide("admin", P1, P2, POLICY_SELF | POLICY_ADMIN, NULL),
                     POLICY_ALLOW);
}

static void unknown_or_missing_is_denied(void **state)
{
    (void)state;
    assert_int_equal(policy_decide("cli", P1, P2, POLICY_READ, R), POLICY_DENY);
    assert_int_equal(policy_decide(NULL, P1, P2, POLICY_READ, R), POLICY_DENY);
    assert_int_equal(policy_decide("patient", NULL, P2, POLICY_READ, NULL), POLICY_DENY);
    assert_int_equal(policy_decide("patient", P1, NULL, POLICY_READ, NULL), POLICY_DENY);
}

static void reasons(void **state)
{
    (void)state;
    char big[502];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(policy_reason_valid(NULL));
    assert_false(policy_reason_valid("four"));
    assert_true(policy_reason_valid("fives"));
    assert_true(policy_reason_valid("Notfall: Patientin bewusstlos \xc3\xa4"));
    assert_false(policy_reason_valid(big));
    big[500] = '\0';
    assert_true(policy_reason_valid(big));
    assert_false(policy_reason_valid("line\nbreak"));
    assert_false(policy_reason_valid("tab\there"));
    assert_false(policy_reason_valid("del \x7f char"));
    assert_false(policy_reason_valid("c1 \xc2\x85 char"));
    assert_false(policy_reason_valid("bad \xc3 utf8"));
    assert_false(policy_reason_valid("overlong \xc0\xaf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patient_only_herself),
        cmocka_unit_test(doctor_asks_the_care_team),
        cmocka_unit_test(admin_needs_break_glass),
        cmocka_unit_test(unknown_or_missing_is_denied),
        cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
