/*
 * jwt_fuzz.c - the access-token path a request's Authorization header takes:
 * auth_parse_bearer, then jwt_verify. Mode byte 0 feeds the input as the header value;
 * mode 1 treats the input as "header JSON \n payload JSON", signs it with the test key
 * (so the fuzzer reaches the header and claim checks behind the signature) and verifies.
 * Invariants: an accepted token has UUID sub/sid/jti and exp after now.
 */
#include "core/rand.h"
#include "fuzz_util.h"
#include "modules/auth/auth.h"
#include "modules/auth/jwt.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char key[] = "fuzz-key-0123456789abcdefghijklmnopqrstuv";
static const int64_t now = 1796310000;

static void check(const char *token)
{
    struct jwt_keys k = {(const unsigned char *)key, strlen(key), "mimicare", "mimicare-api"};
    struct jwt_claims c;
    const char *why = NULL;
    if (jwt_verify(&k, token, now, &c, &why) == 0) {
        FUZZ_CHECK(uuid_valid(c.sub) && uuid_valid(c.sid) && uuid_valid(c.jti));
        FUZZ_CHECK(c.exp > now);
        FUZZ_CHECK(why == NULL);
    } else {
        FUZZ_CHECK(why != NULL);
    }
}

static void signed_variant(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL)
        return;
    size_t hl = (size_t)(nl - data), pl = size - hl - 1;
    if (hl > 512 || pl > 1024)
        return;
    char tok[JWT_MAX_LEN * 2];
    b64url_encode(data, hl, tok);
    size_t n = strlen(tok);
    tok[n++] = '.';
    b64url_encode(nl + 1, pl, tok + n);
    n += strlen(tok + n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, n);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[n++] = '.';
    b64url_encode(mac, sizeof(mac), tok + n);
    check(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = sodium_init() >= 0 ? 1 : -1;
    if (size < 1 || ready < 0)
        return 0;
    if (data[0] & 1) {
        signed_variant(data + 1, size - 1);
        return 0;
    }
    char *header = fuzz_cstr(data + 1, size - 1);
    const char *token = auth_parse_bearer(header);
    if (token != NULL) {
        FUZZ_CHECK(token >= header && token < header + size);
        FUZZ_CHECK(strlen(token) <= JWT_MAX_LEN);
        check(token);
    }
    free(header);
    return 0;
}
