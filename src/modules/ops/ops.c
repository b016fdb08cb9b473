/*
 * ops.c - operational endpoints: liveness (/health), readiness (/health/ready),
 * Prometheus metrics (/metrics) and the API description (/api/v1/openapi.yaml).
 */
#include "app/modules.h"
#include "core/embed.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "infra/kv/kv.h"
#include "modules/mod.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* GET /health: the process is up. No dependency is touched, so it is cheap enough for
 * a load balancer to poll often. */
static int health_get(struct http_req *req, struct http_res *res)
{
    (void)req;
    char ts[RFC3339_LEN];
    char body[96];
    rfc3339_format(mc_now_ms(), ts);
    int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"timestamp\":\"%s\"}", ts);
    http_res_body(res, 200, "application/json; charset=utf-8", body, (size_t)n);
    return 0;
}

/* The key-value store's check: a PING when it is Redis (which is down when configured but
 * unreachable, so readiness fails with it), trivially up when it is in-process. */
static bool kv_check(struct services *svc, json_t *checks)
{
    int64_t t0 = mc_mono_ns();
    int rc = kv_ping(svc->kv);
    double ms = (double)(mc_mono_ns() - t0) / 1e6;
    json_t *kvj = json_object();
    json_object_set_new(kvj, "status", json_string(rc == 0 ? "up" : "down"));
    json_object_set_new(kvj, "backend", json_string(kv_backend_name(svc->kv)));
    json_object_set_new(kvj, "latencyMs", json_real((double)(int64_t)(ms * 1000) / 1000));
    if (rc != 0)
        json_object_set_new(kvj, "error", json_string(mc_strerror(rc)));
    json_object_set_new(checks, "kv", kvj);
    return rc == 0;
}

/* GET /health/ready: each dependency with its state and latency; 503 if one is down. */
static int ready_get(struct http_req *req, struct http_res *res)
{
    struct services *svc = mod_services(req);
    json_t *checks = json_object();
    bool all_up = true;

    int64_t t0 = mc_mono_ns();
    struct db_conn *c = NULL;
    int rc = mod_db(req, &c);
    if (rc == 0)
        rc = db_ping(c);
    double ms = (double)(mc_mono_ns() - t0) / 1e6;
    json_t *dbj = json_object();
    json_object_set_new(dbj, "status", json_string(rc == 0 ? "up" : "down"));
    json_object_set_new(dbj, "backend", json_string(db_kind_name(svc->db)));
    json_object_set_new(dbj, "latencyMs", json_real((double)(int64_t)(ms * 1000) / 1000));
    if (rc != 0)
        json_object_set_new(dbj, "error", json_string(mc_strerror(rc)));
    json_object_set_new(checks, "database", dbj);
    all_up = all_up && rc == 0;
    all_up = kv_check(svc, checks) && all_up;

    json_t *body = json_object();
    json_object_set_new(body, "status", json_string(all_up ? "ready" : "unavailable"));
    json_object_set_new(body, "checks", checks);
    if (!all_up)
        http_res_header(res, "Retry-After", "5");
    http_res_json(res, all_up ? 200 : 503, body);
    return 0;
}

static long rss_bytes(void)
{
    long pages_total = 0, pages_rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
        pages_rss = -1;
    fclose(f);
    return pages_rss < 0 ? -1 : pages_rss * sysconf(_SC_PAGESIZE);
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory handle itself */
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static int metrics_get(struct http_req *req, struct http_res *res)
{
    struct services *svc = mod_services(req);
    struct buf b = BUF_INIT;
    http_server_metrics(svc->http, &b);
    buf_printf(&b,
               "# HELP process_resident_memory_bytes Resident set size.\n"
               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
               "# HELP process_open_fds Open file descriptors.\n"
               "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
               "# HELP process_uptime_seconds Seconds since the process started.\n"
               "# TYPE process_uptime_seconds gauge\nprocess_uptime_seconds %.3f\n"
               "# HELP db_pool_connections_in_use Database connections borrowed.\n"
               "# TYPE db_pool_connections_in_use gauge\ndb_pool_connections_in_use %d\n"
               "# HELP db_pool_connections_max Database pool size.\n"
               "# TYPE db_pool_connections_max gauge\ndb_pool_connections_max %d\n",
               rss_bytes(), open_fds(), (double)(mc_mono_ns() - svc->started_mono_ns) / 1e9,
               db_pool_in_use(svc->db), db_pool_size(svc->db));
    http_res_body(res, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
    return 0;
}

/* GET /api/v1/openapi.yaml: the contract, compiled into the binary. */
static int openapi_get(struct http_req *req, struct http_res *res)
{
    (void)req;
    const struct embed_file *f = embed_find(embed_docs, "openapi.yaml");
    if (f == NULL)
        return MC_ENOTFOUND;
    http_res_static(res, 200, "application/yaml; charset=utf-8", f->data, f->len);
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/health", health_get, 0, 0, "public"},
    {HTTP_GET, "/health/ready", ready_get, 0, 0, "public"},
    {HTTP_GET, "/metrics", metrics_get, HTTP_NO_METRICS, 0, "public"},
    {HTTP_GET, "/api/v1/openapi.yaml", openapi_get, HTTP_CACHEABLE, 0, "public"},
};

const struct http_route *ops_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
