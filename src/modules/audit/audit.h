/*
 * audit.h - the tamper-evident audit log (security.md H1-H3, docs/design.md "Audit log").
 *
 * Every authentication event and every read or write of health data appends one event
 * to audit_events in the same transaction as the access, so that if the audit write
 * fails the access fails too. An event says who (actor, role), did what (action) to
 * which resource and patient, with what outcome, from where (IP, request id) - never the
 * health values, passwords or tokens themselves.
 *
 * Events form a hash chain: each row's hash is HMAC-SHA256(AUDIT_HMAC_SECRET,
 * prev_hash "\n" canonical-row) over every other column, with the previous row's hash
 * inside. audit_verify walks the chain and names the first altered, deleted, inserted or
 * reordered row. The head (last seq and hash) is also written, authenticated with the
 * same key, to a checkpoint file outside the database every AUDIT_CHECKPOINT_INTERVAL, so
 * that deleting the newest rows (and rewinding audit_head) is detected as well.
 *
 * The database refuses UPDATE and DELETE on audit_events (triggers in migration 0002).
 */
#ifndef MC_MODULES_AUDIT_H
#define MC_MODULES_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_conn;

/* File name of the checkpoint inside DATA_DIR. */
#define AUDIT_CHECKPOINT_FILE "audit-checkpoint"

#define AUDIT_ACTION_MAX 64  /* bytes of action: [a-z0-9_]+ */
#define AUDIT_FIELD_MAX  256 /* bytes of every other text field but detail */
#define AUDIT_DETAIL_MAX 512 /* bytes of detail */

/* One event. Every field is borrowed for the call; NULL is stored as SQL NULL. None may
 * hold a control character (C0, DEL, C1) or invalid UTF-8, and none may hold PHI values:
 * ids and categories only. */
struct audit_event {
    const char *actor_id;      /* user id, NULL for anonymous (e.g. a failed login) */
    const char *actor_role;    /* "patient", "doctor", "admin", ... */
    const char *action;        /* required, [a-z0-9_]: authn_login_success, phi_read, ... */
    const char *resource_type; /* data category: "vitals", "record_file", "user", ... */
    const char *resource_id;   /* id of the resource touched */
    const char *patient_id;    /* whose health data it is, when it is */
    const char *outcome;       /* required: "success", "failure" or "denied" */
    const char *severity;      /* "info" (NULL means info) or "high" */
    const char *ip;            /* client address as the server sees it */
    const char *request_id;    /* the request's id, to join with the request log */
    const char *detail;        /* short PHI-free note, e.g. a break-glass reason */
};

/* Appends e to the chain. Must run inside the caller's open transaction (db_tx or
 * db_begin on c), which it joins: the event commits or rolls back with the access it
 * records. On PostgreSQL it locks audit_head until that transaction ends, so audit as late
 * in the transaction as possible. key/keylen: the HMAC key (AUDIT_HMAC_SECRET's bytes).
 * Returns 0; MC_EINTERNAL outside a transaction or with an empty key; MC_EINVAL when
 * action or outcome is missing or not allowed, severity is unknown, a field is too long
 * or holds a control character or invalid UTF-8; or a database error (MC_EBUSY etc.). */
int audit_append(struct db_conn *c, const unsigned char *key, size_t keylen,
                 const struct audit_event *e);

/* Walks the whole chain in seq order (in batches, in one read snapshot) and checks every
 * row's seq, prev_hash and hash, then audit_head, then the checkpoint file at
 * checkpoint_path (NULL: skip; missing file: logged as a warning, not an error).
 * Writes one line into report (cap bytes): "audit log intact: N events, head S", or the
 * first problem as "seq S: what and why". Returns 0 when intact, MC_ECORRUPT when not,
 * or a database / file error (report says which). */
int audit_verify(struct db *db, const unsigned char *key, size_t keylen,
                 const char *checkpoint_path, char *report, size_t cap);

/* Writes "seq hash hmac\n" for the current head to path: a temporary file in the same
 * directory, fsync, rename, fsync of the directory; mode 0600. hmac authenticates
 * "seq hash" with key. Refuses (MC_ECORRUPT, file left alone) to replace a checkpoint
 * the chain no longer extends - a rewound or rewritten log - so the evidence survives.
 * Returns 0, MC_ECORRUPT, MC_EIO or a database error. */
int audit_checkpoint_write(struct db *db, const unsigned char *key, size_t keylen,
                           const char *path);

/* A background thread writing the checkpoint now, every interval_s seconds and once more
 * when stopped. key and path are copied. Start it with SIGINT/SIGTERM blocked so that
 * the thread inherits the mask. *out: free with audit_checkpointer_stop. Returns 0 or
 * MC_EINTERNAL (thread creation failed). */
struct audit_checkpointer;
int audit_checkpointer_start(struct db *db, const unsigned char *key, size_t keylen,
                             const char *path, int interval_s, struct audit_checkpointer **out);
/* Wakes the thread, waits for its final checkpoint and frees it. NULL is ignored. */
void audit_checkpointer_stop(struct audit_checkpointer *cp);

/* ------------------------------------------------------------ queries ---- */

#define AUDIT_LIST_MAX     200 /* largest page */
#define AUDIT_LIST_DEFAULT 50  /* page size when limit is 0 */
#define AUDIT_CURSOR_CAP   32  /* bytes a next_cursor needs, NUL included */

/* What audit_list returns: all set filters must match (NULL / 0 = not filtered). */
struct audit_filter {
    const char *actor_id;
    const char *patient_id;
    const char *action;
    const char *outcome;
    int64_t from_ms;    /* at >= from_ms, 0 = no lower bound */
    int64_t to_ms;      /* at < to_ms, 0 = no upper bound */
    int limit;          /* 1..AUDIT_LIST_MAX, 0 = AUDIT_LIST_DEFAULT */
    const char *cursor; /* next_cursor of the previous page, NULL or "" for the first */
};

/* Lists events newest first (by seq). *items gets a new JSON array (caller decrefs) of
 * objects {seq, id, at (RFC 3339), actorId, actorRole, action, resourceType, resourceId,
 * patientId, outcome, severity, ip, requestId, detail} - never the hash columns.
 * next_cursor (cap >= AUDIT_CURSOR_CAP) gets an opaque cursor for the next page, or ""
 * on the last. Returns 0, MC_EINVAL (limit out of range, cap too small, from > to),
 * MC_EBADREQ (malformed cursor) or a database error. */
int audit_list(struct db_conn *c, const struct audit_filter *f, json_t **items, char *next_cursor,
               size_t cap);

#endif
