/*
 * server.c - libmicrohttpd glue: request lifecycle, body limits, errors, headers,
 * CORS, metrics and request logs (see http.h).
 *
 * Lifecycle of one request (all on the connection's pool thread):
 *   uri_log callback   → struct http_req is allocated (before headers are parsed)
 *   access, 1st call   → headers are checked, the route is matched; an error that is
 *                        known now is answered at once if a body would follow, else on
 *                        the next call (answering on the first call makes MHD drop
 *                        keep-alive, see design.md)
 *   access, body calls → the body is appended under its cap
 *   access, last call  → JSON is parsed, the handler runs, the response is queued
 *   completed callback → metrics, request log, done-hooks, memory freed
 */
#include "http/http.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "http/deadline.h"
#include "http/metrics.h"
#include "http/router.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DONE    8
#define MAX_HEADERS 16

struct http_server {
    struct MHD_Daemon *d;
    struct http_server_opts opts;
    const struct http_route *routes;
    size_t nroutes;
    struct router *router;
    struct metrics *metrics;
    void *app;
    int port;
    _Atomic long inflight;     /* requests between first access call and completion */
    struct deadline *deadline; /* request-header deadline (deadline.h), NULL = off */
    _Atomic bool draining;     /* shutting down: every response closes its connection */
};

struct done_hook {
    void (*fn)(void *);
    void *arg;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct arena *arena; /* created on first use */
    enum http_method method;
    const char *path;         /* MHD's decoded path, lives with the request */
    int stage;                /* 0 new, 1 receiving, 2 answered */
    int route;                /* index into srv->routes, -1 unmatched */
    int pending_err;          /* error decided from the headers, 0 none */
    char pending_detail[160]; /* its detail */
    bool close_after;         /* send Connection: close */
    bool has_body;            /* Content-Length > 0 or chunked */
    bool nul_in_path;         /* raw path had %00: MHD's decoded path is cut short */
    struct router_match match;
    struct buf body;
    json_t *json;
    char request_id[65];
    char client_ip[INET6_ADDRSTRLEN];
    int64_t start_ns;
    int status; /* status sent, 0 before */
    size_t resp_bytes;
    struct done_hook done[MAX_DONE];
    int ndone;
    void *local[HTTP_LOCAL_SLOTS]; /* see http_local */
};

struct res_header {
    const char *name, *value;
};

struct http_res {
    int status;
    const char *ctype;
    const char *body;
    size_t len;
    bool body_owned; /* body is malloc'd and handed to MHD */
    struct res_header headers[MAX_HEADERS];
    int nheaders;
    char detail[256];
    struct verrs *verrs; /* arena copy, for error returns */
    bool no_replay;      /* holds a one-time secret: never store it (http_res_no_replay) */
    struct http_req *req;
};

/* ---------- request accessors ---------- */

enum http_method http_method(const struct http_req *req)
{
    return req->method;
}

const char *http_path(const struct http_req *req)
{
    return req->path;
}

const char *http_route_pattern(const struct http_req *req)
{
    return req->route >= 0 ? req->srv->routes[req->route].pattern : "unmatched";
}

const char *http_param(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->match.nparams; i++)
        if (strcmp(req->match.names[i], name) == 0)
            return req->match.values[i];
    return NULL;
}

const char *http_query(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

json_t *http_body_json(const struct http_req *req)
{
    return req->json;
}

const char *http_body(const struct http_req *req, size_t *len)
{
    *len = req->body.len;
    return req->body.data;
}

struct arena *http_arena(struct http_req *req)
{
    if (req->arena == NULL)
        req->arena = arena_new(4096);
    return req->arena;
}

const char *http_request_id(const struct http_req *req)
{
    return req->request_id;
}

void *http_app(const struct http_req *req)
{
    return req->srv->app;
}

void *http_local(const struct http_req *req, int slot)
{
    return slot >= 0 && slot < HTTP_LOCAL_SLOTS ? req->local[slot] : NULL;
}

void http_set_local(struct http_req *req, int slot, void *p)
{
    if (slot >= 0 && slot < HTTP_LOCAL_SLOTS)
        req->local[slot] = p;
}

void http_on_done(struct http_req *req, void (*fn)(void *), void *arg)
{
    if (req->ndone >= MAX_DONE) {
        log_error("too many done hooks; running now");
        fn(arg);
        return;
    }
    req->done[req->ndone++] = (struct done_hook){fn, arg};
}

/* True if ip is one of the comma-separated entries of list (exact text match). */
static bool in_list(const char *list, const char *ip, size_t iplen)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        while (*p == ' ')
            p++;
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == iplen && n > 0 && strncmp(p, ip, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static void peer_ip(struct http_req *req, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
    else
        snprintf(out, cap, "unknown");
}

const char *http_client_ip(struct http_req *req)
{
    if (req->client_ip[0] != '\0')
        return req->client_ip;
    peer_ip(req, req->client_ip, sizeof(req->client_ip));
    const char *trusted = req->srv->opts.trusted_proxies;
    if (trusted == NULL || trusted[0] == '\0' ||
        !in_list(trusted, req->client_ip, strlen(req->client_ip)))
        return req->client_ip; /* X-Forwarded-For from anyone else is ignored */
    const char *xff = http_header(req, "X-Forwarded-For");
    if (xff == NULL)
        return req->client_ip;
    /* walk from the right: skip our own proxies, take the first hop they were given */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *z = end;
        while (a < z && *a == ' ')
            a++;
        while (z > a && z[-1] == ' ')
            z--;
        size_t n = (size_t)(z - a);
        char hop[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        if (n == 0 || n >= sizeof(hop))
            break;
        memcpy(hop, a, n);
        hop[n] = '\0';
        if (inet_pton(AF_INET, hop, bin) != 1 && inet_pton(AF_INET6, hop, bin) != 1)
            break; /* garbage: keep the proxy's own address */
        if (!in_list(trusted, hop, n)) {
            memcpy(req->client_ip, hop, n + 1);
            break;
        }
        end = start > xff ? start - 1 : xff;
    }
    return req->client_ip;
}

/* ---------- response builders ---------- */

static void res_set_owned(struct http_res *res, int status, const char *ctype, char *body,
                          size_t len)
{
    if (res->body_owned)
        free((char *)res->body);
    res->status = status;
    res->ctype = ctype;
    res->body = body;
    res->len = len;
    res->body_owned = true;
}

void http_res_json(struct http_res *res, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (text == NULL) {
        res_set_owned(res, 500, "application/problem+json", mc_xstrdup("{}"), 2);
        return;
    }
    res_set_owned(res, status, "application/json; charset=utf-8", text, strlen(text));
}

void http_res_body(struct http_res *res, int status, const char *content_type, const void *data,
                   size_t len)
{
    char *copy = mc_xmalloc(len + 1);
    memcpy(copy, data, len);
    copy[len] = '\0';
    res_set_owned(res, status, arena_strdup(http_arena(res->req), content_type), copy, len);
}

void http_res_static(struct http_res *res, int status, const char *content_type, const void *data,
                     size_t len)
{
    if (res->body_owned)
        free((char *)res->body);
    res->body_owned = false;
    res->status = status;
    res->ctype = content_type;
    res->body = data;
    res->len = len;
}

void http_res_header(struct http_res *res, const char *name, const char *value)
{
    if (res->nheaders >= MAX_HEADERS) {
        log_error("too many response headers", LF_S("header", name));
        return;
    }
    struct arena *a = http_arena(res->req);
    res->headers[res->nheaders++] =
        (struct res_header){arena_strdup(a, name), arena_strdup(a, value)};
}

void http_res_detail(struct http_res *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
    va_end(ap);
}

void http_res_verrs(struct http_res *res, const struct verrs *v)
{
    res->verrs = arena_alloc(http_arena(res->req), sizeof(*v));
    memcpy(res->verrs, v, sizeof(*v));
}

void http_res_no_replay(struct http_res *res)
{
    res->no_replay = true;
}

int http_res_status(const struct http_res *res)
{
    return res->status;
}

const char *http_res_content_type(const struct http_res *res)
{
    return res->ctype;
}

const char *http_res_data(const struct http_res *res, size_t *len)
{
    *len = res->len;
    return res->body;
}

const char *http_res_get_header(const struct http_res *res, const char *name)
{
    for (int i = 0; i < res->nheaders; i++)
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

bool http_res_replayable(const struct http_res *res)
{
    return !res->no_replay;
}

static bool res_has_header(const struct http_res *res, const char *name)
{
    return http_res_get_header(res, name) != NULL;
}

/* Fills res with an RFC 9457 problem for err. Internal detail never reaches the client. */
static void render_problem(struct http_req *r, struct http_res *res, int err)
{
    const struct mc_err_info *info = mc_err_http(err);
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string(info->type));
    json_object_set_new(p, "title", json_string(info->title));
    json_object_set_new(p, "status", json_integer(info->http_status));
    if (info->http_status >= 500) {
        log_error("request failed", LF_S("error", mc_strerror(err)),
                  LF_S("route", http_route_pattern(r)));
        json_object_set_new(p, "detail",
                            json_string(info->http_status == 503
                                            ? "A service this request needs is unavailable; "
                                              "retry shortly."
                                            : "An unexpected error occurred; quote the "
                                              "request id when reporting it."));
    } else if (res->detail[0] != '\0') {
        json_object_set_new(p, "detail", json_string(res->detail));
    }
    if (res->verrs != NULL && res->verrs->n > 0) {
        json_t *errs = json_array();
        int n = res->verrs->n < VERRS_MAX ? res->verrs->n : VERRS_MAX;
        for (int i = 0; i < n; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "field", json_string(res->verrs->items[i].field));
            json_object_set_new(e, "message", json_string(res->verrs->items[i].message));
            json_array_append_new(errs, e);
        }
        json_object_set_new(p, "errors", errs);
    }
    json_object_set_new(p, "requestId", json_string(r->request_id));
    http_res_json(res, info->http_status, p);
    res->ctype = "application/problem+json";
    if (err == MC_EMETHOD) {
        char allow[96];
        router_allow_header(r->match.allowed, allow, sizeof(allow));
        http_res_header(res, "Allow", allow);
    }
    if ((info->http_status == 503 || info->http_status == 429) &&
        !res_has_header(res, "Retry-After"))
        http_res_header(res, "Retry-After", "5");
}

/* ---------- sending ---------- */

static bool origin_allowed(const struct http_server *srv, const char *origin)
{
    return origin != NULL && srv->opts.cors_origin != NULL && srv->opts.cors_origin[0] != '\0' &&
           strcmp(origin, srv->opts.cors_origin) == 0;
}

static void add_cors(struct http_req *r, struct MHD_Response *resp)
{
    const char *origin = http_header(r, "Origin");
    if (!origin_allowed(r->srv, origin))
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "X-Request-Id, ETag, Location, Retry-After, RateLimit-Limit, "
                            "RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed");
}

static enum MHD_Result send_response(struct http_req *r, struct http_res *res)
{
    struct MHD_Response *resp;
    if (res->body_owned) {
        resp = MHD_create_response_from_buffer(res->len, (void *)res->body, MHD_RESPMEM_MUST_FREE);
        res->body_owned = false;
    } else {
        resp = MHD_create_response_from_buffer(res->len, (void *)(res->body ? res->body : ""),
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return MHD_NO;
    if (res->ctype != NULL)
        MHD_add_response_header(resp, "Content-Type", res->ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (!res_has_header(res, "Content-Security-Policy"))
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; frame-ancestors 'none'");
    bool cacheable = r->route >= 0 && (r->srv->routes[r->route].flags & HTTP_CACHEABLE);
    if (!cacheable && !res_has_header(res, "Cache-Control"))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->srv->opts.hsts)
        MHD_add_response_header(resp, "Strict-Transport-Security",
                                "max-age=31536000; includeSubDomains");
    if (r->srv->opts.cors_origin != NULL)
        MHD_add_response_header(resp, "Vary", "Origin");
    add_cors(r, resp);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(resp, res->headers[i].name, res->headers[i].value);
    if (r->close_after || atomic_load(&r->srv->draining))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)res->status, resp);
    MHD_destroy_response(resp);
    r->status = res->status;
    r->resp_bytes = res->len;
    r->stage = 2;
    return ok;
}

static enum MHD_Result send_error(struct http_req *r, int err, const char *detail)
{
    struct http_res res = {.req = r};
    if (detail != NULL)
        snprintf(res.detail, sizeof(res.detail), "%s", detail);
    render_problem(r, &res, err);
    return send_response(r, &res);
}

/* ---------- header deadline (deadline.h) ---------- */

static void watch_set(struct http_server *srv, struct MHD_Connection *conn, bool waiting)
{
    if (srv->deadline == NULL)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    deadline_set(srv->deadline, ci ? ci->socket_context : NULL, waiting);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    if (srv->deadline == NULL)
        return;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = deadline_track(srv->deadline, ci ? ci->connect_fd : -1);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        deadline_release(srv->deadline, *socket_context);
        *socket_context = NULL;
    }
}

/* ---------- request stages ---------- */

static void set_request_id(struct http_req *r)
{
    const char *given = http_header(r, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    bool sane = n >= 8 && n < sizeof(r->request_id);
    for (size_t i = 0; sane && i < n; i++) {
        char c = given[i];
        sane = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    }
    if (sane)
        memcpy(r->request_id, given, n + 1);
    else
        uuid_v7(r->request_id);
}

static void decide_error(struct http_req *r, int err, const char *detail)
{
    r->pending_err = err;
    snprintf(r->pending_detail, sizeof(r->pending_detail), "%s", detail ? detail : "");
}

static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    ct += n;
    while (*ct == ' ')
        ct++;
    if (*ct == '\0')
        return true;
    if (*ct != ';')
        return false;
    ct++;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "charset=utf-8", 13) == 0 && (ct[13] == '\0' || ct[13] == ';');
}

/* Answers a CORS preflight. */
static enum MHD_Result preflight(struct http_req *r)
{
    struct http_res res = {.req = r, .status = 204};
    char allow[96];
    router_allow_header(r->match.allowed, allow, sizeof(allow));
    http_res_header(&res, "Allow", allow);
    if (origin_allowed(r->srv, http_header(r, "Origin"))) {
        http_res_header(&res, "Access-Control-Allow-Methods", allow);
        http_res_header(&res, "Access-Control-Allow-Headers",
                        "Authorization, Content-Type, If-Match, Idempotency-Key, X-Request-Id, "
                        "X-MFA-Token, X-Break-Glass-Reason");
        http_res_header(&res, "Access-Control-Max-Age", "600");
    }
    return send_response(r, &res);
}

struct cl_scan {
    const char *first;
    bool conflict;
};

static enum MHD_Result scan_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind;
    struct cl_scan *s = cls;
    if (key == NULL || strcasecmp(key, "Content-Length") != 0)
        return MHD_YES;
    if (value == NULL)
        value = "";
    if (s->first == NULL)
        s->first = value;
    else if (strcmp(s->first, value) != 0)
        s->conflict = true;
    return MHD_YES;
}

/* True if the request has several Content-Length headers that disagree. */
static bool content_length_conflict(struct MHD_Connection *conn)
{
    struct cl_scan s = {NULL, false};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_content_length, &s);
    return s.conflict;
}

static enum MHD_Result begin(struct http_req *r, const char *url, const char *method)
{
    struct http_server *srv = r->srv;
    r->stage = 1;
    r->path = url;
    r->route = -1;
    r->start_ns = r->start_ns ? r->start_ns : mc_mono_ns();
    atomic_fetch_add(&srv->inflight, 1);
    watch_set(srv, r->conn, false);
    set_request_id(r);
    log_set_request_id(r->request_id);

    const char *cl = http_header(r, "Content-Length");
    const char *te = http_header(r, "Transfer-Encoding");
    r->has_body = te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
    r->method = http_method_parse(method);
    if (cl != NULL && te != NULL) {
        /* request smuggling guard (RFC 9112 6.1): never guess which one frames the body */
        r->close_after = true;
        return send_error(r, MC_EBADREQ, "both Content-Length and Transfer-Encoding sent");
    }
    if (cl != NULL && content_length_conflict(r->conn)) {
        /* RFC 9112 6.3: differing Content-Length values are unrecoverable (smuggling) */
        r->close_after = true;
        return send_error(r, MC_EBADREQ, "conflicting Content-Length headers");
    }
    enum router_result rr =
        router_match(srv->router, r->method ? r->method : HTTP_GET, url, &r->match);
    if (r->nul_in_path)
        rr = ROUTER_BAD_PATH; /* "/health%00/x" must not be served as "/health" */
    if (rr == ROUTER_MATCH && r->method != 0)
        r->route = r->match.route;
    if (rr == ROUTER_BAD_PATH) {
        decide_error(r, MC_EBADREQ, "malformed path");
    } else if (rr == ROUTER_NOT_FOUND) {
        decide_error(r, MC_ENOTFOUND, "no such resource");
    } else if (r->method == HTTP_OPTIONS) {
        if (!r->has_body)
            return MHD_YES; /* answered on the next call, see top of file */
        decide_error(r, MC_EBADREQ, "OPTIONS takes no body");
    } else if (rr == ROUTER_METHOD_NOT_ALLOWED || r->method == 0) {
        decide_error(r, MC_EMETHOD, "method not allowed on this resource");
    } else {
        const struct http_route *rt = &srv->routes[r->route];
        size_t cap = rt->max_body ? rt->max_body : srv->opts.max_json_body;
        long long declared = 0;
        if (r->has_body && !(rt->flags & HTTP_BODY_JSON)) {
            decide_error(r, MC_EBADREQ, "this endpoint takes no request body");
        } else if (r->has_body && !is_json_type(http_header(r, "Content-Type"))) {
            decide_error(r, MC_EMEDIA, "Content-Type must be application/json");
        } else if (cl != NULL && (parse_int_range(cl, 0, (long long)cap, &declared) != 0)) {
            decide_error(r, MC_ETOOBIG, "request body is larger than allowed");
        }
        r->body.max = cap;
    }
    if (r->pending_err != 0 && r->has_body) {
        r->close_after = true; /* the body is left unread */
        return send_error(r, r->pending_err, r->pending_detail);
    }
    return MHD_YES;
}

static enum MHD_Result receive(struct http_req *r, const char *data, size_t *size)
{
    int64_t limit_ns = (int64_t)r->srv->opts.request_timeout_s * 1000000000LL;
    if (mc_mono_ns() - r->start_ns > limit_ns) {
        log_info("request body timed out", LF_S("route", http_route_pattern(r)));
        r->status = 408;
        return MHD_NO;
    }
    if (buf_append(&r->body, data, *size) != 0) {
        /* a chunked body grew past its cap: drop the connection rather than read on */
        log_info("request body over cap, connection closed", LF_S("route", http_route_pattern(r)));
        r->status = 413;
        return MHD_NO;
    }
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result finish(struct http_req *r)
{
    struct http_res res = {.req = r};
    int rc = r->pending_err;
    if (rc != 0)
        snprintf(res.detail, sizeof(res.detail), "%s", r->pending_detail);
    if (rc == 0 && r->method == HTTP_OPTIONS)
        return preflight(r);
    const struct http_route *rt = rc == 0 ? &r->srv->routes[r->route] : NULL;
    if (rc == 0 && (rt->flags & HTTP_BODY_JSON)) {
        char err[200];
        if (r->body.len == 0) {
            rc = MC_EBADREQ;
            http_res_detail(&res, "request body is empty");
        } else if (json_parse_strict(r->body.data, r->body.len, &r->json, err, sizeof(err)) != 0) {
            rc = MC_EBADREQ;
            http_res_detail(&res, "%s", err);
        } else if (!json_is_object(r->json)) {
            /* every JSON endpoint takes an object: handlers need not check it again */
            rc = MC_EBADREQ;
            http_res_detail(&res, "the body must be a JSON object");
        }
    }
    if (rc == 0 && r->srv->opts.before != NULL)
        rc = r->srv->opts.before(r, &res, rt);
    if (rc == 0 && res.status == 0) /* a before hook that answered (a replay) skips it */
        rc = rt->handler(r, &res);
    if (rc != 0)
        render_problem(r, &res, rc);
    if (rt != NULL && r->srv->opts.after != NULL)
        r->srv->opts.after(r, &res, rt);
    return send_response(r, &res);
}

/* ---------- MHD callbacks ---------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *r = mc_xcalloc(1, sizeof(*r));
    r->srv = cls;
    r->conn = conn;
    r->route = -1;
    r->start_ns = mc_mono_ns();
    /* uri is still percent-encoded here; MHD decodes %00 into a NUL that ends the path */
    for (const char *p = uri; p != NULL && *p != '\0' && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            r->nul_in_path = true;
    return r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_req *r = *con_cls;
    enum MHD_Result ok;
    if (r == NULL) {
        r = on_uri(cls, url, conn);
        *con_cls = r;
    }
    r->conn = conn;
    log_set_request_id(r->request_id[0] ? r->request_id : NULL);
    if (r->stage == 0)
        ok = begin(r, url, method);
    else if (*upload_size != 0)
        ok = r->stage == 2 ? (*upload_size = 0, MHD_YES) : receive(r, upload, upload_size);
    else if (r->stage == 2)
        ok = MHD_YES;
    else
        ok = finish(r);
    log_set_request_id(NULL);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_req *r = *con_cls;
    if (r == NULL)
        return;
    *con_cls = NULL;
    watch_set(srv, conn, true);
    if (r->stage >= 1) {
        atomic_fetch_sub(&srv->inflight, 1);
        int status = r->status ? r->status : 499; /* the client went away first */
        int64_t dur = mc_mono_ns() - r->start_ns;
        metrics_observe(srv->metrics, r->route, r->method, status, dur);
        bool quiet = r->route >= 0 && (srv->routes[r->route].flags & HTTP_NO_METRICS);
        if (srv->opts.request_logging && !quiet && log_enabled(LOG_INFO)) {
            log_set_request_id(r->request_id);
            log_info("request", LF_S("method", http_method_name(r->method)),
                     LF_S("route", http_route_pattern(r)), LF_I("status", status),
                     LF_I("durationUs", dur / 1000), LF_I("bytes", r->resp_bytes),
                     LF_I("completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK));
            log_set_request_id(NULL);
        }
    }
    for (int i = 0; i < r->ndone; i++)
        r->done[i].fn(r->done[i].arg);
    json_decref(r->json);
    buf_free(&r->body);
    arena_free(r->arena);
    free(r);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_debug("libmicrohttpd", LF_S("detail", msg));
}

/* ---------- server ---------- */

static int resolve_bind(const char *host, int port, struct sockaddr_storage *ss, bool *v6)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    if (*v6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

struct http_server *http_server_start(const struct http_server_opts *opts,
                                      const struct http_route *routes, size_t nroutes, void *app,
                                      char *err, size_t errlen)
{
    struct http_server *srv = mc_xcalloc(1, sizeof(*srv));
    srv->opts = *opts;
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->app = app;
    srv->router = router_build(routes, nroutes, err, errlen);
    if (srv->router == NULL)
        goto fail;
    srv->metrics = metrics_new(routes, nroutes);
    if (opts->header_timeout_s > 0)
        srv->deadline = deadline_start((int64_t)opts->header_timeout_s * 1000000000LL);
    struct sockaddr_storage ss;
    bool v6 = false;
    if (resolve_bind(opts->host, opts->port, &ss, &v6) != 0) {
        snprintf(err, errlen, "cannot resolve listen address '%s'", opts->host);
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
                     (v6 ? MHD_USE_IPv6 : 0);
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)opts->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)opts->max_connections_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        srv, MHD_OPTION_END);
    if (srv->d == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d (port in use or no permission)", opts->host,
                 opts->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : opts->port;
    return srv;
fail:
    router_free(srv->router);
    metrics_free(srv->metrics);
    deadline_stop(srv->deadline);
    free(srv);
    return NULL;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

long http_server_inflight(const struct http_server *srv)
{
    return atomic_load(&((struct http_server *)srv)->inflight);
}

void http_server_stop(struct http_server *srv, int grace_ms)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->draining, true);
    MHD_socket lfd = MHD_quiesce_daemon(srv->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    int64_t deadline = mc_mono_ns() + (int64_t)grace_ms * 1000000;
    while (atomic_load(&srv->inflight) > 0 && mc_mono_ns() < deadline) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    long left = atomic_load(&srv->inflight);
    if (left > 0)
        log_warn("shutdown grace period over, closing busy connections", LF_I("inflight", left));
    MHD_stop_daemon(srv->d);
    deadline_stop(srv->deadline); /* after MHD: every connection has been released */
    router_free(srv->router);
    metrics_free(srv->metrics);
    free(srv);
}

void http_server_metrics(struct http_server *srv, struct buf *b)
{
    buf_printf(b,
               "# HELP http_requests_in_flight Requests being handled.\n"
               "# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight %ld\n",
               atomic_load(&srv->inflight));
    metrics_render(srv->metrics, b);
}
