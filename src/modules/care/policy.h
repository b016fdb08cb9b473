/*
 * policy.h - who may touch one patient's health data (api.md "Roles", security.md D1-D5).
 *
 * Every module that serves a patient's data calls policy_patient() first, with the patient
 * id from its path, and serves nothing unless it returns 0. The rules:
 *   - a patient: only herself;
 *   - a doctor: only while on the patient's care team (read from care_team on every call,
 *     never cached, so a removal takes effect on the next request);
 *   - an admin: only with an "X-Break-Glass-Reason" header (5-500 bytes, printable), which
 *     opens or reuses a one-hour grant in break_glass and is audited as `break_glass` with
 *     severity high and the reason as detail.
 * Every denial is MC_ENOTFOUND (404: never confirm that someone else's record exists) and an
 * `authz_fail` audit event naming the patient. A database error while deciding is returned
 * as it is (5xx): the check fails closed.
 */
#ifndef MC_MODULES_CARE_POLICY_H
#define MC_MODULES_CARE_POLICY_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

struct auth_user;
struct db_conn;

#define POLICY_BREAK_GLASS_HEADER "X-Break-Glass-Reason"
#define POLICY_REASON_MIN         5
#define POLICY_REASON_MAX         500
#define POLICY_GRANT_MS           (60LL * 60 * 1000) /* one hour per break-glass grant */

/* Who may pass, as bits; the named needs below are the usual sets. */
enum policy_need {
    POLICY_SELF = 1 << 0,        /* the patient herself */
    POLICY_CARE = 1 << 1,        /* a doctor on her care team */
    POLICY_BREAK_GLASS = 1 << 2, /* an admin stating a break-glass reason */
    POLICY_ADMIN = 1 << 3,       /* any admin, no reason (care-team administration only) */
    POLICY_READ = POLICY_SELF | POLICY_CARE | POLICY_BREAK_GLASS,
    POLICY_WRITE = POLICY_SELF | POLICY_CARE,
};

/* The decision for facts already gathered (pure, for tests). */
enum policy_verdict {
    POLICY_ALLOW,
    POLICY_DENY,
    POLICY_ASK_CARE_TEAM,   /* a doctor: allowed iff on the care team */
    POLICY_ASK_BREAK_GLASS, /* an admin with a valid reason: allowed iff the patient exists */
};

/* Decides from the caller's role and id, the target patient id, the need and the
 * break-glass header (NULL when absent). Never touches the database. */
enum policy_verdict policy_decide(const char *role, const char *user_id, const char *patient_id,
                                  unsigned need, const char *reason);

/* True when reason is 5-500 bytes of valid UTF-8 without control characters. */
bool policy_reason_valid(const char *reason);

/* Authenticates the request and checks that the caller may act on patient_id with need.
 * Returns 0 and sets *out (valid for the request); MC_EUNAUTH (no/bad token);
 * MC_ENOTFOUND for every denial (audited authz_fail); or a database/audit error. */
int policy_patient(struct http_req *req, struct http_res *res, const char *patient_id,
                   unsigned need, const struct auth_user **out);

/* 0 when id names a user with role patient, MC_ENOTFOUND when not, or a db error. */
int policy_find_patient(struct db_conn *c, const char *id);
/* 0 when doctor_id is on patient_id's care team now, MC_ENOTFOUND when not, or a db error. */
int policy_on_care_team(struct db_conn *c, const char *patient_id, const char *doctor_id);

/* Route tables of the care module: care teams, a doctor's patients, a patient's access log. */
const struct http_route *care_routes(size_t *n);

#endif
