/*
 * kv_mem.c - the in-process key-value backend: one mutex over a chained hash table whose
 * entries carry their own expiry (monotonic clock, so wall-clock jumps do not expire or
 * revive anything).
 *
 * Bounded: at most max_entries entries and max_bytes bytes. When an insert would pass a
 * bound, expired entries are swept first; if that frees nothing the insert is refused
 * with MC_EUNAVAIL (the table never grows without limit, and rate limits built on it then
 * fail closed). Expired entries are also removed lazily: on lookup, and a few buckets per
 * operation by a rolling sweep, so memory is returned without a background thread.
 *
 * Bucket indexes come from SipHash (libsodium crypto_shorthash) with a random key, so
 * clients who choose keys (IP addresses, e-mail hashes) cannot pile them into one chain.
 */
#include "infra/kv/kv_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS     1024u /* initial table size (a power of two) */
#define SWEEP_BUCKETS   8u    /* buckets examined for expired entries per operation */
#define FULL_LOG_GAP_MS 60000 /* "table full" is logged at most this often */

struct mem_entry {
    struct mem_entry *next; /* next entry in the same bucket */
    int64_t expires_ms;     /* monotonic ms when it expires; 0 = never */
    char *value;            /* owned, NUL-terminated */
    size_t value_cap;       /* bytes allocated for value */
    char key[];             /* NUL-terminated */
};

struct kv_mem {
    struct kv base;             /* must be first: kv.c sees only this */
    pthread_mutex_t mu;         /* guards everything below */
    struct mem_entry **buckets; /* owned array of nbuckets chains */
    size_t nbuckets;            /* a power of two */
    size_t max_buckets;         /* the table stops growing here */
    size_t count;               /* entries stored (expired, unswept ones included) */
    size_t bytes;               /* entry_bytes() summed over all entries */
    size_t max_entries;         /* bound on count */
    size_t max_bytes;           /* bound on bytes */
    size_t sweep_cursor;        /* next bucket for the rolling sweep */
    int64_t sweep_hint_ms;      /* no entry expires before this: full sweeps wait */
    int64_t full_logged_ms;     /* when "table full" was last logged */
    unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* random SipHash key */
};

static int64_t now_ms(void)
{
    return mc_mono_ns() / 1000000;
}

static struct kv_mem *mem_of(struct kv *kv)
{
    return (struct kv_mem *)kv;
}

static size_t entry_bytes(const struct mem_entry *e)
{
    return sizeof(*e) + strlen(e->key) + 1 + e->value_cap;
}

static size_t bucket_of(const struct kv_mem *m, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), m->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (m->nbuckets - 1));
}

static bool expired(const struct mem_entry *e, int64_t now)
{
    return e->expires_ms != 0 && e->expires_ms <= now;
}

static void entry_free(struct kv_mem *m, struct mem_entry *e)
{
    m->bytes -= entry_bytes(e);
    m->count--;
    free(e->value);
    free(e);
}

/* Removes the expired entries of one bucket. */
static void sweep_bucket(struct kv_mem *m, size_t b, int64_t now)
{
    struct mem_entry **pp = &m->buckets[b];
    while (*pp != NULL) {
        struct mem_entry *e = *pp;
        if (expired(e, now)) {
            *pp = e->next;
            entry_free(m, e);
        } else {
            pp = &e->next;
        }
    }
}

/* The rolling sweep: a few buckets per operation, so expired entries nobody asks for
 * again are still freed, at a bounded cost per call. */
static void sweep_some(struct kv_mem *m, int64_t now)
{
    for (unsigned i = 0; i < SWEEP_BUCKETS; i++) {
        sweep_bucket(m, m->sweep_cursor, now);
        m->sweep_cursor = (m->sweep_cursor + 1) & (m->nbuckets - 1);
    }
}

/* Removes every expired entry and records when the next one will expire, so that a table
 * full of live entries is not rescanned on every refused insert. */
static void sweep_all(struct kv_mem *m, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t b = 0; b < m->nbuckets; b++) {
        sweep_bucket(m, b, now);
        for (const struct mem_entry *e = m->buckets[b]; e != NULL; e = e->next)
            if (e->expires_ms != 0 && e->expires_ms < next)
                next = e->expires_ms;
    }
    m->sweep_hint_ms = next;
}

static void note_expiry(struct kv_mem *m, int64_t expires_ms)
{
    if (expires_ms != 0 && expires_ms < m->sweep_hint_ms)
        m->sweep_hint_ms = expires_ms;
}

/* True if add_entries more entries and add_bytes more bytes fit, after sweeping expired
 * entries if they would not. */
static bool make_room(struct kv_mem *m, int64_t now, size_t add_entries, size_t add_bytes)
{
    if (m->count + add_entries <= m->max_entries && m->bytes + add_bytes <= m->max_bytes)
        return true;
    if (now >= m->sweep_hint_ms)
        sweep_all(m, now);
    if (m->count + add_entries <= m->max_entries && m->bytes + add_bytes <= m->max_bytes)
        return true;
    if (m->full_logged_ms == 0 || now - m->full_logged_ms >= FULL_LOG_GAP_MS) {
        m->full_logged_ms = now;
        log_warn("in-process kv table full; refusing writes", LF_I("entries", m->count),
                 LF_I("bytes", m->bytes));
    }
    return false;
}

/* Doubles the bucket array (up to max_buckets) once chains average more than one entry. */
static void maybe_grow(struct kv_mem *m)
{
    if (m->count <= m->nbuckets || m->nbuckets >= m->max_buckets)
        return;
    size_t n = m->nbuckets * 2;
    struct mem_entry **nb = mc_xcalloc(n, sizeof(*nb));
    struct mem_entry **old = m->buckets;
    size_t old_n = m->nbuckets;
    m->buckets = nb;
    m->nbuckets = n;
    for (size_t b = 0; b < old_n; b++) {
        struct mem_entry *e = old[b];
        while (e != NULL) {
            struct mem_entry *next = e->next;
            size_t i = bucket_of(m, e->key);
            e->next = nb[i];
            nb[i] = e;
            e = next;
        }
    }
    free(old);
    m->sweep_cursor = 0;
}

/* The live entry for key, or NULL; an expired one found on the way is removed. */
static struct mem_entry *find(struct kv_mem *m, const char *key, int64_t now)
{
    struct mem_entry **pp = &m->buckets[bucket_of(m, key)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        struct mem_entry *e = *pp;
        if (strcmp(e->key, key) != 0)
            continue;
        if (!expired(e, now))
            return e;
        *pp = e->next;
        entry_free(m, e);
        return NULL;
    }
    return NULL;
}

/* Adds a new entry for key with value (the caller checked that it is absent and that
 * there is room). */
static struct mem_entry *insert(struct kv_mem *m, const char *key, const char *value,
                                int64_t expires_ms)
{
    size_t klen = strlen(key);
    struct mem_entry *e = mc_xmalloc(sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->value = mc_xstrdup(value);
    e->value_cap = strlen(value) + 1;
    e->expires_ms = expires_ms;
    size_t b = bucket_of(m, key);
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->count++;
    m->bytes += entry_bytes(e);
    note_expiry(m, expires_ms);
    maybe_grow(m);
    return e;
}

static size_t new_entry_bytes(const char *key, const char *value)
{
    return sizeof(struct mem_entry) + strlen(key) + 1 + strlen(value) + 1;
}

/* Replaces an entry's value; MC_EUNAVAIL when a longer value would pass max_bytes. */
static int replace_value(struct kv_mem *m, struct mem_entry *e, const char *value, int64_t now)
{
    size_t need = strlen(value) + 1;
    if (need > e->value_cap) {
        if (!make_room(m, now, 0, need - e->value_cap))
            return MC_EUNAVAIL;
        m->bytes += need - e->value_cap;
        e->value = mc_xrealloc(e->value, need);
        e->value_cap = need;
    }
    memcpy(e->value, value, need);
    return 0;
}

static int mem_ping(struct kv *kv)
{
    (void)kv;
    return 0;
}

/* A counter's stored text as a number; false for anything but a plain decimal integer
 * (what Redis INCR accepts). */
static bool parse_counter(const char *s, long long *out)
{
    if (s[0] == '\0' || s[0] == ' ' || s[0] == '+')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static int mem_incr_window(struct kv *kv, const char *key, int64_t window_ms, long long *count,
                           int64_t *reset_ms)
{
    struct kv_mem *m = mem_of(kv);
    int rc = MC_EUNAVAIL;
    pthread_mutex_lock(&m->mu);
    int64_t now = now_ms();
    sweep_some(m, now);
    struct mem_entry *e = find(m, key, now);
    long long n = 0;
    if (e != NULL && (!parse_counter(e->value, &n) || n == LLONG_MAX)) {
        rc = MC_EINVAL;
        goto out;
    }
    char text[24];
    snprintf(text, sizeof(text), "%lld", n + 1);
    if (e == NULL) {
        if (!make_room(m, now, 1, new_entry_bytes(key, text)))
            goto out;
        e = insert(m, key, text, now + window_ms);
    } else {
        rc = replace_value(m, e, text, now);
        if (rc != 0)
            goto out;
        if (e->expires_ms == 0) { /* a key without expiry would never reset */
            e->expires_ms = now + window_ms;
            note_expiry(m, e->expires_ms);
        }
    }
    *count = n + 1;
    *reset_ms = e->expires_ms - now;
    rc = 0;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_get(struct kv *kv, const char *key, char *out, size_t cap, bool *found)
{
    struct kv_mem *m = mem_of(kv);
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    int64_t now = now_ms();
    sweep_some(m, now);
    const struct mem_entry *e = find(m, key, now);
    if (e != NULL) {
        size_t len = strlen(e->value);
        if (len >= cap) {
            rc = MC_ETOOBIG;
        } else {
            memcpy(out, e->value, len + 1);
            *found = true;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_set(struct kv *kv, const char *key, const char *value, int64_t ttl_ms)
{
    struct kv_mem *m = mem_of(kv);
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    int64_t now = now_ms();
    int64_t expires = ttl_ms > 0 ? now + ttl_ms : 0;
    sweep_some(m, now);
    struct mem_entry *e = find(m, key, now);
    if (e != NULL) {
        rc = replace_value(m, e, value, now);
        if (rc == 0) {
            e->expires_ms = expires;
            note_expiry(m, expires);
        }
    } else if (make_room(m, now, 1, new_entry_bytes(key, value))) {
        insert(m, key, value, expires);
    } else {
        rc = MC_EUNAVAIL;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_del(struct kv *kv, const char *key)
{
    struct kv_mem *m = mem_of(kv);
    pthread_mutex_lock(&m->mu);
    int64_t now = now_ms();
    sweep_some(m, now);
    struct mem_entry **pp = &m->buckets[bucket_of(m, key)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            struct mem_entry *e = *pp;
            *pp = e->next;
            entry_free(m, e);
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static void mem_close(struct kv *kv)
{
    struct kv_mem *m = mem_of(kv);
    for (size_t b = 0; b < m->nbuckets; b++) {
        struct mem_entry *e = m->buckets[b];
        while (e != NULL) {
            struct mem_entry *next = e->next;
            free(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    pthread_mutex_destroy(&m->mu);
    sodium_memzero(m->hash_key, sizeof(m->hash_key));
    free(m);
}

size_t kv_mem_count(struct kv *kv)
{
    struct kv_mem *m = mem_of(kv);
    pthread_mutex_lock(&m->mu);
    size_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const struct kv_backend kv_mem_backend = {
    .name = "memory",
    .close = mem_close,
    .ping = mem_ping,
    .incr_window = mem_incr_window,
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
};

struct kv *kv_mem_open(const struct kv_mem_limits *limits)
{
    struct kv_mem *m = mc_xcalloc(1, sizeof(*m));
    m->base.be = &kv_mem_backend;
    m->max_entries = limits && limits->max_entries ? limits->max_entries : KV_MEM_MAX_ENTRIES;
    m->max_bytes = limits && limits->max_bytes ? limits->max_bytes : KV_MEM_MAX_BYTES;
    m->max_buckets = MIN_BUCKETS;
    while (m->max_buckets < m->max_entries && m->max_buckets < ((size_t)1 << 40))
        m->max_buckets <<= 1;
    m->nbuckets = MIN_BUCKETS;
    m->buckets = mc_xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->sweep_hint_ms = INT64_MAX;
    mc_random_bytes(m->hash_key, sizeof(m->hash_key));
    pthread_mutex_init(&m->mu, NULL);
    return &m->base;
}
