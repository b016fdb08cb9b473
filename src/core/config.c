/*
 * config.c - loading, checking and printing configuration (see config.h).
 * The variable table itself lives in config_vars.h.
 */
#include "core/config.h"
#include "core/dotenv.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum cfg_type { T_STR, T_INT, T_BOOL, T_DUR, T_URL, T_DBURL, T_ENUM, T_LIST, T_KEY, T_CRED };

struct cfg_def {
    const char *section; /* heading in .env.example */
    const char *name;    /* environment variable */
    enum cfg_type type;
    const char *def;     /* default, as text */
    const char *choices; /* '|'-separated, ENUM and LIST */
    long long min, max;  /* INT and DUR bounds */
    const char *help;    /* one line for .env.example */
};

static const struct cfg_def defs[CFG_COUNT] = {
#define X(sec, name, type, def, choices, min, max, help)                                           \
    {sec, #name, T_##type, def, choices, min, max, help},
    CONFIG_VARS(X)
#undef X
};

#define MAX_NOTES   64
#define MIN_KEY_LEN 32

struct slot {
    char *raw;          /* owned */
    long long num;      /* parsed number / bool / enum index */
    const char *source; /* static string */
};

struct config {
    struct slot v[CFG_COUNT];
    char *problems[MAX_NOTES];
    int nproblems;
    char *warnings[MAX_NOTES];
    int nwarnings;
};

static void note(char **list, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char **list, int *n, const char *fmt, ...)
{
    if (*n >= MAX_NOTES)
        return;
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    list[(*n)++] = buf_steal(&b);
}

#define problem(c, ...) note((c)->problems, &(c)->nproblems, __VA_ARGS__)
#define warning(c, ...) note((c)->warnings, &(c)->nwarnings, __VA_ARGS__)

static int choice_index(const char *choices, const char *value, bool nocase)
{
    size_t vl = strlen(value);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vl && (nocase ? strncasecmp(p, value, n) : strncmp(p, value, n)) == 0)
            return i;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return -1;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Checks one value against its type; records a problem and returns false if bad. */
static bool check_value(struct config *c, enum cfg_id id, const char *raw)
{
    const struct cfg_def *d = &defs[id];
    struct slot *s = &c->v[id];
    int rc;
    switch (d->type) {
    case T_STR:
    case T_KEY:
    case T_CRED:
        return true;
    case T_INT: {
        long long v;
        rc = parse_int_range(raw, d->min, d->max, &v);
        if (rc != 0) {
            problem(c, "%s: '%s' is not a whole number between %lld and %lld", d->name, raw, d->min,
                    d->max);
            return false;
        }
        s->num = v;
        return true;
    }
    case T_BOOL: {
        bool b;
        if (parse_bool(raw, &b) != 0) {
            problem(c, "%s: '%s' is not a boolean (true/false)", d->name, raw);
            return false;
        }
        s->num = b;
        return true;
    }
    case T_DUR: {
        int64_t secs;
        rc = parse_duration(raw, &secs);
        if (rc != 0 || secs < d->min || secs > d->max) {
            problem(c, "%s: '%s' is not a duration between %llds and %llds (e.g. 30s, 15m, 1h, 7d)",
                    d->name, raw, d->min, d->max);
            return false;
        }
        s->num = secs;
        return true;
    }
    case T_URL:
        if ((!starts_with(raw, "http://") && !starts_with(raw, "https://")) || strlen(raw) < 10 ||
            strpbrk(raw, " \t\r\n") != NULL) {
            problem(c, "%s: '%s' is not an http(s) URL", d->name, raw);
            return false;
        }
        return true;
    case T_DBURL:
        if (starts_with(raw, "sqlite:") && raw[7] != '\0')
            return true;
        if ((starts_with(raw, "postgresql://") || starts_with(raw, "postgres://")) &&
            strpbrk(raw, " \t\r\n") == NULL)
            return true;
        problem(c, "%s: must be sqlite:PATH or postgresql://... (got a value of %zu characters)",
                d->name, strlen(raw));
        return false;
    case T_ENUM: {
        int i = choice_index(d->choices, raw, false);
        if (i < 0) {
            problem(c, "%s: '%s' is not one of %s", d->name, raw, d->choices);
            return false;
        }
        s->num = i;
        return true;
    }
    case T_LIST: {
        char *copy = mc_xstrdup(raw);
        bool ok = true;
        char *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            while (*item == ' ')
                item++;
            if (d->choices && choice_index(d->choices, item, true) < 0) {
                problem(c, "%s: '%s' is not one of %s", d->name, item, d->choices);
                ok = false;
            }
        }
        free(copy);
        return ok;
    }
    }
    return false;
}

static void set_raw(struct config *c, enum cfg_id id, const char *raw, const char *source)
{
    free(c->v[id].raw);
    c->v[id].raw = mc_xstrdup(raw);
    c->v[id].source = source;
}

/* ---- .env file ---- */

struct dotenv_kv {
    char *keys[256];
    char *values[256];
    int n;
};

static int collect_kv(void *ctx, const char *key, const char *value)
{
    struct dotenv_kv *kv = ctx;
    for (int i = 0; i < kv->n; i++) {
        if (strcmp(kv->keys[i], key) == 0) { /* last assignment wins, as in a shell */
            free(kv->values[i]);
            kv->values[i] = mc_xstrdup(value);
            return 0;
        }
    }
    if (kv->n >= 256)
        return MC_ETOOBIG;
    kv->keys[kv->n] = mc_xstrdup(key);
    kv->values[kv->n] = mc_xstrdup(value);
    kv->n++;
    return 0;
}

static void kv_free(struct dotenv_kv *kv)
{
    for (int i = 0; i < kv->n; i++) {
        free(kv->keys[i]);
        free(kv->values[i]);
    }
    kv->n = 0;
}

static const char *kv_get(const struct dotenv_kv *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->keys[i], key) == 0)
            return kv->values[i];
    return NULL;
}

/* Reads a whole small file. Returns 0, MC_ENOTFOUND, MC_ETOOBIG or MC_EIO. */
static int read_small_file(const char *path, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MC_ENOTFOUND : MC_EIO;
    int rc = 0;
    out->max = 1 << 20;
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = MC_EIO;
            break;
        }
        if (n == 0)
            break;
        rc = buf_append(out, tmp, (size_t)n);
        if (rc != 0)
            break;
    }
    close(fd);
    return rc;
}

static void load_dotenv(struct config *c, const char *path, struct dotenv_kv *kv)
{
    struct buf b = BUF_INIT;
    int rc = read_small_file(path, &b);
    if (rc == MC_ENOTFOUND)
        goto out;
    if (rc != 0) {
        problem(c, "%s: cannot read (%s)", path, mc_strerror(rc));
        goto out;
    }
    char err[160];
    rc = dotenv_parse(b.data ? b.data : "", b.len, collect_kv, kv, err, sizeof(err));
    if (rc == MC_EBADREQ)
        problem(c, "%s: %s", path, err);
    else if (rc != 0)
        problem(c, "%s: too many variables", path);
out:
    buf_free(&b);
}

/* ---- secrets ---- */

static char *new_secret(void)
{
    unsigned char raw[32];
    char *s = mc_xmalloc(b64url_encoded_len(sizeof(raw)) + 1);
    mc_random_bytes(raw, sizeof(raw));
    b64url_encode(raw, sizeof(raw), s);
    return s;
}

/* A key that is obviously a placeholder or has no entropy. */
static bool weak_key(const char *s)
{
    static const char *const markers[] = {"change", "example",  "placeholder", "secret",
                                          "xxxx",   "password", NULL};
    bool same = true;
    for (const char *p = s; *p; p++)
        same = same && *p == s[0];
    if (same)
        return true;
    for (int i = 0; markers[i]; i++)
        if (strcasestr(s, markers[i]) != NULL)
            return true;
    return false;
}

static int append_secret(const char *path, const char *name, const char *value)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return MC_EIO;
    int rc = 0;
    struct buf line = BUF_INIT;
    buf_printf(&line, "%s=%s\n", name, value);
    if (fchmod(fd, 0600) != 0 || write(fd, line.data, line.len) != (ssize_t)line.len ||
        fsync(fd) != 0)
        rc = MC_EIO;
    buf_free(&line);
    close(fd);
    return rc;
}

static void resolve_keys(struct config *c, unsigned flags)
{
    bool prod = config_env(c) == APP_ENV_PRODUCTION;
    const char *dir = config_str(c, CFG_DATA_DIR);
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/secrets.env", dir);
    struct dotenv_kv stored = {0};
    bool dir_ready = false;
    if (!prod)
        load_dotenv(c, path.data, &stored);
    for (int id = 0; id < CFG_COUNT; id++) {
        if (defs[id].type != T_KEY)
            continue;
        const char *name = defs[id].name;
        const char *val = c->v[id].raw;
        if (val[0] == '\0' && prod) {
            problem(c, "%s: required in production (generate one with `mimicare secrets`)", name);
            continue;
        }
        if (val[0] == '\0') {
            const char *kept = kv_get(&stored, name);
            if (kept != NULL && kept[0] != '\0') {
                set_raw(c, id, kept, "secrets.env");
            } else if (flags & CONFIG_PERSIST_SECRETS) {
                if (!dir_ready && mkdir(dir, 0700) != 0 && errno != EEXIST) {
                    problem(c, "DATA_DIR: cannot create '%s'", dir);
                    continue;
                }
                dir_ready = true;
                char *s = new_secret();
                if (append_secret(path.data, name, s) != 0)
                    problem(c, "%s: cannot store a generated key in %s", name, path.data);
                set_raw(c, id, s, "generated");
                free(s);
            }
            continue;
        }
        if (strlen(val) < MIN_KEY_LEN || weak_key(val)) {
            if (prod)
                problem(c, "%s: must be at least %d random characters, not a placeholder", name,
                        MIN_KEY_LEN);
            else
                warning(c,
                        "%s: shorter than %d characters or a placeholder (refused in production)",
                        name, MIN_KEY_LEN);
        }
    }
    /* one key, one purpose (security.md G2) */
    for (int a = 0; a < CFG_COUNT; a++) {
        for (int b = a + 1; b < CFG_COUNT; b++) {
            if (defs[a].type != T_KEY || defs[b].type != T_KEY || c->v[a].raw[0] == '\0')
                continue;
            if (strcmp(c->v[a].raw, c->v[b].raw) == 0)
                problem(c, "%s and %s: the same secret is used for two purposes", defs[a].name,
                        defs[b].name);
        }
    }
    kv_free(&stored);
    buf_free(&path);
}

/* ---- load ---- */

static bool known_name(const char *name)
{
    if (strcmp(name, "NODE_ENV") == 0 || strcmp(name, "MIMICARE_ENV_FILE") == 0)
        return true;
    for (int i = 0; i < CFG_COUNT; i++)
        if (strcmp(defs[i].name, name) == 0)
            return true;
    return false;
}

int config_load(const char *dotenv_path, unsigned flags, struct config **out)
{
    struct config *c = mc_xcalloc(1, sizeof(*c));
    struct dotenv_kv kv = {0};
    const char *path = getenv("MIMICARE_ENV_FILE");
    if (path == NULL || path[0] == '\0')
        path = dotenv_path ? dotenv_path : ".env";
    if (!(flags & CONFIG_NO_DOTENV))
        load_dotenv(c, path, &kv);
    for (int i = 0; i < kv.n; i++)
        if (!known_name(kv.keys[i]))
            warning(c, "%s: unknown variable in %s (typo?)", kv.keys[i], path);

    for (int id = 0; id < CFG_COUNT; id++) {
        const char *name = defs[id].name;
        const char *val = getenv(name);
        const char *src = "env";
        if (val == NULL && id == CFG_APP_ENV)
            val = getenv("NODE_ENV");
        if (val == NULL) {
            val = kv_get(&kv, name);
            src = ".env";
            if (val == NULL && id == CFG_APP_ENV)
                val = kv_get(&kv, "NODE_ENV");
        }
        if (val == NULL || (val[0] == '\0' && defs[id].def[0] != '\0')) {
            val = defs[id].def;
            src = "default";
        }
        set_raw(c, id, val, src);
        if (val[0] != '\0' && !check_value(c, (enum cfg_id)id, val)) {
            /* keep going with the default so later checks still make sense */
            set_raw(c, id, defs[id].def, "default");
            if (defs[id].def[0] != '\0')
                check_value(c, (enum cfg_id)id, defs[id].def);
        }
    }
    resolve_keys(c, flags);
    if (config_env(c) == APP_ENV_PRODUCTION && !config_bool(c, CFG_ENABLE_AUDIT_LOGS))
        problem(c, "ENABLE_AUDIT_LOGS: must be true in production");
    kv_free(&kv);
    *out = c;
    return c->nproblems ? MC_ECONFIG : 0;
}

int config_set(struct config *c, enum cfg_id id, const char *value)
{
    int before = c->nproblems;
    set_raw(c, id, value, "flag");
    if (value[0] != '\0' && !check_value(c, id, value))
        return MC_ECONFIG;
    return c->nproblems > before ? MC_ECONFIG : 0;
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < CFG_COUNT; i++)
        free(c->v[i].raw);
    for (int i = 0; i < c->nproblems; i++)
        free(c->problems[i]);
    for (int i = 0; i < c->nwarnings; i++)
        free(c->warnings[i]);
    free(c);
}

const char *config_str(const struct config *c, enum cfg_id id)
{
    return c->v[id].raw ? c->v[id].raw : "";
}

long long config_int(const struct config *c, enum cfg_id id)
{
    return c->v[id].num;
}

bool config_bool(const struct config *c, enum cfg_id id)
{
    return c->v[id].num != 0;
}

enum app_env config_env(const struct config *c)
{
    return (enum app_env)c->v[CFG_APP_ENV].num;
}

const char *config_source(const struct config *c, enum cfg_id id)
{
    return c->v[id].source ? c->v[id].source : "default";
}

bool config_list_has(const struct config *c, enum cfg_id id, const char *item)
{
    const char *p = config_str(c, id);
    size_t il = strlen(item);
    while (*p) {
        while (*p == ' ')
            p++;
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == il && strncasecmp(p, item, n) == 0)
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

int config_problem_count(const struct config *c)
{
    return c->nproblems;
}

const char *config_problem(const struct config *c, int i)
{
    return c->problems[i];
}

int config_warning_count(const struct config *c)
{
    return c->nwarnings;
}

const char *config_warning(const struct config *c, int i)
{
    return c->warnings[i];
}

/* Masks the password in scheme://user:password@host URLs and in a password=... URI
 * parameter (libpq accepts both). */
static void print_url_masked(FILE *f, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    const char *auth_end = scheme ? strpbrk(scheme + 3, "/?#") : NULL;
    const char *p = url;
    if (at != NULL && colon != NULL && colon < at && (auth_end == NULL || at < auth_end)) {
        fprintf(f, "%.*s****", (int)(colon + 1 - url), url);
        p = at;
    }
    for (const char *q = strchr(p, '?'); q != NULL;) {
        const char *name = q + 1;
        const char *amp = strchr(name, '&');
        if (strncmp(name, "password=", 9) == 0) {
            fprintf(f, "%.*s****", (int)(name + 9 - p), p);
            p = amp ? amp : name + strlen(name);
        }
        q = amp;
    }
    fputs(p, f);
}

void config_print(const struct config *c, FILE *f)
{
    for (int id = 0; id < CFG_COUNT; id++) {
        const struct cfg_def *d = &defs[id];
        const char *raw = config_str(c, id);
        fprintf(f, "%s=", d->name);
        if ((d->type == T_KEY || d->type == T_CRED) && raw[0] != '\0')
            fprintf(f, "**** (%zu chars)", strlen(raw));
        else if (d->type == T_DBURL)
            print_url_masked(f, raw);
        else
            fputs(raw, f);
        fprintf(f, "  # %s\n", config_source(c, id));
    }
}

void config_print_example(FILE *f)
{
    const char *section = "";
    fputs("# Mimicare configuration. Copy to .env and edit; the environment overrides this file.\n"
          "# Generated by `mimicare config example`; every value shown is the default.\n"
          "# Secret keys left empty are generated into DATA_DIR/secrets.env in development and\n"
          "# are required (>= 32 random characters, each distinct) in production:\n"
          "# run `mimicare secrets` to make a set.\n",
          f);
    for (int id = 0; id < CFG_COUNT; id++) {
        const struct cfg_def *d = &defs[id];
        if (strcmp(section, d->section) != 0) {
            section = d->section;
            fprintf(f, "\n# ---- %s ----\n", section);
        }
        fprintf(f, "# %s", d->help);
        if (d->type == T_ENUM)
            fprintf(f, " One of: %s.", d->choices);
        fputc('\n', f);
        fprintf(f, "%s=%s\n", d->name, d->def);
    }
    fputs("\n# PostgreSQL instead of SQLite (the seed's URL):\n"
          "# DATABASE_URL=postgresql://mimicare:mimicare@localhost:5432/mimicare\n",
          f);
}

void config_print_new_secrets(FILE *f)
{
    for (int id = 0; id < CFG_COUNT; id++) {
        if (defs[id].type != T_KEY)
            continue;
        char *s = new_secret();
        fprintf(f, "%s=%s\n", defs[id].name, s);
        free(s);
    }
}
