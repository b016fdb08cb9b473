/*
 * dotenv_fuzz.c - libFuzzer target for the .env parser (core/dotenv.h).
 *
 * Runs dotenv_parse on the raw input (the parser takes a length, so no NUL is added).
 * The callback checks every assignment it is handed: the key matches
 * [A-Za-z_][A-Za-z0-9_]* and the value is shorter than DOTENV_MAX_VALUE. A second pass
 * stops after the first assignment via a non-zero callback result, which dotenv_parse
 * must pass through unchanged. Errors must come with a "line N: ..." or NUL message.
 */
#include "core/dotenv.h"
#include "core/err.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define STOP_CODE 4242

struct ctx {
    int calls;      /* assignments seen */
    int stop_after; /* 0 = never stop, else return STOP_CODE on that call */
};

static bool key_ok(const char *k)
{
    if (!(*k == '_' || (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z')))
        return false;
    for (k++; *k; k++)
        if (!(*k == '_' || (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
              (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

static int on_pair(void *arg, const char *key, const char *value)
{
    struct ctx *c = arg;
    FUZZ_CHECK(key != NULL && value != NULL);
    FUZZ_CHECK(key_ok(key));
    FUZZ_CHECK(strnlen(value, DOTENV_MAX_VALUE) < DOTENV_MAX_VALUE);
    c->calls++;
    return c->stop_after != 0 && c->calls == c->stop_after ? STOP_CODE : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[128] = "";

    struct ctx all = {0, 0};
    int rc = dotenv_parse(text, size, on_pair, &all, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ);
    if (rc == MC_EBADREQ) {
        FUZZ_CHECK(strncmp(err, "line ", 5) == 0 || strstr(err, "NUL") != NULL);
        FUZZ_CHECK(strlen(err) < sizeof(err));
    }

    struct ctx first = {0, 1};
    int rc2 = dotenv_parse(text, size, on_pair, &first, err, sizeof(err));
    if (all.calls > 0)
        FUZZ_CHECK(rc2 == STOP_CODE && first.calls == 1);
    else
        FUZZ_CHECK(rc2 == rc && first.calls == 0);
    return 0;
}
