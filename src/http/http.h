/*
 * http.h - the HTTP layer's public face: routes, requests, responses, the server.
 *
 * Modules declare routes in tables (method + path pattern with typed parameters →
 * handler); anything not declared is rejected with 404/405 before a handler runs.
 * A handler reads its request through the http_* accessors, fills the response with
 * http_res_* and returns 0, or returns an MC_E* code (see core/err.h) and the server
 * renders an RFC 9457 problem. Request-lifetime memory comes from http_arena(req).
 */
#ifndef MC_HTTP_HTTP_H
#define MC_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;
struct http_res;
struct arena;
struct verrs;
struct buf;

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
};

enum http_route_flags {
    HTTP_BODY_JSON = 1 << 0,  /* takes a JSON object body (Content-Type checked, parsed
                                 strictly, anything but an object refused with 400) */
    HTTP_CACHEABLE = 1 << 1,  /* may be cached (default responses carry no-store) */
    HTTP_NO_METRICS = 1 << 2, /* leave out of request logs (e.g. /metrics scrapes) */
    HTTP_IDEMPOTENT = 1 << 3, /* a creating request that honours Idempotency-Key (api.md):
                                 the application's before/after hooks replay its first
                                 2xx answer (see modules/idem/idem.h) */
};

typedef int (*http_handler)(struct http_req *req, struct http_res *res);

/* One row of a route table. Pattern segments are literals or {name:type} with type
 * uuid | int | str, or a final {name:*} that takes the rest of the path. */
struct http_route {
    enum http_method method;
    const char *pattern;
    http_handler handler;
    unsigned flags;  /* enum http_route_flags */
    size_t max_body; /* 0 = MAX_JSON_BODY_SIZE */
    /* Who may call it, for the generated access-control matrix (`mimicare routes`, tests/api/
     * access-matrix.test.mjs); '|'-separated terms: "public" (no token), "user" (any signed-in
     * user), "patient" | "doctor" | "admin" (that role), "self:{id}" (the patient whose id is
     * the path parameter), "care:{id}" (a doctor on that patient's care team),
     * "breakglass:{id}" (an admin stating X-Break-Glass-Reason). NULL = not declared yet. */
    const char *access;
};

/* ---- request ---- */

enum http_method http_method(const struct http_req *req);
/* The path as received, percent-decoded. */
const char *http_path(const struct http_req *req);
/* The matched route's pattern ("/api/v1/patients/{id:uuid}"), for logs and metrics. */
const char *http_route_pattern(const struct http_req *req);
/* A route parameter by name, NULL if absent. Valid for the request's life. */
const char *http_param(const struct http_req *req, const char *name);
/* A query parameter, NULL if absent. */
const char *http_query(const struct http_req *req, const char *name);
/* A request header (case-insensitive name), NULL if absent. */
const char *http_header(const struct http_req *req, const char *name);
/* The parsed JSON body of an HTTP_BODY_JSON route (borrowed), NULL for other routes. */
json_t *http_body_json(const struct http_req *req);
/* The raw body bytes (routes with a body), NULL and 0 when none. */
const char *http_body(const struct http_req *req, size_t *len);
struct arena *http_arena(struct http_req *req);
const char *http_request_id(const struct http_req *req);
/* Client address as text: the socket peer, or, when the peer is one of the trusted proxies,
 * the right-most X-Forwarded-For hop that is not itself a trusted proxy. */
const char *http_client_ip(struct http_req *req);
/* The application pointer given to http_server_start. */
void *http_app(const struct http_req *req);
/* Pointers the application may attach to a request (its database connection, the
 * authenticated user, ...), by slot number below HTTP_LOCAL_SLOTS. */
#define HTTP_LOCAL_SLOTS 4
void *http_local(const struct http_req *req, int slot);
void http_set_local(struct http_req *req, int slot, void *p);
/* Registers fn(arg) to run once the response is sent (release pooled resources). Up to 8. */
void http_on_done(struct http_req *req, void (*fn)(void *), void *arg);

/* ---- response ---- */

/* Sets a JSON body (takes the reference) with the given status. */
void http_res_json(struct http_res *res, int status, json_t *body);
/* Sets a body (copied) with content type. */
void http_res_body(struct http_res *res, int status, const char *content_type, const void *data,
                   size_t len);
/* Sets a body whose memory is static (not copied, not freed). */
void http_res_static(struct http_res *res, int status, const char *content_type, const void *data,
                     size_t len);
/* Adds a header; name and value are copied. */
void http_res_header(struct http_res *res, const char *name, const char *value);
/* For error returns: a client-safe detail sentence. */
void http_res_detail(struct http_res *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For error returns: the per-field problems (copied). */
void http_res_verrs(struct http_res *res, const struct verrs *v);
/* Marks the response as holding a secret shown once (a generated password, a key): it must
 * never be stored for replay (Idempotency-Key), so a retry runs the handler again. */
void http_res_no_replay(struct http_res *res);

/* Reading a response back (for the server's after hook). The status is 0 until a body is
 * set; the body pointer is borrowed and valid until the response is sent. */
int http_res_status(const struct http_res *res);
const char *http_res_content_type(const struct http_res *res);
const char *http_res_data(const struct http_res *res, size_t *len);
/* The value of a header added with http_res_header (case-insensitive), NULL if none. */
const char *http_res_get_header(const struct http_res *res, const char *name);
/* False after http_res_no_replay. */
bool http_res_replayable(const struct http_res *res);

/* ---- server ---- */

struct http_server_opts {
    const char *host;            /* listen address */
    int port;                    /* 0 = pick a free port (see http_server_port) */
    int threads;                 /* worker threads, > 0 */
    int connection_timeout_s;    /* idle connection timeout */
    int header_timeout_s;        /* request headers must arrive within this; 0 = off */
    int request_timeout_s;       /* longest body upload */
    int max_connections;         /* across all clients */
    int max_connections_per_ip;  /* 0 = unlimited */
    size_t max_json_body;        /* default body cap */
    const char *cors_origin;     /* exact origin allowed by CORS, or NULL */
    bool request_logging;        /* one line per request */
    const char *trusted_proxies; /* comma-separated proxy addresses whose X-Forwarded-For counts */
    bool hsts;                   /* send Strict-Transport-Security */
    /* Called before every matched route's handler (after its body is parsed); a non-zero
     * MC_E* return answers the request instead of the handler (rate limits), and so does a
     * 0 return after setting a response body (idempotent replays). May be NULL. */
    int (*before)(struct http_req *req, struct http_res *res, const struct http_route *route);
    /* Called for every matched route once its response is final (the handler's answer, a
     * problem rendered from an error, or the before hook's), just before it is sent; it
     * may read the response and add headers. May be NULL. */
    void (*after)(struct http_req *req, struct http_res *res, const struct http_route *route);
};

struct http_server;

/* Starts serving routes (the table must outlive the server). app is handed to handlers
 * through http_app(). Returns NULL and a message in err on failure. */
struct http_server *http_server_start(const struct http_server_opts *opts,
                                      const struct http_route *routes, size_t nroutes, void *app,
                                      char *err, size_t errlen);
/* The bound port. */
int http_server_port(const struct http_server *srv);
/* Stops accepting, waits up to grace_ms for in-flight requests, then closes everything
 * and frees srv. */
void http_server_stop(struct http_server *srv, int grace_ms);
/* Requests being handled right now. */
long http_server_inflight(const struct http_server *srv);

/* Renders the server's metrics in Prometheus text format onto b. */
void http_server_metrics(struct http_server *srv, struct buf *b);

#endif
