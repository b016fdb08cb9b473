/*
 * kv_test.c - unit tests for the key-value store (infra/kv). The same test functions run
 * against the in-process backend always and against Redis when TEST_REDIS_HOST is set
 * (TEST_REDIS_PORT, TEST_REDIS_PASSWORD); with MC_REQUIRE_REDIS=1 a missing
 * TEST_REDIS_HOST is a failure, not a skip.
 *
 * Also covered: the in-process table's bounds and sweeps, kv_open's choice of backend,
 * failing closed when Redis refuses connections or hangs, and recovery after a Redis
 * restart, using a throw-away redis-server child on a free port (never the shared one).
 *
 * Keys start with a random per-run prefix and carry short TTLs, so parallel runs on the
 * shared Redis do not collide and nothing lingers. TTL behaviour is tested with real short
 * sleeps (around 100 ms each); the whole file takes about two seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/kv/kv_int.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fix {
    struct kv *kv;   /* the backend under test */
    char prefix[32]; /* t:kv:<hex>: - every key of this run starts with it */
};

static struct fix mem_fix, redis_fix;

/* ----------------------------------------------------------------- helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t elapsed_ms(int64_t t0_ns)
{
    return (mc_mono_ns() - t0_ns) / 1000000;
}

/* This run's key for name, in one of a few rotating static buffers. */
static const char *k(const struct fix *f, const char *name)
{
    static char bufs[4][128];
    static int next;
    char *out = bufs[next++ % 4];
    snprintf(out, sizeof(bufs[0]), "%s%s", f->prefix, name);
    return out;
}

static void random_prefix(char *out, size_t cap)
{
    unsigned char r[4];
    char hex[9];
    mc_random_bytes(r, sizeof(r));
    mc_hex(r, sizeof(r), hex);
    snprintf(out, cap, "t:kv:%s:", hex);
}

static int group_setup_mem(void **state)
{
    mem_fix.kv = kv_mem_open(NULL);
    random_prefix(mem_fix.prefix, sizeof(mem_fix.prefix));
    *state = &mem_fix;
    return 0;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static int group_setup_redis(void **state)
{
    struct kv_redis_opts o = {
        .host = getenv("TEST_REDIS_HOST"),
        .port = (int)strtol(env_or("TEST_REDIS_PORT", "6379"), NULL, 10),
        .password = env_or("TEST_REDIS_PASSWORD", ""),
    };
    redis_fix.kv = kv_redis_open(&o);
    random_prefix(redis_fix.prefix, sizeof(redis_fix.prefix));
    *state = &redis_fix;
    if (kv_ping(redis_fix.kv) != 0) {
        print_error("TEST_REDIS_HOST is set but Redis at %s:%d does not answer\n", o.host, o.port);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    struct fix *f = *state;
    kv_close(f->kv);
    f->kv = NULL;
    return 0;
}

/* ------------------------------------------------------ both backends ---- */

static void set_get_del(void **state)
{
    struct fix *f = *state;
    char out[64];
    bool found = true;
    assert_int_equal(kv_get(f->kv, k(f, "a"), out, sizeof(out), &found), 0);
    assert_false(found);
    assert_string_equal(out, "");

    assert_int_equal(kv_set(f->kv, k(f, "a"), "hello", 10000), 0);
    assert_int_equal(kv_get(f->kv, k(f, "a"), out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "hello");

    /* overwrite, also with a longer and an empty value */
    assert_int_equal(kv_set(f->kv, k(f, "a"), "a much longer value than before", 10000), 0);
    assert_int_equal(kv_get(f->kv, k(f, "a"), out, sizeof(out), &found), 0);
    assert_string_equal(out, "a much longer value than before");
    assert_int_equal(kv_set(f->kv, k(f, "a"), "", 10000), 0);
    assert_int_equal(kv_get(f->kv, k(f, "a"), out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "");

    /* a value that does not fit the caller's buffer */
    assert_int_equal(kv_set(f->kv, k(f, "a"), "0123456789", 10000), 0);
    char small[10];
    assert_int_equal(kv_get(f->kv, k(f, "a"), small, sizeof(small), &found), MC_ETOOBIG);
    assert_string_equal(small, "");

    assert_int_equal(kv_del(f->kv, k(f, "a")), 0);
    assert_int_equal(kv_get(f->kv, k(f, "a"), out, sizeof(out), &found), 0);
    assert_false(found);
    assert_int_equal(kv_del(f->kv, k(f, "a")), 0); /* missing: not an error */

    /* the largest value round-trips */
    static char big[KV_VALUE_MAX + 1];
    static char back[KV_VALUE_MAX + 1];
    memset(big, 'v', KV_VALUE_MAX);
    big[KV_VALUE_MAX] = '\0';
    assert_int_equal(kv_set(f->kv, k(f, "big"), big, 10000), 0);
    assert_int_equal(kv_get(f->kv, k(f, "big"), back, sizeof(back), &found), 0);
    assert_true(found);
    assert_memory_equal(back, big, sizeof(big));
    assert_int_equal(kv_del(f->kv, k(f, "big")), 0);
}

static void ttl_expiry(void **state)
{
    struct fix *f = *state;
    char out[16];
    bool found;
    assert_int_equal(kv_set(f->kv, k(f, "short"), "1", 80), 0);
    assert_int_equal(kv_set(f->kv, k(f, "long"), "2", 10000), 0);
    assert_int_equal(kv_set(f->kv, k(f, "forever"), "3", 0), 0);
    assert_int_equal(kv_get(f->kv, k(f, "short"), out, sizeof(out), &found), 0);
    assert_true(found);
    sleep_ms(120);
    assert_int_equal(kv_get(f->kv, k(f, "short"), out, sizeof(out), &found), 0);
    assert_false(found);
    assert_int_equal(kv_get(f->kv, k(f, "long"), out, sizeof(out), &found), 0);
    assert_true(found);
    assert_int_equal(kv_get(f->kv, k(f, "forever"), out, sizeof(out), &found), 0);
    assert_true(found);
    /* a set replaces the TTL too: "long" now expires soon, "short" lives again */
    assert_int_equal(kv_set(f->kv, k(f, "long"), "2", 80), 0);
    assert_int_equal(kv_set(f->kv, k(f, "short"), "1", 10000), 0);
    sleep_ms(120);
    assert_int_equal(kv_get(f->kv, k(f, "long"), out, sizeof(out), &found), 0);
    assert_false(found);
    assert_int_equal(kv_get(f->kv, k(f, "short"), out, sizeof(out), &found), 0);
    assert_true(found);
    assert_int_equal(kv_del(f->kv, k(f, "short")), 0);
    assert_int_equal(kv_del(f->kv, k(f, "forever")), 0);
}

static void incr_window_counts_and_resets(void **state)
{
    struct fix *f = *state;
    long long n = -1;
    int64_t reset = -1;
    for (long long i = 1; i <= 5; i++) {
        assert_int_equal(kv_incr_window(f->kv, k(f, "w"), 300, &n, &reset), 0);
        assert_int_equal(n, i);
        assert_in_range(reset, 1, 300);
    }
    /* the counter is readable as text */
    char out[24];
    bool found;
    assert_int_equal(kv_get(f->kv, k(f, "w"), out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "5");
    /* later increments do not extend the window */
    sleep_ms(100);
    assert_int_equal(kv_incr_window(f->kv, k(f, "w"), 300, &n, &reset), 0);
    assert_int_equal(n, 6);
    assert_in_range(reset, 1, 200);
    sleep_ms((int)reset + 30);
    assert_int_equal(kv_incr_window(f->kv, k(f, "w"), 300, &n, &reset), 0);
    assert_int_equal(n, 1);
    assert_in_range(reset, 150, 300);
    assert_int_equal(kv_del(f->kv, k(f, "w")), 0);
}

/* A counter stored without expiry (kv_set with ttl 0) gets one on its next increment, or
 * it would never reset. */
static void incr_window_adds_missing_expiry(void **state)
{
    struct fix *f = *state;
    long long n;
    int64_t reset;
    assert_int_equal(kv_set(f->kv, k(f, "noexp"), "41", 0), 0);
    assert_int_equal(kv_incr_window(f->kv, k(f, "noexp"), 60, &n, &reset), 0);
    assert_int_equal(n, 42);
    assert_in_range(reset, 1, 60);
    sleep_ms(90);
    char out[24];
    bool found;
    assert_int_equal(kv_get(f->kv, k(f, "noexp"), out, sizeof(out), &found), 0);
    assert_false(found);
}

static void incr_window_rejects_non_counters(void **state)
{
    struct fix *f = *state;
    long long n = 7;
    int64_t reset = 7;
    assert_int_equal(kv_set(f->kv, k(f, "text"), "abc", 10000), 0);
    assert_int_equal(kv_incr_window(f->kv, k(f, "text"), 1000, &n, &reset), MC_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(reset, 0);
    assert_int_equal(kv_set(f->kv, k(f, "text"), "9223372036854775807", 10000), 0);
    assert_int_equal(kv_incr_window(f->kv, k(f, "text"), 1000, &n, &reset), MC_EINVAL);
    /* the value is left alone */
    char out[32];
    bool found;
    assert_int_equal(kv_get(f->kv, k(f, "text"), out, sizeof(out), &found), 0);
    assert_string_equal(out, "9223372036854775807");
    assert_int_equal(kv_del(f->kv, k(f, "text")), 0);
}

static void argument_checks(void **state)
{
    struct fix *f = *state;
    char out[16];
    bool found;
    long long n;
    int64_t reset;
    char long_key[KV_KEY_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    const char *bad_keys[] = {"",        "has space", "tab\there", "nl\n",
                              "del\x7f", "\xc3\xa9",  long_key};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        assert_int_equal(kv_set(f->kv, bad_keys[i], "v", 1000), MC_EINVAL);
        assert_int_equal(kv_get(f->kv, bad_keys[i], out, sizeof(out), &found), MC_EINVAL);
        assert_int_equal(kv_del(f->kv, bad_keys[i]), MC_EINVAL);
        assert_int_equal(kv_incr_window(f->kv, bad_keys[i], 1000, &n, &reset), MC_EINVAL);
    }
    assert_int_equal(kv_set(f->kv, NULL, "v", 1000), MC_EINVAL);
    /* the longest key is fine */
    long_key[KV_KEY_MAX] = '\0';
    assert_int_equal(kv_set(f->kv, long_key, "v", 1000), 0);
    assert_int_equal(kv_del(f->kv, long_key), 0);

    assert_int_equal(kv_set(f->kv, k(f, "x"), "v", -1), MC_EINVAL);
    assert_int_equal(kv_set(f->kv, k(f, "x"), NULL, 1000), MC_EINVAL);
    assert_int_equal(kv_incr_window(f->kv, k(f, "x"), 0, &n, &reset), MC_EINVAL);
    assert_int_equal(kv_get(f->kv, k(f, "x"), out, 0, &found), MC_ETOOBIG);
    static char too_big[KV_VALUE_MAX + 2];
    memset(too_big, 'v', KV_VALUE_MAX + 1);
    assert_int_equal(kv_set(f->kv, k(f, "x"), too_big, 1000), MC_ETOOBIG);
}

#define THREADS       4
#define INCR_PER_TASK 500

struct incr_task {
    struct fix *f;
    long long seen[INCR_PER_TASK]; /* the count each increment returned */
    int failures;                  /* increments that returned an error */
};

static void *incr_worker(void *arg)
{
    struct incr_task *t = arg;
    char key[160]; /* k() shares static buffers between callers: not for threads */
    snprintf(key, sizeof(key), "%satomic", t->f->prefix);
    for (int i = 0; i < INCR_PER_TASK; i++) {
        int64_t reset;
        if (kv_incr_window(t->f->kv, key, 60000, &t->seen[i], &reset) != 0)
            t->failures++;
    }
    return NULL;
}

/* 4 threads x 500 increments of one key: each count 1..2000 is handed out exactly once. */
static void incr_window_is_atomic(void **state)
{
    struct fix *f = *state;
    static struct incr_task tasks[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&tasks[i], 0, sizeof(tasks[i]));
        tasks[i].f = f;
        assert_int_equal(pthread_create(&th[i], NULL, incr_worker, &tasks[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    static bool hit[THREADS * INCR_PER_TASK + 1];
    memset(hit, 0, sizeof(hit));
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(tasks[i].failures, 0);
        for (int j = 0; j < INCR_PER_TASK; j++) {
            long long c = tasks[i].seen[j];
            assert_in_range(c, 1, THREADS * INCR_PER_TASK);
            assert_false(hit[c]);
            hit[c] = true;
        }
    }
    char out[24];
    bool found;
    assert_int_equal(kv_get(f->kv, k(f, "atomic"), out, sizeof(out), &found), 0);
    assert_string_equal(out, "2000");
    assert_int_equal(kv_del(f->kv, k(f, "atomic")), 0);
}

/* --------------------------------------------------- in-process table ---- */

static void mem_entry_bound(void **state)
{
    (void)state;
    struct kv *kv = kv_mem_open(&(struct kv_mem_limits){.max_entries = 100});
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "live:%d", i);
        assert_int_equal(kv_set(kv, key, "v", 0), 0);
    }
    assert_int_equal(kv_mem_count(kv), 100);
    /* full of live entries: new keys are refused, never stored past the bound */
    long long n;
    int64_t reset;
    assert_int_equal(kv_set(kv, "new", "v", 1000), MC_EUNAVAIL);
    assert_int_equal(kv_incr_window(kv, "new", 1000, &n, &reset), MC_EUNAVAIL);
    assert_int_equal(kv_mem_count(kv), 100);
    /* existing keys can still change, and a delete makes room */
    assert_int_equal(kv_set(kv, "live:7", "changed", 0), 0);
    assert_int_equal(kv_del(kv, "live:7"), 0);
    assert_int_equal(kv_set(kv, "new", "v", 1000), 0);
    assert_int_equal(kv_set(kv, "newer", "v", 1000), MC_EUNAVAIL);

    /* when full, expired entries are evicted first */
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "live:%d", 50 + i);
        assert_int_equal(kv_del(kv, key), 0);
        snprintf(key, sizeof(key), "brief:%d", i);
        assert_int_equal(kv_set(kv, key, "v", 100), 0);
    }
    assert_int_equal(kv_set(kv, "newer", "v", 1000), MC_EUNAVAIL);
    sleep_ms(130);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "after:%d", i);
        assert_int_equal(kv_set(kv, key, "v", 1000), 0);
        assert_true(kv_mem_count(kv) <= 100);
    }
    assert_int_equal(kv_set(kv, "one-too-many", "v", 1000), MC_EUNAVAIL);
    kv_close(kv);
}

static void mem_byte_bound(void **state)
{
    (void)state;
    struct kv *kv = kv_mem_open(&(struct kv_mem_limits){.max_bytes = 8192});
    static char v[3001];
    memset(v, 'x', 3000);
    assert_int_equal(kv_set(kv, "a", v, 0), 0);
    assert_int_equal(kv_set(kv, "b", v, 0), 0);
    assert_int_equal(kv_set(kv, "c", v, 0), MC_EUNAVAIL);
    /* growing a value past the bound is refused as well; the old value stays */
    static char w[6001];
    memset(w, 'y', 6000);
    assert_int_equal(kv_set(kv, "a", w, 0), MC_EUNAVAIL);
    char out[3001];
    bool found;
    assert_int_equal(kv_get(kv, "a", out, sizeof(out), &found), 0);
    assert_string_equal(out, v);
    assert_int_equal(kv_del(kv, "b"), 0);
    assert_int_equal(kv_set(kv, "c", v, 0), 0);
    kv_close(kv);
}

/* Expired entries nobody reads again are still freed by the rolling sweep. */
static void mem_rolling_sweep(void **state)
{
    (void)state;
    struct kv *kv = kv_mem_open(NULL);
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "gone:%d", i);
        assert_int_equal(kv_set(kv, key, "v", 100), 0);
    }
    assert_int_equal(kv_mem_count(kv), 300);
    sleep_ms(130);
    char out[8];
    bool found;
    for (int i = 0; i < 1024; i++) /* 8 buckets per call; the table has 1024 */
        assert_int_equal(kv_get(kv, "other", out, sizeof(out), &found), 0);
    assert_int_equal(kv_mem_count(kv), 0);
    kv_close(kv);
}

/* ---------------------------------------------------------- kv_open ---- */

static struct config *test_config(void)
{
    static const char *vars[] = {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB",
                                 "REDIS_TLS"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    struct config *cfg = NULL;
    config_load(NULL, CONFIG_NO_DOTENV, &cfg);
    assert_non_null(cfg);
    return cfg;
}

static void open_chooses_backend(void **state)
{
    (void)state;
    struct config *cfg = test_config();
    char err[256] = "";
    struct kv *kv = NULL;
    assert_int_equal(kv_open(cfg, &kv, err, sizeof(err)), 0);
    assert_string_equal(kv_backend_name(kv), "memory");
    assert_int_equal(kv_ping(kv), 0);
    kv_close(kv);

    /* Redis configured but down at start: not fatal, reported by ping */
    assert_int_equal(config_set(cfg, CFG_REDIS_HOST, "127.0.0.1"), 0);
    assert_int_equal(config_set(cfg, CFG_REDIS_PORT, "1"), 0);
    assert_int_equal(kv_open(cfg, &kv, err, sizeof(err)), 0);
    assert_string_equal(kv_backend_name(kv), "redis");
    assert_int_equal(kv_ping(kv), MC_EUNAVAIL);
    kv_close(kv);

    /* TLS asked for, which Debian's hiredis 0.14 cannot do: refused at start */
    assert_int_equal(config_set(cfg, CFG_REDIS_TLS, "true"), 0);
    kv = (struct kv *)&kv; /* must be reset */
    assert_int_equal(kv_open(cfg, &kv, err, sizeof(err)), MC_ECONFIG);
    assert_null(kv);
    assert_non_null(strstr(err, "REDIS_TLS"));
    assert_non_null(strstr(err, "TLS support"));
    config_free(cfg);
}

/* ------------------------------------------------ Redis down / back ---- */

/* Every operation fails with MC_EUNAVAIL, and all of them together within 1 s. */
static void assert_all_fail_closed(struct kv *kv)
{
    int64_t t0 = mc_mono_ns();
    char out[16] = "junk";
    bool found = true;
    long long n = 99;
    int64_t reset = 99;
    assert_int_equal(kv_ping(kv), MC_EUNAVAIL);
    assert_int_equal(kv_set(kv, "t:kv:down", "v", 1000), MC_EUNAVAIL);
    assert_int_equal(kv_get(kv, "t:kv:down", out, sizeof(out), &found), MC_EUNAVAIL);
    assert_false(found);
    assert_string_equal(out, "");
    assert_int_equal(kv_incr_window(kv, "t:kv:down", 1000, &n, &reset), MC_EUNAVAIL);
    assert_int_equal(n, 0);
    assert_int_equal(kv_del(kv, "t:kv:down"), MC_EUNAVAIL);
    for (int i = 0; i < 20; i++)
        assert_int_equal(kv_incr_window(kv, "t:kv:down", 1000, &n, &reset), MC_EUNAVAIL);
    assert_true(elapsed_ms(t0) < 1000);
}

static void down_refused(void **state)
{
    (void)state;
    struct kv *kv = kv_redis_open(&(struct kv_redis_opts){.host = "127.0.0.1", .port = 1});
    assert_all_fail_closed(kv);
    sleep_ms(250); /* past the connect backoff: a fresh attempt fails the same way */
    assert_all_fail_closed(kv);
    kv_close(kv);
}

/* A listener that accepts TCP (the kernel's backlog) but never answers: the handshake
 * times out, and the backoff keeps later calls from waiting again. */
static void down_hung(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);

    int64_t t0 = mc_mono_ns();
    struct kv *kv = kv_redis_open(&(struct kv_redis_opts){
        .host = "127.0.0.1", .port = ntohs(sa.sin_port), .timeout_ms = 150});
    assert_in_range(elapsed_ms(t0), 100, 600);
    assert_all_fail_closed(kv);
    kv_close(kv);
    close(fd);
}

/* A throw-away redis-server on a free port, so it can be killed and restarted. */
struct own_redis {
    int port;
    pid_t pid;
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void own_redis_start(struct own_redis *r)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", r->port);
    r->pid = fork();
    assert_true(r->pid >= 0);
    if (r->pid == 0) {
        /* dies with the test even if an assertion skips own_redis_kill */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--requirepass", "own-test-pw", "--save", "", "--appendonly", "no", "--daemonize",
               "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300 && !port_open(r->port); i++)
        sleep_ms(10);
    assert_true(port_open(r->port));
}

static void own_redis_kill(struct own_redis *r)
{
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

static void assert_works(struct kv *kv)
{
    char out[16];
    bool found;
    long long n;
    int64_t reset;
    assert_int_equal(kv_set(kv, "t:kv:own", "v1", 5000), 0);
    assert_int_equal(kv_get(kv, "t:kv:own", out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "v1");
    assert_int_equal(kv_incr_window(kv, "t:kv:own:n", 5000, &n, &reset), 0);
    assert_int_equal(kv_del(kv, "t:kv:own"), 0);
}

/* SCRIPT FLUSH on the throw-away server, behind the store's back. */
static void script_flush(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *rep = redisCommand(c, "AUTH own-test-pw");
    assert_non_null(rep);
    freeReplyObject(rep);
    rep = redisCommand(c, "SCRIPT FLUSH");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
}

static void redis_recovers_after_restart(void **state)
{
    (void)state;
    struct own_redis r = {.port = free_port()};
    assert_true(r.port > 0);
    own_redis_start(&r);
    struct kv_redis_opts o = {
        .host = "127.0.0.1", .port = r.port, .password = "own-test-pw", .db = 3};
    struct kv *kv = kv_redis_open(&o);
    assert_works(kv);
    assert_works(kv); /* now on a pooled connection */

    /* the password and the database number are applied */
    struct kv *wrong = kv_redis_open(&(struct kv_redis_opts){
        .host = "127.0.0.1", .port = r.port, .password = "not-the-password"});
    assert_int_equal(kv_ping(wrong), MC_EUNAVAIL);
    kv_close(wrong);
    wrong = kv_redis_open(&(struct kv_redis_opts){.host = "127.0.0.1", .port = r.port});
    assert_int_equal(kv_ping(wrong), MC_EUNAVAIL); /* no password where one is required */
    assert_int_equal(kv_set(wrong, "t:kv:x", "v", 1000), MC_EUNAVAIL);
    kv_close(wrong);
    struct kv *db0 = kv_redis_open(
        &(struct kv_redis_opts){.host = "127.0.0.1", .port = r.port, .password = "own-test-pw"});
    char out[16];
    bool found;
    assert_int_equal(kv_set(kv, "t:kv:db", "three", 5000), 0);
    assert_int_equal(kv_get(db0, "t:kv:db", out, sizeof(out), &found), 0);
    assert_false(found);
    kv_close(db0);

    /* the server forgot the window script (SCRIPT FLUSH): EVALSHA falls back to EVAL */
    script_flush(r.port);
    long long n;
    int64_t reset;
    assert_int_equal(kv_incr_window(kv, "t:kv:own:n", 5000, &n, &reset), 0);
    assert_int_equal(n, 3);

    own_redis_kill(&r);
    assert_all_fail_closed(kv);

    own_redis_start(&r);
    int64_t t0 = mc_mono_ns();
    while (kv_ping(kv) != 0 && elapsed_ms(t0) < 3000)
        sleep_ms(20);
    assert_int_equal(kv_ping(kv), 0);
    assert_works(kv); /* the same struct kv: no reopen */
    kv_close(kv);
    own_redis_kill(&r);
}

/* ------------------------------------------------------------------- main ---- */

#define KV_TESTS                                                                                   \
    cmocka_unit_test(set_get_del), cmocka_unit_test(ttl_expiry),                                   \
        cmocka_unit_test(incr_window_counts_and_resets),                                           \
        cmocka_unit_test(incr_window_adds_missing_expiry),                                         \
        cmocka_unit_test(incr_window_rejects_non_counters), cmocka_unit_test(argument_checks),     \
        cmocka_unit_test(incr_window_is_atomic)

int main(void)
{
    log_set_level(LOG_FATAL); /* outages are logged on purpose; keep the output readable */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest backend_tests[] = {KV_TESTS};
    const struct CMUnitTest mem_tests[] = {
        cmocka_unit_test(mem_entry_bound),
        cmocka_unit_test(mem_byte_bound),
        cmocka_unit_test(mem_rolling_sweep),
        cmocka_unit_test(open_chooses_backend),
    };
    const struct CMUnitTest down_tests[] = {
        cmocka_unit_test(down_refused),
        cmocka_unit_test(down_hung),
    };
    const struct CMUnitTest recovery_tests[] = {cmocka_unit_test(redis_recovers_after_restart)};

    int failed =
        cmocka_run_group_tests_name("kv_memory", backend_tests, group_setup_mem, group_teardown);
    failed += cmocka_run_group_tests_name("kv_memory_bounds", mem_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("kv_redis_down", down_tests, NULL, NULL);
    const char *host = getenv("TEST_REDIS_HOST");
    const char *require = getenv("MC_REQUIRE_REDIS");
    if (host != NULL && host[0] != '\0') {
        failed += cmocka_run_group_tests_name("kv_redis", backend_tests, group_setup_redis,
                                              group_teardown);
        failed += cmocka_run_group_tests_name("kv_redis_recovery", recovery_tests, NULL, NULL);
    } else if (require != NULL && strcmp(require, "1") == 0) {
        print_error("MC_REQUIRE_REDIS=1 but TEST_REDIS_HOST is not set\n");
        failed++;
    } else {
        print_message("[  SKIPPED ] kv_redis: TEST_REDIS_HOST is not set\n");
    }
    return failed;
}
