/*
 * audit_query.c - reading the audit log back: filtered, paged lists of events as JSON
 * for the admin audit endpoint and a patient's access log (see audit.h, audit_list).
 *
 * Pages run newest first by seq. The cursor is the seq of the last event handed out,
 * wrapped as base64url("a1:<seq>") so clients treat it as opaque and we may change it.
 * The hash columns stay inside: they are for audit_verify, not for readers.
 */
#include "modules/audit/audit.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_PREFIX "a1:"

/* JSON names of the columns read below, in order, after seq and at. */
static const char *const text_fields[] = {"id",           "actorId",    "actorRole", "action",
                                          "resourceType", "resourceId", "patientId", "outcome",
                                          "severity",     "ip",         "requestId", "detail"};

static void cursor_encode(long long seq, char *out)
{
    char raw[32];
    int n = snprintf(raw, sizeof(raw), CURSOR_PREFIX "%lld", seq);
    b64url_encode(raw, (size_t)n, out);
}

/* Cursor → the seq it stands for. MC_EBADREQ for anything we did not hand out. */
static int cursor_decode(const char *s, long long *seq)
{
    unsigned char raw[32];
    size_t n = 0, len = strnlen(s, 64);
    if (len >= 64 || b64url_decode(s, len, raw, sizeof(raw) - 1, &n) != 0)
        return MC_EBADREQ;
    raw[n] = '\0';
    if (n <= strlen(CURSOR_PREFIX) || memcmp(raw, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0)
        return MC_EBADREQ;
    if (parse_int_range((const char *)raw + strlen(CURSOR_PREFIX), 1, LLONG_MAX, seq) != 0)
        return MC_EBADREQ;
    return 0;
}

/* A string column as JSON: null for SQL NULL (or, after tampering, invalid UTF-8). */
static json_t *text_or_null(const char *s)
{
    json_t *v = s != NULL ? json_string(s) : NULL;
    return v != NULL ? v : json_null();
}

/* Columns: seq, at, then text_fields in order. */
static json_t *row_json(struct db_stmt *st)
{
    char at[RFC3339_LEN];
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(db_col_int(st, 0)));
    rfc3339_format(db_col_int(st, 1), at);
    json_object_set_new(o, "at", json_string(at));
    for (size_t i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++)
        json_object_set_new(o, text_fields[i], text_or_null(db_col_text(st, (int)i + 2)));
    return o;
}

/* Builds the query from constant fragments, one per filter that is set; every value is a
 * bound parameter (p has room for 8). Returns the SQL (caller frees) and *n. */
static char *build_query(const struct audit_filter *f, long long before, int limit,
                         struct db_param *p, int *n)
{
    struct buf sql = BUF_INIT;
    int k = 0;
    buf_puts(&sql, "SELECT seq, at, id, actor_id, actor_role, action, resource_type, "
                   "resource_id, patient_id, outcome, severity, ip, request_id, detail "
                   "FROM audit_events WHERE seq < ?");
    p[k++] = DBP_I(before);
    if (f->actor_id != NULL) {
        buf_puts(&sql, " AND actor_id = ?");
        p[k++] = DBP_T(f->actor_id);
    }
    if (f->patient_id != NULL) {
        buf_puts(&sql, " AND patient_id = ?");
        p[k++] = DBP_T(f->patient_id);
    }
    if (f->action != NULL) {
        buf_puts(&sql, " AND action = ?");
        p[k++] = DBP_T(f->action);
    }
    if (f->outcome != NULL) {
        buf_puts(&sql, " AND outcome = ?");
        p[k++] = DBP_T(f->outcome);
    }
    if (f->from_ms != 0) {
        buf_puts(&sql, " AND at >= ?");
        p[k++] = DBP_I(f->from_ms);
    }
    if (f->to_ms != 0) {
        buf_puts(&sql, " AND at < ?");
        p[k++] = DBP_I(f->to_ms);
    }
    buf_puts(&sql, " ORDER BY seq DESC LIMIT ?");
    p[k++] = DBP_I(limit + 1); /* one more tells whether another page follows */
    *n = k;
    return buf_steal(&sql);
}

int audit_list(struct db_conn *c, const struct audit_filter *f, json_t **items, char *next_cursor,
               size_t cap)
{
    struct db_param p[8];
    struct db_stmt *st = NULL;
    long long before = LLONG_MAX, last_seq = 0;
    int n = 0, rows = 0, s, rc = MC_EINVAL;
    int limit = f->limit == 0 ? AUDIT_LIST_DEFAULT : f->limit;
    *items = NULL;
    if (cap < AUDIT_CURSOR_CAP || limit < 1 || limit > AUDIT_LIST_MAX || f->from_ms < 0 ||
        f->to_ms < 0 || (f->from_ms != 0 && f->to_ms != 0 && f->from_ms > f->to_ms))
        return MC_EINVAL;
    next_cursor[0] = '\0';
    if (f->cursor != NULL && f->cursor[0] != '\0' && cursor_decode(f->cursor, &before) != 0)
        return MC_EBADREQ;
    char *sql = build_query(f, before, limit, p, &n);
    rc = db_query(c, sql, p, n, &st);
    free(sql);
    if (rc != 0)
        return rc;
    json_t *arr = json_array();
    while ((s = db_step(st)) == 1) {
        if (rows == limit) {
            cursor_encode(last_seq, next_cursor);
            break;
        }
        last_seq = db_col_int(st, 0);
        json_array_append_new(arr, row_json(st));
        rows++;
    }
    db_finalize(st);
    if (s < 0) {
        json_decref(arr);
        next_cursor[0] = '\0';
        return -s;
    }
    *items = arr;
    return 0;
}
