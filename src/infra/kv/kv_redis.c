/*
 * kv_redis.c - the Redis key-value backend (hiredis 0.14, synchronous API).
 *
 * Connections live in a small mutex-protected pool: a call borrows one (or opens one when
 * none is idle), runs one command and gives it back, so each HTTP thread effectively
 * keeps its own. Every connection is opened with a connect timeout, AUTH (REDIS_PASSWORD),
 * SELECT (REDIS_DB) and SCRIPT LOAD of the window-counter script, pipelined into one round
 * trip, and then runs commands under a per-command timeout (KV_REDIS_TIMEOUT_MS).
 *
 * Failure handling, which is what rate limits and lockouts depend on:
 * - Any failure is MC_EUNAVAIL to the caller; nothing is retried in a way that could turn
 *   an error into a pretended success.
 * - A connection that saw an I/O error is closed, and so are the idle ones (after a Redis
 *   restart they are all dead). A command that failed on a reused connection with EOF or
 *   a reset is tried once more on a fresh connection, so the first calls after Redis comes
 *   back do not fail needlessly; timeouts are not retried.
 * - After a failed connect, new connects are not attempted for CONNECT_BACKOFF_MS, so a
 *   dead or black-holed Redis costs callers a fast error rather than a timeout each.
 * - Up/down transitions are logged once each, not once per call.
 */
#include "infra/kv/kv_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define POOL_IDLE_MAX      16  /* idle connections kept */
#define CONNECT_BACKOFF_MS 200 /* no new connect attempt this long after a failed one */
#define ERROR_LOG_GAP_MS   10000

/* INCR, and start the window when the key is new or has no expiry (which would otherwise
 * never reset). Returns {count, milliseconds left}. One script, so it is atomic. */
static const char WINDOW_SCRIPT[] = "local n = redis.call('INCR', KEYS[1])\n"
                                    "local ttl = redis.call('PTTL', KEYS[1])\n"
                                    "if ttl < 0 then\n"
                                    "  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
                                    "  ttl = tonumber(ARGV[1])\n"
                                    "end\n"
                                    "return {n, ttl}\n";

struct kv_redis {
    struct kv base;                    /* must be first: kv.c sees only this */
    char *host;                        /* owned */
    int port;                          /* TCP port */
    char *password;                    /* owned; "" = no AUTH */
    int db;                            /* SELECT index */
    int timeout_ms;                    /* connect and command timeout */
    pthread_mutex_t mu;                /* guards everything below */
    redisContext *idle[POOL_IDLE_MAX]; /* connections ready for use */
    int nidle;                         /* entries used in idle */
    int64_t connect_after_ns;          /* monotonic: no connect attempt before this */
    bool down;                         /* last known state, for transition logs */
    int64_t error_logged_ns;           /* when an error reply was last logged */
    char script_sha[41];               /* SHA-1 of WINDOW_SCRIPT as Redis reported it */
};

static struct kv_redis *redis_of(struct kv *kv)
{
    return (struct kv_redis *)kv;
}

static struct timeval ms_to_tv(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* Records a connection-level failure; logs only the transition to down. */
static void note_down(struct kv_redis *r, const char *why)
{
    pthread_mutex_lock(&r->mu);
    bool was_down = r->down;
    r->down = true;
    pthread_mutex_unlock(&r->mu);
    if (!was_down)
        log_warn("redis unavailable; rate limits and lockouts fail closed", LF_S("host", r->host),
                 LF_I("port", r->port), LF_S("error", why));
}

static void note_up(struct kv_redis *r)
{
    pthread_mutex_lock(&r->mu);
    bool was_down = r->down;
    r->down = false;
    pthread_mutex_unlock(&r->mu);
    if (was_down)
        log_info("redis reachable again", LF_S("host", r->host), LF_I("port", r->port));
}

/* Logs an unexpected error reply, at most once per ERROR_LOG_GAP_MS. */
static void note_error_reply(struct kv_redis *r, const char *cmd, const char *msg)
{
    int64_t now = mc_mono_ns();
    pthread_mutex_lock(&r->mu);
    bool log = r->error_logged_ns == 0 || now - r->error_logged_ns >= ERROR_LOG_GAP_MS * 1000000LL;
    if (log)
        r->error_logged_ns = now;
    pthread_mutex_unlock(&r->mu);
    if (log)
        log_warn("redis error reply", LF_S("command", cmd), LF_S("error", msg));
}

/* SCRIPT itself is unavailable (renamed away or denied), as opposed to any other error
 * such as NOAUTH, which makes the connection unusable. */
static bool script_refused(const redisReply *rep)
{
    return strncmp(rep->str, "NOPERM", 6) == 0 || strstr(rep->str, "unknown command") != NULL;
}

/* Reads the n pipelined handshake replies; 0, or MC_EUNAVAIL with a message in err. The
 * last reply is SCRIPT LOAD's, whose SHA-1 is stored; a server that refuses SCRIPT (renamed
 * or denied by an ACL) is still usable, and eval_window then sends the script itself. */
static int read_handshake(struct kv_redis *r, redisContext *c, int n, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK || rep == NULL) {
            snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "no reply");
            return MC_EUNAVAIL;
        }
        if (rep->type == REDIS_REPLY_ERROR && i == n - 1 && script_refused(rep)) {
            note_error_reply(r, "SCRIPT LOAD", rep->str);
        } else if (rep->type == REDIS_REPLY_ERROR) {
            if (rc == 0)
                snprintf(err, errlen, "%s", rep->str);
            rc = MC_EUNAVAIL;
        } else if (i == n - 1 && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
            pthread_mutex_lock(&r->mu);
            memcpy(r->script_sha, rep->str, 40);
            r->script_sha[40] = '\0';
            pthread_mutex_unlock(&r->mu);
        }
        freeReplyObject(rep);
    }
    return rc;
}

/* Opens and prepares one connection. Returns NULL with a message in err. */
static redisContext *redis_connect(struct kv_redis *r, char *err, size_t errlen)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, ms_to_tv(r->timeout_ms));
    if (c == NULL) {
        snprintf(err, errlen, "cannot allocate a redis context");
        return NULL;
    }
    if (c->err != 0) {
        snprintf(err, errlen, "%s", c->errstr);
        goto out_free;
    }
    if (redisSetTimeout(c, ms_to_tv(r->timeout_ms)) != REDIS_OK) {
        snprintf(err, errlen, "cannot set the command timeout");
        goto out_free;
    }
    redisEnableKeepAlive(c);
    int n = 0;
    if (r->password[0] != '\0') {
        const char *argv[] = {"AUTH", r->password};
        redisAppendCommandArgv(c, 2, argv, NULL);
        n++;
    }
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        const char *argv[] = {"SELECT", db};
        redisAppendCommandArgv(c, 2, argv, NULL);
        n++;
    }
    const char *load[] = {"SCRIPT", "LOAD", WINDOW_SCRIPT};
    redisAppendCommandArgv(c, 3, load, NULL);
    n++;
    if (read_handshake(r, c, n, err, errlen) != 0)
        goto out_free;
    return c;
out_free:
    redisFree(c);
    return NULL;
}

/* Borrows a connection: an idle one (*reused = true) or a new one. MC_EUNAVAIL when none
 * can be had. */
static int conn_get(struct kv_redis *r, redisContext **out, bool *reused)
{
    *out = NULL;
    *reused = false;
    pthread_mutex_lock(&r->mu);
    if (r->nidle > 0) {
        *out = r->idle[--r->nidle];
        *reused = true;
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    bool backoff = mc_mono_ns() < r->connect_after_ns;
    pthread_mutex_unlock(&r->mu);
    if (backoff)
        return MC_EUNAVAIL;

    char err[256] = "";
    redisContext *c = redis_connect(r, err, sizeof(err));
    if (c == NULL) {
        pthread_mutex_lock(&r->mu);
        r->connect_after_ns = mc_mono_ns() + CONNECT_BACKOFF_MS * 1000000LL;
        pthread_mutex_unlock(&r->mu);
        note_down(r, err);
        return MC_EUNAVAIL;
    }
    note_up(r);
    *out = c;
    return 0;
}

/* Closes every idle connection (after an I/O error they are presumed dead too). */
static void drain_idle(struct kv_redis *r)
{
    redisContext *dead[POOL_IDLE_MAX];
    pthread_mutex_lock(&r->mu);
    int n = r->nidle;
    memcpy(dead, r->idle, (size_t)n * sizeof(dead[0]));
    r->nidle = 0;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++)
        redisFree(dead[i]);
}

/* Returns a healthy connection to the pool (or closes it when the pool is full). */
static void conn_put(struct kv_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->mu);
    if (r->nidle < POOL_IDLE_MAX) {
        r->idle[r->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (c != NULL)
        redisFree(c);
}

/* A failure worth one retry on a fresh connection: the peer had closed or reset a
 * pooled connection. Timeouts are not (Redis may be alive but slow). */
static bool stale_connection(const redisContext *c, int saved_errno)
{
    if (c->err == REDIS_ERR_EOF)
        return true;
    return c->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE);
}

/* Runs one command. Returns 0 with *reply set (free with freeReplyObject), which may be an
 * error reply, or MC_EUNAVAIL when no reply could be had. */
static int run(struct kv_redis *r, int argc, const char **argv, redisReply **reply)
{
    *reply = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = NULL;
        bool reused = false;
        if (conn_get(r, &c, &reused) != 0)
            return MC_EUNAVAIL;
        errno = 0;
        redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
        int saved_errno = errno;
        if (rep != NULL) {
            conn_put(r, c);
            *reply = rep;
            return 0;
        }
        bool retry = reused && attempt == 0 && stale_connection(c, saved_errno);
        if (!retry)
            note_down(r, c->errstr);
        redisFree(c);
        drain_idle(r);
        if (!retry)
            break;
    }
    return MC_EUNAVAIL;
}

static int redis_ping(struct kv *kv)
{
    struct kv_redis *r = redis_of(kv);
    redisReply *rep = NULL;
    const char *argv[] = {"PING"};
    int rc = run(r, 1, argv, &rep);
    if (rc == 0 && !(rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0)) {
        note_error_reply(r, "PING", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected");
        rc = MC_EUNAVAIL;
    }
    freeReplyObject(rep);
    return rc;
}

/* An error reply from INCR on a value that is not a counter: the caller's mistake. */
static bool not_a_counter(const redisReply *rep)
{
    return strstr(rep->str, "not an integer") != NULL || strstr(rep->str, "overflow") != NULL ||
           strncmp(rep->str, "WRONGTYPE", 9) == 0;
}

/* Runs the window script by SHA-1, loading it with EVAL when this server lacks it (a
 * restart or SCRIPT FLUSH since the connection was prepared). */
static int eval_window(struct kv_redis *r, const char *key, const char *window, redisReply **rep)
{
    char sha[41];
    pthread_mutex_lock(&r->mu);
    memcpy(sha, r->script_sha, sizeof(sha));
    pthread_mutex_unlock(&r->mu);
    if (sha[0] != '\0') {
        const char *argv[] = {"EVALSHA", sha, "1", key, window};
        int rc = run(r, 5, argv, rep);
        if (rc != 0 || (*rep)->type != REDIS_REPLY_ERROR || strncmp((*rep)->str, "NOSCRIPT", 8))
            return rc;
        freeReplyObject(*rep);
        *rep = NULL;
    }
    const char *argv[] = {"EVAL", WINDOW_SCRIPT, "1", key, window};
    return run(r, 5, argv, rep);
}

static int redis_incr_window(struct kv *kv, const char *key, int64_t window_ms, long long *count,
                             int64_t *reset_ms)
{
    struct kv_redis *r = redis_of(kv);
    char window[24];
    snprintf(window, sizeof(window), "%lld", (long long)window_ms);
    redisReply *rep = NULL;
    int rc = eval_window(r, key, window, &rep);
    if (rc != 0)
        goto out;
    if (rep->type == REDIS_REPLY_ERROR) {
        rc = not_a_counter(rep) ? MC_EINVAL : MC_EUNAVAIL;
        if (rc == MC_EUNAVAIL)
            note_error_reply(r, "EVALSHA", rep->str);
        goto out;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER) {
        note_error_reply(r, "EVALSHA", "unexpected reply shape");
        rc = MC_EUNAVAIL;
        goto out;
    }
    int64_t ttl = rep->element[1]->integer;
    *count = rep->element[0]->integer;
    *reset_ms = ttl < 1 ? 1 : ttl > window_ms ? window_ms : ttl;
out:
    freeReplyObject(rep);
    return rc;
}

static int redis_get(struct kv *kv, const char *key, char *out, size_t cap, bool *found)
{
    struct kv_redis *r = redis_of(kv);
    redisReply *rep = NULL;
    const char *argv[] = {"GET", key};
    int rc = run(r, 2, argv, &rep);
    if (rc != 0)
        goto out;
    if (rep->type == REDIS_REPLY_STRING) {
        if (rep->len >= cap)
            rc = MC_ETOOBIG;
        else if (memchr(rep->str, '\0', rep->len) != NULL)
            rc = MC_ECORRUPT; /* not written by kv_set */
        else {
            memcpy(out, rep->str, rep->len + 1);
            *found = true;
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        rc = strncmp(rep->str, "WRONGTYPE", 9) == 0 ? MC_EINVAL : MC_EUNAVAIL;
        note_error_reply(r, "GET", rep->str);
    } else if (rep->type != REDIS_REPLY_NIL) {
        rc = MC_EUNAVAIL;
    }
out:
    freeReplyObject(rep);
    return rc;
}

static int redis_set(struct kv *kv, const char *key, const char *value, int64_t ttl_ms)
{
    struct kv_redis *r = redis_of(kv);
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    const char *argv[] = {"SET", key, value, "PX", ttl};
    redisReply *rep = NULL;
    int rc = run(r, ttl_ms > 0 ? 5 : 3, argv, &rep);
    if (rc == 0 && !(rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)) {
        note_error_reply(r, "SET", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected");
        rc = MC_EUNAVAIL;
    }
    freeReplyObject(rep);
    return rc;
}

static int redis_del(struct kv *kv, const char *key)
{
    struct kv_redis *r = redis_of(kv);
    const char *argv[] = {"DEL", key};
    redisReply *rep = NULL;
    int rc = run(r, 2, argv, &rep);
    if (rc == 0 && rep->type != REDIS_REPLY_INTEGER) {
        note_error_reply(r, "DEL", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected");
        rc = MC_EUNAVAIL;
    }
    freeReplyObject(rep);
    return rc;
}

static void redis_close(struct kv *kv)
{
    struct kv_redis *r = redis_of(kv);
    drain_idle(r);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    explicit_bzero(r->password, strlen(r->password));
    free(r->password);
    free(r);
}

const struct kv_backend kv_redis_backend = {
    .name = "redis",
    .close = redis_close,
    .ping = redis_ping,
    .incr_window = redis_incr_window,
    .get = redis_get,
    .set = redis_set,
    .del = redis_del,
};

struct kv *kv_redis_open(const struct kv_redis_opts *opts)
{
    struct kv_redis *r = mc_xcalloc(1, sizeof(*r));
    r->base.be = &kv_redis_backend;
    r->host = mc_xstrdup(opts->host);
    r->port = opts->port;
    r->password = mc_xstrdup(opts->password ? opts->password : "");
    r->db = opts->db;
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : KV_REDIS_TIMEOUT_MS;
    pthread_mutex_init(&r->mu, NULL);
    /* one connection now, so a wrong host or password shows in the log at start; a
     * failure is not fatal (kv.h) */
    redisContext *c = NULL;
    bool reused;
    if (conn_get(r, &c, &reused) == 0) {
        conn_put(r, c);
        log_info("redis connected", LF_S("host", r->host), LF_I("port", r->port),
                 LF_I("db", r->db));
    }
    return &r->base;
}
