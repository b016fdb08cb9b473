/*
 * clinic.c - the clinic's public settings: name, time zone and how to reach it.
 *
 * GET /api/v1/clinic needs no login (the app shows it before sign-in). Editing the
 * settings is an admin action and arrives with the Identity issue.
 */
#include "app/modules.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/mod.h"

#include <stdio.h>

static const char select_sql[] =
    "SELECT id, name, timezone, phone, email, address, emergency_phone, updated_at, version"
    " FROM clinic_settings ORDER BY created_at LIMIT 1";

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int clinic_get(struct http_req *req, struct http_res *res)
{
    struct db_conn *c = NULL;
    struct db_stmt *st = NULL;
    int rc = mod_db(req, &c);
    if (rc == 0)
        rc = db_query_row(c, select_sql, NULL, 0, &st);
    if (rc != 0)
        return rc;
    char ts[RFC3339_LEN];
    rfc3339_format(db_col_int(st, 7), ts);
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%lld\"", db_col_int(st, 8));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(db_col_text(st, 0)));
    json_object_set_new(o, "name", json_string(db_col_text(st, 1)));
    json_object_set_new(o, "timezone", json_string(db_col_text(st, 2)));
    json_object_set_new(o, "phone", text_or_null(db_col_text(st, 3)));
    json_object_set_new(o, "email", text_or_null(db_col_text(st, 4)));
    json_object_set_new(o, "address", text_or_null(db_col_text(st, 5)));
    json_object_set_new(o, "emergencyPhone", text_or_null(db_col_text(st, 6)));
    json_object_set_new(o, "updatedAt", json_string(ts));
    json_object_set_new(o, "version", json_integer(db_col_int(st, 8)));
    db_finalize(st);
    http_res_header(res, "ETag", etag);
    http_res_json(res, 200, o);
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_GET, "/api/v1/clinic", clinic_get, 0, 0, "public"},
};

const struct http_route *clinic_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}

int clinic_seed_demo(struct db_conn *c)
{
    return db_exec(c,
                   "UPDATE clinic_settings SET name = ?, timezone = ?, phone = ?, email = ?,"
                   " address = ?, emergency_phone = ?, updated_at = ?, version = version + 1",
                   DB_PARAMS(DBP_T("Mimicare Demo Clinic"), DBP_T("Africa/Nairobi"),
                             DBP_T("+254 20 000 0000"), DBP_T("care@demo.mimicare.local"),
                             DBP_T("1 Demo Road, Nairobi"), DBP_T("+254 20 000 0911"),
                             DBP_I(mc_now_ms())),
                   NULL);
}
