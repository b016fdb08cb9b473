/*
 * ratelimit.c - fixed-window rate limits: key building (bounded subjects), the check on
 * kv_incr_window, and the RateLimit-* response headers (see ratelimit.h).
 */
#include "modules/ratelimit/ratelimit.h"
#include "core/err.h"
#include "core/rand.h"
#include "http/http.h"
#include "infra/kv/kv.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEY_LEN (3 + RL_BUCKET_MAX + 1 + 2 + 2 * crypto_hash_sha256_BYTES + 1)

static bool bucket_ok(const char *b)
{
    size_t i = 0;
    for (; b[i] != '\0'; i++) {
        char ch = b[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
                  ch == ':' || ch == '-';
        if (!ok || i >= RL_BUCKET_MAX)
            return false;
    }
    return i > 0;
}

/* Characters a subject may keep verbatim: enough for addresses, prefixes, e-mails and
 * ids, nothing that could confuse a key, a log line or a shell. */
static bool subject_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == ':' ||
           ch == '@' || ch == '+' || ch == '-' || ch == '_' || ch == '/';
}

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Writes "rl:<bucket>:<subject'>" to key, where subject' is the lower-cased subject when
 * it is short and safe, else "h:" + hex SHA-256 of it. A verbatim subject is at most
 * RL_SUBJECT_MAX (64) characters and a hashed one 66, so the two never collide. */
static void build_key(const char *bucket, const char *subject, char key[KEY_LEN])
{
    size_t len = strlen(subject);
    bool verbatim = len <= RL_SUBJECT_MAX;
    for (size_t i = 0; verbatim && i < len; i++)
        verbatim = subject_char_ok(ascii_lower(subject[i]));
    if (verbatim) {
        int n = snprintf(key, KEY_LEN, "rl:%s:", bucket);
        for (size_t i = 0; i < len; i++)
            key[(size_t)n + i] = ascii_lower(subject[i]);
        key[(size_t)n + len] = '\0';
        return;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)ascii_lower(subject[i]);
        crypto_hash_sha256_update(&st, &ch, 1);
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    mc_hex(h, sizeof(h), hex);
    snprintf(key, KEY_LEN, "rl:%s:h:%s", bucket, hex);
}

int rl_check(struct kv *kv, const char *bucket, const char *subject, long long limit,
             int64_t window_s, struct rl_result *out)
{
    /* preset to "limited": a caller that ignores the return code still fails closed */
    *out = (struct rl_result){.limit = limit, .remaining = 0, .reset_s = 1, .limited = true};
    if (window_s >= 1 && window_s <= RL_WINDOW_MAX_S)
        out->reset_s = window_s;
    if (bucket == NULL || !bucket_ok(bucket) || subject == NULL || subject[0] == '\0' ||
        limit < 1 || window_s < 1 || window_s > RL_WINDOW_MAX_S)
        return MC_EINVAL;
    char key[KEY_LEN];
    build_key(bucket, subject, key);
    long long count = 0;
    int64_t reset_ms = 0;
    int rc = kv_incr_window(kv, key, window_s * 1000, &count, &reset_ms);
    if (rc != 0)
        return rc;
    int64_t reset_s = (reset_ms + 999) / 1000;
    out->reset_s = reset_s < 1 ? 1 : reset_s > window_s ? window_s : reset_s;
    out->limited = count > limit;
    out->remaining = out->limited ? 0 : limit - count;
    return 0;
}

void rl_headers(struct http_res *res, const struct rl_result *r)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", r->limit);
    http_res_header(res, "RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%lld", r->remaining);
    http_res_header(res, "RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->reset_s);
    http_res_header(res, "RateLimit-Reset", v);
    if (r->limited)
        http_res_header(res, "Retry-After", v);
}

void rl_ip_subject(const char *ip, char *out, size_t cap)
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    if (cap == 0)
        return;
    if (inet_pton(AF_INET, ip, a) == 1) {
        inet_ntop(AF_INET, a, text, sizeof(text));
        snprintf(out, cap, "%s", text);
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
            inet_ntop(AF_INET, a + 12, text, sizeof(text));
            snprintf(out, cap, "%s", text);
            return;
        }
        memset(a + 8, 0, 8);
        inet_ntop(AF_INET6, a, text, sizeof(text));
        snprintf(out, cap, "%s/64", text);
    } else {
        snprintf(out, cap, "%s", ip);
    }
}

int rl_enforce(struct kv *kv, struct http_res *res, const char *bucket, const char *subject,
               long long limit, int64_t window_s, const char *detail)
{
    struct rl_result r;
    if (rl_check(kv, bucket, subject, limit, window_s, &r) != 0)
        return MC_EUNAVAIL;
    rl_headers(res, &r);
    if (!r.limited)
        return 0;
    http_res_detail(res, "%s", detail);
    return MC_ERATE;
}
