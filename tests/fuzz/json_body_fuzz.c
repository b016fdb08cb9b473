/*
 * json_body_fuzz.c - libFuzzer target for the JSON request-body path (core/json.h).
 *
 * Feeds the input to json_parse_strict exactly as the HTTP layer does for an
 * HTTP_BODY_JSON route. When it yields an object, runs json_check_fields and every typed
 * getter on the keys handlers use and on the first keys the input itself carries, each
 * required and optional, and checks their contracts: a getter that returns true recorded
 * nothing and gave a value inside its bounds; one that returns false recorded at most one
 * problem, and exactly one when the field was required. Also checks that
 * json_nesting_depth agrees with the depth of the parsed tree, and that a dump of the
 * value parses back strictly to an equal value.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const allowed_fields[] = {"name", "age", "weight_g", "active",
                                             "kind", "at",  "dob",      NULL};
static const char *const short_enum[] = {"birth", "visit", "vaccine", NULL};
/* long enough that the "must be one of" list is truncated */
static const char *const long_enum[] = {"antenatal_contact_first_trimester",
                                        "antenatal_contact_second_trimester",
                                        "antenatal_contact_third_trimester",
                                        "postnatal_contact_first_week",
                                        "postnatal_contact_sixth_week",
                                        "well_baby_visit",
                                        NULL};

/* 0..9999 years in days since the epoch (what date_parse can return). */
#define MIN_DAYS (-719528LL)
#define MAX_DAYS 2932896LL

static int tree_depth(const json_t *j)
{
    int best = 0;
    if (json_is_object(j)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            int d = tree_depth(val);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *val;
        json_array_foreach(j, i, val)
        {
            int d = tree_depth(val);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    return 0;
}

/* The shared part of every getter's contract; v is fresh for each call. */
static void check_result(json_t *obj, const char *key, bool required, bool ok,
                         const struct verrs *v)
{
    if (ok) {
        FUZZ_CHECK(v->n == 0);
        return;
    }
    FUZZ_CHECK(v->n <= 1);
    if (required)
        FUZZ_CHECK(v->n == 1);
    if (v->n == 0) {
        json_t *val = json_object_get(obj, key);
        FUZZ_CHECK(val == NULL || json_is_null(val));
    } else {
        FUZZ_CHECK(strlen(v->items[0].field) < sizeof(v->items[0].field));
        FUZZ_CHECK(strlen(v->items[0].message) < sizeof(v->items[0].message));
        FUZZ_CHECK(verrs_result(v) == MC_EBADREQ || verrs_result(v) == MC_EINVAL);
    }
}

static void run_getters(json_t *obj, const char *key, bool required)
{
    struct verrs v;
    bool ok;

    memset(&v, 0, sizeof(v));
    const char *s = NULL;
    ok = json_get_str(obj, key, required, 1, 100, &s, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(s != NULL && utf8_length(s) >= 1 && utf8_length(s) <= 100);

    memset(&v, 0, sizeof(v));
    long long i = 0;
    ok = json_get_int(obj, key, required, -1000, 150, &i, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(i >= -1000 && i <= 150);

    memset(&v, 0, sizeof(v));
    double d = 0;
    ok = json_get_num(obj, key, required, 200.0, 10000.0, &d, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(isfinite(d) && d >= 200.0 && d <= 10000.0);

    memset(&v, 0, sizeof(v));
    bool b = false;
    ok = json_get_bool(obj, key, required, &b, &v);
    check_result(obj, key, required, ok, &v);

    memset(&v, 0, sizeof(v));
    int e = -1;
    ok = json_get_enum(obj, key, required, short_enum, &e, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(e >= 0 && e < 3 &&
                   strcmp(json_string_value(json_object_get(obj, key)), short_enum[e]) == 0);

    memset(&v, 0, sizeof(v));
    ok = json_get_enum(obj, key, required, long_enum, &e, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(e >= 0 && e < 6);

    memset(&v, 0, sizeof(v));
    int64_t ms = 0;
    ok = json_get_instant(obj, key, required, &ms, &v);
    check_result(obj, key, required, ok, &v);
    if (ok) {
        int64_t again = 0;
        FUZZ_CHECK(rfc3339_parse(json_string_value(json_object_get(obj, key)), &again) == 0);
        FUZZ_CHECK(again == ms);
    }

    memset(&v, 0, sizeof(v));
    int64_t days = 0;
    ok = json_get_date(obj, key, required, &days, &v);
    check_result(obj, key, required, ok, &v);
    if (ok)
        FUZZ_CHECK(days >= MIN_DAYS && days <= MAX_DAYS);
}

static void exercise_object(json_t *obj)
{
    struct verrs all;
    memset(&all, 0, sizeof(all));
    json_check_fields(obj, allowed_fields, &all);
    /* every key outside the list is reported once (the count goes on past VERRS_MAX) */
    size_t unknown = 0;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool known = false;
        for (size_t k = 0; allowed_fields[k] != NULL; k++)
            known = known || strcmp(key, allowed_fields[k]) == 0;
        unknown += !known;
        (void)val;
    }
    FUZZ_CHECK((size_t)all.n == unknown);
    FUZZ_CHECK(verrs_result(&all) == (unknown ? MC_EBADREQ : 0));

    for (size_t k = 0; allowed_fields[k] != NULL; k++) {
        run_getters(obj, allowed_fields[k], false);
        run_getters(obj, allowed_fields[k], true);
    }
    int seen = 0;
    json_object_foreach(obj, key, val)
    {
        if (seen++ == 4)
            break;
        run_getters(obj, key, false);
        run_getters(obj, key, true);
    }
}

/* A compact dump of root must parse back strictly to an equal value. */
static void check_round_trip(json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL);
    json_t *again = NULL;
    char err[200] = "";
    FUZZ_CHECK(json_parse_strict(text, strlen(text), &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(json_equal(root, again));
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char err[200] = "";

    int shallow = json_nesting_depth(body, size, 3);
    FUZZ_CHECK(shallow >= 0 && shallow <= 4);

    json_t *root = NULL;
    int rc = json_parse_strict(body, size, &root, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == MC_EBADREQ && root == NULL);
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
        return 0;
    }
    FUZZ_CHECK(root != NULL);

    int depth = tree_depth(root);
    FUZZ_CHECK(depth <= JSON_MAX_DEPTH);
    FUZZ_CHECK(json_nesting_depth(body, size, JSON_MAX_DEPTH) == depth);
    FUZZ_CHECK(shallow == (depth > 3 ? 4 : depth));

    if (json_is_object(root))
        exercise_object(root);
    check_round_trip(root);
    json_decref(root);
    return 0;
}
