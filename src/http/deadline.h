/*
 * deadline.h - the request-header deadline (slowloris defence) of the HTTP server.
 *
 * libmicrohttpd's connection timeout is an idle timeout, which a client sending one byte
 * at a time never trips. A struct deadline tracks every open connection: its next
 * request's headers must arrive within the header timeout of the connection becoming
 * ready for it (accepted, or the previous response completed). A thread checks every
 * 250 ms and shuts down the socket of a late connection; the connection's own thread then
 * sees EOF and closes it. Private to src/http.
 */
#ifndef MC_HTTP_DEADLINE_H
#define MC_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

struct deadline;
struct deadline_conn;

/* Starts tracking with the given timeout (> 0). NULL if the thread cannot start. */
struct deadline *deadline_start(int64_t header_timeout_ns);
/* Stops the thread and frees d. Every tracked connection must have been released. */
void deadline_stop(struct deadline *d);

/* A new connection on socket fd, waiting for its first request's headers. */
struct deadline_conn *deadline_track(struct deadline *d, int fd);
/* The connection closed: forget it (before its fd is closed). NULL is ignored. */
void deadline_release(struct deadline *d, struct deadline_conn *c);
/* waiting = true: headers are awaited from now on; false: they have arrived. */
void deadline_set(struct deadline *d, struct deadline_conn *c, bool waiting);

#endif
