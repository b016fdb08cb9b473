/*
 * router_test.c - unit tests for http/router: pattern validation in router_build,
 * matching of literal and typed segments (uuid, int, str, rest), HEAD on GET routes,
 * 405 with the allowed-method mask and its Allow header text, rejection of unsafe paths
 * (dot segments, control characters, backslash, overlong) and the not-found cases
 * (trailing slash, too many segments). The router is pure, so no server is started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h1(struct http_req *req, struct http_res *res)
{
    (void)req;
    (void)res;
    return 0;
}

static int h2(struct http_req *req, struct http_res *res)
{
    (void)req;
    (void)res;
    return 1;
}

enum {
    R_ROOT,
    R_HEALTH,
    R_PATIENT_GET,
    R_PATIENT_PUT,
    R_PATIENT_DELETE,
    R_PATIENTS_POST,
    R_PATIENTS_GET,
    R_ITEM_INT,
    R_ITEM_STR,
    R_NOTE,
    R_STATIC,
    R_ITEM_PATCH,
    R_DUP_FIRST,
    R_DUP_SECOND,
    R_COUNT
};

static const struct http_route routes[] = {
    [R_ROOT] = {HTTP_GET, "/", h1, 0, 0},
    [R_HEALTH] = {HTTP_GET, "/api/v1/health", h1, 0, 0},
    [R_PATIENT_GET] = {HTTP_GET, "/api/v1/patients/{id:uuid}", h1, 0, 0},
    [R_PATIENT_PUT] = {HTTP_PUT, "/api/v1/patients/{id:uuid}", h1, HTTP_BODY_JSON, 0},
    [R_PATIENT_DELETE] = {HTTP_DELETE, "/api/v1/patients/{id:uuid}", h1, 0, 0},
    [R_PATIENTS_POST] = {HTTP_POST, "/api/v1/patients", h1, HTTP_BODY_JSON, 0},
    [R_PATIENTS_GET] = {HTTP_GET, "/api/v1/patients", h1, 0, 0},
    [R_ITEM_INT] = {HTTP_GET, "/api/v1/items/{n:int}", h1, 0, 0},
    [R_ITEM_STR] = {HTTP_GET, "/api/v1/items/{name:str}", h1, 0, 0},
    [R_NOTE] = {HTTP_GET, "/api/v1/users/{uid:uuid}/notes/{nid:int}", h1, 0, 0},
    [R_STATIC] = {HTTP_GET, "/static/{path:*}", h1, 0, 0},
    [R_ITEM_PATCH] = {HTTP_PATCH, "/api/v1/items/{n:int}", h1, HTTP_BODY_JSON, 0},
    [R_DUP_FIRST] = {HTTP_GET, "/dup/{x:str}", h1, 0, 0},
    [R_DUP_SECOND] = {HTTP_GET, "/dup/{y:str}", h2, 0, 0},
};

#define UUID_A "0190c5e2-1234-7abc-8def-0123456789ab"
#define UUID_B "0190C5E2-1234-7ABC-8DEF-0123456789AB"

static int setup(void **state)
{
    char err[200] = "";
    struct router *r = router_build(routes, R_COUNT, err, sizeof(err));
    if (r == NULL) {
        print_error("router_build: %s\n", err);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    router_free(*state);
    return 0;
}

/* Matches and returns the result; m is heap-allocated (it holds a 2 KiB path copy). */
static struct router_match *m_new(void)
{
    struct router_match *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    return m;
}

static const char *param(const struct router_match *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->values[i];
    return NULL;
}

/* ------------------------------------------------------------- building ---- */

static void build_rejects_bad_patterns(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "api/v1",        /* no leading slash */
        "/a/{id:float}", /* unknown type */
        "/a/{id}",       /* no type */
        "/a/{:int}",     /* no name */
        "/a/{id:uuid",   /* unclosed brace */
        "/a/{id:uuid}x",
        "/a/id:uuid}", /* brace in a literal */
        "/a/x{y}z",
        "/a//b", /* empty segment */
        "//",
        "/a/",      /* trailing slash */
        "/{p:*}/x", /* rest not last */
        "/a/{p:*}/{q:int}",
        "/a/{p:**}",
        "/a/{abcdefghijklmnopqrstuvwxyz0123456:int}", /* name too long */
        "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", /* more than 16 segments */
        "/{a:int}/{b:int}/{c:int}/{d:int}/{e:int}/{f:int}/{g:int}/{h:int}/{i:int}", /* 9 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct http_route rt[] = {
            {HTTP_GET, "/ok", h1, 0, 0},
            {HTTP_GET, bad[i], h1, 0, 0},
        };
        char err[200] = "";
        struct router *r = router_build(rt, 2, err, sizeof(err));
        if (r != NULL)
            print_error("accepted pattern '%s'\n", bad[i]);
        assert_null(r);
        /* the message names the offending pattern */
        assert_non_null(strstr(err, "bad route pattern: GET "));
        if (bad[i][0] != '\0')
            assert_non_null(strstr(err, bad[i]));
    }
    /* limits themselves are fine: 16 segments, 8 parameters, a 31-character name */
    static const char *const ok[] = {
        "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16",
        "/{a:int}/{b:int}/{c:int}/{d:int}/{e:int}/{f:int}/{g:int}/{h:*}",
        "/a/{abcdefghijklmnopqrstuvwxyz01234:int}",
        "/{p:*}",
        "/",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const struct http_route rt[] = {{HTTP_GET, ok[i], h1, 0, 0}};
        char err[200] = "";
        struct router *r = router_build(rt, 1, err, sizeof(err));
        if (r == NULL)
            print_error("rejected '%s': %s\n", ok[i], err);
        assert_non_null(r);
        router_free(r);
    }
}

static void build_rejects_bad_rows(void **state)
{
    (void)state;
    char err[200];
    const struct http_route no_handler[] = {{HTTP_GET, "/a", NULL, 0, 0}};
    assert_null(router_build(no_handler, 1, err, sizeof(err)));
    const struct http_route no_pattern[] = {{HTTP_GET, NULL, h1, 0, 0}};
    assert_null(router_build(no_pattern, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "(null)"));
    /* OPTIONS is answered by the server (preflight), never routed; masks are one method */
    const struct http_route options[] = {{HTTP_OPTIONS, "/a", h1, 0, 0}};
    assert_null(router_build(options, 1, err, sizeof(err)));
    const struct http_route two[] = {{HTTP_GET | HTTP_POST, "/a", h1, 0, 0}};
    assert_null(router_build(two, 1, err, sizeof(err)));
    const struct http_route none[] = {{0, "/a", h1, 0, 0}};
    assert_null(router_build(none, 1, err, sizeof(err)));
    /* an empty table builds and matches nothing */
    struct router *r = router_build(NULL, 0, err, sizeof(err));
    assert_non_null(r);
    struct router_match *m = m_new();
    assert_int_equal(router_match(r, HTTP_GET, "/", m), ROUTER_NOT_FOUND);
    free(m);
    router_free(r);
    router_free(NULL);
}

/* ------------------------------------------------------------- matching ---- */

static void match_literals_and_params(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();

    assert_int_equal(router_match(r, HTTP_GET, "/", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_ROOT);
    assert_int_equal(m->nparams, 0);

    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/health", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_HEALTH);
    assert_int_equal(m->nparams, 0);

    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/patients", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_PATIENTS_GET);
    assert_int_equal(router_match(r, HTTP_POST, "/api/v1/patients", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_PATIENTS_POST);

    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/patients/" UUID_A, m), ROUTER_MATCH);
    assert_int_equal(m->route, R_PATIENT_GET);
    assert_int_equal(m->nparams, 1);
    assert_string_equal(m->names[0], "id");
    assert_string_equal(m->values[0], UUID_A);
    assert_int_equal(router_match(r, HTTP_DELETE, "/api/v1/patients/" UUID_B, m), ROUTER_MATCH);
    assert_int_equal(m->route, R_PATIENT_DELETE);
    assert_string_equal(param(m, "id"), UUID_B);

    /* a segment that is not a UUID does not match the uuid route */
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/patients/123", m), ROUTER_NOT_FOUND);
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/patients/" UUID_A "0", m),
                     ROUTER_NOT_FOUND);
    /* literals are case-sensitive */
    assert_int_equal(router_match(r, HTTP_GET, "/API/v1/health", m), ROUTER_NOT_FOUND);

    /* two parameters */
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/users/" UUID_A "/notes/0042", m),
                     ROUTER_MATCH);
    assert_int_equal(m->route, R_NOTE);
    assert_int_equal(m->nparams, 2);
    assert_string_equal(param(m, "uid"), UUID_A);
    assert_string_equal(param(m, "nid"), "0042");
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/users/" UUID_A "/notes/x", m),
                     ROUTER_NOT_FOUND);
    free(m);
}

static void match_int_and_str(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/42", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_ITEM_INT);
    assert_string_equal(param(m, "n"), "42");
    assert_null(param(m, "name"));
    /* not an int: falls through to the str route */
    static const char *const not_int[] = {
        "abc", "-1", "+1", "1.5", "0x1f", "4 2", "1234567890123456789"}; /* 19 digits */
    for (size_t i = 0; i < sizeof(not_int) / sizeof(not_int[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/items/%s", not_int[i]);
        assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_MATCH);
        assert_int_equal(m->route, R_ITEM_STR);
        assert_string_equal(param(m, "name"), not_int[i]);
    }
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/123456789012345678", m),
                     ROUTER_MATCH);
    assert_int_equal(m->route, R_ITEM_INT);
    /* str: 1..256 bytes */
    char path[400];
    int n = snprintf(path, sizeof(path), "/api/v1/items/");
    memset(path + n, 's', 256);
    path[n + 256] = '\0';
    assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_MATCH);
    assert_int_equal(m->route, R_ITEM_STR);
    assert_int_equal(strlen(param(m, "name")), 256);
    path[n + 256] = 's';
    path[n + 257] = '\0';
    assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_NOT_FOUND);
    /* PATCH only has the int route: a str segment is a known path for GET only */
    assert_int_equal(router_match(r, HTTP_PATCH, "/api/v1/items/7", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_ITEM_PATCH);
    assert_int_equal(router_match(r, HTTP_PATCH, "/api/v1/items/abc", m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_GET);
    free(m);
}

static void match_rest(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    static const struct {
        const char *path, *rest;
    } cases[] = {
        {"/static/app.css", "app.css"},
        {"/static/css/app.css", "css/app.css"},
        {"/static/a/b/c/d/e/f/g/h/i/j/k/l/m/n", "a/b/c/d/e/f/g/h/i/j/k/l/m/n"},
        {"/static/a//b", "a//b"},
        {"/static/", ""},
        {"/static", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(router_match(r, HTTP_GET, cases[i].path, m), ROUTER_MATCH);
        assert_int_equal(m->route, R_STATIC);
        assert_int_equal(m->nparams, 1);
        assert_string_equal(m->names[0], "path");
        assert_string_equal(m->values[0], cases[i].rest);
    }
    /* the values live in the match, not in the caller's string */
    char path[64] = "/static/img/logo.png";
    assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_MATCH);
    memset(path, 'x', sizeof(path) - 1);
    assert_string_equal(m->values[0], "img/logo.png");
    /* the rest cannot smuggle dot segments */
    assert_int_equal(router_match(r, HTTP_GET, "/static/../etc/passwd", m), ROUTER_BAD_PATH);
    assert_int_equal(router_match(r, HTTP_GET, "/static/a/./b", m), ROUTER_BAD_PATH);
    assert_int_equal(router_match(r, HTTP_GET, "/statics/x", m), ROUTER_NOT_FOUND);
    free(m);
}

static void match_head_and_405(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    char allow[96];

    /* HEAD is served by GET routes */
    assert_int_equal(router_match(r, HTTP_HEAD, "/api/v1/health", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_HEALTH);
    assert_int_equal(router_match(r, HTTP_HEAD, "/api/v1/patients/" UUID_A, m), ROUTER_MATCH);
    assert_int_equal(m->route, R_PATIENT_GET);
    assert_string_equal(param(m, "id"), UUID_A);
    /* ... but not by POST-only routes */
    const struct http_route post_only[] = {{HTTP_POST, "/p", h1, 0, 0}};
    char err[100];
    struct router *rp = router_build(post_only, 1, err, sizeof(err));
    assert_non_null(rp);
    assert_int_equal(router_match(rp, HTTP_HEAD, "/p", m), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_POST);
    assert_int_equal(m->route, -1);
    router_allow_header(m->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "POST, OPTIONS");
    router_free(rp);

    assert_int_equal(router_match(r, HTTP_POST, "/api/v1/health", m), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_GET);
    assert_int_equal(m->route, -1);
    router_allow_header(m->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, OPTIONS");

    assert_int_equal(router_match(r, HTTP_DELETE, "/api/v1/patients", m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_GET | HTTP_POST);
    router_allow_header(m->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST, OPTIONS");

    assert_int_equal(router_match(r, HTTP_PATCH, "/api/v1/patients/" UUID_A, m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_GET | HTTP_PUT | HTTP_DELETE);
    router_allow_header(m->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, PUT, DELETE, OPTIONS");

    /* OPTIONS on a known path reports the path's methods */
    assert_int_equal(router_match(r, HTTP_OPTIONS, "/api/v1/patients", m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m->allowed, HTTP_GET | HTTP_POST);
    /* a match also reports every method of the path */
    assert_int_equal(router_match(r, HTTP_PUT, "/api/v1/patients/" UUID_A, m), ROUTER_MATCH);
    assert_int_equal(m->allowed, HTTP_GET | HTTP_PUT | HTTP_DELETE);
    free(m);
}

static void allow_header_text(void **state)
{
    (void)state;
    char out[96];
    router_allow_header(0, out, sizeof(out));
    assert_string_equal(out, "OPTIONS");
    router_allow_header(HTTP_HEAD, out, sizeof(out));
    assert_string_equal(out, "HEAD, OPTIONS");
    router_allow_header(HTTP_OPTIONS, out, sizeof(out));
    assert_string_equal(out, "OPTIONS");
    router_allow_header(0x7f, out, sizeof(out));
    assert_string_equal(out, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    router_allow_header(HTTP_DELETE | HTTP_POST, out, sizeof(out));
    assert_string_equal(out, "POST, DELETE, OPTIONS");
    /* a small buffer is never overrun and stays terminated */
    char small[16];
    memset(small, 'z', sizeof(small));
    router_allow_header(0x7f, small, 10);
    assert_true(strlen(small) < 10);
    assert_int_equal(strncmp(small, "GET, HEAD", strlen(small)), 0);
    assert_int_equal(small[10], 'z');

    assert_int_equal(http_method_parse("GET"), HTTP_GET);
    assert_int_equal(http_method_parse("PATCH"), HTTP_PATCH);
    assert_int_equal(http_method_parse("OPTIONS"), HTTP_OPTIONS);
    assert_int_equal(http_method_parse("get"), 0); /* methods are case-sensitive */
    assert_int_equal(http_method_parse("TRACE"), 0);
    assert_int_equal(http_method_parse(""), 0);
    assert_string_equal(http_method_name(HTTP_DELETE), "DELETE");
    assert_string_equal(http_method_name(0), "OTHER");
}

static void bad_paths(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    static const char *const bad[] = {
        "",
        "api/v1/health",
        "/api/v1/../v1/health",
        "/api/v1/./health",
        "/..",
        "/.",
        "/api/v1/health/..",
        "/api/v1/health/.",
        "/api\\v1/health",
        "/api/v1/health\\",
        "/api/v1/he\x01lth",
        "/api/v1/health\n",
        "/api/v1/health\r\nX-Injected: 1",
        "/api/v1/\x1b[31m",
        "/api/v1/health\x7f",
        "/api/v1/\t",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum router_result rr = router_match(r, HTTP_GET, bad[i], m);
        if (rr != ROUTER_BAD_PATH)
            print_error("not refused: '%s' → %d\n", bad[i], rr);
        assert_int_equal(rr, ROUTER_BAD_PATH);
        assert_int_equal(m->route, -1);
    }
    /* dots that are not whole dot segments are ordinary text */
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/...", m), ROUTER_MATCH);
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/..a", m), ROUTER_MATCH);
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/.env", m), ROUTER_MATCH);
    /* non-ASCII bytes are not control characters */
    assert_int_equal(router_match(r, HTTP_GET, "/api/v1/items/caf\xc3\xa9", m), ROUTER_MATCH);

    /* length: exactly ROUTER_MAX_PATH is a path (not found), one more is refused */
    char *p = malloc(ROUTER_MAX_PATH + 2);
    p[0] = '/';
    memset(p + 1, 'a', ROUTER_MAX_PATH - 1);
    p[ROUTER_MAX_PATH] = '\0';
    assert_int_equal(router_match(r, HTTP_GET, p, m), ROUTER_NOT_FOUND);
    p[ROUTER_MAX_PATH] = 'a';
    p[ROUTER_MAX_PATH + 1] = '\0';
    assert_int_equal(router_match(r, HTTP_GET, p, m), ROUTER_BAD_PATH);
    /* a long rest value near the limit is returned whole */
    memcpy(p, "/static/", 8);
    p[ROUTER_MAX_PATH] = '\0';
    assert_int_equal(router_match(r, HTTP_GET, p, m), ROUTER_MATCH);
    assert_int_equal(strlen(m->values[0]), ROUTER_MAX_PATH - 8);
    free(p);
    free(m);
}

static void not_found_cases(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    static const char *const nf[] = {
        "/api/v1/health/", /* trailing slash is a different path */
        "/api/v1/patients/", "/api/v1//health", "//", "/api/v1/health/x", "/api/v1", "/nope",
    };
    for (size_t i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
        enum router_result rr = router_match(r, HTTP_GET, nf[i], m);
        if (rr != ROUTER_NOT_FOUND)
            print_error("'%s' → %d\n", nf[i], rr);
        assert_int_equal(rr, ROUTER_NOT_FOUND);
        assert_int_equal(m->allowed, 0);
        assert_int_equal(m->route, -1);
    }
    /* more segments than any route may have: not found, even under a rest route */
    char path[256];
    size_t used = 0;
    for (int i = 0; i < 17; i++)
        used += (size_t)snprintf(path + used, sizeof(path) - used, "/a");
    assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_NOT_FOUND);
    used = (size_t)snprintf(path, sizeof(path), "/static");
    for (int i = 0; i < 20; i++)
        used += (size_t)snprintf(path + used, sizeof(path) - used, "/x");
    assert_int_equal(router_match(r, HTTP_GET, path, m), ROUTER_NOT_FOUND);
    /* a 16-segment path still routes */
    const struct http_route deep[] = {
        {HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/{last:int}", h1, 0, 0}};
    char err[100];
    struct router *rd = router_build(deep, 1, err, sizeof(err));
    assert_non_null(rd);
    assert_int_equal(router_match(rd, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", m),
                     ROUTER_MATCH);
    assert_string_equal(m->values[0], "16");
    assert_int_equal(router_match(rd, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", m),
                     ROUTER_NOT_FOUND);
    router_free(rd);
    free(m);
}

static void first_match_wins(void **state)
{
    struct router *r = *state;
    struct router_match *m = m_new();
    assert_int_equal(router_match(r, HTTP_GET, "/dup/v", m), ROUTER_MATCH);
    assert_int_equal(m->route, R_DUP_FIRST);
    assert_string_equal(m->names[0], "x");
    assert_ptr_equal(routes[m->route].handler, h1);
    /* order in the table decides, not specificity: a str route listed before a literal */
    const struct http_route t[] = {
        {HTTP_GET, "/a/{s:str}", h2, 0, 0},
        {HTTP_GET, "/a/me", h1, 0, 0},
    };
    char err[100];
    struct router *r2 = router_build(t, 2, err, sizeof(err));
    assert_non_null(r2);
    assert_int_equal(router_match(r2, HTTP_GET, "/a/me", m), ROUTER_MATCH);
    assert_int_equal(m->route, 0);
    assert_string_equal(param(m, "s"), "me");
    router_free(r2);
    free(m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_rejects_bad_patterns),
        cmocka_unit_test(build_rejects_bad_rows),
        T(match_literals_and_params),
        T(match_int_and_str),
        T(match_rest),
        T(match_head_and_405),
        cmocka_unit_test(allow_header_text),
        T(bad_paths),
        T(not_found_cases),
        T(first_match_wins),
    };
#undef T
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
