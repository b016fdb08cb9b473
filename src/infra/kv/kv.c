/*
 * kv.c - backend-independent parts of the key-value store: choosing the backend from the
 * configuration, checking arguments once, and dispatching to the backend (see kv.h).
 */
#include "infra/kv/kv_int.h"
#include "core/config.h"
#include "core/err.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

int kv_open(const struct config *cfg, struct kv **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *host = config_str(cfg, CFG_REDIS_HOST);
    if (host[0] == '\0') {
        *out = kv_mem_open(NULL);
        return 0;
    }
    if (config_bool(cfg, CFG_REDIS_TLS)) {
        /* Debian 12's libhiredis-dev is 0.14, which has no TLS (hiredis_ssl came in 1.0).
         * Connecting in clear text when TLS was asked for would leak the password. */
        snprintf(err, errlen,
                 "REDIS_TLS=true, but this build's hiredis (%d.%d) has no TLS support; "
                 "reach Redis through a TLS tunnel (e.g. stunnel) on a local port and set "
                 "REDIS_TLS=false, or rebuild against hiredis >= 1.0 with hiredis_ssl",
                 HIREDIS_MAJOR, HIREDIS_MINOR);
        return MC_ECONFIG;
    }
    struct kv_redis_opts o = {
        .host = host,
        .port = (int)config_int(cfg, CFG_REDIS_PORT),
        .password = config_str(cfg, CFG_REDIS_PASSWORD),
        .db = (int)config_int(cfg, CFG_REDIS_DB),
    };
    *out = kv_redis_open(&o);
    return 0;
}

void kv_close(struct kv *kv)
{
    if (kv != NULL)
        kv->be->close(kv);
}

const char *kv_backend_name(const struct kv *kv)
{
    return kv->be->name;
}

/* Keys: 1..KV_KEY_MAX bytes of printable ASCII without spaces (kv.h). */
static bool key_ok(const char *key)
{
    if (key == NULL)
        return false;
    size_t i = 0;
    for (; key[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (i >= KV_KEY_MAX || ch <= 0x20 || ch >= 0x7f)
            return false;
    }
    return i > 0;
}

int kv_ping(struct kv *kv)
{
    return kv->be->ping(kv);
}

int kv_incr_window(struct kv *kv, const char *key, int64_t window_ms, long long *count,
                   int64_t *reset_ms)
{
    *count = 0;
    *reset_ms = 0;
    if (!key_ok(key) || window_ms < 1)
        return MC_EINVAL;
    return kv->be->incr_window(kv, key, window_ms, count, reset_ms);
}

int kv_get(struct kv *kv, const char *key, char *out, size_t cap, bool *found)
{
    *found = false;
    if (cap > 0)
        out[0] = '\0';
    if (!key_ok(key))
        return MC_EINVAL;
    if (cap == 0)
        return MC_ETOOBIG;
    return kv->be->get(kv, key, out, cap, found);
}

int kv_set(struct kv *kv, const char *key, const char *value, int64_t ttl_ms)
{
    if (!key_ok(key) || value == NULL || ttl_ms < 0)
        return MC_EINVAL;
    if (strnlen(value, KV_VALUE_MAX + 1) > KV_VALUE_MAX)
        return MC_ETOOBIG;
    return kv->be->set(kv, key, value, ttl_ms);
}

int kv_del(struct kv *kv, const char *key)
{
    if (!key_ok(key))
        return MC_EINVAL;
    return kv->be->del(kv, key);
}
