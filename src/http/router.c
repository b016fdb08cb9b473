/*
 * router.c - route table compilation and path matching (see router.h).
 *
 * Patterns are split into segments once at build time. Matching walks the request path
 * segment by segment against each route in table order; the first full match wins, and
 * the methods of every route whose pattern matched are collected for 405's Allow.
 */
#include "http/router.h"
#include "core/mem.h"
#include "core/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 16

enum seg_kind { SEG_LIT, SEG_UUID, SEG_INT, SEG_STR, SEG_REST };

struct seg {
    enum seg_kind kind;
    const char *text; /* literal text, or the parameter name (not NUL-terminated) */
    size_t len;       /* length of text */
};

struct compiled {
    enum http_method method;
    int nsegs;
    struct seg segs[MAX_SEGS];
    char names[ROUTER_MAX_PARAMS][32]; /* NUL-terminated parameter names */
};

struct router {
    const struct http_route *routes;
    size_t n;
    struct compiled *c; /* one per route */
};

static const struct {
    enum http_method m;
    const char *name;
} methods[] = {{HTTP_GET, "GET"},        {HTTP_HEAD, "HEAD"},   {HTTP_POST, "POST"},
               {HTTP_PUT, "PUT"},        {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"},
               {HTTP_OPTIONS, "OPTIONS"}};

enum http_method http_method_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(s, methods[i].name) == 0)
            return methods[i].m;
    return 0;
}

const char *http_method_name(enum http_method m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].m == m)
            return methods[i].name;
    return "OTHER";
}

void router_allow_header(unsigned allowed, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    if (allowed & HTTP_GET)
        allowed |= HTTP_HEAD;
    allowed |= HTTP_OPTIONS;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (!(allowed & methods[i].m))
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", methods[i].name);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

static int compile_one(const struct http_route *rt, struct compiled *c, char *err, size_t errlen)
{
    const char *p = rt->pattern;
    int nparams = 0;
    c->method = rt->method;
    c->nsegs = 0;
    if (p == NULL || p[0] != '/' || rt->handler == NULL || http_method_name(rt->method)[0] == 'O')
        goto bad;
    if (strcmp(p, "/") == 0)
        return 0; /* the root: zero segments */
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || c->nsegs >= MAX_SEGS)
            goto bad;
        struct seg *s = &c->segs[c->nsegs++];
        if (p[0] == '{') {
            const char *colon = memchr(p, ':', len);
            if (p[len - 1] != '}' || colon == NULL || nparams >= ROUTER_MAX_PARAMS)
                goto bad;
            size_t nlen = (size_t)(colon - p - 1);
            const char *type = colon + 1;
            size_t tlen = (size_t)(p + len - 1 - type);
            if (nlen == 0 || nlen >= sizeof(c->names[0]))
                goto bad;
            memcpy(c->names[nparams], p + 1, nlen);
            c->names[nparams][nlen] = '\0';
            nparams++;
            if (tlen == 4 && memcmp(type, "uuid", 4) == 0)
                s->kind = SEG_UUID;
            else if (tlen == 3 && memcmp(type, "int", 3) == 0)
                s->kind = SEG_INT;
            else if (tlen == 3 && memcmp(type, "str", 3) == 0)
                s->kind = SEG_STR;
            else if (tlen == 1 && type[0] == '*' && end == NULL)
                s->kind = SEG_REST;
            else
                goto bad;
            s->text = p + 1;
            s->len = nlen;
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                goto bad;
            s->kind = SEG_LIT;
            s->text = p;
            s->len = len;
        }
        p += len;
    }
    if (*p != '\0')
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "bad route pattern: %s %s", http_method_name(rt->method),
             rt->pattern ? rt->pattern : "(null)");
    return -1;
}

struct router *router_build(const struct http_route *routes, size_t n, char *err, size_t errlen)
{
    struct router *r = mc_xcalloc(1, sizeof(*r));
    r->routes = routes;
    r->n = n;
    r->c = mc_xcalloc(n ? n : 1, sizeof(*r->c));
    for (size_t i = 0; i < n; i++) {
        if (compile_one(&routes[i], &r->c[i], err, errlen) != 0) {
            router_free(r);
            return NULL;
        }
    }
    return r;
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    free(r->c);
    free(r);
}

static bool seg_ok(const struct seg *s, const char *v)
{
    size_t len = strlen(v);
    switch (s->kind) {
    case SEG_LIT:
        return len == s->len && memcmp(v, s->text, len) == 0;
    case SEG_UUID:
        return uuid_valid(v);
    case SEG_INT:
        if (len == 0 || len > 18)
            return false;
        for (size_t i = 0; i < len; i++)
            if (v[i] < '0' || v[i] > '9')
                return false;
        return true;
    case SEG_STR:
        return len > 0 && len <= 256;
    case SEG_REST:
        return true;
    }
    return false;
}

/* Splits path_copy in place into segments; returns count or -1 for a bad path. */
static int split_path(char *p, char **segs, int max)
{
    int n = 0;
    if (p[0] != '/')
        return -1;
    if (p[1] == '\0')
        return 0;
    while (*p == '/') {
        *p++ = '\0';
        if (n >= max)
            return max + 1; /* more segments than any route has: plain not found */
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        p = slash;
    }
    return n;
}

enum router_result router_match(const struct router *r, enum http_method method, const char *path,
                                struct router_match *m)
{
    size_t plen = strlen(path);
    m->route = -1;
    m->allowed = 0;
    m->nparams = 0;
    if (plen == 0 || plen > ROUTER_MAX_PATH || path[0] != '/')
        return ROUTER_BAD_PATH;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return ROUTER_BAD_PATH;
    }
    memcpy(m->path_copy, path, plen + 1);
    char *segs[MAX_SEGS + 1];
    int n = split_path(m->path_copy, segs, MAX_SEGS);
    if (n < 0)
        return ROUTER_BAD_PATH;
    for (int i = 0; i < n && i < MAX_SEGS; i++) {
        if (strcmp(segs[i], ".") == 0 || strcmp(segs[i], "..") == 0)
            return ROUTER_BAD_PATH;
    }
    if (n > MAX_SEGS)
        return ROUTER_NOT_FOUND;
    enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
    for (size_t ri = 0; ri < r->n; ri++) {
        const struct compiled *c = &r->c[ri];
        bool rest = c->nsegs > 0 && c->segs[c->nsegs - 1].kind == SEG_REST;
        if (rest ? n < c->nsegs - 1 : n != c->nsegs)
            continue;
        bool ok = true;
        for (int s = 0; s < c->nsegs && ok; s++) {
            if (c->segs[s].kind == SEG_REST)
                break;
            ok = seg_ok(&c->segs[s], segs[s]);
        }
        if (!ok)
            continue;
        m->allowed |= c->method;
        if (c->method == want && m->route < 0)
            m->route = (int)ri;
    }
    if (m->route < 0)
        return m->allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
    const struct compiled *c = &r->c[m->route];
    int np = 0;
    for (int s = 0; s < c->nsegs; s++) {
        if (c->segs[s].kind == SEG_LIT)
            continue;
        m->names[np] = c->names[np];
        if (c->segs[s].kind != SEG_REST) {
            m->values[np] = segs[s];
        } else if (s < n) {
            /* the rest of the path, slashes included: undo the split from here on */
            size_t off = (size_t)(segs[s] - m->path_copy);
            memcpy(m->path_copy + off, path + off, plen - off + 1);
            m->values[np] = m->path_copy + off;
        } else {
            m->values[np] = "";
        }
        np++;
    }
    m->nparams = np;
    return ROUTER_MATCH;
}
