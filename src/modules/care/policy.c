/*
 * policy.c - the one authorization check in front of a patient's health data (policy.h).
 *
 * policy_decide() holds the rules and needs no database; policy_patient() gathers the facts
 * it asks for (care-team membership, patient existence) fresh on every call, opens or reuses
 * a break-glass grant, and audits every denial and every break-glass use.
 */
#include "modules/care/policy.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/mod.h"

#include <stdio.h>
#include <string.h>

bool policy_reason_valid(const char *reason)
{
    if (reason == NULL)
        return false;
    size_t n = strlen(reason);
    if (n < POLICY_REASON_MIN || n > POLICY_REASON_MAX)
        return false;
    const unsigned char *p = (const unsigned char *)reason;
    for (size_t i = 0; i < n;) {
        unsigned char b = p[i];
        size_t len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
        if (b < 0x20 || b == 0x7F || (b >= 0x80 && b < 0xC2) || b > 0xF4 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        /* C1 controls (U+0080-U+009F) are refused by the audit log too */
        if (len == 2 && b == 0xC2 && p[i + 1] < 0xA0)
            return false;
        i += len;
    }
    return true;
}

enum policy_verdict policy_decide(const char *role, const char *user_id, const char *patient_id,
                                  unsigned need, const char *reason)
{
    if (role == NULL || user_id == NULL || patient_id == NULL)
        return POLICY_DENY;
    if (strcmp(role, "patient") == 0)
        return (need & POLICY_SELF) && strcmp(user_id, patient_id) == 0 ? POLICY_ALLOW
                                                                        : POLICY_DENY;
    if (strcmp(role, "doctor") == 0)
        return (need & POLICY_CARE) ? POLICY_ASK_CARE_TEAM : POLICY_DENY;
    if (strcmp(role, "admin") == 0) {
        if (need & POLICY_ADMIN)
            return POLICY_ALLOW;
        if ((need & POLICY_BREAK_GLASS) && policy_reason_valid(reason))
            return POLICY_ASK_BREAK_GLASS;
    }
    return POLICY_DENY;
}

int policy_find_patient(struct db_conn *c, const char *id)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT 1 FROM users WHERE id = ? AND role = 'patient'",
                          DB_PARAMS(DBP_T(id)), &st);
    db_finalize(st);
    return rc;
}

int policy_on_care_team(struct db_conn *c, const char *patient_id, const char *doctor_id)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          "SELECT 1 FROM care_team t JOIN users d ON d.id = t.doctor_id"
                          " WHERE t.patient_id = ? AND t.doctor_id = ? AND t.removed_at IS NULL"
                          " AND d.role = 'doctor'",
                          DB_PARAMS(DBP_T(patient_id), DBP_T(doctor_id)), &st);
    db_finalize(st);
    return rc;
}

static int deny(struct http_req *req, const struct auth_user *au, const char *patient_id)
{
    struct audit_event e = {.actor_id = au->id,
                            .actor_role = au->role,
                            .action = "authz_fail",
                            .resource_type = "route",
                            .resource_id = http_route_pattern(req),
                            .patient_id = patient_id,
                            .outcome = "denied"};
    int rc = mod_audit_tx(req, &e);
    return rc != 0 ? rc : MC_ENOTFOUND;
}

struct glass_ctx {
    struct http_req *req;
    const struct auth_user *au;
    const char *patient_id;
    const char *reason;
};

/* Reuses the admin's unexpired grant for this patient or opens a new one, and audits the
 * access (every use, so the patient's access log shows each one). */
static int glass_tx(struct db_conn *c, void *arg)
{
    struct glass_ctx *x = arg;
    int64_t now = mc_now_ms();
    char id[UUID_STR_LEN];
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          "SELECT id FROM break_glass WHERE admin_id = ? AND patient_id = ?"
                          " AND expires_at > ? ORDER BY expires_at DESC LIMIT 1",
                          DB_PARAMS(DBP_T(x->au->id), DBP_T(x->patient_id), DBP_I(now)), &st);
    if (rc == 0)
        snprintf(id, sizeof(id), "%s", db_col_text(st, 0));
    db_finalize(st);
    if (rc == MC_ENOTFOUND) {
        uuid_v7(id);
        rc = db_exec(c,
                     "INSERT INTO break_glass (id, admin_id, patient_id, reason, created_at,"
                     " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                     DB_PARAMS(DBP_T(id), DBP_T(x->au->id), DBP_T(x->patient_id), DBP_T(x->reason),
                               DBP_I(now), DBP_I(now + POLICY_GRANT_MS)),
                     NULL);
    }
    if (rc != 0)
        return rc;
    struct audit_event e = {.actor_id = x->au->id,
                            .actor_role = x->au->role,
                            .action = "break_glass",
                            .resource_type = "break_glass",
                            .resource_id = id,
                            .patient_id = x->patient_id,
                            .outcome = "success",
                            .severity = "high",
                            .detail = x->reason};
    return mod_audit(x->req, c, &e);
}

int policy_patient(struct http_req *req, struct http_res *res, const char *patient_id,
                   unsigned need, const struct auth_user **out)
{
    const struct auth_user *au = NULL;
    struct db_conn *c = NULL;
    int rc = auth_require(req, res, &au);
    if (rc != 0)
        return rc;
    const char *reason = http_header(req, POLICY_BREAK_GLASS_HEADER);
    switch (policy_decide(au->role, au->id, patient_id, need, reason)) {
    case POLICY_ALLOW:
        break;
    case POLICY_DENY:
        return deny(req, au, patient_id);
    case POLICY_ASK_CARE_TEAM:
        if ((rc = mod_db(req, &c)) != 0)
            return rc;
        rc = policy_on_care_team(c, patient_id, au->id);
        if (rc == MC_ENOTFOUND)
            return deny(req, au, patient_id);
        if (rc != 0)
            return rc;
        break;
    case POLICY_ASK_BREAK_GLASS: {
        if ((rc = mod_db(req, &c)) != 0)
            return rc;
        rc = policy_find_patient(c, patient_id);
        if (rc == MC_ENOTFOUND)
            return deny(req, au, patient_id);
        struct glass_ctx x = {req, au, patient_id, reason};
        if (rc != 0 || (rc = db_tx(c, glass_tx, &x)) != 0)
            return rc;
        http_res_header(res, "X-Break-Glass", "granted");
        break;
    }
    }
    *out = au;
    return 0;
}
