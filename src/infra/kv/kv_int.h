/*
 * kv_int.h - internals shared by kv.c and the backends (kv_mem.c, kv_redis.c).
 * Nothing outside src/infra/kv includes this, except the unit tests, which open each
 * backend directly with the options below.
 *
 * kv.c checks arguments once (key length, TTL range, value size) and dispatches through
 * the backend's table; a backend may assume checked arguments.
 */
#ifndef MC_INFRA_KV_INT_H
#define MC_INFRA_KV_INT_H

#include "infra/kv/kv.h"

struct kv_backend {
    const char *name; /* "memory" or "redis" */
    void (*close)(struct kv *kv);
    int (*ping)(struct kv *kv);
    int (*incr_window)(struct kv *kv, const char *key, int64_t window_ms, long long *count,
                       int64_t *reset_ms);
    int (*get)(struct kv *kv, const char *key, char *out, size_t cap, bool *found);
    int (*set)(struct kv *kv, const char *key, const char *value, int64_t ttl_ms);
    int (*del)(struct kv *kv, const char *key);
};

/* The head of every backend's struct: backends embed it first and cast back. */
struct kv {
    const struct kv_backend *be;
};

/* ---- in-process table ---- */

#define KV_MEM_MAX_ENTRIES 1000000u     /* default bound on live entries */
#define KV_MEM_MAX_BYTES   (256u << 20) /* default bound on keys + values + overhead */

struct kv_mem_limits {
    size_t max_entries; /* entries at most; 0 = KV_MEM_MAX_ENTRIES */
    size_t max_bytes;   /* bytes at most (keys, values and per-entry overhead); 0 = default */
};

/* Opens an empty in-process table. limits may be NULL for the defaults. Free with
 * kv_close. Never fails (allocation failure aborts). */
struct kv *kv_mem_open(const struct kv_mem_limits *limits);

/* Entries currently stored, expired ones not yet swept included (tests). */
size_t kv_mem_count(struct kv *kv);

/* ---- Redis ---- */

#define KV_REDIS_TIMEOUT_MS 500 /* connect and per-command timeout */

struct kv_redis_opts {
    const char *host;     /* host name or address (copied) */
    int port;             /* TCP port */
    const char *password; /* AUTH password, NULL or "" for none (copied) */
    int db;               /* SELECT index, 0 = default */
    int timeout_ms;       /* connect and command timeout; 0 = KV_REDIS_TIMEOUT_MS */
};

/* Opens a Redis-backed store. No connection is required to succeed: the first one is
 * tried here (and a failure logged), later ones on demand. Free with kv_close. */
struct kv *kv_redis_open(const struct kv_redis_opts *opts);

extern const struct kv_backend kv_mem_backend;
extern const struct kv_backend kv_redis_backend;

#endif
