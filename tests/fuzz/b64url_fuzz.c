/*
 * b64url_fuzz.c - libFuzzer target for unpadded base64url (core/rand.h).
 *
 * Decodes the raw input into a buffer of exactly the decoded size (so ASan sees any
 * overrun); a successful decode must re-encode to the very same text, because only the
 * canonical spelling is accepted. A buffer one byte short must give MC_ETOOBIG. Then
 * encodes the raw input, checks the encoded length and alphabet, and decodes it back to
 * identical bytes.
 */
#include "core/err.h"
#include "core/rand.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool alphabet_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void check_decode(const char *text, size_t len)
{
    if (len % 4 == 1) {
        unsigned char dummy[1];
        size_t n = 0;
        FUZZ_CHECK(b64url_decode(text, len, dummy, sizeof(dummy), &n) == MC_EBADREQ);
        return;
    }
    size_t need = (len / 4) * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    unsigned char *out = malloc(need ? need : 1);
    size_t n = 0;
    int rc = b64url_decode(text, len, out, need, &n);
    FUZZ_CHECK(rc == 0 || rc == MC_EBADREQ);
    if (rc == 0) {
        FUZZ_CHECK(n == need);
        FUZZ_CHECK(b64url_encoded_len(n) == len);
        char *again = malloc(len + 1);
        b64url_encode(out, n, again);
        FUZZ_CHECK(memcmp(again, text, len) == 0 && again[len] == '\0');
        free(again);
        if (need > 0)
            FUZZ_CHECK(b64url_decode(text, len, out, need - 1, &n) == MC_ETOOBIG);
    }
    free(out);
}

static void check_encode(const uint8_t *data, size_t size)
{
    size_t elen = b64url_encoded_len(size);
    char *text = malloc(elen + 1);
    b64url_encode(data, size, text);
    FUZZ_CHECK(strlen(text) == elen && alphabet_only(text, elen));
    unsigned char *back = malloc(size ? size : 1);
    size_t n = 0;
    FUZZ_CHECK(b64url_decode(text, elen, back, size, &n) == 0);
    FUZZ_CHECK(n == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode((const char *)data, size);
    check_encode(data, size);
    return 0;
}
