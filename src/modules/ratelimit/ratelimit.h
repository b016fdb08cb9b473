/*
 * ratelimit.h - fixed-window rate limits on top of the key-value store (infra/kv).
 *
 * A limit is a bucket (what is being limited, a constant chosen in code: "login:ip",
 * "api:user") and a subject (who: an address, an e-mail, a user id). Each check adds one
 * to the subject's counter for the current window, kept in kv under
 * "rl:<bucket>:<subject>", so every instance behind a load balancer shares the count when
 * kv is Redis. A store that cannot answer makes the check fail (MC_EUNAVAIL), and callers
 * answer 503: limits fail closed, never open (security.md I2).
 *
 * Subjects come from outside, so they are bounded before they become keys: compared
 * case-insensitively (ASCII), kept verbatim when short and made of safe characters, and
 * otherwise replaced by "h:" and the hex SHA-256 of the lower-cased subject.
 */
#ifndef MC_MODULES_RATELIMIT_H
#define MC_MODULES_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_res;
struct kv;

#define RL_BUCKET_MAX     32            /* longest bucket name */
#define RL_SUBJECT_MAX    64            /* longer subjects are hashed */
#define RL_WINDOW_MAX_S   (366 * 86400) /* longest window */
#define RL_IP_SUBJECT_LEN 64            /* buffer size for rl_ip_subject */

/* The outcome of one check, also what the RateLimit-* headers say. */
struct rl_result {
    long long limit;     /* requests allowed per window */
    long long remaining; /* requests left in this window after this one (0 when limited) */
    int64_t reset_s;     /* seconds until the window ends, 1..window */
    bool limited;        /* this request is over the limit: answer 429 */
};

/* Counts one request of subject against bucket's limit per window_s seconds and fills out.
 * bucket is 1..RL_BUCKET_MAX characters of [a-z0-9_.:-]; subject is any non-empty text
 * (borrowed, not kept). Returns 0 (see out->limited), MC_EINVAL (bad bucket, empty
 * subject, limit < 1, window outside 1..RL_WINDOW_MAX_S) or MC_EUNAVAIL (store down: the
 * caller answers 503). On any error out says "limited", so a caller that ignores the code
 * still fails closed. */
int rl_check(struct kv *kv, const char *bucket, const char *subject, long long limit,
             int64_t window_s, struct rl_result *out);

/* Adds RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds) to res and,
 * when r->limited, Retry-After with the same number of seconds. */
void rl_headers(struct http_res *res, const struct rl_result *r);

/* Writes the rate-limit subject for a client address to out (capacity >=
 * RL_IP_SUBJECT_LEN): an IPv4 address as is (also when IPv4-mapped), an IPv6 address as
 * its /64 prefix ("2001:db8:1:2::/64"), since one client usually holds a whole /64.
 * Anything that does not parse is copied (truncated) and left to rl_check to bound. */
void rl_ip_subject(const char *ip, char *out, size_t cap);

/* rl_check + rl_headers in one: 0 when under the limit; MC_ERATE with the headers and
 * detail (a client-safe sentence) set on res when over it; MC_EUNAVAIL when the store is
 * unreachable (the caller answers 503: limits fail closed). */
int rl_enforce(struct kv *kv, struct http_res *res, const char *bucket, const char *subject,
               long long limit, int64_t window_s, const char *detail);

#endif
