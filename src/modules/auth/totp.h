/*
 * totp.h - the TOTP second factor's pure parts: RFC 6238 codes (SHA-1, 6 digits,
 * 30 s steps, one step either side) through liboath, the replay rule (a step is
 * accepted once: only steps after the last accepted one count), the otpauth:// URI and
 * its QR code as SVG (libqrencode), sealing the secret at rest (XChaCha20-Poly1305 under
 * a key derived from API_KEY_ENCRYPTION_SECRET) and single-use recovery codes.
 *
 * Nothing here touches the database or HTTP; mfa_http.c stores and serves these.
 */
#ifndef MC_AUTH_TOTP_H
#define MC_AUTH_TOTP_H

#include "core/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES   20 /* RFC 4226 §4 R6: 160-bit shared secret */
#define TOTP_SECRET_B32_LEN 33 /* 32 base32 characters + NUL */
#define TOTP_DIGITS         6
#define TOTP_STEP_S         30 /* RFC 6238 §5.2 default */
#define TOTP_CODE_MAX       9  /* up to 8 digits + NUL */
#define TOTP_SEALED_MAX     128
#define TOTP_RECOVERY_COUNT 10
#define TOTP_RECOVERY_LEN   20 /* "xxxx-xxxx-xxxx-xxxx" (80 bits) + NUL */

/* Fills secret with TOTP_SECRET_BYTES from the OS CSPRNG. */
void totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES]);

/* Writes the RFC 4648 base32 form (upper case, no padding) of secret[0..n) to out.
 * Returns 0, or MC_EINVAL if it would not fit. */
int totp_base32(const unsigned char *secret, size_t n, char out[TOTP_SECRET_B32_LEN]);

/* The time step containing unix time now_s. */
int64_t totp_step(int64_t now_s);

/* Writes the digits-long code (6..8) for step into out (>= TOTP_CODE_MAX bytes).
 * Returns 0 or MC_EINTERNAL. */
int totp_code(const unsigned char *secret, size_t n, int64_t step, unsigned digits, char *out);

/* True if code is the 6-digit code of a step within one of now_s's step and later than
 * last_step (-1 = none used yet); *step_out is then the matched step, to be stored as
 * the new last step. Every candidate is compared in constant time. */
bool totp_check(const unsigned char *secret, size_t n, int64_t now_s, const char *code,
                int64_t last_step, int64_t *step_out);

/* Appends "otpauth://totp/Mimicare:<email>?secret=<b32>&issuer=Mimicare" to out, the
 * e-mail percent-encoded. Returns 0 or MC_ETOOBIG. */
int totp_uri(const char *email, const char *b32, struct buf *out);

/* Appends an SVG image of text's QR code (level M, 4-module quiet zone, one <rect> per
 * dark module) to out. Returns 0, MC_EINVAL if text cannot be encoded, or MC_ETOOBIG. */
int totp_qr_svg(const char *text, struct buf *out);

/* Seals secret[0..n) (n <= TOTP_SECRET_BYTES) for user_id with a key derived from
 * master; writes "v1.<base64url(nonce | ciphertext)>" to out (cap bytes). Returns 0 or
 * MC_EINVAL. */
int totp_seal(const char *master, const char *user_id, const unsigned char *secret, size_t n,
              char *out, size_t cap);

/* Opens what totp_seal wrote for the same user_id into secret (TOTP_SECRET_BYTES).
 * Returns 0, or MC_ECORRUPT when it is malformed, was sealed for someone else or under
 * another key. */
int totp_open(const char *master, const char *user_id, const char *sealed,
              unsigned char secret[TOTP_SECRET_BYTES]);

/* A new random recovery code "xxxx-xxxx-xxxx-xxxx" (lower-case base32 alphabet). */
void totp_recovery_new(char out[TOTP_RECOVERY_LEN]);

/* SHA-256 hex of user_id ":" the code normalised (ASCII lower case, '-' and spaces
 * dropped). The user id salts the hash so equal codes of two users never collide.
 * Returns 0, or MC_EINVAL for a code that is too long to be one. */
int totp_recovery_hash(const char *user_id, const char *code, char hash_hex[65]);

#endif
