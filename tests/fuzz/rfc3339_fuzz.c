/*
 * rfc3339_fuzz.c - libFuzzer target for RFC 3339 instants and calendar dates
 * (core/timeutil.h).
 *
 * Parses the NUL-terminated input with rfc3339_parse; on success formats the instant
 * with rfc3339_format and parses that text again, which must succeed and give the same
 * milliseconds (a fraction finer than 1 ms is truncated by the first parse, so it cannot
 * make them differ), and formatting that again must give the same text. Also parses the
 * input with date_parse; a date must format back to the same ten characters and equal
 * midnight UTC of the same day when read as an instant.
 */
#include "core/err.h"
#include "core/timeutil.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Does out look like "YYYY-MM-DDTHH:MM:SS.mmmZ"? */
static bool formatted_shape(const char *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(out) != RFC3339_LEN - 1)
        return false;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        bool ok = shape[i] == 'd' ? (out[i] >= '0' && out[i] <= '9') : out[i] == shape[i];
        if (!ok)
            return false;
    }
    return true;
}

static void check_instant(const char *s)
{
    int64_t ms = 0;
    int rc = rfc3339_parse(s, &ms);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ);
    if (rc != 0)
        return;
    char out[RFC3339_LEN];
    rfc3339_format(ms, out);
    FUZZ_CHECK(formatted_shape(out));
    int64_t again = 0;
    FUZZ_CHECK(rfc3339_parse(out, &again) == 0);
    FUZZ_CHECK(again == ms);
    char out2[RFC3339_LEN];
    rfc3339_format(again, out2);
    FUZZ_CHECK(strcmp(out, out2) == 0);
}

static void check_date(const char *s)
{
    int64_t days = 0;
    int rc = date_parse(s, &days);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ);
    if (rc != 0)
        return;
    FUZZ_CHECK(strlen(s) == 10);
    char out[RFC3339_LEN];
    rfc3339_format(days * 86400000, out);
    FUZZ_CHECK(memcmp(out, s, 10) == 0);
    char midnight[32];
    snprintf(midnight, sizeof(midnight), "%sT00:00:00Z", s);
    int64_t ms = 0;
    FUZZ_CHECK(rfc3339_parse(midnight, &ms) == 0 && ms == days * 86400000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    check_instant(s);
    check_date(s);
    free(s);
    return 0;
}
