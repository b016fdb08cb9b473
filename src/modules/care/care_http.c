/*
 * care_http.c - care teams and who-saw-my-data (api.md "people", "privacy"):
 *   GET    /api/v1/patients/{id}/care-team             the patient, her doctors, admins
 *   POST   /api/v1/patients/{id}/care-team             admin: assign a doctor
 *   DELETE /api/v1/patients/{id}/care-team/{doctorId}  admin: remove (next request sees it)
 *   GET    /api/v1/doctor/patients                     a doctor's current patients
 *   GET    /api/v1/patients/{id}/access-log            the patient, or admin with break-glass
 * Every read and write is audited in the transaction that performs it.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/care/policy.h"
#include "modules/mod.h"

#include <stdio.h>
#include <string.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX     200

/* ?limit= (1..200, default 50) and ?cursor= (a uuid); MC_EBADREQ with a detail if bad. */
static int page_params(struct http_req *req, struct http_res *res, long long *limit,
                       const char **cursor)
{
    const char *l = http_query(req, "limit");
    *limit = PAGE_DEFAULT;
    *cursor = http_query(req, "cursor");
    if (l != NULL && parse_int_range(l, 1, PAGE_MAX, limit) != 0)
        return http_res_detail(res, "limit must be 1-200"), MC_EBADREQ;
    if (*cursor != NULL && (*cursor)[0] == '\0')
        *cursor = NULL;
    if (*cursor != NULL && !uuid_valid(*cursor))
        return http_res_detail(res, "cursor is malformed"), MC_EBADREQ;
    return 0;
}

static json_t *page(json_t *items, const char *next)
{
    return json_pack("{s:o,s:s?}", "items", items, "nextCursor", next);
}

static int audit_simple(struct http_req *req, struct db_conn *c, const struct auth_user *au,
                        const char *action, const char *type, const char *rid,
                        const char *patient_id, const char *detail)
{
    struct audit_event e = {.actor_id = au->id,
                            .actor_role = au->role,
                            .action = action,
                            .resource_type = type,
                            .resource_id = rid,
                            .patient_id = patient_id,
                            .outcome = "success",
                            .detail = detail};
    return mod_audit(req, c, &e);
}

/* ---- GET /patients/{id}/care-team ---- */

struct team_ctx {
    struct http_req *req;
    const struct auth_user *au;
    const char *patient_id;
    const char *doctor_id;
    char assignment_id[UUID_STR_LEN];
    json_t *items;
};

static int team_list_tx(struct db_conn *c, void *arg)
{
    struct team_ctx *x = arg;
    struct db_stmt *st = NULL;
    int rc = policy_find_patient(c, x->patient_id);
    if (rc == 0)
        rc = db_query(c,
                      "SELECT d.id, d.name, t.created_at FROM care_team t JOIN users d ON"
                      " d.id = t.doctor_id WHERE t.patient_id = ? AND t.removed_at IS NULL"
                      " ORDER BY t.created_at, t.id",
                      DB_PARAMS(DBP_T(x->patient_id)), &st);
    json_decref(x->items); /* a retried transaction starts over */
    x->items = json_array();
    while (rc == 0 && (rc = db_step(st)) == 1) {
        char ts[RFC3339_LEN];
        rfc3339_format(db_col_int(st, 2), ts);
        json_array_append_new(x->items, json_pack("{s:s,s:s,s:s}", "id", db_col_text(st, 0), "name",
                                                  db_col_text(st, 1), "assignedAt", ts));
        rc = 0;
    }
    db_finalize(st);
    if (rc < 0)
        rc = -rc;
    if (rc == 0)
        rc = audit_simple(x->req, c, x->au, "care_team_read", "care_team", x->patient_id,
                          x->patient_id, NULL);
    return rc;
}

static int team_get(struct http_req *req, struct http_res *res)
{
    struct team_ctx x = {.req = req, .patient_id = http_param(req, "id")};
    struct db_conn *c = NULL;
    int rc =
        policy_patient(req, res, x.patient_id, POLICY_SELF | POLICY_CARE | POLICY_ADMIN, &x.au);
    if (rc == 0 && (rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, team_list_tx, &x);
    if (rc != 0) {
        json_decref(x.items);
        return rc;
    }
    http_res_json(res, 200, page(x.items, NULL));
    return 0;
}

/* ---- POST /patients/{id}/care-team, DELETE .../{doctorId} ---- */

static int team_add_tx(struct db_conn *c, void *arg)
{
    struct team_ctx *x = arg;
    struct db_stmt *st = NULL;
    char detail[80];
    int rc = policy_find_patient(c, x->patient_id);
    if (rc == 0)
        rc = db_query_row(c, "SELECT 1 FROM users WHERE id = ? AND role = 'doctor'",
                          DB_PARAMS(DBP_T(x->doctor_id)), &st);
    db_finalize(st);
    if (rc != 0)
        return rc;
    uuid_v7(x->assignment_id);
    rc = db_exec(c,
                 "INSERT INTO care_team (id, patient_id, doctor_id, assigned_by, created_at)"
                 " VALUES (?, ?, ?, ?, ?)",
                 DB_PARAMS(DBP_T(x->assignment_id), DBP_T(x->patient_id), DBP_T(x->doctor_id),
                           DBP_T(x->au->id), DBP_I(mc_now_ms())),
                 NULL);
    snprintf(detail, sizeof(detail), "authz_change doctor=%s", x->doctor_id);
    if (rc == 0)
        rc = audit_simple(x->req, c, x->au, "care_team_assign", "care_team", x->assignment_id,
                          x->patient_id, detail);
    return rc;
}

static int team_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"doctorId", NULL};
    struct team_ctx x = {.req = req, .patient_id = http_param(req, "id")};
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc != 0)
        return rc;
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    json_check_fields(b, fields, &v);
    if (json_get_str(b, "doctorId", true, 36, 36, &x.doctor_id, &v) && !uuid_valid(x.doctor_id))
        verrs_add(&v, MC_EINVAL, "doctorId", "must be a user id");
    if ((rc = verrs_result(&v)) != 0)
        return http_res_verrs(res, &v), rc;
    struct db_conn *c = NULL;
    if ((rc = mod_db(req, &c)) != 0)
        return rc;
    rc = db_tx(c, team_add_tx, &x);
    if (rc == MC_ENOTFOUND)
        http_res_detail(res, "no such patient or doctor");
    else if (rc == MC_ECONFLICT)
        http_res_detail(res, "the doctor is already on this care team");
    if (rc != 0)
        return rc;
    char ts[RFC3339_LEN];
    rfc3339_format(mc_now_ms(), ts);
    http_res_json(res, 201,
                  json_pack("{s:s,s:s,s:s}", "patientId", x.patient_id, "doctorId", x.doctor_id,
                            "assignedAt", ts));
    return 0;
}

static int team_remove_tx(struct db_conn *c, void *arg)
{
    struct team_ctx *x = arg;
    long long n = 0;
    char detail[80];
    int rc = db_exec(
        c,
        "UPDATE care_team SET removed_at = ?, removed_by = ? WHERE patient_id = ?"
        " AND doctor_id = ? AND removed_at IS NULL",
        DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(x->au->id), DBP_T(x->patient_id), DBP_T(x->doctor_id)),
        &n);
    if (rc == 0 && n == 0)
        rc = MC_ENOTFOUND;
    snprintf(detail, sizeof(detail), "authz_change doctor=%s", x->doctor_id);
    if (rc == 0)
        rc = audit_simple(x->req, c, x->au, "care_team_remove", "care_team", x->doctor_id,
                          x->patient_id, detail);
    return rc;
}

static int team_delete(struct http_req *req, struct http_res *res)
{
    struct team_ctx x = {
        .req = req, .patient_id = http_param(req, "id"), .doctor_id = http_param(req, "doctorId")};
    struct db_conn *c = NULL;
    int rc = auth_require_role(req, res, "admin", &x.au);
    if (rc == 0 && (rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, team_remove_tx, &x);
    if (rc != 0)
        return rc;
    http_res_body(res, 204, "application/json; charset=utf-8", "", 0);
    return 0;
}

/* ---- GET /doctor/patients ---- */

struct mine_ctx {
    struct http_req *req;
    const struct auth_user *au;
    long long limit;
    const char *cursor;
    json_t *items;
    char next[UUID_STR_LEN];
};

static int mine_tx(struct db_conn *c, void *arg)
{
    struct mine_ctx *x = arg;
    struct db_stmt *st = NULL;
    long long count = 0;
    /* care_team ids are UUIDv7: ordering by id is ordering by assignment time */
    int rc = db_query(
        c,
        "SELECT t.id, p.id, p.name, t.created_at FROM care_team t JOIN users p"
        " ON p.id = t.patient_id WHERE t.doctor_id = ? AND t.removed_at IS NULL"
        " AND t.id > ? ORDER BY t.id LIMIT ?",
        DB_PARAMS(DBP_T(x->au->id), DBP_T(x->cursor ? x->cursor : ""), DBP_I(x->limit + 1)), &st);
    json_decref(x->items);
    x->items = json_array();
    x->next[0] = '\0';
    while (rc == 0 && (rc = db_step(st)) == 1) {
        rc = 0;
        if (++count > x->limit) {
            json_t *last = json_array_get(x->items, json_array_size(x->items) - 1);
            snprintf(x->next, sizeof(x->next), "%s",
                     json_string_value(json_object_get(last, "assignmentId")));
            break;
        }
        char ts[RFC3339_LEN];
        rfc3339_format(db_col_int(st, 3), ts);
        json_array_append_new(x->items, json_pack("{s:s,s:s,s:s,s:s}", "assignmentId",
                                                  db_col_text(st, 0), "id", db_col_text(st, 1),
                                                  "name", db_col_text(st, 2), "assignedAt", ts));
    }
    db_finalize(st);
    if (rc < 0)
        rc = -rc;
    if (rc == 0)
        rc = audit_simple(x->req, c, x->au, "care_team_read", "care_team", x->au->id, NULL,
                          "doctor_patients");
    return rc;
}

static int doctor_patients_get(struct http_req *req, struct http_res *res)
{
    struct mine_ctx x = {.req = req};
    struct db_conn *c = NULL;
    int rc = auth_require_role(req, res, "doctor", &x.au);
    if (rc == 0)
        rc = page_params(req, res, &x.limit, &x.cursor);
    if (rc == 0 && (rc = mod_db(req, &c)) == 0)
        rc = db_tx(c, mine_tx, &x);
    if (rc != 0) {
        json_decref(x.items);
        return rc;
    }
    http_res_json(res, 200, page(x.items, x.next[0] ? x.next : NULL));
    return 0;
}

/* ---- GET /patients/{id}/access-log ---- */

static int access_log_get(struct http_req *req, struct http_res *res)
{
    struct {
        const struct auth_user *au;
        struct audit_filter f;
        json_t *items;
        char next[AUDIT_CURSOR_CAP];
    } x = {0};
    const char *l = http_query(req, "limit");
    long long limit = AUDIT_LIST_DEFAULT;
    x.f.patient_id = http_param(req, "id");
    int rc = policy_patient(req, res, x.f.patient_id, POLICY_SELF | POLICY_BREAK_GLASS, &x.au);
    if (rc != 0)
        return rc;
    if (l != NULL && parse_int_range(l, 1, AUDIT_LIST_MAX, &limit) != 0)
        return http_res_detail(res, "limit must be 1-200"), MC_EBADREQ;
    x.f.limit = (int)limit;
    x.f.cursor = http_query(req, "cursor");
    struct audit_event read = {.actor_id = x.au->id,
                               .actor_role = x.au->role,
                               .action = "access_log_read",
                               .resource_type = "audit",
                               .resource_id = x.f.patient_id,
                               .patient_id = x.f.patient_id,
                               .outcome = "success"};
    if ((rc = mod_audit_page(req, &read, &x.f, &x.items, x.next, sizeof(x.next))) != 0)
        return rc;
    /* the patient sees who, when, what and why - not the internal addresses and ids */
    size_t i;
    json_t *it;
    json_array_foreach(x.items, i, it)
    {
        json_object_del(it, "ip");
        json_object_del(it, "requestId");
    }
    http_res_json(res, 200, page(x.items, x.next[0] ? x.next : NULL));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/api/v1/patients/{id:uuid}/care-team", team_get, 0, 0, "self:{id}|care:{id}|admin"},
    {HTTP_POST, "/api/v1/patients/{id:uuid}/care-team", team_post, HTTP_BODY_JSON | HTTP_IDEMPOTENT,
     0, "admin"},
    {HTTP_DELETE, "/api/v1/patients/{id:uuid}/care-team/{doctorId:uuid}", team_delete, 0, 0,
     "admin"},
    {HTTP_GET, "/api/v1/doctor/patients", doctor_patients_get, 0, 0, "doctor"},
    {HTTP_GET, "/api/v1/patients/{id:uuid}/access-log", access_log_get, 0, 0,
     "self:{id}|breakglass:{id}"},
};

const struct http_route *care_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
