/*
 * audit.c - the audit hash chain: appending events, verifying the chain, and the head
 * checkpoint file with the thread that keeps it current (see audit.h).
 *
 * Canonical form. A row's hash is hex(HMAC-SHA256(key, message)) where message is
 *
 *     prev_hash "\n" "audit-row-v1\n" F(seq) F(id) F(at) F(actor_id) F(actor_role)
 *     F(action) F(resource_type) F(resource_id) F(patient_id) F(outcome) F(severity)
 *     F(ip) F(request_id) F(detail) F(prev_hash)
 *
 * and F(v) is "<byte length of v>:" v "," for a value (integers in decimal, no sign
 * for the positive numbers we store) and "-," for SQL NULL. The length in front means no
 * value can end early or run into its neighbour, and NULL differs from "", so two
 * different rows never give the same message. The first row's prev_hash is 64 zeros.
 *
 * Checkpoint file: one line "<seq> <hash> <hmac>\n" where hmac = hex(HMAC-SHA256(key,
 * "audit-checkpoint-v1\n" seq " " hash)). A row message starts with 64 hex digits and a
 * checkpoint message with a word, so one can never be passed off as the other.
 */
#include "modules/audit/audit.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_HEX     65 /* 64 hex digits and the NUL */
#define NCOLS        15 /* hashed columns: every column but hash */
#define VERIFY_BATCH 1000

static const char genesis_hash[HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The hashed columns in canonical order, then hash; audit_verify reads them in this order. */
#define AUDIT_COLS                                                                                 \
    "seq, id, at, actor_id, actor_role, action, resource_type, resource_id, patient_id, "          \
    "outcome, severity, ip, request_id, detail, prev_hash, hash"

/* ------------------------------------------------------------- hashing ---- */

static void hmac_update_str(crypto_auth_hmacsha256_state *st, const char *s)
{
    crypto_auth_hmacsha256_update(st, (const unsigned char *)s, strlen(s));
}

/* hex(HMAC(key, v[14] "\n" "audit-row-v1\n" F(v[0]) ... F(v[14]))); v[i] NULL = SQL NULL. */
static void row_hash(const unsigned char *key, size_t keylen, const char *const v[NCOLS],
                     char out[HASH_HEX])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key, keylen);
    hmac_update_str(&st, v[NCOLS - 1] ? v[NCOLS - 1] : "");
    hmac_update_str(&st, "\naudit-row-v1\n");
    for (int i = 0; i < NCOLS; i++) {
        char len[24];
        if (v[i] == NULL) {
            hmac_update_str(&st, "-,");
            continue;
        }
        snprintf(len, sizeof(len), "%zu:", strlen(v[i]));
        hmac_update_str(&st, len);
        hmac_update_str(&st, v[i]);
        hmac_update_str(&st, ",");
    }
    crypto_auth_hmacsha256_final(&st, mac);
    mc_hex(mac, sizeof(mac), out);
}

static void checkpoint_mac(const unsigned char *key, size_t keylen, long long seq, const char *hash,
                           char out[HASH_HEX])
{
    char msg[128];
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    snprintf(msg, sizeof(msg), "audit-checkpoint-v1\n%lld %s", seq, hash);
    crypto_auth_hmacsha256_init(&st, key, keylen); /* any key length, unlike the one-shot */
    hmac_update_str(&st, msg);
    crypto_auth_hmacsha256_final(&st, mac);
    mc_hex(mac, sizeof(mac), out);
}

static bool is_hash(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == HASH_HEX - 1;
}

/* ---------------------------------------------------------- validation ---- */

/* True if s is at most max bytes of valid UTF-8 without control characters (C0, DEL,
 * C1): what is stored must not be able to forge lines in whatever later displays it. */
static bool text_ok(const char *s, size_t max)
{
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (strnlen(s, max + 1) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        unsigned c = *p, cp, len;
        if (c < 0x80) {
            len = 1, cp = c;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        for (unsigned i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
            (cp >= 0x7f && cp <= 0x9f))
            return false;
        p += len;
    }
    return true;
}

static bool action_ok(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0' && n <= AUDIT_ACTION_MAX; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return false;
    return n >= 1 && n <= AUDIT_ACTION_MAX;
}

static bool one_of(const char *s, const char *a, const char *b, const char *c)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c != NULL && strcmp(s, c) == 0);
}

static int event_check(const struct audit_event *e)
{
    const char *optional[] = {e->actor_id,   e->actor_role, e->resource_type, e->resource_id,
                              e->patient_id, e->ip,         e->request_id};
    if (e->action == NULL || !action_ok(e->action))
        return MC_EINVAL;
    if (e->outcome == NULL || !one_of(e->outcome, "success", "failure", "denied"))
        return MC_EINVAL;
    if (e->severity != NULL && !one_of(e->severity, "info", "high", NULL))
        return MC_EINVAL;
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
        if (optional[i] != NULL && !text_ok(optional[i], AUDIT_FIELD_MAX))
            return MC_EINVAL;
    if (e->detail != NULL && !text_ok(e->detail, AUDIT_DETAIL_MAX))
        return MC_EINVAL;
    return 0;
}

/* -------------------------------------------------------------- append ---- */

/* Reads audit_head; on PostgreSQL with lock, row-locks it until the transaction ends. */
static int head_read(struct db_conn *c, bool lock, long long *seq, char hash[HASH_HEX])
{
    bool pg = db_kind(db_conn_db(c)) == DB_POSTGRES;
    struct db_stmt *st = NULL;
    int rc = db_query_row(c,
                          pg && lock ? "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                                     : "SELECT seq, hash FROM audit_head WHERE id = 1",
                          NULL, 0, &st);
    if (rc == MC_ENOTFOUND)
        rc = MC_ECORRUPT; /* the migration inserts it and a trigger keeps it */
    if (rc == 0) {
        *seq = db_col_int(st, 0);
        snprintf(hash, HASH_HEX, "%s", db_col_text(st, 1) ? db_col_text(st, 1) : "");
    }
    db_finalize(st);
    return rc;
}

/* Inserts the row whose hashed values are v (canonical order) and advances the head. */
static int insert_row(struct db_conn *c, long long seq, long long at, const char *const v[NCOLS],
                      const char *hash)
{
    struct db_param p[NCOLS + 1];
    long long changes = 0;
    p[0] = DBP_I(seq);
    p[1] = DBP_T(v[1]);
    p[2] = DBP_I(at);
    for (int i = 3; i < NCOLS; i++)
        p[i] = DBP_TN(v[i]);
    p[NCOLS] = DBP_T(hash);
    int rc = db_exec(c,
                     "INSERT INTO audit_events (" AUDIT_COLS ") "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     p, NCOLS + 1, NULL);
    if (rc == 0)
        rc = db_exec(c, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                     DB_PARAMS(DBP_I(seq), DBP_T(hash)), &changes);
    if (rc == 0 && changes != 1)
        rc = MC_ECORRUPT;
    return rc;
}

int audit_append(struct db_conn *c, const unsigned char *key, size_t keylen,
                 const struct audit_event *e)
{
    long long seq;
    char prev[HASH_HEX], hash[HASH_HEX], id[UUID_STR_LEN], seq_s[24], at_s[24];
    if (!db_in_tx(c) || key == NULL || keylen == 0) {
        log_error("audit_append needs an open transaction and a key",
                  LF_S("action", e->action ? e->action : ""));
        return MC_EINTERNAL;
    }
    int rc = event_check(e);
    if (rc != 0) {
        log_warn("audit event refused: missing, unknown or unsafe value",
                 LF_S("action", e->action ? e->action : ""));
        return rc;
    }
    rc = head_read(c, true, &seq, prev);
    if (rc != 0)
        goto out;
    seq++;
    long long at = mc_now_ms();
    uuid_v7(id);
    snprintf(seq_s, sizeof(seq_s), "%lld", seq);
    snprintf(at_s, sizeof(at_s), "%lld", at);
    const char *severity = e->severity ? e->severity : "info";
    /* canonical order, see the purpose block */
    const char *v[NCOLS] = {seq_s,
                            id,
                            at_s,
                            e->actor_id,
                            e->actor_role,
                            e->action,
                            e->resource_type,
                            e->resource_id,
                            e->patient_id,
                            e->outcome,
                            severity,
                            e->ip,
                            e->request_id,
                            e->detail,
                            prev};
    row_hash(key, keylen, v, hash);
    rc = insert_row(c, seq, at, v, hash);
out:
    if (rc != 0 && rc != MC_EBUSY)
        log_error("audit append failed", LF_S("action", e->action), LF_S("error", mc_strerror(rc)),
                  LF_S("db", db_last_error(c)));
    return rc;
}

/* ---------------------------------------------------------- checkpoint ---- */

struct checkpoint {
    long long seq;
    char hash[HASH_HEX];
};

/* Reads and authenticates path. Returns 0; MC_ENOTFOUND if there is no file; MC_ECORRUPT
 * (malformed or failing its HMAC) or MC_EIO with why set. */
static int checkpoint_read(const char *path, const unsigned char *key, size_t keylen,
                           struct checkpoint *cp, char *why, size_t cap)
{
    char text[256], num[24], want[HASH_HEX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MC_ENOTFOUND;
        snprintf(why, cap, "cannot open checkpoint %s: %s", path, strerror(errno));
        return MC_EIO;
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0) {
        snprintf(why, cap, "cannot read checkpoint %s: %s", path, strerror(errno));
        return MC_EIO;
    }
    text[n] = '\0';
    /* "<seq> <64 hex> <64 hex>\n" exactly */
    const char *sp = strchr(text, ' ');
    size_t digits = sp ? (size_t)(sp - text) : 0;
    bool ok = digits >= 1 && digits < sizeof(num) && (size_t)n == digits + 2 * 65 + 1 &&
              text[n - 1] == '\n' && text[digits + 65] == ' ';
    if (ok) {
        memcpy(num, text, digits);
        num[digits] = '\0';
        memcpy(cp->hash, sp + 1, 64);
        cp->hash[64] = '\0';
        memcpy(want, sp + 66, 64);
        want[64] = '\0';
        ok =
            parse_int_range(num, 0, LLONG_MAX, &cp->seq) == 0 && is_hash(cp->hash) && is_hash(want);
    }
    if (!ok) {
        snprintf(why, cap, "checkpoint %s is malformed", path);
        return MC_ECORRUPT;
    }
    char mac[HASH_HEX];
    checkpoint_mac(key, keylen, cp->seq, cp->hash, mac);
    if (!mc_ct_streq(mac, want)) {
        snprintf(why, cap,
                 "checkpoint %s fails authentication (altered, or written with another key)", path);
        return MC_ECORRUPT;
    }
    return 0;
}

/* fsyncs the directory holding path, so that a rename in it survives a crash. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MC_EIO;
    int rc = fsync(fd) == 0 ? 0 : MC_EIO;
    close(fd);
    return rc;
}

/* Replaces path with data atomically: temp file, fsync, rename, fsync of the directory. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    int rc = MC_EIO;
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return MC_EIO;
    int fd = mkostemp(tmp, O_CLOEXEC); /* created 0600 */
    if (fd < 0)
        return MC_EIO;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out_unlink;
        done += (size_t)w;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0)
        goto out_unlink;
    if (close(fd) != 0) {
        fd = -1;
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out_unlink;
    return fsync_parent(path);
out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* True if the chain still holds the row the old checkpoint recorded. */
static int chain_extends(struct db_conn *c, const struct checkpoint *old, long long head_seq,
                         bool *extends)
{
    *extends = false;
    if (old->seq > head_seq)
        return 0;
    if (old->seq == 0) {
        *extends = strcmp(old->hash, genesis_hash) == 0;
        return 0;
    }
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT hash FROM audit_events WHERE seq = ?",
                          DB_PARAMS(DBP_I(old->seq)), &st);
    if (rc == 0)
        *extends = db_col_text(st, 0) != NULL && strcmp(db_col_text(st, 0), old->hash) == 0;
    db_finalize(st);
    return rc == MC_ENOTFOUND ? 0 : rc;
}

/* Decides whether the checkpoint at path may be replaced by one for head: yes when there
 * is none or the chain still holds the row it recorded. 0, or an error with why set. */
static int may_replace(struct db_conn *c, const unsigned char *key, size_t keylen, const char *path,
                       const struct checkpoint *head, char *why, size_t cap)
{
    struct checkpoint old;
    bool extends = false;
    int rc = checkpoint_read(path, key, keylen, &old, why, cap);
    if (rc == MC_ENOTFOUND)
        return 0;
    if (rc == 0)
        rc = chain_extends(c, &old, head->seq, &extends);
    if (rc == 0 && !extends) {
        snprintf(why, cap, "the audit chain no longer extends the checkpoint's seq %lld", old.seq);
        rc = MC_ECORRUPT;
    }
    return rc;
}

int audit_checkpoint_write(struct db *db, const unsigned char *key, size_t keylen, const char *path)
{
    struct db_conn *c = NULL;
    struct checkpoint head;
    char why[512] = "", line[160], mac[HASH_HEX];
    int rc = db_acquire(db, 5000, &c);
    if (rc != 0) {
        snprintf(why, sizeof(why), "no database connection");
        goto out;
    }
    rc = head_read(c, false, &head.seq, head.hash);
    if (rc != 0) {
        snprintf(why, sizeof(why), "cannot read audit_head: %s", db_last_error(c));
        goto out;
    }
    rc = may_replace(c, key, keylen, path, &head, why, sizeof(why));
    if (rc != 0)
        goto out;
    checkpoint_mac(key, keylen, head.seq, head.hash, mac);
    int n = snprintf(line, sizeof(line), "%lld %s %s\n", head.seq, head.hash, mac);
    rc = write_atomic(path, line, (size_t)n);
    if (rc != 0)
        snprintf(why, sizeof(why), "%s", strerror(errno));
out:
    if (rc == MC_ECORRUPT)
        log_error("audit checkpoint not replaced: it is kept as evidence; run `mimicare audit "
                  "verify`",
                  LF_S("path", path), LF_S("why", why));
    else if (rc != 0)
        log_error("cannot write the audit checkpoint", LF_S("path", path), LF_S("why", why));
    db_release(c);
    return rc;
}

/* -------------------------------------------------------------- verify ---- */

/* State of one walk along the chain. */
struct walk {
    const unsigned char *key;
    size_t keylen;
    long long next_seq;          /* the seq the next row must have */
    char prev[HASH_HEX];         /* hash of the last row checked (genesis before the first) */
    const struct checkpoint *cp; /* NULL when there is no usable checkpoint */
    char *report;
    size_t cap;
};

/* Checks one row (columns as AUDIT_COLS). 0, or MC_ECORRUPT with the report written. */
static int check_row(struct walk *w, struct db_stmt *st)
{
    long long seq = db_col_int(st, 0);
    char seq_s[24], at_s[24], calc[HASH_HEX];
    const char *v[NCOLS];
    if (seq != w->next_seq) {
        snprintf(w->report, w->cap,
                 "seq %lld: missing (deleted, or the rows renumbered); the next row is seq %lld",
                 w->next_seq, seq);
        return MC_ECORRUPT;
    }
    snprintf(seq_s, sizeof(seq_s), "%lld", seq);
    snprintf(at_s, sizeof(at_s), "%lld", db_col_int(st, 2));
    v[0] = seq_s;
    v[2] = at_s;
    v[1] = db_col_text(st, 1);
    for (int i = 3; i < NCOLS; i++)
        v[i] = db_col_text(st, i);
    const char *hash = db_col_text(st, NCOLS);
    if (v[NCOLS - 1] == NULL || strcmp(v[NCOLS - 1], w->prev) != 0) {
        snprintf(w->report, w->cap,
                 "seq %lld: prev_hash does not match the hash of seq %lld (rows reordered, "
                 "or a row inserted)",
                 seq, seq - 1);
        return MC_ECORRUPT;
    }
    row_hash(w->key, w->keylen, v, calc);
    if (hash == NULL || !mc_ct_streq(calc, hash)) {
        snprintf(w->report, w->cap,
                 "seq %lld: hash does not match the row's content (row altered, or forged)", seq);
        return MC_ECORRUPT;
    }
    if (w->cp != NULL && w->cp->seq == seq && strcmp(w->cp->hash, hash) != 0) {
        snprintf(w->report, w->cap,
                 "seq %lld: not the row the checkpoint recorded (the log was cut and "
                 "rewritten at or before this row)",
                 seq);
        return MC_ECORRUPT;
    }
    memcpy(w->prev, calc, HASH_HEX);
    w->next_seq++;
    return 0;
}

/* Walks every row in seq order, VERIFY_BATCH rows per query so memory stays flat. */
static int walk_chain(struct db_conn *c, struct walk *w)
{
    for (;;) {
        struct db_stmt *st = NULL;
        int rows = 0, s, rc;
        rc = db_query(c,
                      "SELECT " AUDIT_COLS " FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
                      DB_PARAMS(DBP_I(w->next_seq - 1), DBP_I(VERIFY_BATCH)), &st);
        if (rc != 0)
            return rc;
        while ((s = db_step(st)) == 1 && (rc = check_row(w, st)) == 0)
            rows++;
        db_finalize(st);
        if (rc != 0)
            return rc;
        if (s < 0)
            return -s;
        if (rows < VERIFY_BATCH)
            return 0;
    }
}

/* After an intact walk: audit_head and the checkpoint must agree with the last row. */
static int check_ends(const struct walk *w, const struct checkpoint *head, char *report, size_t cap)
{
    long long last = w->next_seq - 1;
    if (head->seq > last) {
        snprintf(report, cap,
                 "seq %lld: missing; audit_head records seq %lld but the log ends at seq %lld "
                 "(newest rows deleted)",
                 last + 1, head->seq, last);
        return MC_ECORRUPT;
    }
    if (head->seq < last) {
        snprintf(report, cap, "seq %lld: beyond audit_head (seq %lld): row inserted after the head",
                 head->seq + 1, head->seq);
        return MC_ECORRUPT;
    }
    if (strcmp(head->hash, w->prev) != 0) {
        snprintf(report, cap, "seq %lld: audit_head's hash differs from the row's", last);
        return MC_ECORRUPT;
    }
    if (w->cp != NULL && w->cp->seq > last) {
        snprintf(report, cap,
                 "seq %lld: missing; the checkpoint records seq %lld but the log ends at seq "
                 "%lld (newest rows deleted)",
                 last + 1, w->cp->seq, last);
        return MC_ECORRUPT;
    }
    if (w->cp != NULL && w->cp->seq == 0 && strcmp(w->cp->hash, genesis_hash) != 0) {
        snprintf(report, cap, "seq 1: the checkpoint's genesis hash is not the chain's");
        return MC_ECORRUPT;
    }
    snprintf(report, cap, "audit log intact: %lld events, head %lld", last, head->seq);
    return 0;
}

/* Opens a read snapshot, so the head and every batch see the same committed state
 * without blocking writers (SQLite WAL readers never do; PostgreSQL REPEATABLE READ). */
static int snapshot_begin(struct db_conn *c)
{
    return db_exec(c,
                   db_kind(db_conn_db(c)) == DB_POSTGRES
                       ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                       : "BEGIN",
                   NULL, 0, NULL);
}

int audit_verify(struct db *db, const unsigned char *key, size_t keylen,
                 const char *checkpoint_path, char *report, size_t cap)
{
    struct walk w = {.key = key, .keylen = keylen, .next_seq = 1, .report = report, .cap = cap};
    struct checkpoint cp, head;
    struct db_conn *c = NULL;
    char cp_why[512] = "";
    int cp_rc = MC_ENOTFOUND, rc;
    memcpy(w.prev, genesis_hash, HASH_HEX);
    snprintf(report, cap, "cannot read the audit log");
    if (key == NULL || keylen == 0) {
        snprintf(report, cap, "no audit key (AUDIT_HMAC_SECRET is empty)");
        return MC_ECONFIG;
    }
    if (checkpoint_path != NULL)
        cp_rc = checkpoint_read(checkpoint_path, key, keylen, &cp, cp_why, sizeof(cp_why));
    if (cp_rc == MC_EIO) {
        snprintf(report, cap, "%s", cp_why);
        return MC_EIO;
    }
    w.cp = cp_rc == 0 ? &cp : NULL;
    rc = db_acquire(db, 10000, &c);
    if (rc != 0)
        return rc;
    rc = snapshot_begin(c);
    if (rc != 0)
        goto out;
    rc = head_read(c, false, &head.seq, head.hash);
    if (rc == MC_ECORRUPT)
        snprintf(report, cap, "audit_head is missing (deleted with its trigger disabled)");
    if (rc == 0)
        rc = walk_chain(c, &w);
    if (rc == 0)
        rc = check_ends(&w, &head, report, cap);
    if (rc == 0 && cp_rc == MC_ECORRUPT) {
        snprintf(report, cap, "%s", cp_why);
        rc = MC_ECORRUPT;
    }
    db_exec(c, "ROLLBACK", NULL, 0, NULL);
out:
    if (rc != 0 && rc != MC_ECORRUPT)
        snprintf(report, cap, "cannot read the audit log: %s (%s)", mc_strerror(rc),
                 db_last_error(c));
    if (rc == 0 && checkpoint_path != NULL && cp_rc == MC_ENOTFOUND)
        log_warn("no audit checkpoint yet: deleted newest rows cannot be detected",
                 LF_S("path", checkpoint_path));
    db_release(c);
    return rc;
}

/* --------------------------------------------------------- checkpointer ---- */

struct audit_checkpointer {
    struct db *db;      /* borrowed; outlives the thread */
    unsigned char *key; /* owned copy, wiped on stop */
    size_t keylen;
    char *path; /* owned copy */
    int interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled by stop */
    bool stop;         /* under mu */
};

static void *checkpointer_main(void *arg)
{
    struct audit_checkpointer *cp = arg;
    pthread_mutex_lock(&cp->mu);
    for (;;) {
        bool stopping = cp->stop;
        pthread_mutex_unlock(&cp->mu);
        audit_checkpoint_write(cp->db, cp->key, cp->keylen, cp->path); /* logs failures */
        pthread_mutex_lock(&cp->mu);
        if (stopping)
            break;
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += cp->interval_s;
        while (!cp->stop && pthread_cond_timedwait(&cp->cv, &cp->mu, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&cp->mu);
    return NULL;
}

int audit_checkpointer_start(struct db *db, const unsigned char *key, size_t keylen,
                             const char *path, int interval_s, struct audit_checkpointer **out)
{
    struct audit_checkpointer *cp = mc_xcalloc(1, sizeof(*cp));
    pthread_condattr_t ca;
    cp->db = db;
    cp->key = mc_xmalloc(keylen ? keylen : 1);
    memcpy(cp->key, key, keylen);
    cp->keylen = keylen;
    cp->path = mc_xstrdup(path);
    cp->interval_s = interval_s > 0 ? interval_s : 60;
    pthread_mutex_init(&cp->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cp->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = NULL;
    if (pthread_create(&cp->thread, NULL, checkpointer_main, cp) != 0) {
        log_error("cannot start the audit checkpoint thread");
        cp->stop = true; /* nothing to join */
        audit_checkpointer_stop(cp);
        return MC_EINTERNAL;
    }
    *out = cp;
    return 0;
}

void audit_checkpointer_stop(struct audit_checkpointer *cp)
{
    if (cp == NULL)
        return;
    pthread_mutex_lock(&cp->mu);
    bool running = !cp->stop;
    cp->stop = true;
    pthread_cond_signal(&cp->cv);
    pthread_mutex_unlock(&cp->mu);
    if (running)
        pthread_join(cp->thread, NULL);
    pthread_mutex_destroy(&cp->mu);
    pthread_cond_destroy(&cp->cv);
    sodium_memzero(cp->key, cp->keylen);
    free(cp->key);
    free(cp->path);
    free(cp);
}
