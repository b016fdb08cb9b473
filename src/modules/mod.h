/*
 * mod.h - what every module may use: the shared services and request helpers.
 *
 * The HTTP server's application pointer is a struct services; handlers reach the
 * database through mod_db() so that one request borrows at most one connection and
 * always gives it back.
 */
#ifndef MC_MODULES_MOD_H
#define MC_MODULES_MOD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct db;
struct db_conn;
struct http_req;
struct http_server;
struct kv;
struct mailer;

struct services {
    struct config *cfg;       /* borrowed from main */
    struct db *db;            /* owned by the app */
    struct kv *kv;            /* owned by the app: rate limits, lockouts, hot state */
    struct mailer *mail;      /* owned by the app: outgoing e-mail (send from jobs) */
    struct http_server *http; /* set while serving */
    int64_t started_mono_ns;  /* process start, for uptime and readiness timing */
};

/* Request slots (http_local) used by modules. */
enum mod_local { MOD_LOCAL_DB = 0, MOD_LOCAL_AUTH = 1, MOD_LOCAL_IDEM = 2 };

/* The services of the request's server. */
struct services *mod_services(const struct http_req *req);

/* The request's database connection, borrowed on first use and returned when the
 * response has been sent. Returns 0, MC_EBUSY or MC_EUNAVAIL. */
int mod_db(struct http_req *req, struct db_conn **out);

struct audit_event;

/* Appends an audit event for this request inside c's open transaction: ip and request id
 * are filled in when the event leaves them NULL. Does nothing when ENABLE_AUDIT_LOGS is
 * off. Returns 0 or an error, which must fail the request (security.md H3). */
int mod_audit(struct http_req *req, struct db_conn *c, const struct audit_event *e);
/* The same in a transaction of its own (events that accompany no other write). */
int mod_audit_tx(struct http_req *req, const struct audit_event *e);

struct audit_filter;

/* One page of audit events matching f (see audit_list) and, in the same transaction, the
 * audit event recording that the caller read them (read, filled like mod_audit). On success
 * *items is a new reference and next the cursor ("" at the end). */
int mod_audit_page(struct http_req *req, const struct audit_event *read,
                   const struct audit_filter *f, json_t **items, char *next, size_t cap);

#endif
