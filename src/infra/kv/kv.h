/*
 * kv.h - the key-value store behind rate limits, lockouts, caches and sessions' hot state.
 *
 * One API over two backends, chosen by configuration at start-up (design guide, "Backends
 * and how they start"): an in-process table (mutex + hash table with per-entry expiry,
 * bounded) when REDIS_HOST is empty, and Redis through hiredis when it is set.
 *
 * The store never holds the only copy of anything that matters. Every operation either
 * does what it says or returns an error: when Redis is unreachable the answer is
 * MC_EUNAVAIL, never a pretended success, so callers that guard something (rate limits,
 * lockouts) fail closed with 503. The Redis backend reconnects by itself once Redis is back.
 *
 * Keys are namespaced by the caller ("rl:login:ip:203.0.113.7"): 1..KV_KEY_MAX bytes of
 * printable ASCII without spaces (callers hash or escape anything else). Values are NUL-terminated
 * strings of at most KV_VALUE_MAX bytes. All functions are thread-safe.
 */
#ifndef MC_INFRA_KV_H
#define MC_INFRA_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX   512  /* longest key in bytes */
#define KV_VALUE_MAX 8192 /* longest value in bytes, excluding the NUL */

struct config;
struct kv;

/* Opens the store the configuration asks for: Redis (REDIS_HOST, REDIS_PORT,
 * REDIS_PASSWORD, REDIS_DB) when REDIS_HOST is set, else the in-process table. A Redis
 * that is down or refuses the password at start is not fatal: it is logged, kv_ping
 * reports it and operations fail with MC_EUNAVAIL until it answers. Returns 0, or
 * MC_ECONFIG with a message in err (e.g. REDIS_TLS=true with a hiredis without TLS).
 * Free with kv_close. */
int kv_open(const struct config *cfg, struct kv **out, char *err, size_t errlen);

/* Closes every connection and frees kv. No call may be in progress. NULL is ignored. */
void kv_close(struct kv *kv);

/* "memory" or "redis". Never NULL. */
const char *kv_backend_name(const struct kv *kv);

/* A round trip to the backend (Redis PING). Returns 0 or MC_EUNAVAIL. */
int kv_ping(struct kv *kv);

/* Fixed-window counter: atomically adds 1 to key's integer value (a missing key counts
 * as 0) and, when this starts the window (or the key had no expiry), makes the key expire
 * window_ms later. *count gets the value after the increment, *reset_ms the time left
 * until the window ends (1..window_ms). Returns 0, MC_EINVAL (bad key, window_ms < 1, or
 * the key holds a non-integer), or MC_EUNAVAIL. */
int kv_incr_window(struct kv *kv, const char *key, int64_t window_ms, long long *count,
                   int64_t *reset_ms);

/* Reads key into out (capacity cap, NUL-terminated). *found says whether the key exists;
 * when it does not, out is "". Returns 0, MC_EINVAL (bad key, or a Redis key of another
 * type), MC_ETOOBIG (the value does not fit in cap; out is ""), MC_ECORRUPT (a Redis value
 * with a NUL byte, which kv_set cannot have written) or MC_EUNAVAIL. */
int kv_get(struct kv *kv, const char *key, char *out, size_t cap, bool *found);

/* Stores value (copied) under key; ttl_ms > 0 makes it expire that much later, 0 keeps it
 * until deleted. Returns 0, MC_EINVAL (bad key, ttl_ms < 0), MC_ETOOBIG (value longer
 * than KV_VALUE_MAX), or MC_EUNAVAIL (backend down, or the in-process table full). */
int kv_set(struct kv *kv, const char *key, const char *value, int64_t ttl_ms);

/* Removes key; a missing key is not an error. Returns 0, MC_EINVAL or MC_EUNAVAIL. */
int kv_del(struct kv *kv, const char *key);

#endif
