/*
 * rand.h - randomness and secret handling: the OS CSPRNG, constant-time compare,
 * UUIDv7 ids and base64url.
 */
#ifndef MC_CORE_RAND_H
#define MC_CORE_RAND_H

#include <stdbool.h>
#include <stddef.h>

/* Fills buf with n bytes from getrandom(2). Aborts if the kernel cannot supply them:
 * continuing without randomness would be worse than stopping. */
void mc_random_bytes(void *buf, size_t n);

/* Compares n bytes in time independent of their contents. */
bool mc_ct_equal(const void *a, const void *b, size_t n);

/* Compares two NUL-terminated secrets without leaking where they differ. */
bool mc_ct_streq(const char *a, const char *b);

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Writes a new RFC 9562 UUIDv7 ("0190c5e2-...") to out: 48-bit ms timestamp, random rest. */
void uuid_v7(char out[UUID_STR_LEN]);

/* True if s is exactly a canonical lower- or upper-case hyphenated UUID. */
bool uuid_valid(const char *s);

/* base64url without padding. Encoded length for n input bytes, excluding NUL. */
size_t b64url_encoded_len(size_t n);
/* Writes the encoding of in[0..n) and a NUL into out (size >= encoded_len + 1). */
void b64url_encode(const void *in, size_t n, char *out);
/* Decodes s (no padding, no whitespace) into out (capacity cap). Returns 0 and sets
 * *out_len, or MC_EBADREQ on any invalid character, impossible length or non-zero
 * trailing bits, or MC_ETOOBIG when cap is too small. */
int b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* Writes 2*n lower-case hex digits and a NUL to out. */
void mc_hex(const void *in, size_t n, char *out);

#endif
