/*
 * users.c - queries and rendering for user accounts (see users.h).
 */
#include "modules/users/users.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "infra/db/db.h"

#include <stdio.h>
#include <string.h>

#define USER_COLS                                                                                  \
    "id, email, role, name, phone, locale, timezone, status, email_verified_at, password_hash,"    \
    " created_at, version"

void users_email_lc(const char *email, char *out, size_t cap)
{
    size_t i = 0;
    for (; email[i] != '\0' && i + 1 < cap; i++) {
        char ch = email[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[i] = '\0';
}

bool users_email_valid(const char *email)
{
    size_t n = strlen(email);
    const char *at = strchr(email, '@');
    if (n < 3 || n > USER_EMAIL_MAX || at == NULL || at == email || at[1] == '\0' ||
        strchr(at + 1, '@') != NULL || strchr(at + 1, '.') == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)email; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return false;
    return true;
}

bool users_role_valid(const char *role)
{
    return strcmp(role, "patient") == 0 || strcmp(role, "doctor") == 0 ||
           strcmp(role, "admin") == 0;
}

static void copy_col(struct db_stmt *st, int i, char *out, size_t cap)
{
    const char *v = db_col_text(st, i);
    snprintf(out, cap, "%s", v ? v : "");
}

static void read_user(struct db_stmt *st, struct user *u)
{
    copy_col(st, 0, u->id, sizeof(u->id));
    copy_col(st, 1, u->email, sizeof(u->email));
    copy_col(st, 2, u->role, sizeof(u->role));
    copy_col(st, 3, u->name, sizeof(u->name));
    copy_col(st, 4, u->phone, sizeof(u->phone));
    copy_col(st, 5, u->locale, sizeof(u->locale));
    copy_col(st, 6, u->timezone, sizeof(u->timezone));
    copy_col(st, 7, u->status, sizeof(u->status));
    u->email_verified = !db_col_null(st, 8);
    copy_col(st, 9, u->password_hash, sizeof(u->password_hash));
    u->created_at = db_col_int(st, 10);
    u->version = db_col_int(st, 11);
}

static int find(struct db_conn *c, const char *sql, const char *value, struct user *out)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, sql, DB_PARAMS(DBP_T(value)), &st);
    if (rc == 0)
        read_user(st, out);
    db_finalize(st);
    return rc;
}

int users_find_by_email(struct db_conn *c, const char *email, struct user *out)
{
    char lc[USER_EMAIL_MAX + 1];
    users_email_lc(email, lc, sizeof(lc));
    return find(c, "SELECT " USER_COLS " FROM users WHERE email_lc = ?", lc, out);
}

int users_find_by_id(struct db_conn *c, const char *id, struct user *out)
{
    return find(c, "SELECT " USER_COLS " FROM users WHERE id = ?", id, out);
}

int users_insert(struct db_conn *c, struct user *u, bool verified)
{
    char lc[USER_EMAIL_MAX + 1];
    int64_t now = mc_now_ms();
    uuid_v7(u->id);
    u->created_at = now;
    u->version = 1;
    u->email_verified = verified;
    users_email_lc(u->email, lc, sizeof(lc));
    return db_exec(c,
                   "INSERT INTO users (id, email, email_lc, email_verified_at, password_hash, role,"
                   " name, phone, locale, timezone, status, created_at, updated_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                   DB_PARAMS(DBP_T(u->id), DBP_T(u->email), DBP_T(lc),
                             verified ? DBP_I(now) : DBP_NULL_,
                             DBP_TN(u->password_hash[0] ? u->password_hash : NULL), DBP_T(u->role),
                             DBP_T(u->name), DBP_TN(u->phone[0] ? u->phone : NULL),
                             DBP_T(u->locale[0] ? u->locale : "en"),
                             DBP_T(u->timezone[0] ? u->timezone : "UTC"), DBP_I(now), DBP_I(now)),
                   NULL);
}

int users_set_password_hash(struct db_conn *c, const char *id, const char *hash)
{
    return db_exec(c, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                   DB_PARAMS(DBP_T(hash), DBP_I(mc_now_ms()), DBP_T(id)), NULL);
}

int users_mark_verified(struct db_conn *c, const char *id)
{
    return db_exec(c,
                   "UPDATE users SET email_verified_at = ?, updated_at = ?"
                   " WHERE id = ? AND email_verified_at IS NULL",
                   DB_PARAMS(DBP_I(mc_now_ms()), DBP_I(mc_now_ms()), DBP_T(id)), NULL);
}

json_t *users_to_json(const struct user *u)
{
    char ts[RFC3339_LEN];
    rfc3339_format(u->created_at, ts);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "emailVerified", json_boolean(u->email_verified));
    json_object_set_new(o, "role", json_string(u->role));
    json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "phone", u->phone[0] ? json_string(u->phone) : json_null());
    json_object_set_new(o, "locale", json_string(u->locale));
    json_object_set_new(o, "timezone", json_string(u->timezone));
    json_object_set_new(o, "status", json_string(u->status));
    json_object_set_new(o, "createdAt", json_string(ts));
    json_object_set_new(o, "version", json_integer(u->version));
    return o;
}
