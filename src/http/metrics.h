/*
 * metrics.h - request counters and latency histograms per route, rendered in the
 * Prometheus text format. Lock-free: relaxed atomic increments on the hot path.
 */
#ifndef MC_HTTP_METRICS_H
#define MC_HTTP_METRICS_H

#include "http/http.h"

#include <stdint.h>

struct metrics;

/* Creates counters for n routes plus one "unmatched" slot (index n). */
struct metrics *metrics_new(const struct http_route *routes, size_t n);
void metrics_free(struct metrics *m);
/* Records one finished request. route may be -1 (unmatched). */
void metrics_observe(struct metrics *m, int route, enum http_method method, int status,
                     int64_t duration_ns);
/* Appends the counters and histograms. */
void metrics_render(const struct metrics *m, struct buf *b);

#endif
