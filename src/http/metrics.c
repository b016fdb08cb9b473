/*
 * metrics.c - per-route request metrics (see metrics.h).
 *
 * Statuses are counted in a fixed set of slots (the codes this API uses plus "other")
 * so the memory is bounded whatever clients send.
 */
#include "http/metrics.h"
#include "core/mem.h"
#include "http/router.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const int status_codes[] = {101, 200, 201, 202, 204, 206, 301, 302, 304,
                                   400, 401, 403, 404, 405, 408, 409, 412, 413,
                                   415, 422, 423, 429, 431, 500, 501, 503, 504};
#define NSTATUS (sizeof(status_codes) / sizeof(status_codes[0]) + 1) /* + "other" */

/* Latency bucket upper bounds in microseconds (Prometheus "le" in seconds). */
static const int64_t bucket_us[] = {500,    1000,   2500,   5000,    10000,   25000,  50000,
                                    100000, 250000, 500000, 1000000, 2500000, 5000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]) + 1) /* + "+Inf" */

struct route_metrics {
    _Atomic uint64_t by_status[NSTATUS][2]; /* [status][0 = route method, 1 = HEAD] */
    _Atomic uint64_t buckets[NBUCKETS];     /* non-cumulative counts */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
};

struct metrics {
    const struct http_route *routes;
    size_t n;
    struct route_metrics *r; /* n + 1 entries */
};

struct metrics *metrics_new(const struct http_route *routes, size_t n)
{
    struct metrics *m = mc_xcalloc(1, sizeof(*m));
    m->routes = routes;
    m->n = n;
    m->r = mc_xcalloc(n + 1, sizeof(*m->r));
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->r);
    free(m);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return NSTATUS - 1;
}

void metrics_observe(struct metrics *m, int route, enum http_method method, int status,
                     int64_t duration_ns)
{
    struct route_metrics *rm = &m->r[route < 0 || (size_t)route >= m->n ? m->n : (size_t)route];
    int64_t us = duration_ns / 1000;
    size_t b = 0;
    while (b < NBUCKETS - 1 && us > bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&rm->by_status[status_slot(status)][method == HTTP_HEAD], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_us, (uint64_t)(us > 0 ? us : 0), memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->count, 1, memory_order_relaxed);
}

static const char *route_label(const struct metrics *m, size_t i)
{
    return i < m->n ? m->routes[i].pattern : "unmatched";
}

static const char *method_label(const struct metrics *m, size_t i, int head)
{
    if (head)
        return "HEAD";
    return i < m->n ? http_method_name(m->routes[i].method) : "any";
}

void metrics_render(const struct metrics *m, struct buf *b)
{
    buf_puts(b, "# HELP http_requests_total HTTP requests by route template, method and status.\n"
                "# TYPE http_requests_total counter\n");
    for (size_t i = 0; i <= m->n; i++) {
        for (size_t s = 0; s < NSTATUS; s++) {
            for (int h = 0; h < 2; h++) {
                uint64_t v = atomic_load_explicit(&m->r[i].by_status[s][h], memory_order_relaxed);
                if (v == 0)
                    continue;
                char code[8];
                if (s < NSTATUS - 1)
                    snprintf(code, sizeof(code), "%d", status_codes[s]);
                else
                    snprintf(code, sizeof(code), "other");
                buf_printf(b,
                           "http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                           route_label(m, i), method_label(m, i, h), code, (unsigned long long)v);
            }
        }
    }
    buf_puts(b, "# HELP http_request_duration_seconds Time from first byte to response queued.\n"
                "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->n; i++) {
        uint64_t count = atomic_load_explicit(&m->r[i].count, memory_order_relaxed);
        if (count == 0)
            continue;
        const char *route = route_label(m, i), *meth = method_label(m, i, 0);
        uint64_t cum = 0;
        for (size_t k = 0; k < NBUCKETS; k++) {
            cum += atomic_load_explicit(&m->r[i].buckets[k], memory_order_relaxed);
            if (k < NBUCKETS - 1)
                buf_printf(b,
                           "http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%"
                           "g\"} %llu\n",
                           route, meth, (double)bucket_us[k] / 1e6, (unsigned long long)cum);
            else
                buf_printf(b,
                           "http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+"
                           "Inf\"} %llu\n",
                           route, meth, (unsigned long long)cum);
        }
        buf_printf(b, "http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n", route,
                   meth, (double)atomic_load_explicit(&m->r[i].sum_us, memory_order_relaxed) / 1e6);
        buf_printf(b, "http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n",
                   route, meth, (unsigned long long)cum);
    }
}
