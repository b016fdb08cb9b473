/*
 * router_fuzz.c - libFuzzer target for path matching (http/router.h).
 *
 * Builds a route table shaped like the real one once (literal, uuid, int, str and
 * rest-of-path parameters, several methods per path, the root). Each input is one
 * request: the first byte picks the method, the rest is the path. After router_match the
 * target checks the result against the table: a match names a route in range whose
 * method fits; its parameters have the table's names, point into m.path_copy (or are ""),
 * are NUL-terminated there, satisfy their declared type, and put together with the
 * literal segments give back exactly the requested path. A 405 carries an Allow mask
 * without the method; a 404 carries none. router_allow_header never overruns its buffer.
 */
#include "core/rand.h"
#include "http/router.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int dummy_handler(struct http_req *req, struct http_res *res)
{
    (void)req;
    (void)res;
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/", dummy_handler, 0, 0},
    {HTTP_GET, "/health", dummy_handler, 0, 0},
    {HTTP_GET, "/metrics", dummy_handler, 0, 0},
    {HTTP_POST, "/api/v1/auth/login", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/patients", dummy_handler, 0, 0},
    {HTTP_POST, "/api/v1/patients", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/patients/{id:uuid}", dummy_handler, 0, 0},
    {HTTP_PATCH, "/api/v1/patients/{id:uuid}", dummy_handler, 0, 0},
    {HTTP_DELETE, "/api/v1/patients/{id:uuid}", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/patients/{id:uuid}/vitals", dummy_handler, 0, 0},
    {HTTP_POST, "/api/v1/patients/{id:uuid}/vitals", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/patients/{id:uuid}/vitals/{n:int}", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/appointments/{year:int}/{month:int}", dummy_handler, 0, 0},
    {HTTP_GET, "/babies/{id:uuid}/events/{eid:uuid}", dummy_handler, 0, 0},
    {HTTP_PUT, "/babies/{id:uuid}/events/{eid:uuid}", dummy_handler, 0, 0},
    {HTTP_GET, "/fhir/R4/{type:str}", dummy_handler, 0, 0},
    {HTTP_GET, "/fhir/R4/{type:str}/{id:str}", dummy_handler, 0, 0},
    {HTTP_PUT, "/fhir/R4/{type:str}/{id:str}", dummy_handler, 0, 0},
    {HTTP_GET, "/static/{path:*}", dummy_handler, 0, 0},
    {HTTP_GET, "/api/v1/docs/{rest:*}", dummy_handler, 0, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static struct router *router;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[200];
    (void)argc;
    (void)argv;
    router = router_build(routes, NROUTES, err, sizeof(err));
    if (router == NULL) {
        fprintf(stderr, "router_fuzz: %s\n", err);
        abort();
    }
    return 0;
}

/* One segment of a pattern: a literal or a {name:type} parameter. */
struct pseg {
    const char *text; /* literal text or parameter name */
    size_t len;
    char type; /* 0 literal, 'u' uuid, 'i' int, 's' str, '*' rest */
};

/* Splits a (known good) pattern into segments; returns their count. */
static int pattern_segs(const char *p, struct pseg *out, int max)
{
    int n = 0;
    while (*p == '/' && p[1] != '\0' && n < max) {
        p++;
        size_t len = strcspn(p, "/");
        struct pseg *s = &out[n++];
        if (p[0] == '{') {
            const char *colon = memchr(p, ':', len);
            s->text = p + 1;
            s->len = (size_t)(colon - p - 1);
            s->type = colon[1] == 'u' ? 'u' : colon[1] == 'i' ? 'i' : colon[1] == 's' ? 's' : '*';
        } else {
            s->text = p;
            s->len = len;
            s->type = 0;
        }
        p += len;
    }
    return n;
}

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Is v a NUL-terminated string inside m->path_copy? */
static bool inside_copy(const struct router_match *m, const char *v)
{
    const char *lo = m->path_copy, *hi = m->path_copy + sizeof(m->path_copy);
    if (v < lo || v >= hi)
        return false;
    return memchr(v, '\0', (size_t)(hi - v)) != NULL;
}

static void check_match(const struct router_match *m, enum http_method want, const char *path)
{
    FUZZ_CHECK(m->route >= 0 && (size_t)m->route < NROUTES);
    FUZZ_CHECK(routes[m->route].method == want);
    FUZZ_CHECK(m->allowed & want);
    FUZZ_CHECK(m->nparams >= 0 && m->nparams <= ROUTER_MAX_PARAMS);

    struct pseg segs[32];
    int nsegs = pattern_segs(routes[m->route].pattern, segs, 32);
    static char rebuilt[2 * ROUTER_MAX_PATH + 64];
    size_t used = 0;
    int np = 0;
    bool rest_empty = false;
    for (int i = 0; i < nsegs; i++) {
        const char *piece = segs[i].text;
        size_t plen = segs[i].len;
        if (segs[i].type != 0) {
            FUZZ_CHECK(np < m->nparams);
            const char *name = m->names[np], *v = m->values[np];
            np++;
            FUZZ_CHECK(name != NULL && strlen(name) == segs[i].len &&
                       memcmp(name, segs[i].text, segs[i].len) == 0);
            FUZZ_CHECK(v != NULL && (v[0] == '\0' || inside_copy(m, v)));
            switch (segs[i].type) {
            case 'u':
                FUZZ_CHECK(uuid_valid(v));
                break;
            case 'i':
                FUZZ_CHECK(strlen(v) >= 1 && strlen(v) <= 18 && all_digits(v));
                break;
            case 's':
                FUZZ_CHECK(strlen(v) >= 1 && strlen(v) <= 256 && !strchr(v, '/'));
                break;
            default:
                rest_empty = v[0] == '\0';
                break;
            }
            piece = v;
            plen = strlen(v);
        }
        if (segs[i].type == '*' && rest_empty)
            break; /* "/static" and "/static/" both give "" */
        rebuilt[used++] = '/';
        memcpy(rebuilt + used, piece, plen);
        used += plen;
    }
    FUZZ_CHECK(np == m->nparams);
    if (used == 0)
        rebuilt[used++] = '/';
    rebuilt[used] = '\0';
    if (rest_empty) {
        size_t plen = strlen(path);
        FUZZ_CHECK(strcmp(path, rebuilt) == 0 ||
                   (plen == used + 1 && memcmp(path, rebuilt, used) == 0 && path[used] == '/'));
    } else {
        FUZZ_CHECK(strcmp(path, rebuilt) == 0);
    }
}

/* The low three bits of the first byte pick the method; in seed files that is '@' GET,
 * 'A' HEAD, 'B' POST, 'C' PUT, 'D' PATCH, 'E' DELETE, 'F' OPTIONS, 'G' an unknown one. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum http_method by_byte[8] = {HTTP_GET,     HTTP_HEAD,          HTTP_POST,
                                                HTTP_PUT,     HTTP_PATCH,         HTTP_DELETE,
                                                HTTP_OPTIONS, (enum http_method)0};
    if (size < 1)
        return 0;
    enum http_method method = by_byte[data[0] & 7];
    enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
    char *path = fuzz_cstr(data + 1, size - 1);

    static struct router_match m;
    enum router_result res = router_match(router, method, path, &m);
    switch (res) {
    case ROUTER_MATCH:
        check_match(&m, want, path);
        break;
    case ROUTER_METHOD_NOT_ALLOWED:
        FUZZ_CHECK(m.route == -1 && m.allowed != 0 && (m.allowed & want) == 0);
        break;
    case ROUTER_NOT_FOUND:
        FUZZ_CHECK(m.route == -1 && m.allowed == 0);
        break;
    case ROUTER_BAD_PATH:
        FUZZ_CHECK(m.route == -1);
        break;
    default:
        FUZZ_CHECK(!"unknown router result");
    }

    char allow[64], tiny[8];
    router_allow_header(m.allowed, allow, sizeof(allow));
    FUZZ_CHECK(strlen(allow) < sizeof(allow));
    FUZZ_CHECK(strstr(allow, "OPTIONS") != NULL);
    router_allow_header(m.allowed, tiny, sizeof(tiny));
    FUZZ_CHECK(strlen(tiny) < sizeof(tiny));
    if (method != 0)
        FUZZ_CHECK(http_method_parse(http_method_name(method)) == method);

    free(path);
    return 0;
}
