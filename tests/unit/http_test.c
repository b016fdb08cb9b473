/*
 * http_test.c - in-process tests of the HTTP server (http/server.c over libmicrohttpd).
 *
 * A server is started on 127.0.0.1 with an ephemeral port and a small route table of
 * this file's own handlers; the tests talk to it over raw TCP sockets, writing exact
 * request bytes and reading responses with a timeout. That way framing edge cases
 * (Content-Length vs chunked, both at once, bodies over the cap, pipelining) are sent
 * exactly as an attacker would send them, with no client library smoothing them over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY      4096
#define SMALL_BODY    64
#define CORS_ORIGIN   "https://app.example"
#define SECRET_DETAIL "db password=hunter2 at /var/lib/secret.db"

static const char app_name[] = "test-app";

/* ---------------------------------------------------------------- handlers ---- */

static int h_get(struct http_req *req, struct http_res *res)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "route", json_string(http_route_pattern(req)));
    json_object_set_new(o, "app", json_string(http_app(req)));
    const char *q = http_query(req, "q");
    if (q != NULL)
        json_object_set_new(o, "q", json_string(q));
    http_res_json(res, 200, o);
    return 0;
}

static int h_echo(struct http_req *req, struct http_res *res)
{
    http_res_json(res, 200, json_incref(http_body_json(req)));
    return 0;
}

static int h_invalid(struct http_req *req, struct http_res *res)
{
    struct verrs v = {0};
    json_t *body = http_body_json(req);
    const char *name;
    long long age;
    json_get_str(body, "name", true, 1, 10, &name, &v);
    json_get_int(body, "age", true, 0, 150, &age, &v);
    int rc = verrs_result(&v);
    if (rc != 0) {
        http_res_verrs(res, &v);
        return rc;
    }
    http_res_json(res, 200, json_object());
    return 0;
}

static int h_boom(struct http_req *req, struct http_res *res)
{
    (void)req;
    http_res_detail(res, "%s", SECRET_DETAIL);
    return MC_EINTERNAL;
}

static int h_unavailable(struct http_req *req, struct http_res *res)
{
    (void)req;
    (void)res;
    return MC_EUNAVAIL;
}

static int h_item(struct http_req *req, struct http_res *res)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(http_param(req, "id")));
    http_res_json(res, 200, o);
    return 0;
}

static int h_slow(struct http_req *req, struct http_res *res)
{
    (void)req;
    struct timespec ts = {0, 300 * 1000000};
    nanosleep(&ts, NULL);
    http_res_static(res, 200, "text/plain", "slow done", 9);
    return 0;
}

static int h_ip(struct http_req *req, struct http_res *res)
{
    const char *ip = http_client_ip(req);
    http_res_body(res, 200, "text/plain", ip, strlen(ip));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/x", h_get, 0, 0},
    {HTTP_GET, "/ip", h_ip, 0, 0},
    {HTTP_POST, "/echo", h_echo, HTTP_BODY_JSON, 0},
    {HTTP_POST, "/small", h_echo, HTTP_BODY_JSON, SMALL_BODY},
    {HTTP_POST, "/invalid", h_invalid, HTTP_BODY_JSON, 0},
    {HTTP_GET, "/boom", h_boom, 0, 0},
    {HTTP_GET, "/unavailable", h_unavailable, 0, 0},
    {HTTP_GET, "/items/{id:int}", h_item, 0, 0},
    {HTTP_GET, "/slow", h_slow, 0, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static struct http_server_opts server_opts(void)
{
    return (struct http_server_opts){
        .host = "127.0.0.1",
        .port = 0,
        .threads = 2,
        .connection_timeout_s = 5,
        .request_timeout_s = 5,
        .max_connections = 64,
        .max_connections_per_ip = 0,
        .max_json_body = MAX_BODY,
        .cors_origin = CORS_ORIGIN,
        .request_logging = true,
        .trusted_proxies = "",
        .hsts = false,
    };
}

/* ------------------------------------------------------------------ client ---- */

/* The raw client itself is in http_client.h; these helpers know this file's server. */

static int port;
static struct http_server *srv;
static int devnull = -1;

static struct conn *conn_open(void)
{
    return conn_open_port(port);
}

/* Sends one request on a new connection and reads the answer. */
static void roundtrip(const char *request, struct resp *r)
{
    struct conn *c = conn_open();
    assert_true(send_str(c, request));
    int rc = read_resp(c, r, strncmp(request, "HEAD ", 5) == 0);
    if (rc != 0)
        print_error("no response (%d) to: %.60s\n", rc, request);
    assert_int_equal(rc, 0);
    conn_close(c);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (j == NULL)
        print_error("not JSON (%s): %s\n", je.text, r->body);
    assert_non_null(j);
    return j;
}

/* Checks an RFC 9457 problem response and returns its parsed body. */
static json_t *problem(const struct resp *r, int status)
{
    if (r->status != status)
        print_error("want %d, got:\n%s\n\n%s\n", status, r->head, r->body ? r->body : "");
    assert_int_equal(r->status, status);
    assert_non_null(hdr(r, "Content-Type"));
    assert_string_equal(hdr(r, "Content-Type"), "application/problem+json");
    json_t *j = body_json(r);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(json_string_value(json_object_get(j, "type")));
    assert_non_null(json_string_value(json_object_get(j, "title")));
    const char *rid = json_string_value(json_object_get(j, "requestId"));
    assert_non_null(rid);
    assert_non_null(hdr(r, "X-Request-Id"));
    assert_string_equal(rid, hdr(r, "X-Request-Id"));
    return j;
}

static char *json_post(const char *path, const char *ctype, const char *body, const char *extra)
{
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
               "Connection: close\r\n\r\n%s",
               path, ctype, strlen(body), extra ? extra : "", body);
    return buf_steal(&b);
}

/* --------------------------------------------------------------- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    log_set_fd(devnull >= 0 ? devnull : 2); /* 4xx/5xx paths log on purpose */
    struct http_server_opts o = server_opts();
    char err[200] = "";
    srv = http_server_start(&o, routes, NROUTES, (void *)app_name, err, sizeof(err));
    if (srv == NULL) {
        print_error("http_server_start: %s\n", err);
        return -1;
    }
    port = http_server_port(srv);
    return port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    http_server_stop(srv, 1000);
    srv = NULL;
    log_set_fd(2);
    if (devnull >= 0)
        close(devnull);
    return 0;
}

/* ------------------------------------------------------------------ tests ---- */

static void get_ok_with_headers(void **state)
{
    (void)state;
    struct resp r;
    roundtrip("GET /x?q=hello HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-12345678\r\n"
              "Connection: close\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "X-Request-Id"), "abc-12345678");
    assert_string_equal(hdr(&r, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(hdr(&r, "Referrer-Policy"), "no-referrer");
    assert_string_equal(hdr(&r, "X-Frame-Options"), "DENY");
    assert_string_equal(hdr(&r, "Content-Security-Policy"),
                        "default-src 'none'; frame-ancestors 'none'");
    assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
    assert_string_equal(hdr(&r, "Content-Type"), "application/json; charset=utf-8");
    assert_string_equal(hdr(&r, "Vary"), "Origin");
    assert_null(hdr(&r, "Access-Control-Allow-Origin"));
    assert_null(hdr(&r, "Strict-Transport-Security"));
    json_t *j = body_json(&r);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "route")), "/x");
    assert_string_equal(json_string_value(json_object_get(j, "app")), app_name);
    assert_string_equal(json_string_value(json_object_get(j, "q")), "hello");
    json_decref(j);
    resp_free(&r);

    roundtrip("GET /items/0042 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "0042");
    json_decref(j);
    resp_free(&r);
}

static void request_id_sanitized(void **state)
{
    (void)state;
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    const char *insane[] = {"short",
                            "abc/12345678",
                            "abc<script>1",
                            "abc 12345678x;",
                            long_id,
                            "\xc3\xa9t\xc3\xa9-12345678",
                            NULL};
    for (int i = 0; insane[i] != NULL; i++) {
        struct resp r;
        char req[400];
        snprintf(req, sizeof(req),
                 "GET /x HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n",
                 insane[i]);
        roundtrip(req, &r);
        assert_int_equal(r.status, 200);
        const char *id = hdr(&r, "X-Request-Id");
        assert_non_null(id);
        if (!uuid_valid(id))
            print_error("for '%s' got '%s'\n", insane[i], id);
        assert_true(uuid_valid(id));
        assert_int_equal(id[14], '7');
        resp_free(&r);
    }
    /* none given: a fresh UUIDv7 per request */
    struct resp a, b;
    roundtrip("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &a);
    roundtrip("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &b);
    char ida[64];
    snprintf(ida, sizeof(ida), "%s", hdr(&a, "X-Request-Id"));
    assert_true(uuid_valid(ida));
    assert_string_not_equal(ida, hdr(&b, "X-Request-Id"));
    /* the longest sane id (64 characters, all allowed classes) is kept */
    char sane[80];
    memset(sane, 'Z', 64);
    memcpy(sane, "aZ09-_.", 7);
    sane[64] = '\0';
    char req[300];
    snprintf(req, sizeof(req),
             "GET /x HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n", sane);
    struct resp s;
    roundtrip(req, &s);
    assert_string_equal(hdr(&s, "X-Request-Id"), sane);
    resp_free(&a);
    resp_free(&b);
    resp_free(&s);
}

static void not_found_and_method(void **state)
{
    (void)state;
    struct resp r;
    roundtrip("GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    json_t *j = problem(&r, 404);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "/problems/not-found");
    assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
    assert_string_equal(hdr(&r, "X-Content-Type-Options"), "nosniff");
    json_decref(j);
    resp_free(&r);

    roundtrip("GET /x/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    json_decref(problem(&r, 404));
    resp_free(&r);

    static const char *const wrong[] = {
        "DELETE /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "BREW /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        roundtrip(wrong[i], &r);
        j = problem(&r, 405);
        assert_string_equal(json_string_value(json_object_get(j, "type")),
                            "/problems/method-not-allowed");
        assert_string_equal(hdr(&r, "Allow"), "GET, HEAD, OPTIONS");
        json_decref(j);
        resp_free(&r);
    }
    roundtrip("GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    json_decref(problem(&r, 405));
    assert_string_equal(hdr(&r, "Allow"), "POST, OPTIONS");
    resp_free(&r);
}

static void bad_paths(void **state)
{
    (void)state;
    static const char *const paths[] = {"/x/../x", "/a/./x",  "/x/%2e%2e/x", "/a\\x",
                                        "/%2e%2e", "/x%00/y", "/x%00",       "/x%2f..%2fx"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char req[200];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 paths[i]);
        struct resp r;
        roundtrip(req, &r);
        if (r.status != 400)
            print_error("path %s → %d\n", paths[i], r.status);
        json_decref(problem(&r, 400));
        resp_free(&r);
    }
}

static void json_body_rules(void **state)
{
    (void)state;
    struct resp r;
    /* the happy path echoes the parsed body */
    char *req = json_post("/echo", "application/json", "{\"a\":[1,2,{\"b\":\"c\xc3\xa9\"}]}", NULL);
    roundtrip(req, &r);
    free(req);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"a\":[1,2,{\"b\":\"c\xc3\xa9\"}]}");
    resp_free(&r);
    static const char *const ok_types[] = {"application/json; charset=utf-8", "Application/JSON",
                                           "application/json;charset=UTF-8"};
    for (size_t i = 0; i < 3; i++) {
        req = json_post("/echo", ok_types[i], "{}", NULL);
        roundtrip(req, &r);
        free(req);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    /* a JSON body must be an object: arrays, strings and numbers are refused */
    static const char *const not_objects[] = {"[1,2]", "\"text\"", "42", "null"};
    for (size_t i = 0; i < 4; i++) {
        req = json_post("/echo", "application/json", not_objects[i], NULL);
        roundtrip(req, &r);
        free(req);
        json_decref(problem(&r, 400));
        resp_free(&r);
    }
    /* media type */
    static const char *const bad_types[] = {
        "text/plain", "application/json; charset=latin1", "application/jsonp",
        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < 5; i++) {
        req = json_post("/echo", bad_types[i], "{}", NULL);
        roundtrip(req, &r);
        free(req);
        json_decref(problem(&r, 415));
        resp_free(&r);
    }
    /* bodies the strict parser refuses, each a 400 with a reason */
    struct buf deep = BUF_INIT, ok = BUF_INIT;
    for (int i = 0; i < 65; i++)
        buf_putc(&deep, '[');
    for (int i = 0; i < 65; i++)
        buf_putc(&deep, ']');
    buf_puts(&ok, "{\"a\":"); /* an object holding 63 arrays: 64 levels, the limit */
    for (int i = 0; i < 63; i++)
        buf_putc(&ok, '[');
    for (int i = 0; i < 63; i++)
        buf_putc(&ok, ']');
    buf_putc(&ok, '}');
    const char *bad_bodies[] = {
        "{\"a\":",  "{\"a\":1,\"a\":2}",          deep.data, "[\"\\u0000\"]", "{} trailing",
        "\"\xff\"", "{\"password\": \"hunter2xyz"};
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        req = json_post("/echo", "application/json", bad_bodies[i], NULL);
        roundtrip(req, &r);
        free(req);
        json_t *j = problem(&r, 400);
        assert_true(strlen(json_string_value(json_object_get(j, "detail"))) > 0);
        assert_null(strstr(r.body, "hunter2")); /* the reason does not echo the body */
        json_decref(j);
        resp_free(&r);
    }
    req = json_post("/echo", "application/json", ok.data, NULL);
    roundtrip(req, &r);
    free(req);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, ok.data);
    resp_free(&r);
    buf_free(&deep);
    buf_free(&ok);
    /* empty: Content-Length 0, and no length at all */
    req = json_post("/echo", "application/json", "", NULL);
    roundtrip(req, &r);
    free(req);
    json_t *j = problem(&r, 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "empty"));
    json_decref(j);
    resp_free(&r);
    roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Connection: close\r\n\r\n",
              &r);
    json_decref(problem(&r, 400));
    resp_free(&r);
    /* a body sent to a route that takes none */
    roundtrip("GET /x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
              &r);
    json_decref(problem(&r, 400));
    resp_free(&r);
}

static void body_size_limits(void **state)
{
    (void)state;
    /* exactly the cap is accepted, one byte more is 413 */
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"s\":\"");
    while (body.len < MAX_BODY - 2)
        buf_putc(&body, 'x');
    buf_puts(&body, "\"}");
    assert_int_equal(body.len, MAX_BODY);
    char *req = json_post("/echo", "application/json", body.data, NULL);
    struct resp r;
    roundtrip(req, &r);
    free(req);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, MAX_BODY);
    resp_free(&r);
    buf_reset(&body);
    buf_puts(&body, "{\"s\":\"");
    while (body.len < MAX_BODY - 1)
        buf_putc(&body, 'x');
    buf_puts(&body, "\"}");
    req = json_post("/echo", "application/json", body.data, NULL);
    roundtrip(req, &r);
    free(req);
    json_decref(problem(&r, 413));
    resp_free(&r);
    buf_free(&body);

    /* a per-route cap */
    req = json_post("/small", "application/json",
                    "{\"s\":\"0123456789012345678901234567890123456789012345678901234567\"}", NULL);
    roundtrip(req, &r);
    free(req);
    json_decref(problem(&r, 413));
    resp_free(&r);

    /* a huge declared length is refused from the headers alone, and the connection is
     * closed since the body is left unread */
    struct conn *c = conn_open();
    assert_true(send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: 1000000000\r\n\r\n{\"a\":"));
    assert_int_equal(read_resp(c, &r, false), 0);
    json_decref(problem(&r, 413));
    assert_string_equal(hdr(&r, "Connection"), "close");
    resp_free(&r);
    assert_true(closed_by_peer(c, 3000));
    conn_close(c);
    /* a Content-Length that is not a number */
    roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n",
              &r);
    assert_true(r.status == 400 || r.status == 413);
    resp_free(&r);
}

static void chunked_bodies(void **state)
{
    (void)state;
    /* within the cap, chunked framing works */
    struct resp r;
    roundtrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              "4\r\n{\"a\"\r\n4\r\n:[1]\r\n1\r\n}\r\n0\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"a\":[1]}");
    resp_free(&r);

    /* past the cap: the server stops reading and drops the connection (or says 413);
     * it never hands the oversized body to the handler */
    struct conn *c = conn_open();
    assert_true(send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"));
    char chunk[1100];
    int n = snprintf(chunk, sizeof(chunk), "400\r\n");
    memset(chunk + n, ' ', 1024);
    memcpy(chunk + n + 1024, "\r\n", 2);
    size_t chunk_len = (size_t)n + 1026;
    bool sent_all = send_str(c, "400\r\n[");
    sent_all = sent_all && send_bytes(c, chunk + n + 1, 1025);
    for (int i = 0; i < 20 && sent_all; i++)
        sent_all = send_bytes(c, chunk, chunk_len);
    if (sent_all)
        sent_all = send_str(c, "1\r\n]\r\n0\r\n\r\n");
    int got = read_resp(c, &r, false);
    if (got == 0) {
        if (r.status != 413)
            print_error("oversized chunked body answered %d\n", r.status);
        assert_int_equal(r.status, 413);
        resp_free(&r);
    } else {
        assert_true(got == -3 || got == -1); /* closed or reset, not a timeout */
    }
    conn_close(c);
    /* the server is still healthy afterwards */
    roundtrip("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void smuggling_guard(void **state)
{
    (void)state;
    /* both framings at once: 400 and the connection closes (RFC 9112 6.1) */
    struct conn *c = conn_open();
    assert_true(send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "2\r\n{}\r\n0\r\n\r\n"
                            "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    struct resp r;
    assert_int_equal(read_resp(c, &r, false), 0);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_true(closed_by_peer(c, 3000));
    conn_close(c);

    /* two Content-Length headers that disagree: 400 and closed (RFC 9112 6.3) */
    c = conn_open();
    assert_true(send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: 2\r\nContent-Length: 9\r\n\r\n{}"
                            "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(read_resp(c, &r, false), 0);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_true(closed_by_peer(c, 3000));
    conn_close(c);
}

static void error_bodies(void **state)
{
    (void)state;
    struct resp r;
    roundtrip("GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-Id: boom-request-1\r\n"
              "Connection: close\r\n\r\n",
              &r);
    json_t *j = problem(&r, 500);
    assert_null(strstr(r.body, "hunter2"));
    assert_null(strstr(r.body, "secret"));
    assert_null(strstr(r.head, "hunter2"));
    assert_string_equal(json_string_value(json_object_get(j, "requestId")), "boom-request-1");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "/problems/internal");
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "request id"));
    json_decref(j);
    resp_free(&r);

    roundtrip("GET /unavailable HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    json_decref(problem(&r, 503));
    assert_string_equal(hdr(&r, "Retry-After"), "5");
    resp_free(&r);

    /* 422: every field problem listed */
    char *req = json_post("/invalid", "application/json", "{\"name\":\"\",\"age\":200}", NULL);
    roundtrip(req, &r);
    free(req);
    j = problem(&r, 422);
    json_t *errs = json_object_get(j, "errors");
    assert_true(json_is_array(errs));
    assert_int_equal(json_array_size(errs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "field")),
                        "name");
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 1), "field")),
                        "age");
    assert_non_null(json_string_value(json_object_get(json_array_get(errs, 1), "message")));
    json_decref(j);
    resp_free(&r);
    /* a wrong type makes it a 400, still with the field list */
    req = json_post("/invalid", "application/json", "{\"name\":5}", NULL);
    roundtrip(req, &r);
    free(req);
    j = problem(&r, 400);
    assert_int_equal(json_array_size(json_object_get(j, "errors")), 2);
    json_decref(j);
    resp_free(&r);
}

static void cors(void **state)
{
    (void)state;
    struct resp r;
    roundtrip("GET /x HTTP/1.1\r\nHost: t\r\nOrigin: " CORS_ORIGIN "\r\nConnection: close\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), CORS_ORIGIN);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Credentials"), "true");
    assert_non_null(strstr(hdr(&r, "Access-Control-Expose-Headers"), "X-Request-Id"));
    resp_free(&r);
    /* errors carry CORS too, so the browser app can read them */
    roundtrip("GET /nope HTTP/1.1\r\nHost: t\r\nOrigin: " CORS_ORIGIN
              "\r\nConnection: close\r\n\r\n",
              &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), CORS_ORIGIN);
    resp_free(&r);
    static const char *const foreign[] = {"https://evil.example",         "null",
                                          "https://app.example.evil.com", "http://app.example",
                                          "https://APP.example",          "https://app.example/"};
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "GET /x HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nConnection: close\r\n\r\n",
                 foreign[i]);
        roundtrip(req, &r);
        assert_int_equal(r.status, 200);
        if (hdr(&r, "Access-Control-Allow-Origin") != NULL)
            print_error("origin %s was allowed\n", foreign[i]);
        assert_null(hdr(&r, "Access-Control-Allow-Origin"));
        assert_null(hdr(&r, "Access-Control-Allow-Credentials"));
        resp_free(&r);
    }
}

static void preflight(void **state)
{
    (void)state;
    struct resp r;
    roundtrip("OPTIONS /echo HTTP/1.1\r\nHost: t\r\nOrigin: " CORS_ORIGIN "\r\n"
              "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(hdr(&r, "Allow"), "POST, OPTIONS");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    assert_non_null(strstr(hdr(&r, "Access-Control-Allow-Headers"), "Content-Type"));
    assert_string_equal(hdr(&r, "Access-Control-Max-Age"), "600");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), CORS_ORIGIN);
    resp_free(&r);
    /* a foreign origin learns the methods (Allow) but gets no CORS grant */
    roundtrip("OPTIONS /x HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n"
              "Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "Allow"), "GET, HEAD, OPTIONS");
    assert_null(hdr(&r, "Access-Control-Allow-Methods"));
    assert_null(hdr(&r, "Access-Control-Allow-Origin"));
    resp_free(&r);
    /* unknown paths are not found, preflight or not */
    roundtrip("OPTIONS /nope HTTP/1.1\r\nHost: t\r\nOrigin: " CORS_ORIGIN
              "\r\nConnection: close\r\n\r\n",
              &r);
    json_decref(problem(&r, 404));
    resp_free(&r);
}

static void keep_alive_and_head(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    struct resp r;
    /* sequential requests on one connection */
    for (int i = 0; i < 3; i++) {
        assert_true(send_str(c, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_int_equal(read_resp(c, &r, false), 0);
        assert_int_equal(r.status, 200);
        assert_null(hdr(&r, "Connection"));
        resp_free(&r);
    }
    /* an error answered from the headers keeps the connection too */
    assert_true(send_str(c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(read_resp(c, &r, false), 0);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* HEAD: the GET headers, no body; the next bytes are the next response */
    assert_true(send_str(c, "HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(read_resp(c, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Content-Type"), "application/json; charset=utf-8");
    assert_string_equal(hdr(&r, "X-Content-Type-Options"), "nosniff");
    resp_free(&r);
    /* pipelined: two requests in one write, two answers in order */
    assert_true(send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: 7\r\n\r\n{\"n\":1}"
                            "GET /items/7 HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert_int_equal(read_resp(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"n\":1}");
    resp_free(&r);
    assert_int_equal(read_resp(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"7\"}");
    resp_free(&r);
    /* and the HEAD left no stray body: the buffer is empty now */
    assert_int_equal(c->len, 0);
    assert_false(closed_by_peer(c, 100));
    conn_close(c);
}

struct slow_client {
    int port;
    struct resp r;
    int rc;
};

static void *slow_request(void *p)
{
    struct slow_client *s = p;
    struct conn *c = conn_open_port(s->port);
    send_str(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    s->rc = read_resp(c, &s->r, false);
    conn_close(c);
    return NULL;
}

static void graceful_stop(void **state)
{
    (void)state;
    struct http_server_opts o = server_opts();
    char err[200];
    struct http_server *s = http_server_start(&o, routes, NROUTES, NULL, err, sizeof(err));
    assert_non_null(s);
    int p = http_server_port(s);
    assert_true(p > 0 && p != port);
    struct slow_client sc = {.port = p};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_request, &sc), 0);
    int64_t deadline = mc_mono_ns() + 2000000000LL;
    while (http_server_inflight(s) == 0 && mc_mono_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(http_server_inflight(s), 1);
    struct buf m = BUF_INIT;
    http_server_metrics(s, &m);
    assert_non_null(strstr(m.data, "http_requests_in_flight 1"));
    buf_free(&m);
    int64_t t0 = mc_mono_ns();
    http_server_stop(s, 3000);
    int64_t took_ms = (mc_mono_ns() - t0) / 1000000;
    pthread_join(th, NULL);
    /* the in-flight request finished, told to close; stop waited for it, not longer */
    assert_int_equal(sc.rc, 0);
    assert_int_equal(sc.r.status, 200);
    assert_string_equal(sc.r.body, "slow done");
    assert_string_equal(hdr(&sc.r, "Connection"), "close");
    resp_free(&sc.r);
    assert_in_range(took_ms, 100, 2500);
    /* nothing listens any more */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

/* The client address seen through X-Forwarded-For from server p. */
static void ip_via(int p, const char *xff, char *out, size_t cap)
{
    char req[256];
    struct resp r;
    snprintf(req, sizeof(req), "GET /ip HTTP/1.1\r\nHost: t\r\n%s%s%sConnection: close\r\n\r\n",
             xff ? "X-Forwarded-For: " : "", xff ? xff : "", xff ? "\r\n" : "");
    struct conn *c = conn_open_port(p);
    assert_true(send_str(c, req));
    assert_int_equal(read_resp(c, &r, false), 0);
    conn_close(c);
    assert_int_equal(r.status, 200);
    snprintf(out, cap, "%.*s", (int)r.body_len, r.body);
    resp_free(&r);
}

static void client_ip_and_proxies(void **state)
{
    (void)state;
    char ip[64];
    /* no trusted proxy: the header is ignored, whatever it says */
    ip_via(port, "1.2.3.4", ip, sizeof(ip));
    assert_string_equal(ip, "127.0.0.1");
    struct http_server_opts o = server_opts();
    o.trusted_proxies = "10.0.0.9, 127.0.0.1";
    char err[200] = "";
    struct http_server *s2 = http_server_start(&o, routes, NROUTES, NULL, err, sizeof(err));
    assert_non_null(s2);
    int p2 = http_server_port(s2);
    ip_via(p2, NULL, ip, sizeof(ip));
    assert_string_equal(ip, "127.0.0.1");
    ip_via(p2, "1.2.3.4", ip, sizeof(ip));
    assert_string_equal(ip, "1.2.3.4");
    /* the client's own (spoofable) hops on the left are ignored: right-most untrusted wins */
    ip_via(p2, "9.9.9.9, 1.2.3.4, 10.0.0.9", ip, sizeof(ip));
    assert_string_equal(ip, "1.2.3.4");
    ip_via(p2, "2001:db8::1", ip, sizeof(ip));
    assert_string_equal(ip, "2001:db8::1");
    ip_via(p2, "not-an-address", ip, sizeof(ip));
    assert_string_equal(ip, "127.0.0.1");
    http_server_stop(s2, 1000);
}

static void start_errors(void **state)
{
    (void)state;
    struct http_server_opts o = server_opts();
    char err[200] = "";
    const struct http_route bad[] = {{HTTP_GET, "no-slash", h_get, 0, 0}};
    assert_null(http_server_start(&o, bad, 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "no-slash"));
    /* a port another program listens on (without SO_REUSEPORT) */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    o.port = ntohs(sa.sin_port);
    err[0] = '\0';
    struct http_server *s = http_server_start(&o, routes, NROUTES, NULL, err, sizeof(err));
    if (s != NULL) {
        http_server_stop(s, 0);
        fail_msg("a server bound a port that is in use");
    }
    char want[32];
    snprintf(want, sizeof(want), ":%d", o.port);
    assert_non_null(strstr(err, want));
    close(fd);
    o.port = 0;
    o.host = "no-such-host.invalid";
    assert_null(http_server_start(&o, routes, NROUTES, NULL, err, sizeof(err)));
    http_server_stop(NULL, 0); /* documented no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_ok_with_headers),
        cmocka_unit_test(request_id_sanitized),
        cmocka_unit_test(not_found_and_method),
        cmocka_unit_test(bad_paths),
        cmocka_unit_test(json_body_rules),
        cmocka_unit_test(client_ip_and_proxies),
        cmocka_unit_test(body_size_limits),
        cmocka_unit_test(chunked_bodies),
        cmocka_unit_test(smuggling_guard),
        cmocka_unit_test(error_bodies),
        cmocka_unit_test(cors),
        cmocka_unit_test(preflight),
        cmocka_unit_test(keep_alive_and_head),
        cmocka_unit_test(graceful_stop),
        cmocka_unit_test(start_errors),
    };
    return cmocka_run_group_tests_name("http", tests, group_setup, group_teardown);
}
