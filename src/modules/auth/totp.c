/*
 * totp.c - RFC 6238 codes, the otpauth URI, its QR code as SVG, sealing of the shared
 * secret and recovery codes (see totp.h).
 */
#include "modules/auth/totp.h"
#include "core/err.h"
#include "core/rand.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_PREFIX "v1."
#define SEAL_RAW                                                                                   \
    (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + TOTP_SECRET_BYTES +                            \
     crypto_aead_xchacha20poly1305_ietf_ABYTES)

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_status = OATH_OK;

static void oath_start(void)
{
    oath_status = oath_init();
}

void totp_new_secret(unsigned char secret[TOTP_SECRET_BYTES])
{
    mc_random_bytes(secret, TOTP_SECRET_BYTES);
}

int totp_base32(const unsigned char *secret, size_t n, char out[TOTP_SECRET_B32_LEN])
{
    char *b32 = NULL;
    size_t len = 0;
    int rc = MC_EINVAL;
    pthread_once(&oath_once, oath_start);
    if (oath_status != OATH_OK ||
        oath_base32_encode((const char *)secret, n, &b32, &len) != OATH_OK)
        goto out;
    while (len > 0 && b32[len - 1] == '=') /* authenticator apps want no padding */
        len--;
    if (len >= TOTP_SECRET_B32_LEN)
        goto out;
    memcpy(out, b32, len);
    out[len] = '\0';
    rc = 0;
out:
    free(b32);
    return rc;
}

int64_t totp_step(int64_t now_s)
{
    return now_s / TOTP_STEP_S;
}

int totp_code(const unsigned char *secret, size_t n, int64_t step, unsigned digits, char *out)
{
    pthread_once(&oath_once, oath_start);
    if (oath_status != OATH_OK || step < 0 || digits < 6 || digits > 8)
        return MC_EINTERNAL;
    /* TOTP is HOTP over the step counter (RFC 6238 §4.2) */
    int rc = oath_hotp_generate((const char *)secret, n, (uint64_t)step, digits, false,
                                OATH_HOTP_DYNAMIC_TRUNCATION, out);
    return rc == OATH_OK ? 0 : MC_EINTERNAL;
}

bool totp_check(const unsigned char *secret, size_t n, int64_t now_s, const char *code,
                int64_t last_step, int64_t *step_out)
{
    if (strlen(code) != TOTP_DIGITS)
        return false;
    int64_t now_step = totp_step(now_s);
    int64_t found = -1;
    /* RFC 6238 §5.2: one step of clock drift either way; every candidate is computed
     * and compared so the time taken does not say which one matched */
    for (int64_t s = now_step - 1; s <= now_step + 1; s++) {
        char want[TOTP_CODE_MAX];
        if (totp_code(secret, n, s, TOTP_DIGITS, want) != 0)
            return false;
        bool eq = mc_ct_streq(want, code);
        if (eq && s > last_step && found < 0)
            found = s;
    }
    if (found < 0)
        return false;
    *step_out = found;
    return true;
}

int totp_uri(const char *email, const char *b32, struct buf *out)
{
    int rc = buf_puts(out, "otpauth://totp/Mimicare:");
    for (const unsigned char *p = (const unsigned char *)email; rc == 0 && *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~@", *p) != NULL;
        rc = plain ? buf_putc(out, (char)*p) : buf_printf(out, "%%%02X", *p);
    }
    if (rc == 0)
        rc = buf_printf(out, "?secret=%s&issuer=Mimicare", b32);
    return rc;
}

int totp_qr_svg(const char *text, struct buf *out)
{
    enum { QUIET = 4 }; /* ISO/IEC 18004 quiet zone, in modules */
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL)
        return MC_EINVAL;
    int size = qr->width + 2 * QUIET;
    int rc = buf_printf(out,
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
                        " shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\""
                        " fill=\"#fff\"/>",
                        size, size, size, size);
    for (int y = 0; rc == 0 && y < qr->width; y++)
        for (int x = 0; rc == 0 && x < qr->width; x++)
            if (qr->data[y * qr->width + x] & 1) /* bit 0: dark module */
                rc = buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"1\"/>",
                                x + QUIET, y + QUIET);
    if (rc == 0)
        rc = buf_puts(out, "</svg>");
    QRcode_free(qr);
    return rc;
}

/* The sealing key: BLAKE2b of the configured secret, then a KDF subkey of its own
 * context, so the API-key encryption that shares the secret never shares the key. */
static void seal_key(const char *master, unsigned char key[crypto_kdf_KEYBYTES])
{
    unsigned char root[crypto_kdf_KEYBYTES];
    crypto_generichash(root, sizeof(root), (const unsigned char *)master, strlen(master), NULL, 0);
    crypto_kdf_derive_from_key(key, crypto_kdf_KEYBYTES, 1, "mc_totp_", root);
    sodium_memzero(root, sizeof(root));
}

int totp_seal(const char *master, const char *user_id, const unsigned char *secret, size_t n,
              char *out, size_t cap)
{
    unsigned char key[crypto_kdf_KEYBYTES];
    unsigned char raw[SEAL_RAW];
    size_t plen = strlen(SEAL_PREFIX);
    if (n != TOTP_SECRET_BYTES || cap < plen + b64url_encoded_len(sizeof(raw)) + 1)
        return MC_EINVAL;
    seal_key(master, key);
    unsigned char *nonce = raw;
    mc_random_bytes(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    /* the user id is associated data: a row copied to another user does not open */
    crypto_aead_xchacha20poly1305_ietf_encrypt(raw + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               NULL, secret, n, (const unsigned char *)user_id,
                                               strlen(user_id), NULL, nonce, key);
    sodium_memzero(key, sizeof(key));
    memcpy(out, SEAL_PREFIX, plen);
    b64url_encode(raw, sizeof(raw), out + plen);
    return 0;
}

int totp_open(const char *master, const char *user_id, const char *sealed,
              unsigned char secret[TOTP_SECRET_BYTES])
{
    unsigned char key[crypto_kdf_KEYBYTES];
    unsigned char raw[SEAL_RAW];
    size_t plen = strlen(SEAL_PREFIX), len = 0;
    if (strncmp(sealed, SEAL_PREFIX, plen) != 0 ||
        b64url_decode(sealed + plen, strlen(sealed + plen), raw, sizeof(raw), &len) != 0 ||
        len != sizeof(raw))
        return MC_ECORRUPT;
    seal_key(master, key);
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        secret, NULL, NULL, raw + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
        sizeof(raw) - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)user_id,
        strlen(user_id), raw, key);
    sodium_memzero(key, sizeof(key));
    return rc == 0 ? 0 : MC_ECORRUPT;
}

void totp_recovery_new(char out[TOTP_RECOVERY_LEN])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char raw[16];
    mc_random_bytes(raw, sizeof(raw));
    size_t o = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        if (i > 0 && i % 4 == 0)
            out[o++] = '-';
        out[o++] = alphabet[raw[i] & 31]; /* 5 bits each: 80 bits in all */
    }
    out[o] = '\0';
    sodium_memzero(raw, sizeof(raw));
}

int totp_recovery_hash(const char *user_id, const char *code, char hash_hex[65])
{
    char norm[TOTP_RECOVERY_LEN];
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        if (n + 1 >= sizeof(norm))
            return MC_EINVAL;
        norm[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    }
    norm[n] = '\0';
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)user_id, strlen(user_id));
    crypto_hash_sha256_update(&st, (const unsigned char *)":", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)norm, n);
    crypto_hash_sha256_final(&st, h);
    mc_hex(h, sizeof(h), hash_hex);
    return 0;
}
