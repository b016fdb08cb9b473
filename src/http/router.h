/*
 * router.h - path matching for route tables (see http.h for the pattern syntax).
 * Pure and allocation-free at match time, so it is unit-tested and fuzzed on its own.
 */
#ifndef MC_HTTP_ROUTER_H
#define MC_HTTP_ROUTER_H

#include "http/http.h"

#define ROUTER_MAX_PATH   2048
#define ROUTER_MAX_PARAMS 8

enum router_result {
    ROUTER_MATCH,
    ROUTER_NOT_FOUND,
    ROUTER_METHOD_NOT_ALLOWED, /* path known, method not: see allowed */
    ROUTER_BAD_PATH,           /* dot segments, control characters, too long */
};

struct router_match {
    int route;        /* index into the table on ROUTER_MATCH */
    unsigned allowed; /* methods the path accepts (405's Allow) */
    int nparams;
    const char *names[ROUTER_MAX_PARAMS];  /* point into the route table */
    const char *values[ROUTER_MAX_PARAMS]; /* point into path_copy */
    char path_copy[ROUTER_MAX_PATH + 1];
};

struct router;

/* Checks every pattern and builds a router over routes (not copied). Returns NULL and a
 * message naming the bad pattern on error. */
struct router *router_build(const struct http_route *routes, size_t n, char *err, size_t errlen);
void router_free(struct router *r);

/* Matches method and path. HEAD matches GET routes. Fills m. */
enum router_result router_match(const struct router *r, enum http_method method, const char *path,
                                struct router_match *m);

/* "GET, HEAD, POST" for an allowed mask; writes into out. */
void router_allow_header(unsigned allowed, char *out, size_t cap);
/* Parses "GET" etc.; 0 for unknown methods. */
enum http_method http_method_parse(const char *s);
const char *http_method_name(enum http_method m);

#endif
