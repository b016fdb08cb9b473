/*
 * idem.h - Idempotency-Key for creating requests (api.md "Conventions"): mobile clients
 * retry on flaky networks, and the same key from the same user within 24 h returns the
 * first answer and creates nothing new.
 *
 * It is one mechanism for every route flagged HTTP_IDEMPOTENT, not per handler: the
 * application's server hooks call idem_before (before the handler) and idem_after (once the
 * response is final). idem_before claims the key by inserting a placeholder row into
 * idempotency_keys in a transaction of its own (the primary key (user_id, key) lets only
 * one concurrent duplicate win), or answers a retry from the stored row. idem_after stores a
 * 2xx answer (status, content type, body, ETag, Location) in the placeholder, or deletes
 * the placeholder for any other answer so the client may retry.
 */
#ifndef MC_MODULES_IDEM_H
#define MC_MODULES_IDEM_H

#include "http/http.h"

#include <stdbool.h>
#include <stdint.h>

#define IDEM_HEADER       "Idempotency-Key"
#define IDEM_KEY_MAX      255
#define IDEM_TTL_MS       (24LL * 60 * 60 * 1000) /* api.md: 24 hours */
#define IDEM_WAIT_MS      2000          /* a duplicate waits this long for the first to finish */
#define IDEM_ABANDONED_MS (60LL * 1000) /* a placeholder this old lost its request (crash) */

/* True when key is 1-IDEM_KEY_MAX printable ASCII characters (0x20-0x7e). */
bool idem_key_valid(const char *key);

/* Before-hook part for route: does nothing (0) unless the route is HTTP_IDEMPOTENT and the
 * request carries Idempotency-Key. Then it authenticates the caller and either claims the
 * key (0; the handler runs), or answers in the handler's place: a stored answer replayed
 * with "Idempotent-Replayed: true" (0 with the response set), MC_EBADREQ for a malformed
 * key, MC_EINVAL when the key was used with a different request, MC_ECONFLICT when the
 * first request is still running after IDEM_WAIT_MS, MC_EUNAUTH or a database error. */
int idem_before(struct http_req *req, struct http_res *res, const struct http_route *route);

/* After-hook part: when idem_before claimed a key for this request, stores a replayable 2xx
 * response, or deletes the placeholder. Failures are logged (the answer stands). */
void idem_after(struct http_req *req, struct http_res *res, const struct http_route *route);

#endif
