/*
 * users.h - user accounts: the people who log in (patients, doctors, admins).
 *
 * E-mail addresses are unique without regard to ASCII case (email_lc). The password hash
 * never leaves this module except to the password verifier.
 */
#ifndef MC_USERS_USERS_H
#define MC_USERS_USERS_H

#include "core/rand.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct db_conn;

#define USER_EMAIL_MAX 254
#define USER_NAME_MAX  200

struct user {
    char id[UUID_STR_LEN];
    char email[USER_EMAIL_MAX + 1];
    char role[16]; /* patient | doctor | admin */
    char name[4 * USER_NAME_MAX + 1];
    char phone[64];
    char locale[16];
    char timezone[64];
    char status[16]; /* active | disabled */
    bool email_verified;
    char password_hash[192]; /* "" when the account has no password */
    int64_t created_at;
    long long version;
};

/* Lower-cases ASCII letters of an e-mail into out (cap bytes). */
void users_email_lc(const char *email, char *out, size_t cap);
/* Rough syntax check: one '@', something on both sides, no spaces or control
 * characters, at most 254 bytes. */
bool users_email_valid(const char *email);
bool users_role_valid(const char *role);

/* Finds by e-mail (any case) or id. 0, MC_ENOTFOUND or a db error. */
int users_find_by_email(struct db_conn *c, const char *email, struct user *out);
int users_find_by_id(struct db_conn *c, const char *id, struct user *out);

/* Inserts u (id, created_at filled in here). MC_ECONFLICT if the e-mail is taken. */
int users_insert(struct db_conn *c, struct user *u, bool verified);
int users_set_password_hash(struct db_conn *c, const char *id, const char *hash);
int users_mark_verified(struct db_conn *c, const char *id);

/* The public JSON view of a user (no hash). New reference. */
json_t *users_to_json(const struct user *u);

#endif
