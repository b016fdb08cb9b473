/*
 * idem.c - Idempotency-Key replay for HTTP_IDEMPOTENT routes (see idem.h).
 *
 * Flow for one request with a key: claim_tx looks the (user, key) row up in a transaction
 * of its own. No row (or an expired one, deleted on the way) → a placeholder with status 0
 * is inserted and committed before the handler runs, so a concurrent duplicate either
 * blocks on the insert and then fails the primary key (PostgreSQL), or, serialised by
 * BEGIN IMMEDIATE (SQLite), finds the placeholder. A duplicate that finds a placeholder
 * polls until the first request is done, up to IDEM_WAIT_MS, then answers 409. A row for a
 * different method, path or body is 422. The request's state lives in request slot
 * MOD_LOCAL_IDEM so that idem_after knows whether this request owns a placeholder.
 */
#include "modules/idem/idem.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/auth/auth.h"
#include "modules/mod.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define IDEM_POLL_MS 50

/* One request's claim (arena memory, in slot MOD_LOCAL_IDEM while the placeholder is ours). */
struct idem_claim {
    const char *user_id;
    const char *key;
    const char *method;
    const char *path;
    char request_hash[65]; /* hex SHA-256 of the body */
};

enum claim_outcome { CLAIM_OWNED, CLAIM_REPLAY, CLAIM_MISMATCH, CLAIM_RUNNING };

/* What claim_tx found; the stored answer is copied into the arena for a replay. */
struct claim_ctx {
    struct http_req *req;
    const struct idem_claim *cl;
    enum claim_outcome outcome;
    int status;
    const char *content_type;
    const char *body;
    const char *etag;
    const char *location;
};

bool idem_key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n] != '\0'; n++)
        if ((unsigned char)key[n] < 0x20 || (unsigned char)key[n] > 0x7e || n >= IDEM_KEY_MAX)
            return false;
    return n > 0;
}

static const char *method_name(enum http_method m)
{
    switch (m) {
    case HTTP_POST:
        return "POST";
    case HTTP_PUT:
        return "PUT";
    case HTTP_PATCH:
        return "PATCH";
    case HTTP_DELETE:
        return "DELETE";
    default:
        return "GET";
    }
}

static const char *col_dup(struct arena *a, struct db_stmt *st, int i)
{
    const char *t = db_col_text(st, i);
    return t != NULL ? arena_strdup(a, t) : NULL;
}

/* Reads the stored row into x (outcome REPLAY / MISMATCH / RUNNING). */
static void judge_row(struct claim_ctx *x, struct db_stmt *st)
{
    struct arena *a = http_arena(x->req);
    const char *method = db_col_text(st, 0), *path = db_col_text(st, 1);
    const char *hash = db_col_text(st, 2);
    if (strcmp(method, x->cl->method) != 0 || strcmp(path, x->cl->path) != 0 ||
        strcmp(hash, x->cl->request_hash) != 0) {
        x->outcome = CLAIM_MISMATCH;
        return;
    }
    x->status = (int)db_col_int(st, 3);
    if (x->status == 0) {
        x->outcome = CLAIM_RUNNING;
        return;
    }
    x->outcome = CLAIM_REPLAY;
    x->content_type = col_dup(a, st, 4);
    x->body = col_dup(a, st, 5);
    x->etag = col_dup(a, st, 6);
    x->location = col_dup(a, st, 7);
}

static int claim_tx(struct db_conn *c, void *arg)
{
    struct claim_ctx *x = arg;
    const struct idem_claim *cl = x->cl;
    int64_t now = mc_now_ms();
    struct db_stmt *st = NULL;
    /* lazy expiry: this user's rows past the TTL, and placeholders whose request died */
    int rc = db_exec(
        c,
        "DELETE FROM idempotency_keys WHERE user_id = ? AND (created_at < ? OR "
        "(status = 0 AND created_at < ?))",
        DB_PARAMS(DBP_T(cl->user_id), DBP_I(now - IDEM_TTL_MS), DBP_I(now - IDEM_ABANDONED_MS)),
        NULL);
    if (rc != 0)
        return rc;
    rc = db_query_row(c,
                      "SELECT method, path, request_hash, status, content_type, body, etag, "
                      "location FROM idempotency_keys WHERE user_id = ? AND key = ?",
                      DB_PARAMS(DBP_T(cl->user_id), DBP_T(cl->key)), &st);
    if (rc == 0)
        judge_row(x, st);
    db_finalize(st);
    if (rc != MC_ENOTFOUND)
        return rc;
    x->outcome = CLAIM_OWNED;
    return db_exec(c,
                   "INSERT INTO idempotency_keys (user_id, key, method, path, request_hash, "
                   "status, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                   DB_PARAMS(DBP_T(cl->user_id), DBP_T(cl->key), DBP_T(cl->method), DBP_T(cl->path),
                             DBP_T(cl->request_hash), DBP_I(now)),
                   NULL);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Claims cl's key, waiting for a running duplicate up to IDEM_WAIT_MS. */
static int claim(struct db_conn *c, struct claim_ctx *x)
{
    int rc;
    for (long waited = 0;; waited += IDEM_POLL_MS) {
        rc = db_tx(c, claim_tx, x);
        /* a unique violation: a duplicate inserted first; look again */
        if (rc == MC_ECONFLICT)
            x->outcome = CLAIM_RUNNING;
        else if (rc != 0)
            return rc;
        if (x->outcome != CLAIM_RUNNING || waited >= IDEM_WAIT_MS)
            return 0;
        sleep_ms(IDEM_POLL_MS);
    }
}

static void replay(struct http_res *res, const struct claim_ctx *x)
{
    const char *body = x->body != NULL ? x->body : "";
    const char *ctype = x->content_type != NULL ? x->content_type : "application/json";
    http_res_body(res, x->status, ctype, body, strlen(body));
    if (x->etag != NULL)
        http_res_header(res, "ETag", x->etag);
    if (x->location != NULL)
        http_res_header(res, "Location", x->location);
    http_res_header(res, "Idempotent-Replayed", "true");
}

int idem_before(struct http_req *req, struct http_res *res, const struct http_route *route)
{
    const char *key = http_header(req, IDEM_HEADER);
    if (!(route->flags & HTTP_IDEMPOTENT) || key == NULL)
        return 0;
    if (!idem_key_valid(key)) {
        http_res_detail(res, "Idempotency-Key must be 1-%d printable ASCII characters",
                        IDEM_KEY_MAX);
        return MC_EBADREQ;
    }
    const struct auth_user *au = NULL;
    int rc = auth_require(req, res, &au);
    if (rc != 0)
        return rc;
    struct arena *a = http_arena(req);
    struct idem_claim *cl = arena_alloc(a, sizeof(*cl));
    cl->user_id = au->id;
    cl->key = arena_strdup(a, key);
    cl->method = method_name(http_method(req));
    cl->path = http_path(req);
    size_t len = 0;
    const char *body = http_body(req, &len);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)(body != NULL ? body : ""), len);
    mc_hex(h, sizeof(h), cl->request_hash);
    struct db_conn *c = NULL;
    struct claim_ctx x = {.req = req, .cl = cl};
    if ((rc = mod_db(req, &c)) != 0 || (rc = claim(c, &x)) != 0)
        return rc;
    switch (x.outcome) {
    case CLAIM_OWNED:
        http_set_local(req, MOD_LOCAL_IDEM, cl);
        return 0;
    case CLAIM_REPLAY:
        replay(res, &x);
        return 0;
    case CLAIM_MISMATCH:
        http_res_detail(res, "Idempotency-Key reused with a different request");
        return MC_EINVAL;
    case CLAIM_RUNNING:
        http_res_detail(res, "request in progress; retry shortly");
        return MC_ECONFLICT;
    }
    return MC_EINTERNAL;
}

/* A 2xx answer that may be stored: not marked secret, text without NUL bytes. */
static bool keepable(const struct http_res *res)
{
    size_t len = 0;
    const char *body = http_res_data(res, &len);
    int status = http_res_status(res);
    return status >= 200 && status < 300 && http_res_replayable(res) &&
           (body == NULL || memchr(body, '\0', len) == NULL);
}

void idem_after(struct http_req *req, struct http_res *res, const struct http_route *route)
{
    (void)route;
    const struct idem_claim *cl = http_local(req, MOD_LOCAL_IDEM);
    struct db_conn *c = NULL;
    if (cl == NULL || mod_db(req, &c) != 0) {
        if (cl != NULL)
            log_error("idempotency: no connection to settle a key");
        return;
    }
    http_set_local(req, MOD_LOCAL_IDEM, NULL);
    int rc = MC_EINTERNAL;
    if (keepable(res)) {
        size_t len = 0;
        const char *data = http_res_data(res, &len);
        /* body is NUL-terminated by http_res_json/http_res_body; copy to be sure */
        char *body = arena_alloc(http_arena(req), len + 1);
        memcpy(body, data != NULL ? data : "", len);
        body[len] = '\0';
        rc = db_exec(c,
                     "UPDATE idempotency_keys SET status = ?, content_type = ?, body = ?, "
                     "etag = ?, location = ? WHERE user_id = ? AND key = ?",
                     DB_PARAMS(DBP_I(http_res_status(res)), DBP_TN(http_res_content_type(res)),
                               DBP_T(body), DBP_TN(http_res_get_header(res, "ETag")),
                               DBP_TN(http_res_get_header(res, "Location")), DBP_T(cl->user_id),
                               DBP_T(cl->key)),
                     NULL);
        if (rc != 0)
            log_error("idempotency: cannot store the answer", LF_S("error", mc_strerror(rc)));
    }
    if (rc != 0) {
        rc = db_exec(c, "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ?",
                     DB_PARAMS(DBP_T(cl->user_id), DBP_T(cl->key)), NULL);
        if (rc != 0)
            log_error("idempotency: cannot release a key", LF_S("error", mc_strerror(rc)));
    }
}
