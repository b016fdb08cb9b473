/*
 * ratelimit_test.c - unit tests for fixed-window rate limits (modules/ratelimit): counting
 * against the in-process store always and against Redis when TEST_REDIS_HOST is set (the
 * same test functions), failing closed when the store is down, subject bounding, client
 * address subjects, and the RateLimit-* / Retry-After headers as an in-process HTTP server
 * sends them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/http.h"
#include "infra/kv/kv_int.h"
#include "modules/ratelimit/ratelimit.h"

#include "http_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>

struct fix {
    struct kv *kv;    /* the store under test */
    char bucket[32];  /* t.<hex>: this run's bucket, so runs on one Redis do not collide */
    char bucket2[32]; /* a second bucket of this run */
};

static struct fix mem_fix, redis_fix;

static int setup_fix(struct fix *f, struct kv *kv, void **state)
{
    unsigned char r[4];
    char hex[9];
    mc_random_bytes(r, sizeof(r));
    mc_hex(r, sizeof(r), hex);
    f->kv = kv;
    snprintf(f->bucket, sizeof(f->bucket), "t.%s", hex);
    snprintf(f->bucket2, sizeof(f->bucket2), "t.%s.b", hex);
    *state = f;
    return 0;
}

static int group_setup_mem(void **state)
{
    return setup_fix(&mem_fix, kv_mem_open(NULL), state);
}

static int group_setup_redis(void **state)
{
    const char *port = getenv("TEST_REDIS_PORT");
    struct kv_redis_opts o = {
        .host = getenv("TEST_REDIS_HOST"),
        .port = port != NULL ? (int)strtol(port, NULL, 10) : 6379,
        .password = getenv("TEST_REDIS_PASSWORD"),
    };
    setup_fix(&redis_fix, kv_redis_open(&o), state);
    return kv_ping(redis_fix.kv) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    struct fix *f = *state;
    kv_close(f->kv);
    f->kv = NULL;
    return 0;
}

/* ------------------------------------------------------------- counting ---- */

static void limit_n_allows_n(void **state)
{
    struct fix *f = *state;
    struct rl_result r;
    for (long long i = 1; i <= 5; i++) {
        assert_int_equal(rl_check(f->kv, f->bucket, "203.0.113.7", 5, 900, &r), 0);
        assert_false(r.limited);
        assert_int_equal(r.limit, 5);
        assert_int_equal(r.remaining, 5 - i);
        assert_in_range(r.reset_s, 1, 900);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rl_check(f->kv, f->bucket, "203.0.113.7", 5, 900, &r), 0);
        assert_true(r.limited);
        assert_int_equal(r.remaining, 0);
        assert_in_range(r.reset_s, 1, 900);
    }
    /* other subjects and other buckets count separately */
    assert_int_equal(rl_check(f->kv, f->bucket, "203.0.113.8", 5, 900, &r), 0);
    assert_false(r.limited);
    assert_int_equal(r.remaining, 4);
    assert_int_equal(rl_check(f->kv, f->bucket2, "203.0.113.7", 5, 900, &r), 0);
    assert_int_equal(r.remaining, 4);
}

static void limit_one(void **state)
{
    struct fix *f = *state;
    struct rl_result r;
    assert_int_equal(rl_check(f->kv, f->bucket, "one", 1, 2, &r), 0);
    assert_false(r.limited);
    assert_int_equal(r.remaining, 0);
    assert_in_range(r.reset_s, 1, 2);
    assert_int_equal(rl_check(f->kv, f->bucket, "one", 1, 2, &r), 0);
    assert_true(r.limited);
}

/* Subjects compare case-insensitively; long or unusual ones are hashed, never truncated,
 * so two of them that share a prefix still count apart. */
static void subjects_are_bounded(void **state)
{
    struct fix *f = *state;
    struct rl_result r;
    assert_int_equal(rl_check(f->kv, f->bucket, "Mother@Example.ORG", 10, 60, &r), 0);
    assert_int_equal(rl_check(f->kv, f->bucket, "mother@example.org", 10, 60, &r), 0);
    assert_int_equal(r.remaining, 8);

    char key[160];
    char out[24];
    bool found;
    snprintf(key, sizeof(key), "rl:%s:mother@example.org", f->bucket);
    assert_int_equal(kv_get(f->kv, key, out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "2");

    char long_a[300], long_b[300];
    memset(long_a, 'a', sizeof(long_a) - 1);
    long_a[sizeof(long_a) - 1] = '\0';
    memcpy(long_b, long_a, sizeof(long_b));
    long_b[sizeof(long_b) - 2] = 'b';
    assert_int_equal(rl_check(f->kv, f->bucket, long_a, 10, 60, &r), 0);
    assert_int_equal(r.remaining, 9);
    assert_int_equal(rl_check(f->kv, f->bucket, long_b, 10, 60, &r), 0);
    assert_int_equal(r.remaining, 9);

    /* the key for a hashed subject: "h:" + SHA-256 hex of the lower-cased subject */
    const char *odd = "Name With Spaces\r\n\x01 and \xc3\xa9";
    assert_int_equal(rl_check(f->kv, f->bucket, odd, 10, 60, &r), 0);
    const char *lower = "name with spaces\r\n\x01 and \xc3\xa9";
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)lower, strlen(lower));
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    mc_hex(h, sizeof(h), hex);
    snprintf(key, sizeof(key), "rl:%s:h:%s", f->bucket, hex);
    assert_int_equal(kv_get(f->kv, key, out, sizeof(out), &found), 0);
    assert_true(found);
    assert_string_equal(out, "1");
}

static void bad_arguments(void **state)
{
    struct fix *f = *state;
    struct rl_result r;
    const char *bad_buckets[] = {"", "Upper", "has space", "a/b",
                                 "a-bucket-name-that-is-longer-than-32"};
    for (size_t i = 0; i < sizeof(bad_buckets) / sizeof(bad_buckets[0]); i++) {
        assert_int_equal(rl_check(f->kv, bad_buckets[i], "s", 5, 60, &r), MC_EINVAL);
        assert_true(r.limited);
    }
    assert_int_equal(rl_check(f->kv, NULL, "s", 5, 60, &r), MC_EINVAL);
    assert_int_equal(rl_check(f->kv, f->bucket, "", 5, 60, &r), MC_EINVAL);
    assert_int_equal(rl_check(f->kv, f->bucket, NULL, 5, 60, &r), MC_EINVAL);
    assert_int_equal(rl_check(f->kv, f->bucket, "s", 0, 60, &r), MC_EINVAL);
    assert_true(r.limited);
    assert_int_equal(rl_check(f->kv, f->bucket, "s", 5, 0, &r), MC_EINVAL);
    assert_int_equal(rl_check(f->kv, f->bucket, "s", 5, RL_WINDOW_MAX_S + 1, &r), MC_EINVAL);
}

/* ------------------------------------------------------------ store down ---- */

static void store_down_fails_closed(void **state)
{
    (void)state;
    struct kv *kv = kv_redis_open(&(struct kv_redis_opts){.host = "127.0.0.1", .port = 1});
    struct rl_result r = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rl_check(kv, "login.ip", "203.0.113.7", 5, 900, &r), MC_EUNAVAIL);
        assert_true(r.limited);
        assert_int_equal(r.remaining, 0);
        assert_int_equal(r.reset_s, 900);
    }
    kv_close(kv);
}

static void ip_subjects(void **state)
{
    (void)state;
    char out[RL_IP_SUBJECT_LEN];
    rl_ip_subject("203.0.113.7", out, sizeof(out));
    assert_string_equal(out, "203.0.113.7");
    rl_ip_subject("2001:db8:1:2:aaaa:bbbb:cccc:dddd", out, sizeof(out));
    assert_string_equal(out, "2001:db8:1:2::/64");
    rl_ip_subject("2001:DB8:1:2::1", out, sizeof(out));
    assert_string_equal(out, "2001:db8:1:2::/64");
    rl_ip_subject("::ffff:198.51.100.9", out, sizeof(out));
    assert_string_equal(out, "198.51.100.9");
    rl_ip_subject("::1", out, sizeof(out));
    assert_string_equal(out, "::/64");
    rl_ip_subject("not an address", out, sizeof(out));
    assert_string_equal(out, "not an address");
    char tiny[4];
    rl_ip_subject("203.0.113.7", tiny, sizeof(tiny));
    assert_string_equal(tiny, "203");
}

/* -------------------------------------------------------------- headers ---- */

static struct kv *http_kv;      /* the store the test routes count in */
static struct kv *http_kv_down; /* a store that is always down */

static int limited_get(struct http_req *req, struct http_res *res)
{
    struct kv *kv = strcmp(http_path(req), "/down") == 0 ? http_kv_down : http_kv;
    struct rl_result r;
    int rc = rl_check(kv, "t.http", "client", 2, 60, &r);
    if (rc != 0)
        return rc;
    rl_headers(res, &r);
    if (r.limited)
        return MC_ERATE;
    http_res_body(res, 200, "text/plain", "ok", 2);
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/limited", limited_get, 0, 0},
    {HTTP_GET, "/down", limited_get, 0, 0},
};

static struct resp get(int p, const char *path)
{
    struct conn *c = conn_open_port(p);
    char text[128];
    snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    assert_true(send_str(c, text));
    struct resp r;
    assert_int_equal(read_resp(c, &r, false), 0);
    conn_close(c);
    return r;
}

static void headers_on_the_wire(void **state)
{
    (void)state;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    log_set_fd(devnull >= 0 ? devnull : 2);
    http_kv = kv_mem_open(NULL);
    http_kv_down = kv_redis_open(&(struct kv_redis_opts){.host = "127.0.0.1", .port = 1});
    struct http_server_opts o = {
        .host = "127.0.0.1",
        .threads = 2,
        .connection_timeout_s = 5,
        .request_timeout_s = 5,
        .max_connections = 16,
        .max_json_body = 1024,
        .trusted_proxies = "",
    };
    char err[200] = "";
    struct http_server *srv = http_server_start(&o, routes, 2, NULL, err, sizeof(err));
    assert_non_null(srv);
    int p = http_server_port(srv);

    struct resp r = get(p, "/limited");
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "RateLimit-Limit"), "2");
    assert_string_equal(hdr(&r, "RateLimit-Remaining"), "1");
    long reset = strtol(hdr(&r, "RateLimit-Reset"), NULL, 10);
    assert_in_range(reset, 1, 60);
    assert_null(hdr(&r, "Retry-After"));
    resp_free(&r);

    r = get(p, "/limited");
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "RateLimit-Remaining"), "0");
    resp_free(&r);

    r = get(p, "/limited");
    assert_int_equal(r.status, 429);
    assert_string_equal(hdr(&r, "RateLimit-Limit"), "2");
    assert_string_equal(hdr(&r, "RateLimit-Remaining"), "0");
    char reset_text[32];
    snprintf(reset_text, sizeof(reset_text), "%s", hdr(&r, "RateLimit-Reset"));
    assert_in_range(strtol(reset_text, NULL, 10), 1, 60);
    /* Retry-After is the window's end, not the server's generic 5 s */
    assert_string_equal(hdr(&r, "Retry-After"), reset_text);
    assert_non_null(strstr(r.head, "Retry-After"));
    assert_null(strstr(strstr(r.head, "Retry-After") + 1, "Retry-After"));
    resp_free(&r);

    /* the store down: 503, never a pass */
    r = get(p, "/down");
    assert_int_equal(r.status, 503);
    assert_null(hdr(&r, "RateLimit-Remaining"));
    resp_free(&r);

    http_server_stop(srv, 1000);
    kv_close(http_kv);
    kv_close(http_kv_down);
    log_set_fd(2);
    if (devnull >= 0)
        close(devnull);
}

/* ------------------------------------------------------------------- main ---- */

int main(void)
{
    log_set_level(LOG_FATAL);
    signal(SIGPIPE, SIG_IGN);
    (void)closed_by_peer; /* http_client.h helper this file does not need */
    const struct CMUnitTest backend_tests[] = {
        cmocka_unit_test(limit_n_allows_n),
        cmocka_unit_test(limit_one),
        cmocka_unit_test(subjects_are_bounded),
        cmocka_unit_test(bad_arguments),
    };
    const struct CMUnitTest other_tests[] = {
        cmocka_unit_test(store_down_fails_closed),
        cmocka_unit_test(ip_subjects),
        cmocka_unit_test(headers_on_the_wire),
    };
    int failed = cmocka_run_group_tests_name("ratelimit_memory", backend_tests, group_setup_mem,
                                             group_teardown);
    failed += cmocka_run_group_tests_name("ratelimit", other_tests, NULL, NULL);
    const char *host = getenv("TEST_REDIS_HOST");
    const char *require = getenv("MC_REQUIRE_REDIS");
    if (host != NULL && host[0] != '\0') {
        failed += cmocka_run_group_tests_name("ratelimit_redis", backend_tests, group_setup_redis,
                                              group_teardown);
    } else if (require != NULL && strcmp(require, "1") == 0) {
        print_error("MC_REQUIRE_REDIS=1 but TEST_REDIS_HOST is not set\n");
        failed++;
    } else {
        print_message("[  SKIPPED ] ratelimit_redis: TEST_REDIS_HOST is not set\n");
    }
    return failed;
}
