/*
 * mfa_http.c - the TOTP second factor over HTTP: the login challenge (called from
 * login_post), enrolment (/auth/mfa/totp/setup, /auth/mfa/totp/enable), the second
 * step of a login (/auth/mfa/verify) and its management by the signed-in user
 * (/auth/mfa/totp/disable, /auth/mfa/recovery-codes), each proven with a current code.
 *
 * A password login that needs a second factor gets no tokens but an opaque "mfa_..."
 * challenge (5 min, single use, stored as its SHA-256). Purpose 'enroll' (staff without
 * TOTP yet) also admits setup and enable; /verify with a code or a recovery code turns
 * the challenge into a session. Wrong codes count toward the password lockout
 * (auth_login_failed). Secrets are sealed with totp_seal under API_KEY_ENCRYPTION_SECRET.
 */
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "infra/db/db.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/auth/auth_int.h"
#include "modules/auth/totp.h"
#include "modules/mod.h"
#include "modules/users/users.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CHALLENGE_TTL_MS (5LL * 60 * 1000)
#define BAD_CHALLENGE    "the MFA token is invalid, used or expired"

static const char *master_key(struct http_req *req)
{
    return config_str(mod_services(req)->cfg, CFG_API_KEY_ENCRYPTION_SECRET);
}

/* ---- the login challenge ---- */

static int totp_enabled(struct db_conn *c, const char *user_id, bool *out)
{
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT 1 FROM mfa_totp WHERE user_id = ? AND enabled_at IS NOT NULL",
                          DB_PARAMS(DBP_T(user_id)), &st);
    db_finalize(st);
    *out = rc == 0;
    return rc == MC_ENOTFOUND ? 0 : rc;
}

struct gate_ctx {
    struct http_req *req;
    const struct user *u;
    const char *rehash;
    const char *purpose;
    char token[AUTH_TOKEN_LEN];
};

static int gate_tx(struct db_conn *c, void *arg)
{
    struct gate_ctx *x = arg;
    char hash[65];
    int64_t now = mc_now_ms();
    int rc = 0;
    if (x->rehash != NULL)
        rc = users_set_password_hash(c, x->u->id, x->rehash);
    auth_new_secret("mfa", x->token, hash);
    if (rc == 0)
        rc = db_exec(c,
                     "INSERT INTO mfa_challenges (token_hash, user_id, purpose, created_at,"
                     " expires_at) VALUES (?, ?, ?, ?, ?)",
                     DB_PARAMS(DBP_T(hash), DBP_T(x->u->id), DBP_T(x->purpose), DBP_I(now),
                               DBP_I(now + CHALLENGE_TTL_MS)),
                     NULL);
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "authn_mfa_challenge",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success",
                            .detail = x->purpose};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

int auth_mfa_login_gate(struct http_req *req, struct http_res *res, struct db_conn *c,
                        const struct user *u, bool staff_required, const char *rehash,
                        bool *answered)
{
    bool enabled = false;
    *answered = false;
    int rc = totp_enabled(c, u->id, &enabled);
    if (rc != 0 || (!enabled && !staff_required))
        return rc;
    struct gate_ctx x = {
        .req = req, .u = u, .rehash = rehash, .purpose = enabled ? "login" : "enroll"};
    if ((rc = db_tx(c, gate_tx, &x)) != 0)
        return rc;
    http_res_json(res, 200,
                  json_pack("{s:b, s:s, s:b, s:I}", "mfaRequired", 1, "mfaToken", x.token, "enroll",
                            !enabled, "expiresIn", (json_int_t)(CHALLENGE_TTL_MS / 1000)));
    *answered = true;
    return 0;
}

/* The live challenge named by token (any purpose when purpose is NULL): its user.
 * 0, MC_ENOTFOUND or a db error. */
static int challenge_user(struct db_conn *c, const char *token, const char *purpose, struct user *u)
{
    char hash[65];
    struct db_stmt *st = NULL;
    if (strncmp(token, "mfa_", 4) != 0)
        return MC_ENOTFOUND;
    auth_hash_secret(token, hash);
    int rc = db_query_row(c,
                          "SELECT user_id, purpose FROM mfa_challenges WHERE token_hash = ?"
                          " AND used_at IS NULL AND expires_at > ?",
                          DB_PARAMS(DBP_T(hash), DBP_I(mc_now_ms())), &st);
    char uid[UUID_STR_LEN] = "";
    if (rc == 0 && (purpose == NULL || strcmp(db_col_text(st, 1), purpose) == 0))
        snprintf(uid, sizeof(uid), "%s", db_col_text(st, 0));
    else if (rc == 0)
        rc = MC_ENOTFOUND;
    db_finalize(st);
    if (rc == 0)
        rc = users_find_by_id(c, uid, u);
    if (rc == 0 && strcmp(u->status, "active") != 0)
        rc = MC_ENOTFOUND;
    return rc;
}

/* ---- enrolment: setup and enable ---- */

/* Who is enrolling: the holder of an 'enroll' challenge (X-MFA-Token header or the
 * body's mfaToken) or else the bearer of an access token, whose session goes to *sid
 * (optional; left NULL for a challenge). */
static int enrolling_user(struct http_req *req, struct http_res *res, struct db_conn *c,
                          const char *body_token, struct user *u, const char **sid)
{
    const char *token = http_header(req, "X-MFA-Token");
    if (token == NULL)
        token = body_token;
    if (token != NULL) {
        int rc = challenge_user(c, token, "enroll", u);
        if (rc == MC_ENOTFOUND) {
            http_res_detail(res, BAD_CHALLENGE);
            rc = MC_EUNAUTH;
        }
        return rc;
    }
    const struct auth_user *au = NULL;
    int rc = auth_require(req, res, &au);
    if (rc == 0)
        rc = users_find_by_id(c, au->id, u);
    if (rc == 0 && sid != NULL)
        *sid = au->sid;
    return rc;
}

struct setup_ctx {
    struct http_req *req;
    const struct user *u;
    const char *sealed;
    bool enabled; /* out: TOTP is on already, nothing written */
};

static int setup_tx(struct db_conn *c, void *arg)
{
    struct setup_ctx *x = arg;
    int rc = totp_enabled(c, x->u->id, &x->enabled);
    if (rc != 0 || x->enabled)
        return rc;
    rc = db_exec(c,
                 "INSERT INTO mfa_totp (user_id, secret_enc, enabled_at, last_step)"
                 " VALUES (?, ?, NULL, -1) ON CONFLICT (user_id) DO UPDATE SET"
                 " secret_enc = excluded.secret_enc, enabled_at = NULL, last_step = -1",
                 DB_PARAMS(DBP_T(x->u->id), DBP_T(x->sealed)), NULL);
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "mfa_setup",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int setup_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"mfaToken", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "mfaToken", false, 1, AUTH_TOKEN_LEN, &token, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    if ((rc = mod_db(req, &c)) != 0 || (rc = enrolling_user(req, res, c, token, u, NULL)) != 0)
        return rc;
    unsigned char secret[TOTP_SECRET_BYTES];
    char b32[TOTP_SECRET_B32_LEN], sealed[TOTP_SEALED_MAX];
    struct buf uri = BUF_INIT, svg = BUF_INIT;
    totp_new_secret(secret);
    rc = totp_base32(secret, sizeof(secret), b32);
    if (rc == 0)
        rc = totp_seal(master_key(req), u->id, secret, sizeof(secret), sealed, sizeof(sealed));
    sodium_memzero(secret, sizeof(secret));
    if (rc == 0)
        rc = totp_uri(u->email, b32, &uri);
    if (rc == 0)
        rc = totp_qr_svg(uri.data, &svg);
    struct setup_ctx x = {.req = req, .u = u, .sealed = sealed};
    if (rc == 0)
        rc = db_tx(c, setup_tx, &x);
    if (rc == 0 && x.enabled) {
        http_res_detail(res, "TOTP is already enabled for this account");
        rc = MC_ECONFLICT;
    }
    if (rc == 0)
        http_res_json(
            res, 200,
            json_pack("{s:s, s:s, s:s}", "secret", b32, "otpauthUri", uri.data, "qrSvg", svg.data));
    sodium_memzero(b32, sizeof(b32));
    buf_free(&uri);
    buf_free(&svg);
    return rc;
}

struct enable_ctx {
    struct http_req *req;
    const struct user *u;
    const char *code;
    const char *sid;     /* the caller's session, kept; NULL when enrolling by challenge */
    const char *verdict; /* out: why nothing was enabled, or NULL */
    char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_LEN];
};

/* Replaces user_id's recovery codes with TOTP_RECOVERY_COUNT new ones, written to codes
 * (the caller shows them once and wipes them); only their hashes are stored. */
static int store_recovery_codes(struct db_conn *c, const char *user_id,
                                char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_LEN])
{
    int rc = db_exec(c, "DELETE FROM mfa_recovery_codes WHERE user_id = ?",
                     DB_PARAMS(DBP_T(user_id)), NULL);
    for (int i = 0; rc == 0 && i < TOTP_RECOVERY_COUNT; i++) {
        char hash[65];
        totp_recovery_new(codes[i]);
        rc = totp_recovery_hash(user_id, codes[i], hash);
        if (rc == 0)
            rc = db_exec(c, "INSERT INTO mfa_recovery_codes (code_hash, user_id) VALUES (?, ?)",
                         DB_PARAMS(DBP_T(hash), DBP_T(user_id)), NULL);
    }
    return rc;
}

static json_t *recovery_json(char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_LEN])
{
    json_t *list = json_array();
    for (int i = 0; i < TOTP_RECOVERY_COUNT; i++)
        json_array_append_new(list, json_string(codes[i]));
    return list;
}

static int enable_tx(struct db_conn *c, void *arg)
{
    struct enable_ctx *x = arg;
    struct db_stmt *st = NULL;
    unsigned char secret[TOTP_SECRET_BYTES];
    int rc = db_query_row(c, "SELECT secret_enc, enabled_at FROM mfa_totp WHERE user_id = ?",
                          DB_PARAMS(DBP_T(x->u->id)), &st);
    if (rc == MC_ENOTFOUND) {
        x->verdict = "call /auth/mfa/totp/setup first";
        return 0;
    }
    if (rc == 0 && !db_col_null(st, 1))
        x->verdict = "TOTP is already enabled for this account";
    else if (rc == 0)
        rc = totp_open(master_key(x->req), x->u->id, db_col_text(st, 0), secret);
    db_finalize(st);
    if (rc != 0 || x->verdict != NULL)
        return rc;
    int64_t step = -1;
    bool ok = totp_check(secret, sizeof(secret), mc_now_ms() / 1000, x->code, -1, &step);
    sodium_memzero(secret, sizeof(secret));
    if (!ok) {
        x->verdict = "the code does not match; check the device's clock and try a new code";
        return 0;
    }
    rc = db_exec(c, "UPDATE mfa_totp SET enabled_at = ?, last_step = ? WHERE user_id = ?",
                 DB_PARAMS(DBP_I(mc_now_ms()), DBP_I(step), DBP_T(x->u->id)), NULL);
    if (rc == 0)
        rc = store_recovery_codes(c, x->u->id, x->codes);
    /* sessions opened on the password alone end; the enrolling one (if any) stays */
    if (rc == 0)
        rc = auth_session_revoke_all(c, x->u->id, x->sid, "mfa_enable");
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "mfa_enable",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success"};
    if (rc == 0)
        rc = mod_audit(x->req, c, &e);
    return rc;
}

static int enable_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"code", "mfaToken", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *code = NULL, *token = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "code", true, 1, 16, &code, &v);
    json_get_str(b, "mfaToken", false, 1, AUTH_TOKEN_LEN, &token, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    const char *sid = NULL;
    if ((rc = mod_db(req, &c)) != 0 || (rc = enrolling_user(req, res, c, token, u, &sid)) != 0)
        return rc;
    struct enable_ctx *x = arena_alloc(http_arena(req), sizeof(*x));
    memset(x, 0, sizeof(*x));
    x->req = req;
    x->u = u;
    x->code = code;
    x->sid = sid;
    if ((rc = db_tx(c, enable_tx, x)) != 0)
        return rc;
    if (x->verdict != NULL) {
        verrs_add(&v, MC_EINVAL, "code", "%s", x->verdict);
        return http_res_verrs(res, &v), MC_EINVAL;
    }
    json_t *list = recovery_json(x->codes);
    sodium_memzero(x->codes, sizeof(x->codes));
    http_res_json(res, 200, json_pack("{s:b, s:o}", "enabled", 1, "recoveryCodes", list));
    return 0;
}

/* ---- the second step of a login ---- */

struct verify_ctx {
    struct http_req *req;
    const struct user *u;
    const char *token_hash;
    const char *code;     /* one of code ... */
    const char *recovery; /* ... and recovery is set */
    bool bad_factor;      /* out: the code was wrong or used (counts as a failure) */
    struct auth_tokens *t;
};

static int check_totp(struct db_conn *c, struct verify_ctx *x)
{
    struct db_stmt *st = NULL;
    unsigned char secret[TOTP_SECRET_BYTES];
    int rc = db_query_row(c,
                          "SELECT secret_enc, last_step FROM mfa_totp WHERE user_id = ?"
                          " AND enabled_at IS NOT NULL",
                          DB_PARAMS(DBP_T(x->u->id)), &st);
    int64_t last = rc == 0 ? db_col_int(st, 1) : -1;
    if (rc == 0)
        rc = totp_open(master_key(x->req), x->u->id, db_col_text(st, 0), secret);
    db_finalize(st);
    if (rc == MC_ENOTFOUND)
        return x->bad_factor = true, MC_EUNAUTH;
    if (rc != 0)
        return rc;
    int64_t step = -1;
    bool ok = totp_check(secret, sizeof(secret), mc_now_ms() / 1000, x->code, last, &step);
    sodium_memzero(secret, sizeof(secret));
    long long n = 0;
    /* the guard on last_step makes two concurrent uses of one code succeed once */
    if (ok)
        rc = db_exec(c, "UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND last_step < ?",
                     DB_PARAMS(DBP_I(step), DBP_T(x->u->id), DBP_I(step)), &n);
    if (rc == 0 && n != 1)
        return x->bad_factor = true, MC_EUNAUTH;
    return rc;
}

static int check_recovery(struct http_req *req, struct db_conn *c, struct verify_ctx *x)
{
    char hash[65];
    long long n = 0;
    int rc = totp_recovery_hash(x->u->id, x->recovery, hash);
    if (rc == 0)
        rc = db_exec(c,
                     "UPDATE mfa_recovery_codes SET used_at = ? WHERE code_hash = ? AND"
                     " user_id = ? AND used_at IS NULL",
                     DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(hash), DBP_T(x->u->id)), &n);
    if (rc == MC_EINVAL || (rc == 0 && n != 1))
        return x->bad_factor = true, MC_EUNAUTH;
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = "mfa_recovery_used",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success",
                            .severity = "high"};
    if (rc == 0)
        rc = mod_audit(req, c, &e);
    return rc;
}

static int mfa_verify_tx(struct db_conn *c, void *arg)
{
    struct verify_ctx *x = arg;
    long long n = 0;
    int64_t now = mc_now_ms();
    int rc = db_exec(c,
                     "UPDATE mfa_challenges SET used_at = ? WHERE token_hash = ? AND"
                     " used_at IS NULL AND expires_at > ?",
                     DB_PARAMS(DBP_I(now), DBP_T(x->token_hash), DBP_I(now)), &n);
    if (rc == 0 && n != 1)
        rc = MC_EUNAUTH; /* used by a concurrent request a moment ago */
    if (rc == 0)
        rc = x->code != NULL ? check_totp(c, x) : check_recovery(x->req, c, x);
    if (rc == 0)
        rc = auth_login_succeeded(x->req, c, x->u, x->t);
    return rc; /* non-zero rolls the challenge's use back */
}

static int verify_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"mfaToken", "code", "recoveryCode", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    const char *token = NULL, *code = NULL, *recovery = NULL;
    json_check_fields(b, fields, &v);
    json_get_str(b, "mfaToken", true, 1, AUTH_TOKEN_LEN, &token, &v);
    json_get_str(b, "code", false, 1, 16, &code, &v);
    json_get_str(b, "recoveryCode", false, 1, 64, &recovery, &v);
    if (verrs_result(&v) == 0 && (code == NULL) == (recovery == NULL))
        verrs_add(&v, MC_EINVAL, "code", "give exactly one of code and recoveryCode");
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = auth_limit_ip(req, res, "login")) != 0)
        return rc;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    if ((rc = mod_db(req, &c)) != 0)
        return rc;
    rc = challenge_user(c, token, NULL, u);
    if (rc == MC_ENOTFOUND) {
        http_res_detail(res, BAD_CHALLENGE);
        return MC_EUNAUTH;
    }
    if (rc != 0 || (rc = auth_login_locked(res, c, u->email)) != 0)
        return rc;
    char hash[65];
    auth_hash_secret(token, hash);
    struct verify_ctx x = {.req = req,
                           .u = u,
                           .token_hash = hash,
                           .code = code,
                           .recovery = recovery,
                           .t = arena_alloc(http_arena(req), sizeof(struct auth_tokens))};
    rc = db_tx(c, mfa_verify_tx, &x);
    if (rc == MC_EUNAUTH && x.bad_factor) {
        int frc = auth_login_failed(req, c, u->email, u->id);
        if (frc != 0)
            return frc;
        http_res_detail(res, "the code is wrong or has been used");
        return MC_EUNAUTH;
    }
    if (rc == MC_EUNAUTH) {
        http_res_detail(res, BAD_CHALLENGE);
        return rc;
    }
    if (rc != 0)
        return rc;
    http_res_json(res, 200, auth_login_body(x.t, u));
    return 0;
}

/* ---- managing an enabled second factor: disable, new recovery codes ---- */

struct manage_ctx {
    struct http_req *req;
    const struct user *u;
    const char *sid;      /* the caller's session: kept when the others are revoked */
    const char *code;     /* one of code ... */
    const char *recovery; /* ... and recovery (disable only) is set */
    bool not_enabled;     /* out: TOTP is off, nothing done */
    bool bad_factor;      /* out: the code was wrong or used (counts as a failure) */
    char codes[TOTP_RECOVERY_COUNT][TOTP_RECOVERY_LEN]; /* out: new recovery codes */
};

/* Inside c's transaction: TOTP must be on and the caller's code (or recovery code) right.
 * MC_EUNAUTH with bad_factor set rolls the attempt back; 0 with not_enabled does nothing. */
static int check_factor(struct db_conn *c, struct manage_ctx *x)
{
    bool enabled = false;
    int rc = totp_enabled(c, x->u->id, &enabled);
    x->not_enabled = rc == 0 && !enabled;
    if (rc != 0 || x->not_enabled)
        return rc;
    struct verify_ctx v = {.req = x->req, .u = x->u, .code = x->code, .recovery = x->recovery};
    rc = x->code != NULL ? check_totp(c, &v) : check_recovery(x->req, c, &v);
    x->bad_factor = v.bad_factor;
    return rc;
}

static int manage_audit(struct db_conn *c, struct manage_ctx *x, const char *action)
{
    struct audit_event e = {.actor_id = x->u->id,
                            .actor_role = x->u->role,
                            .action = action,
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success",
                            .severity = "high"};
    return mod_audit(x->req, c, &e);
}

static int disable_tx(struct db_conn *c, void *arg)
{
    struct manage_ctx *x = arg;
    int rc = check_factor(c, x);
    if (rc != 0 || x->not_enabled)
        return rc;
    rc = db_exec(c, "DELETE FROM mfa_totp WHERE user_id = ?", DB_PARAMS(DBP_T(x->u->id)), NULL);
    if (rc == 0)
        rc = db_exec(c, "DELETE FROM mfa_recovery_codes WHERE user_id = ?",
                     DB_PARAMS(DBP_T(x->u->id)), NULL);
    /* a login challenge opened before cannot be finished any more */
    if (rc == 0)
        rc = db_exec(c,
                     "UPDATE mfa_challenges SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
                     DB_PARAMS(DBP_I(mc_now_ms()), DBP_T(x->u->id)), NULL);
    if (rc == 0)
        rc = manage_audit(c, x, "mfa_disable");
    return rc;
}

static int regenerate_tx(struct db_conn *c, void *arg)
{
    struct manage_ctx *x = arg;
    int rc = check_factor(c, x);
    if (rc != 0 || x->not_enabled)
        return rc;
    rc = store_recovery_codes(c, x->u->id, x->codes);
    /* whoever may have seen the old codes may be signed in elsewhere: only this session stays */
    if (rc == 0)
        rc = auth_session_revoke_all(c, x->u->id, x->sid, "mfa_recovery_regenerate");
    if (rc == 0)
        rc = manage_audit(c, x, "mfa_recovery_regenerate");
    return rc;
}

/* The signed-in caller (into x) and a transaction fn that needs her second factor. A wrong
 * code counts toward the login lockout like at /auth/mfa/verify (422 here: the bearer
 * token itself is fine). */
static int manage(struct http_req *req, struct http_res *res, struct manage_ctx *x,
                  int (*fn)(struct db_conn *, void *), bool staff_refused)
{
    const struct auth_user *au = NULL;
    struct db_conn *c = NULL;
    struct user *u = arena_alloc(http_arena(req), sizeof(*u));
    int rc = auth_require(req, res, &au);
    if (rc != 0 || (rc = mod_db(req, &c)) != 0 || (rc = users_find_by_id(c, au->id, u)) != 0)
        return rc;
    if (staff_refused && auth_staff_mfa_required(mod_services(req)->cfg, u->role))
        return http_res_detail(res, "staff accounts must keep a second factor"), MC_EFORBIDDEN;
    if ((rc = auth_login_locked(res, c, u->email)) != 0)
        return rc;
    x->req = req;
    x->u = u;
    x->sid = au->sid;
    rc = db_tx(c, fn, x);
    if (rc == MC_EUNAUTH && x->bad_factor) {
        if ((rc = auth_login_failed(req, c, u->email, u->id)) != 0)
            return rc;
        struct verrs v = {0};
        verrs_add(&v, MC_EINVAL, x->code != NULL ? "code" : "recoveryCode",
                  "the code is wrong or has been used");
        return http_res_verrs(res, &v), MC_EINVAL;
    }
    if (rc == 0 && x->not_enabled)
        return http_res_detail(res, "TOTP is not enabled for this account"), MC_ECONFLICT;
    return rc;
}

static int disable_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"code", "recoveryCode", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    struct manage_ctx *x = arena_alloc(http_arena(req), sizeof(*x));
    memset(x, 0, sizeof(*x));
    json_check_fields(b, fields, &v);
    json_get_str(b, "code", false, 1, 16, &x->code, &v);
    json_get_str(b, "recoveryCode", false, 1, 64, &x->recovery, &v);
    if (verrs_result(&v) == 0 && (x->code == NULL) == (x->recovery == NULL))
        verrs_add(&v, MC_EINVAL, "code", "give exactly one of code and recoveryCode");
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = manage(req, res, x, disable_tx, true)) != 0)
        return rc;
    http_res_json(res, 200, json_pack("{s:b}", "enabled", 0));
    return 0;
}

static int recovery_codes_post(struct http_req *req, struct http_res *res)
{
    static const char *const fields[] = {"code", NULL};
    json_t *b = http_body_json(req);
    struct verrs v = {0};
    struct manage_ctx *x = arena_alloc(http_arena(req), sizeof(*x));
    memset(x, 0, sizeof(*x));
    json_check_fields(b, fields, &v);
    json_get_str(b, "code", true, 1, 16, &x->code, &v);
    int rc = verrs_result(&v);
    if (rc != 0)
        return http_res_verrs(res, &v), rc;
    if ((rc = manage(req, res, x, regenerate_tx, false)) != 0)
        return rc;
    json_t *list = recovery_json(x->codes);
    sodium_memzero(x->codes, sizeof(x->codes));
    http_res_json(res, 200, json_pack("{s:o}", "recoveryCodes", list));
    return 0;
}

static const struct http_route routes[] = {
    {HTTP_POST, "/api/v1/auth/mfa/totp/setup", setup_post, HTTP_BODY_JSON, 0, "user"},
    {HTTP_POST, "/api/v1/auth/mfa/totp/enable", enable_post, HTTP_BODY_JSON, 0, "user"},
    {HTTP_POST, "/api/v1/auth/mfa/verify", verify_post, HTTP_BODY_JSON, 0, "public"},
    {HTTP_POST, "/api/v1/auth/mfa/totp/disable", disable_post, HTTP_BODY_JSON, 0, "user"},
    {HTTP_POST, "/api/v1/auth/mfa/recovery-codes", recovery_codes_post, HTTP_BODY_JSON, 0, "user"},
};

const struct http_route *auth_mfa_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
