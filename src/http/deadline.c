/*
 * deadline.c - the request-header deadline watchdog (see deadline.h).
 *
 * The fd of a tracked connection stays open while it is on the list: libmicrohttpd owns
 * it and reports CLOSED (deadline_release, under the same lock as the check) before it
 * closes it, so the watchdog never shuts down a reused descriptor.
 */
#include "http/deadline.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct deadline_conn {
    int fd;                      /* the connection's socket */
    _Atomic int64_t deadline_ns; /* monotonic; INT64_MAX = none (headers received) */
    struct deadline_conn *prev, *next;
};

struct deadline {
    int64_t timeout_ns;
    pthread_mutex_t mu; /* guards head and stop */
    pthread_cond_t cv;  /* wakes the thread to stop */
    struct deadline_conn *head;
    bool stop;
    pthread_t thread;
};

static void *watch(void *arg)
{
    struct deadline *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        int64_t now = mc_mono_ns();
        int cut = 0;
        for (struct deadline_conn *c = d->head; c != NULL; c = c->next) {
            if (atomic_load(&c->deadline_ns) < now && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                atomic_store(&c->deadline_ns, INT64_MAX);
                cut++;
            }
        }
        if (cut > 0)
            log_info("connections cut off: request headers too slow", LF_I("count", cut));
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

struct deadline *deadline_start(int64_t header_timeout_ns)
{
    struct deadline *d = mc_xcalloc(1, sizeof(*d));
    d->timeout_ns = header_timeout_ns;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->thread, NULL, watch, d) != 0) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
        return NULL;
    }
    return d;
}

void deadline_stop(struct deadline *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

struct deadline_conn *deadline_track(struct deadline *d, int fd)
{
    struct deadline_conn *c = mc_xcalloc(1, sizeof(*c));
    c->fd = fd;
    atomic_store(&c->deadline_ns, mc_mono_ns() + d->timeout_ns);
    pthread_mutex_lock(&d->mu);
    c->next = d->head;
    if (c->next != NULL)
        c->next->prev = c;
    d->head = c;
    pthread_mutex_unlock(&d->mu);
    return c;
}

void deadline_release(struct deadline *d, struct deadline_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        d->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    free(c);
}

void deadline_set(struct deadline *d, struct deadline_conn *c, bool waiting)
{
    if (c != NULL)
        atomic_store(&c->deadline_ns, waiting ? mc_mono_ns() + d->timeout_ns : INT64_MAX);
}
