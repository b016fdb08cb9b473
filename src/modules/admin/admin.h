/*
 * admin.h - the administrators' API: user accounts (list, create, enable/disable, role) and
 * the audit log. Every route here requires the admin role (403 and an authz_fail audit event
 * otherwise); reading a patient's health data as an admin goes through the break-glass policy
 * in modules/care instead.
 */
#ifndef MC_MODULES_ADMIN_H
#define MC_MODULES_ADMIN_H

#include "http/http.h"

#include <stddef.h>

/* The route table: /api/v1/admin/users, /api/v1/admin/users/{id}, /api/v1/admin/audit. */
const struct http_route *admin_routes(size_t *n);

#endif
