/*
 * config_test.c - unit tests for the .env parser (core/dotenv) and configuration loading
 * (core/config): the dotenv grammar and its errors, defaults, precedence of the
 * environment over the .env file, type checks that name the variable, collection of
 * every problem, production secret rules, generated development secrets in
 * DATA_DIR/secrets.env, the NODE_ENV alias and masking in config_print.
 *
 * Every test runs with a clean environment (all variables of config_vars.h unset) and
 * its own DATA_DIR made with mkdtemp, removed again afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/dotenv.h"
#include "core/err.h"
#include "core/mem.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const var_names[] = {
#define X(sec, name, ...) #name,
    CONFIG_VARS(X)
#undef X
};

/* Strong, distinct keys that pass the production rules. */
static const char *const strong_keys[][2] = {
    {"JWT_SECRET", "k1Vq8Zr2Lm5Tn7Wb3Yc6Hd9Fg4Jp0Ss1Ua"},
    {"JWT_REFRESH_SECRET", "r2Bn6Xw9Qz3Mv5Ty8Kd1Lp4Hj7Gf0Ce2Da"},
    {"API_KEY_ENCRYPTION_SECRET", "a3Pk7Rm1Tz5Wq9Yn2Bv6Dx4Fh8Jl0Gc3Ha"},
    {"DATA_ENCRYPTION_KEY", "d4Lq8Sn2Vx6Zb0Cm3Fr7Hk1Jw5Np9Ty4Ka"},
    {"AUDIT_HMAC_SECRET", "h5Mr9Tp3Wz7Bc1Dn4Gs8Jl2Kx6Qv0Ry5La"},
};

static char data_dir[64];

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++)
        unsetenv(var_names[i]);
    unsetenv("NODE_ENV");
    unsetenv("MIMICARE_ENV_FILE");
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    snprintf(data_dir, sizeof(data_dir), "/tmp/mc_config_test_XXXXXX");
    if (mkdtemp(data_dir) == NULL)
        return -1;
    setenv("DATA_DIR", data_dir, 1);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Writes a file under data_dir; returns its path (static buffer per call site). */
static void write_file(const char *name, const char *text, size_t len, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* True if some problem mentions every given needle (NULL-ended). */
static bool has_problem(const struct config *c, const char *a, const char *b)
{
    for (int i = 0; i < config_problem_count(c); i++) {
        const char *p = config_problem(c, i);
        if (strstr(p, a) != NULL && (b == NULL || strstr(p, b) != NULL))
            return true;
    }
    return false;
}

static void dump_problems(const struct config *c)
{
    for (int i = 0; i < config_problem_count(c); i++)
        print_message("problem: %s\n", config_problem(c, i));
}

static void set_strong_keys(void)
{
    for (size_t i = 0; i < sizeof(strong_keys) / sizeof(strong_keys[0]); i++)
        setenv(strong_keys[i][0], strong_keys[i][1], 1);
}

/* ---------------------------------------------------------------- dotenv ---- */

struct kv {
    int n;
    char keys[32][64];
    char values[32][256];
    int stop_after; /* return 99 after this many calls, 0 = never */
};

static int collect(void *ctx, const char *key, const char *value)
{
    struct kv *kv = ctx;
    if (kv->n >= 32)
        return 98;
    snprintf(kv->keys[kv->n], sizeof(kv->keys[0]), "%s", key);
    snprintf(kv->values[kv->n], sizeof(kv->values[0]), "%s", value);
    kv->n++;
    if (kv->stop_after != 0 && kv->n >= kv->stop_after)
        return 99;
    return 0;
}

static const char *kv_get(const struct kv *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->keys[i], key) == 0)
            return kv->values[i];
    return NULL;
}

static int parse_env(const char *text, struct kv *kv, char *err)
{
    memset(kv, 0, sizeof(*kv));
    err[0] = '\0';
    return dotenv_parse(text, strlen(text), collect, kv, err, 160);
}

static void dotenv_grammar(void **state)
{
    (void)state;
    const char *text = "# a comment\n"
                       "\n"
                       "   # indented comment\n"
                       "export FOO=bar\n"
                       "export    SPACED  =   value with  spaces   \n"
                       "\tTABBED=\tt\t\n"
                       "SQ='single # kept \\n literal'\n"
                       "DQ=\"a\\nb\\r\\t\\\"q\\\" \\\\ \\$HOME\"\n"
                       "INLINE=value # comment\n"
                       "HASH=a#b\n"
                       "EMPTY=\n"
                       "EMPTY_DQ=\"\"\n"
                       "ONLY_COMMENT= # nothing\n"
                       "QC=\"quoted\"   # trailing comment\n"
                       "SQC='x' #c\n"
                       "CRLF=crlf\r\n"
                       "CRLF_Q=\"q\"\r\n"
                       "_under_1=x\n"
                       "export=notprefix\n"
                       "EQ=a=b=c\n"
                       "URL=postgresql://u:p@h:5432/db?x=1\n"
                       "UTF8=caf\xc3\xa9\n"
                       "DUP=first\n"
                       "DUP=second\n"
                       "LAST=no newline";
    struct kv kv;
    char err[160];
    assert_int_equal(parse_env(text, &kv, err), 0);
    assert_string_equal(kv_get(&kv, "FOO"), "bar");
    assert_string_equal(kv_get(&kv, "SPACED"), "value with  spaces");
    assert_string_equal(kv_get(&kv, "TABBED"), "t");
    assert_string_equal(kv_get(&kv, "SQ"), "single # kept \\n literal");
    assert_string_equal(kv_get(&kv, "DQ"), "a\nb\r\t\"q\" \\ $HOME");
    assert_string_equal(kv_get(&kv, "INLINE"), "value");
    assert_string_equal(kv_get(&kv, "HASH"), "a#b");
    assert_string_equal(kv_get(&kv, "EMPTY"), "");
    assert_string_equal(kv_get(&kv, "EMPTY_DQ"), "");
    assert_string_equal(kv_get(&kv, "ONLY_COMMENT"), "");
    assert_string_equal(kv_get(&kv, "QC"), "quoted");
    assert_string_equal(kv_get(&kv, "SQC"), "x");
    assert_string_equal(kv_get(&kv, "CRLF"), "crlf");
    assert_string_equal(kv_get(&kv, "CRLF_Q"), "q");
    assert_string_equal(kv_get(&kv, "_under_1"), "x");
    assert_string_equal(kv_get(&kv, "export"), "notprefix");
    assert_string_equal(kv_get(&kv, "EQ"), "a=b=c");
    assert_string_equal(kv_get(&kv, "URL"), "postgresql://u:p@h:5432/db?x=1");
    assert_string_equal(kv_get(&kv, "UTF8"), "caf\xc3\xa9");
    assert_string_equal(kv_get(&kv, "LAST"), "no newline");
    assert_null(kv_get(&kv, "a comment"));
    /* the parser reports every assignment in order; duplicates are the caller's call */
    assert_int_equal(kv.n, 22);
    assert_string_equal(kv.keys[19], "DUP");
    assert_string_equal(kv.values[19], "first");
    assert_string_equal(kv.keys[20], "DUP");
    assert_string_equal(kv.values[20], "second");

    /* empty input and comment-only input are fine */
    assert_int_equal(parse_env("", &kv, err), 0);
    assert_int_equal(kv.n, 0);
    assert_int_equal(parse_env("\n\r\n# x\n\n", &kv, err), 0);
    assert_int_equal(kv.n, 0);
}

static void dotenv_errors_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* expected err, exactly */
    } cases[] = {
        {"A=1\nB=2\n3C=x\n", "line 3: expected NAME=value"},
        {"A=1\n\n# c\nNOEQUALS\n", "line 4: expected NAME=value"},
        {"A=1\r\nB C=2\r\n", "line 2: expected NAME=value"},
        {"=value\n", "line 1: expected NAME=value"},
        {"A-B=1\n", "line 1: expected NAME=value"},
        {"export\n", "line 1: expected NAME=value"},
        {"A=1\nB=\"open\n", "line 2: unterminated quoted value"},
        {"A=\"multi\nline\"\n", "line 1: unterminated quoted value"},
        {"A='open\n", "line 1: unterminated quoted value"},
        {"A=\"bad \\q escape\"\n", "line 1: unknown escape in double-quoted value"},
        {"A=\"ends with backslash\\", "line 1: unterminated escape"},
        {"A=\"x\" y\n", "line 1: unexpected text after quoted value"},
        {"A='x'y\n", "line 1: unexpected text after quoted value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv kv;
        char err[160];
        int rc = parse_env(cases[i].text, &kv, err);
        if (rc != MC_EBADREQ || strcmp(err, cases[i].want) != 0)
            print_error("case %zu: rc %d err '%s'\n", i, rc, err);
        assert_int_equal(rc, MC_EBADREQ);
        assert_string_equal(err, cases[i].want);
    }
    /* a NUL byte anywhere refuses the whole file before any callback */
    struct kv kv = {0};
    char err[160] = "";
    assert_int_equal(dotenv_parse("A=1\nB=\0\n", 8, collect, &kv, err, sizeof(err)), MC_EBADREQ);
    assert_non_null(strstr(err, "NUL"));
    assert_int_equal(kv.n, 0);
    /* a callback's non-zero result stops the parse and is returned */
    memset(&kv, 0, sizeof(kv));
    kv.stop_after = 2;
    assert_int_equal(dotenv_parse("A=1\nB=2\nC=3\n", 12, collect, &kv, err, sizeof(err)), 99);
    assert_int_equal(kv.n, 2);
}

static void dotenv_length_limits(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    struct kv kv;
    char err[160];
    /* the longest value that fits: DOTENV_MAX_VALUE - 1 bytes, unquoted and quoted */
    for (int quoted = 0; quoted <= 1; quoted++) {
        buf_reset(&b);
        buf_puts(&b, "A=1\nLONG=");
        if (quoted)
            buf_putc(&b, '"');
        for (int i = 0; i < DOTENV_MAX_VALUE - 1; i++)
            buf_putc(&b, 'v');
        if (quoted)
            buf_putc(&b, '"');
        buf_putc(&b, '\n');
        memset(&kv, 0, sizeof(kv));
        assert_int_equal(dotenv_parse(b.data, b.len, collect, &kv, err, sizeof(err)), 0);
        assert_int_equal(kv.n, 2);
        /* one more byte is refused, with the line */
        buf_reset(&b);
        buf_puts(&b, "A=1\nLONG=");
        if (quoted)
            buf_putc(&b, '"');
        for (int i = 0; i < DOTENV_MAX_VALUE; i++)
            buf_putc(&b, 'v');
        if (quoted)
            buf_putc(&b, '"');
        buf_putc(&b, '\n');
        memset(&kv, 0, sizeof(kv));
        assert_int_equal(dotenv_parse(b.data, b.len, collect, &kv, err, sizeof(err)), MC_EBADREQ);
        assert_string_equal(err, "line 2: value too long");
    }
    /* an overlong name */
    buf_reset(&b);
    for (int i = 0; i < 200; i++)
        buf_putc(&b, 'N');
    buf_puts(&b, "=1\n");
    assert_int_equal(dotenv_parse(b.data, b.len, collect, &kv, err, sizeof(err)), MC_EBADREQ);
    assert_string_equal(err, "line 1: name too long");
    buf_free(&b);
}

/* ---------------------------------------------------------------- config ---- */

static void config_defaults(void **state)
{
    (void)state;
    struct config *c = NULL;
    int rc = config_load(NULL, CONFIG_NO_DOTENV, &c);
    dump_problems(c);
    assert_int_equal(rc, 0);
    assert_int_equal(config_problem_count(c), 0);
    assert_int_equal(config_env(c), APP_ENV_DEVELOPMENT);
    assert_int_equal(config_int(c, CFG_BACKEND_PORT), 8000);
    assert_string_equal(config_str(c, CFG_BACKEND_PORT), "8000");
    assert_string_equal(config_source(c, CFG_BACKEND_PORT), "default");
    assert_int_equal(config_int(c, CFG_JWT_ACCESS_TOKEN_EXPIRATION), 900);
    assert_int_equal(config_int(c, CFG_JWT_REFRESH_TOKEN_EXPIRATION), 7 * 86400);
    assert_int_equal(config_int(c, CFG_MAX_FILE_SIZE), 52428800);
    assert_int_equal(config_int(c, CFG_RATE_LIMIT_WINDOW), 900);
    assert_int_equal(config_int(c, CFG_HTTP_CONNECTION_TIMEOUT), 30);
    assert_int_equal(config_int(c, CFG_MAX_JSON_BODY_SIZE), 1048576);
    assert_true(config_bool(c, CFG_ENABLE_AUDIT_LOGS));
    assert_string_equal(config_str(c, CFG_TRUSTED_PROXIES), "");
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 1); /* "info" in debug|info|warn|error */
    assert_string_equal(config_str(c, CFG_DATABASE_URL), "sqlite:./var/mimicare.db");
    assert_string_equal(config_str(c, CFG_REDIS_HOST), "");
    assert_string_equal(config_str(c, CFG_DATA_DIR), data_dir);
    assert_string_equal(config_source(c, CFG_DATA_DIR), "env");
    assert_true(config_list_has(c, CFG_ALLOWED_FILE_TYPES, "pdf"));
    assert_true(config_list_has(c, CFG_ALLOWED_FILE_TYPES, "dcm"));
    assert_true(config_list_has(c, CFG_ALLOWED_FILE_TYPES, "JPEG"));
    assert_false(config_list_has(c, CFG_ALLOWED_FILE_TYPES, "exe"));
    assert_false(config_list_has(c, CFG_ALLOWED_FILE_TYPES, "jp"));
    /* keys stay empty without CONFIG_PERSIST_SECRETS, and nothing is written */
    assert_string_equal(config_str(c, CFG_JWT_SECRET), "");
    char path[128];
    snprintf(path, sizeof(path), "%s/secrets.env", data_dir);
    assert_int_equal(access(path, F_OK), -1);
    config_free(c);

    /* an empty value falls back to the default */
    setenv("BACKEND_PORT", "", 1);
    setenv("JWT_ACCESS_TOKEN_EXPIRATION", "1h", 1);
    setenv("RATE_LIMIT_WINDOW", "15m", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_int(c, CFG_BACKEND_PORT), 8000);
    assert_int_equal(config_int(c, CFG_JWT_ACCESS_TOKEN_EXPIRATION), 3600);
    assert_string_equal(config_source(c, CFG_JWT_ACCESS_TOKEN_EXPIRATION), "env");
    assert_int_equal(config_int(c, CFG_RATE_LIMIT_WINDOW), 900);
    config_free(c);
    config_free(NULL);
}

static void config_env_wins_over_dotenv(void **state)
{
    (void)state;
    char path[128], other[128];
    const char *text = "BACKEND_PORT=9001\n"
                       "LOG_LEVEL=debug\n"
                       "export MAX_LOGIN_ATTEMPTS=7\n"
                       "JWT_ISSUER=\"from dotenv\"\n"
                       "TYPO_VARIABLE=1\n";
    write_file("app.env", text, strlen(text), path, sizeof(path));
    setenv("BACKEND_PORT", "9002", 1);
    struct config *c = NULL;
    int rc = config_load(path, 0, &c);
    dump_problems(c);
    assert_int_equal(rc, 0);
    assert_int_equal(config_int(c, CFG_BACKEND_PORT), 9002);
    assert_string_equal(config_source(c, CFG_BACKEND_PORT), "env");
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 0);
    assert_string_equal(config_source(c, CFG_LOG_LEVEL), ".env");
    assert_int_equal(config_int(c, CFG_MAX_LOGIN_ATTEMPTS), 7);
    assert_string_equal(config_str(c, CFG_JWT_ISSUER), "from dotenv");
    assert_string_equal(config_source(c, CFG_REDIS_PORT), "default");
    bool typo = false;
    for (int i = 0; i < config_warning_count(c); i++)
        typo = typo || strstr(config_warning(c, i), "TYPO_VARIABLE") != NULL;
    assert_true(typo);
    config_free(c);

    /* CONFIG_NO_DOTENV ignores the file */
    assert_int_equal(config_load(path, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 1);
    config_free(c);

    /* MIMICARE_ENV_FILE overrides the path argument */
    write_file("other.env", "LOG_LEVEL=error\n", 16, other, sizeof(other));
    setenv("MIMICARE_ENV_FILE", other, 1);
    assert_int_equal(config_load(path, 0, &c), 0);
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 3);
    config_free(c);
    unsetenv("MIMICARE_ENV_FILE");

    /* a missing file is not an error; a malformed one is, naming file and line */
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/does-not-exist.env", data_dir);
    assert_int_equal(config_load(missing, 0, &c), 0);
    config_free(c);
    write_file("bad.env", "A=1\nB=\"open\n", 12, other, sizeof(other));
    assert_int_equal(config_load(other, 0, &c), MC_ECONFIG);
    assert_true(has_problem(c, "bad.env", "line 2"));
    config_free(c);
    write_file("nul.env", "A=1\0\n", 5, other, sizeof(other));
    assert_int_equal(config_load(other, 0, &c), MC_ECONFIG);
    assert_true(has_problem(c, "nul.env", "NUL"));
    config_free(c);
}

static void config_bad_values_all_listed(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"BACKEND_PORT", "abc"},
        {"HTTP_THREADS", "999"}, /* above max 256 */
        {"FRONTEND_URL", "ftp://example.org"},
        {"PUBLIC_URL", "http://exa mple.org"},
        {"LOG_LEVEL", "verbose"},
        {"QUEUE_BACKEND", "kafka"},
        {"JWT_ACCESS_TOKEN_EXPIRATION", "10s"}, /* below min 60 */
        {"SESSION_TIMEOUT", "1x"},
        {"ENABLE_AUDIT_LOGS", "maybe"},
        {"DATABASE_URL", "mysql://db/x"},
        {"ALLOWED_FILE_TYPES", "pdf,exe"},
        {"REDIS_DB", "-1"},
    };
    const size_t n = sizeof(bad) / sizeof(bad[0]);
    for (size_t i = 0; i < n; i++)
        setenv(bad[i][0], bad[i][1], 1);
    struct config *c = NULL;
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
    assert_non_null(c);
    assert_int_equal(config_problem_count(c), (int)n);
    for (size_t i = 0; i < n; i++) {
        if (!has_problem(c, bad[i][0], NULL)) {
            dump_problems(c);
            fail_msg("no problem names %s", bad[i][0]);
        }
    }
    assert_true(has_problem(c, "ALLOWED_FILE_TYPES", "'exe'"));
    /* the database URL may hold a password: its problem does not quote it */
    assert_false(has_problem(c, "mysql://db/x", NULL));
    /* bad values fall back to their defaults */
    assert_int_equal(config_int(c, CFG_BACKEND_PORT), 8000);
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 1);
    assert_int_equal(config_int(c, CFG_JWT_ACCESS_TOKEN_EXPIRATION), 900);
    assert_string_equal(config_source(c, CFG_BACKEND_PORT), "default");
    config_free(c);

    /* an unknown APP_ENV is a problem and leaves development */
    clear_env();
    setenv("DATA_DIR", data_dir, 1);
    setenv("APP_ENV", "staging", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
    assert_true(has_problem(c, "APP_ENV", "staging"));
    assert_int_equal(config_env(c), APP_ENV_DEVELOPMENT);
    config_free(c);
}

static void config_set_revalidates(void **state)
{
    (void)state;
    struct config *c = NULL;
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_set(c, CFG_BACKEND_PORT, "8080"), 0);
    assert_int_equal(config_int(c, CFG_BACKEND_PORT), 8080);
    assert_string_equal(config_source(c, CFG_BACKEND_PORT), "flag");
    assert_int_equal(config_set(c, CFG_BACKEND_PORT, "70000"), MC_ECONFIG);
    assert_true(has_problem(c, "BACKEND_PORT", "70000"));
    assert_int_equal(config_set(c, CFG_LOG_LEVEL, "warn"), 0);
    assert_int_equal(config_int(c, CFG_LOG_LEVEL), 2);
    config_free(c);
}

static void config_production_secrets(void **state)
{
    (void)state;
    struct config *c = NULL;
    setenv("APP_ENV", "production", 1);
    /* none set: one problem per key, and secrets.env is neither read nor written */
    char path[128];
    const char *stored = "JWT_SECRET=k1Vq8Zr2Lm5Tn7Wb3Yc6Hd9Fg4Jp0Ss1UaZZ\n";
    write_file("secrets.env", stored, strlen(stored), path, sizeof(path));
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV | CONFIG_PERSIST_SECRETS, &c), MC_ECONFIG);
    assert_int_equal(config_env(c), APP_ENV_PRODUCTION);
    assert_int_equal(config_problem_count(c), 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(has_problem(c, strong_keys[i][0], "required in production"));
    assert_string_equal(config_str(c, CFG_JWT_SECRET), "");
    config_free(c);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, (off_t)strlen(stored));

    /* all strong and distinct: accepted */
    set_strong_keys();
    int rc = config_load(NULL, CONFIG_NO_DOTENV, &c);
    dump_problems(c);
    assert_int_equal(rc, 0);
    config_free(c);

    /* short, placeholder and no-entropy keys are each refused */
    setenv("JWT_SECRET", "tooshort", 1);
    setenv("JWT_REFRESH_SECRET", "change-me-change-me-change-me-change-me", 1);
    setenv("DATA_ENCRYPTION_KEY", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1);
    setenv("AUDIT_HMAC_SECRET", "Zq8example7Wd3Yk5Mn1Pb9Rt2Vx4Hc6Jf0Ls", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
    assert_int_equal(config_problem_count(c), 4);
    assert_true(has_problem(c, "JWT_SECRET", "at least 32"));
    assert_true(has_problem(c, "JWT_REFRESH_SECRET", "placeholder"));
    assert_true(has_problem(c, "DATA_ENCRYPTION_KEY", "at least 32"));
    assert_true(has_problem(c, "AUDIT_HMAC_SECRET", "at least 32"));
    assert_false(has_problem(c, "API_KEY_ENCRYPTION_SECRET", NULL));
    /* problems never quote a key */
    assert_false(has_problem(c, "tooshort", NULL));
    assert_false(has_problem(c, "change-me", NULL));
    config_free(c);

    /* the same weak keys in development are warnings, not problems */
    setenv("APP_ENV", "development", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_warning_count(c), 4);
    config_free(c);

    /* audit logs cannot be switched off in production */
    set_strong_keys();
    setenv("APP_ENV", "production", 1);
    setenv("ENABLE_AUDIT_LOGS", "false", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
    assert_true(has_problem(c, "ENABLE_AUDIT_LOGS", NULL));
    assert_int_equal(config_problem_count(c), 1);
    config_free(c);
}

static void config_same_secret_twice(void **state)
{
    (void)state;
    struct config *c = NULL;
    for (int prod = 0; prod <= 1; prod++) {
        set_strong_keys();
        setenv("APP_ENV", prod ? "production" : "development", 1);
        setenv("JWT_REFRESH_SECRET", strong_keys[0][1], 1); /* = JWT_SECRET */
        assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
        assert_int_equal(config_problem_count(c), 1);
        assert_true(has_problem(c, "JWT_SECRET and JWT_REFRESH_SECRET", "two purposes"));
        assert_false(has_problem(c, strong_keys[0][1], NULL));
        config_free(c);
    }
    /* also across groups: the audit key reused as the data key */
    set_strong_keys();
    setenv("APP_ENV", "production", 1);
    setenv("AUDIT_HMAC_SECRET", strong_keys[3][1], 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), MC_ECONFIG);
    assert_true(has_problem(c, "DATA_ENCRYPTION_KEY and AUDIT_HMAC_SECRET", NULL));
    config_free(c);
}

static void read_secrets(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void config_dev_generates_secrets(void **state)
{
    (void)state;
    /* DATA_DIR that does not exist yet: created with the file */
    char dir[128], path[160];
    snprintf(dir, sizeof(dir), "%s/data", data_dir);
    snprintf(path, sizeof(path), "%s/secrets.env", dir);
    setenv("DATA_DIR", dir, 1);
    setenv("AUDIT_HMAC_SECRET", strong_keys[4][1], 1); /* given: neither generated nor stored */
    mode_t old = umask(0);
    struct config *c = NULL;
    int rc = config_load(NULL, CONFIG_NO_DOTENV | CONFIG_PERSIST_SECRETS, &c);
    umask(old);
    dump_problems(c);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    static const enum cfg_id gen[] = {CFG_JWT_SECRET, CFG_JWT_REFRESH_SECRET,
                                      CFG_API_KEY_ENCRYPTION_SECRET, CFG_DATA_ENCRYPTION_KEY};
    char first[4][64];
    for (int i = 0; i < 4; i++) {
        const char *v = config_str(c, gen[i]);
        assert_true(strlen(v) >= 32);
        assert_string_equal(config_source(c, gen[i]), "generated");
        snprintf(first[i], sizeof(first[i]), "%s", v);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(first[k], first[i]);
    }
    assert_string_equal(config_source(c, CFG_AUDIT_HMAC_SECRET), "env");
    config_free(c);

    char text[1024];
    read_secrets(path, text, sizeof(text));
    assert_non_null(strstr(text, first[0]));
    assert_null(strstr(text, "AUDIT_HMAC_SECRET"));
    assert_null(strstr(text, strong_keys[4][1]));

    /* a second load reuses the stored values and leaves the file as it was */
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV | CONFIG_PERSIST_SECRETS, &c), 0);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(config_str(c, gen[i]), first[i]);
        assert_string_equal(config_source(c, gen[i]), "secrets.env");
    }
    config_free(c);
    char again[1024];
    read_secrets(path, again, sizeof(again));
    assert_string_equal(again, text);

    /* without CONFIG_PERSIST_SECRETS the stored values are still used */
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_string_equal(config_str(c, CFG_JWT_SECRET), first[0]);
    config_free(c);
}

static void config_secrets_file_tightened(void **state)
{
    (void)state;
    /* a pre-existing, world-readable, empty secrets.env is made 0600 when written */
    char path[128];
    write_file("secrets.env", "", 0, path, sizeof(path));
    assert_int_equal(chmod(path, 0644), 0);
    struct config *c = NULL;
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV | CONFIG_PERSIST_SECRETS, &c), 0);
    config_free(c);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(st.st_size > 5 * 40);
}

static void config_node_env_alias(void **state)
{
    (void)state;
    struct config *c = NULL;
    setenv("NODE_ENV", "production", 1);
    set_strong_keys();
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_env(c), APP_ENV_PRODUCTION);
    config_free(c);
    setenv("NODE_ENV", "test", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_env(c), APP_ENV_TEST);
    config_free(c);
    /* APP_ENV wins over NODE_ENV */
    setenv("APP_ENV", "development", 1);
    setenv("NODE_ENV", "production", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_env(c), APP_ENV_DEVELOPMENT);
    config_free(c);
    /* NODE_ENV in the .env file also counts, and is not an unknown variable */
    unsetenv("APP_ENV");
    unsetenv("NODE_ENV");
    char path[128];
    write_file("node.env", "NODE_ENV=test\n", 14, path, sizeof(path));
    assert_int_equal(config_load(path, 0, &c), 0);
    assert_int_equal(config_env(c), APP_ENV_TEST);
    assert_int_equal(config_warning_count(c), 0);
    config_free(c);
}

static char *print_config(const struct config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print(c, f);
    fclose(f);
    return text;
}

static void config_print_masks(void **state)
{
    (void)state;
    set_strong_keys();
    setenv("REDIS_PASSWORD", "redis-pw-Zx81", 1);
    setenv("SMTP_PASSWORD", "smtp-pw-Qw72", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-Lk33", 1);
    setenv("DATABASE_URL", "postgresql://mimi:db-pw-Hn45@db.internal:5432/mimicare", 1);
    setenv("SMTP_USER", "mailer", 1);
    struct config *c = NULL;
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    char *text = print_config(c);
    for (size_t i = 0; i < 5; i++)
        assert_null(strstr(text, strong_keys[i][1]));
    assert_null(strstr(text, "redis-pw-Zx81"));
    assert_null(strstr(text, "smtp-pw-Qw72"));
    assert_null(strstr(text, "aws-secret-Lk33"));
    assert_null(strstr(text, "db-pw-Hn45"));
    assert_non_null(strstr(text, "JWT_SECRET=**** (34 chars)  # env\n"));
    assert_non_null(strstr(text, "REDIS_PASSWORD=**** (13 chars)  # env\n"));
    assert_non_null(
        strstr(text, "DATABASE_URL=postgresql://mimi:****@db.internal:5432/mimicare  # env\n"));
    /* empty credentials print as empty; other values print as they are */
    assert_non_null(strstr(text, "FCM_PRIVATE_KEY=  # default\n"));
    assert_non_null(strstr(text, "SMTP_USER=mailer  # env\n"));
    assert_non_null(strstr(text, "BACKEND_PORT=8000  # default\n"));
    /* one line per variable */
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, CFG_COUNT);
    free(text);
    config_free(c);

    /* a password given as a URI parameter is masked too */
    setenv("DATABASE_URL", "postgresql://db.internal/mimicare?user=mimi&password=db-pw-Qp19", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    text = print_config(c);
    assert_null(strstr(text, "db-pw-Qp19"));
    assert_non_null(strstr(text, "DATABASE_URL=postgresql://db.internal/mimicare?user=mimi"));
    free(text);
    config_free(c);

    setenv("DATABASE_URL",
           "postgresql://db.internal:5432/m?sslmode=require&password=pw-a@b&application_name=x", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    text = print_config(c);
    assert_null(strstr(text, "pw-a"));
    assert_non_null(strstr(text, "DATABASE_URL=postgresql://db.internal:5432/"
                                 "m?sslmode=require&password=****&application_name=x  # env\n"));
    free(text);
    config_free(c);

    /* no credentials: printed unchanged */
    setenv("DATABASE_URL", "postgresql://db.internal:5432/mimicare", 1);
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    text = print_config(c);
    assert_non_null(strstr(text, "DATABASE_URL=postgresql://db.internal:5432/mimicare  # env\n"));
    free(text);
    config_free(c);
}

static int count_calls(void *ctx, const char *key, const char *value)
{
    (void)key;
    (void)value;
    (*(int *)ctx)++;
    return 0;
}

static void config_example_and_new_secrets(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_example(f);
    fclose(f);
    /* the example parses as a .env file and names every variable with its default */
    struct kv kv;
    char err[160];
    int calls = 0;
    assert_int_equal(dotenv_parse(text, len, count_calls, &calls, err, sizeof(err)), 0);
    assert_int_equal(calls, CFG_COUNT);
    assert_non_null(strstr(text, "\nBACKEND_PORT=8000\n"));
    assert_non_null(strstr(text, "\nJWT_ACCESS_TOKEN_EXPIRATION=15m\n"));
    assert_non_null(strstr(text, "\nJWT_SECRET=\n"));
    free(text);

    text = NULL;
    f = open_memstream(&text, &len);
    config_print_new_secrets(f);
    fclose(f);
    memset(&kv, 0, sizeof(kv));
    assert_int_equal(dotenv_parse(text, len, collect, &kv, err, sizeof(err)), 0);
    assert_int_equal(kv.n, 5);
    for (int i = 0; i < kv.n; i++) {
        assert_string_equal(kv.keys[i], strong_keys[i][0]);
        assert_true(strlen(kv.values[i]) >= 32);
    }
    free(text);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(dotenv_grammar),
        T(dotenv_errors_name_the_line),
        T(dotenv_length_limits),
        T(config_defaults),
        T(config_env_wins_over_dotenv),
        T(config_bad_values_all_listed),
        T(config_set_revalidates),
        T(config_production_secrets),
        T(config_same_secret_twice),
        T(config_dev_generates_secrets),
        T(config_secrets_file_tightened),
        T(config_node_env_alias),
        T(config_print_masks),
        T(config_example_and_new_secrets),
    };
#undef T
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
