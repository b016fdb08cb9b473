/*
 * main.c - the `mimicare` command line: parses the command and its flags, loads the
 * configuration and hands over to the application (src/app).
 */
#include "app/app.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "infra/db/db.h"
#include "infra/db/migrate.h"
#include "modules/audit/audit.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MIMICARE_VERSION
#define MIMICARE_VERSION "0.0.0-dev"
#endif

static const char usage_main[] =
    "usage: mimicare [--env-file FILE] <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve           serve the HTTP API, FHIR, WebSocket and web app\n"
    "  migrate         apply database migrations\n"
    "  seed --demo     fill the database with a demo clinic (idempotent)\n"
    "  config check    validate configuration and print it with secrets masked\n"
    "  config example  print a documented .env.example\n"
    "  secrets         print freshly generated secrets for .env\n"
    "  user create     create a user, e.g. the first admin\n"
    "  audit verify    check the audit log's hash chain and its checkpoint\n"
    "  routes          print every route with its declared access (JSON lines)\n"
    "\n"
    "  --version       print the version\n"
    "  --help          this text; `mimicare <command> --help` for a command\n";

static const char usage_serve[] =
    "usage: mimicare serve [--port N] [--no-migrate]\n"
    "  Serves on BACKEND_HOST:BACKEND_PORT until SIGINT/SIGTERM (graceful, 10 s).\n"
    "  Outside production, pending migrations are applied first.\n"
    "  --port N       listen on N instead of BACKEND_PORT (0 = any free port)\n"
    "  --no-migrate   do not apply migrations at start\n";

static const char usage_migrate[] =
    "usage: mimicare migrate [--status]\n"
    "  Applies pending migrations of DATABASE_URL's dialect, each in a transaction.\n"
    "  --status       only report how many are pending (exit 0)\n";

static const char usage_seed[] = "usage: mimicare seed --demo\n"
                                 "  Adds a demo clinic; running it again changes nothing.\n";

static const char usage_config[] =
    "usage: mimicare config check | config example\n"
    "  check    load configuration from the environment and .env, print every variable\n"
    "           (secrets masked) and exit 1 listing each problem\n"
    "  example  print a .env.example documenting every variable and its default\n";

static const char usage_audit[] =
    "usage: mimicare audit verify [--checkpoint FILE]\n"
    "  Walks the audit log's hash chain (keyed by AUDIT_HMAC_SECRET) and compares its head\n"
    "  with DATA_DIR/audit-checkpoint. Exit 0 when intact; exit 1 naming the first altered,\n"
    "  deleted, inserted or reordered row, or deleted newest rows.\n"
    "  --checkpoint FILE  compare with this checkpoint instead (e.g. a copy kept elsewhere)\n";

static const char usage_user[] =
    "usage: mimicare user create --role patient|doctor|admin --email E --name N\n"
    "  Creates a verified user. The password is read from standard input when it is not a\n"
    "  terminal; otherwise one is generated and printed once.\n";

static const char usage_secrets[] = "usage: mimicare secrets\n"
                                    "  Prints a new random value for every secret key.\n";

/* Prints "mimicare: what 'arg'" and the usage to stderr; returns exit status 2. */
static int usage_error(const char *usage, const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "mimicare: %s '%s'\n%s", what, arg, usage);
    else
        fprintf(stderr, "mimicare: %s\n%s", what, usage);
    return 2;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void print_problems(const struct config *cfg)
{
    for (int i = 0; i < config_warning_count(cfg); i++)
        fprintf(stderr, "warning: %s\n", config_warning(cfg, i));
    for (int i = 0; i < config_problem_count(cfg); i++)
        fprintf(stderr, "error: %s\n", config_problem(cfg, i));
}

/* Loads config for a command that runs the app; prints problems. NULL on failure. */
static struct config *load_config(const char *env_file)
{
    struct config *cfg = NULL;
    int rc = config_load(env_file, CONFIG_PERSIST_SECRETS, &cfg);
    if (rc != 0) {
        print_problems(cfg);
        fprintf(stderr, "mimicare: configuration has %d problem(s); see `mimicare config check`\n",
                config_problem_count(cfg));
        config_free(cfg);
        return NULL;
    }
    for (int i = 0; i < config_warning_count(cfg); i++)
        fprintf(stderr, "warning: %s\n", config_warning(cfg, i));
    enum log_level lvl = LOG_INFO;
    log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &lvl);
    log_set_level(lvl);
    return cfg;
}

static int migrate_now(struct app *app, bool status_only)
{
    char err[512];
    int n = 0, known = 0, pending = 0;
    int rc = status_only ? db_migrate_status(app->svc.db, &known, &pending, err, sizeof(err))
                         : db_migrate(app->svc.db, &n, err, sizeof(err));
    if (rc != 0) {
        log_error("migration failed", LF_S("error", err));
        return rc;
    }
    if (status_only)
        printf("migrations: %d known, %d pending\n", known, pending);
    else
        log_info("migrations up to date", LF_I("applied", n));
    return 0;
}

enum migrate_mode { MIGRATE_NO, MIGRATE_YES, MIGRATE_OUTSIDE_PRODUCTION };

/* Loads the configuration and opens the application, applying pending migrations as mode
 * says. Returns 0 with both set, or non-zero after logging why (nothing is left open). */
static int open_app(const char *env_file, int64_t t0, enum migrate_mode mode,
                    struct config **cfg_out, struct app **app_out)
{
    char err[512];
    struct app *app = NULL;
    struct config *cfg = load_config(env_file);
    *cfg_out = NULL;
    *app_out = NULL;
    if (cfg == NULL)
        return MC_ECONFIG;
    int rc = app_open(cfg, t0, &app, err, sizeof(err));
    if (rc != 0) {
        log_error("cannot start", LF_S("error", err));
        config_free(cfg);
        return rc;
    }
    bool migrate = mode == MIGRATE_YES ||
                   (mode == MIGRATE_OUTSIDE_PRODUCTION && config_env(cfg) != APP_ENV_PRODUCTION);
    if (migrate && (rc = migrate_now(app, false)) != 0) {
        app_close(app);
        config_free(cfg);
        return rc;
    }
    *cfg_out = cfg;
    *app_out = app;
    return 0;
}

/* Closes what open_app opened; returns the exit status for rc. */
static int close_app(struct config *cfg, struct app *app, int rc)
{
    app_close(app);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}

static int cmd_serve(const char *env_file, int argc, char **argv, int64_t t0)
{
    int port = 0; /* 0 = from config */
    bool migrate = true;
    for (int i = 0; i < argc; i++) {
        long long v;
        if (is_help(argv[i])) {
            fputs(usage_serve, stdout);
            return 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
                   parse_int_range(argv[i + 1], 0, 65535, &v) == 0) {
            port = v == 0 ? -1 : (int)v;
            i++;
        } else if (strcmp(argv[i], "--no-migrate") == 0) {
            migrate = false;
        } else {
            return usage_error(usage_serve, "bad argument", argv[i]);
        }
    }
    struct config *cfg;
    struct app *app;
    if (open_app(env_file, t0, migrate ? MIGRATE_OUTSIDE_PRODUCTION : MIGRATE_NO, &cfg, &app) != 0)
        return 1;
    return close_app(cfg, app, app_serve(app, port));
}

static int cmd_migrate(const char *env_file, int argc, char **argv)
{
    bool status = false;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_migrate, stdout);
            return 0;
        } else if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else {
            return usage_error(usage_migrate, "bad argument", argv[i]);
        }
    }
    struct config *cfg;
    struct app *app;
    if (open_app(env_file, 0, MIGRATE_NO, &cfg, &app) != 0)
        return 1;
    return close_app(cfg, app, migrate_now(app, status));
}

static int cmd_seed(const char *env_file, int argc, char **argv)
{
    bool demo = false;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_seed, stdout);
            return 0;
        } else if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
        } else {
            return usage_error(usage_seed, "bad argument", argv[i]);
        }
    }
    if (!demo)
        return usage_error(usage_seed, "nothing to seed: pass --demo", NULL);
    struct config *cfg;
    struct app *app;
    char err[512];
    if (open_app(env_file, 0, MIGRATE_YES, &cfg, &app) != 0)
        return 1;
    int rc = app_seed_demo(app, err, sizeof(err));
    if (rc != 0)
        log_error("seed failed", LF_S("error", err));
    return close_app(cfg, app, rc);
}

static int cmd_config(const char *env_file, int argc, char **argv)
{
    if (argc != 1 || is_help(argv[0])) {
        if (argc == 1)
            return fputs(usage_config, stdout), 0;
        return usage_error(usage_config, "expected one of: check, example", NULL);
    }
    if (strcmp(argv[0], "example") == 0) {
        config_print_example(stdout);
        return 0;
    }
    if (strcmp(argv[0], "check") != 0)
        return usage_error(usage_config, "unknown config command", argv[0]);
    struct config *cfg = NULL;
    int rc = config_load(env_file, 0, &cfg);
    config_print(cfg, stdout);
    print_problems(cfg);
    if (rc == 0)
        fprintf(stderr, "configuration OK (%s)\n",
                config_env(cfg) == APP_ENV_PRODUCTION ? "production" : "development/test");
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}

/* Runs audit_verify with the configured key; prints its one-line report on stdout. */
static int audit_verify_now(const struct config *cfg, struct app *app, const char *checkpoint)
{
    char path[4096], report[512];
    const char *key = config_str(cfg, CFG_AUDIT_HMAC_SECRET);
    if (checkpoint == NULL) {
        int n = snprintf(path, sizeof(path), "%s/%s", config_str(cfg, CFG_DATA_DIR),
                         AUDIT_CHECKPOINT_FILE);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            fputs("mimicare: DATA_DIR is too long\n", stderr);
            return MC_ECONFIG;
        }
        checkpoint = path;
    }
    int rc = audit_verify(app->svc.db, (const unsigned char *)key, strlen(key), checkpoint, report,
                          sizeof(report));
    printf("%s\n", report);
    return rc;
}

static int cmd_audit(const char *env_file, int argc, char **argv)
{
    const char *checkpoint = NULL;
    if (argc >= 1 && is_help(argv[0]))
        return fputs(usage_audit, stdout), 0;
    if (argc < 1 || strcmp(argv[0], "verify") != 0)
        return usage_error(usage_audit, argc < 1 ? "expected: verify" : "unknown audit command",
                           argc < 1 ? NULL : argv[0]);
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_audit, stdout);
            return 0;
        } else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) {
            checkpoint = argv[++i];
        } else {
            return usage_error(usage_audit, "bad argument", argv[i]);
        }
    }
    struct config *cfg;
    struct app *app;
    if (open_app(env_file, 0, MIGRATE_NO, &cfg, &app) != 0)
        return 1;
    return close_app(cfg, app, audit_verify_now(cfg, app, checkpoint));
}

/* Reads one line of at most cap - 1 bytes from stdin without the newline. */
static int read_password(char *out, size_t cap)
{
    if (fgets(out, (int)cap, stdin) == NULL)
        return -1;
    size_t n = strcspn(out, "\r\n");
    if (out[n] == '\0' && n == cap - 1)
        return -1; /* longer than any allowed password */
    out[n] = '\0';
    return 0;
}

static int cmd_user(const char *env_file, int argc, char **argv)
{
    const char *role = NULL, *email = NULL, *name = NULL;
    if (argc >= 1 && is_help(argv[0]))
        return fputs(usage_user, stdout), 0;
    if (argc < 1 || strcmp(argv[0], "create") != 0)
        return usage_error(usage_user, "expected: user create", NULL);
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--role") == 0    ? &role
                            : strcmp(argv[i], "--email") == 0 ? &email
                            : strcmp(argv[i], "--name") == 0  ? &name
                                                              : NULL;
        if (is_help(argv[i]))
            return fputs(usage_user, stdout), 0;
        if (slot == NULL || i + 1 >= argc)
            return usage_error(usage_user, "bad argument", argv[i]);
        *slot = argv[++i];
    }
    if (role == NULL || email == NULL || name == NULL)
        return usage_error(usage_user, "--role, --email and --name are required", NULL);
    if (strcmp(role, "patient") != 0 && strcmp(role, "doctor") != 0 && strcmp(role, "admin") != 0)
        return usage_error(usage_user, "unknown role", role);
    char password[1100], generated[64] = "";
    bool from_stdin = !isatty(STDIN_FILENO);
    if (from_stdin && read_password(password, sizeof(password)) != 0) {
        fputs("mimicare: could not read a password from standard input\n", stderr);
        return 1;
    }
    struct config *cfg;
    struct app *app;
    char err[512];
    if (open_app(env_file, 0, MIGRATE_YES, &cfg, &app) != 0) {
        sodium_memzero(password, sizeof(password));
        return 1;
    }
    int rc = app_user_create(app, role, email, name, from_stdin ? password : NULL, generated,
                             sizeof(generated), err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "mimicare: user not created: %s\n", err);
    else if (generated[0] != '\0')
        printf("password (shown once): %s\n", generated);
    sodium_memzero(password, sizeof(password));
    return close_app(cfg, app, rc);
}

static const char usage_routes[] =
    "usage: mimicare routes\n"
    "  Prints one JSON object per route: {\"method\",\"pattern\",\"access\",\"jsonBody\"}\n"
    "  (access is null when a route declares none). Needs no configuration; the API tests\n"
    "  build the access-control matrix from it.\n";

static int cmd_routes(int argc, char **argv)
{
    static const struct {
        enum http_method m;
        const char *name;
    } names[] = {{HTTP_GET, "GET"},        {HTTP_HEAD, "HEAD"},   {HTTP_POST, "POST"},
                 {HTTP_PUT, "PUT"},        {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"},
                 {HTTP_OPTIONS, "OPTIONS"}};
    if (argc == 1 && is_help(argv[0]))
        return fputs(usage_routes, stdout), 0;
    if (argc != 0)
        return usage_error(usage_routes, "bad argument", argv[0]);
    size_t n = 0;
    struct http_route *r = app_routes(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if (!(r[i].method & names[k].m))
                continue;
            json_t *o =
                json_pack("{s:s,s:s,s:s?,s:b}", "method", names[k].name, "pattern", r[i].pattern,
                          "access", r[i].access, "jsonBody", (r[i].flags & HTTP_BODY_JSON) != 0);
            char *line = json_dumps(o, JSON_COMPACT);
            puts(line);
            free(line);
            json_decref(o);
        }
    }
    free(r);
    return 0;
}

static int cmd_secrets(int argc, char **argv)
{
    if (argc == 1 && is_help(argv[0])) {
        fputs(usage_secrets, stdout);
        return 0;
    }
    if (argc != 0)
        return usage_error(usage_secrets, "bad argument", argv[0]);
    config_print_new_secrets(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t t0 = mc_mono_ns();
    const char *env_file = NULL;
    int i = 1;
    /* everything this process creates (database, WAL, secrets, files) is private to it */
    umask(077);
    if (sodium_init() < 0) {
        fputs("mimicare: libsodium failed to initialise\n", stderr);
        return 1;
    }
    while (i < argc && argv[i][0] == '-') {
        if (is_help(argv[i])) {
            fputs(usage_main, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("mimicare %s\n", MIMICARE_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc) {
            env_file = argv[i + 1];
            i += 2;
        } else {
            return usage_error(usage_main, "unknown option", argv[i]);
        }
    }
    if (i >= argc)
        return usage_error(usage_main, "no command given", NULL);
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **args = argv + i + 1;
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(env_file, rest, args, t0);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(env_file, rest, args);
    if (strcmp(cmd, "seed") == 0)
        return cmd_seed(env_file, rest, args);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(env_file, rest, args);
    if (strcmp(cmd, "secrets") == 0)
        return cmd_secrets(rest, args);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(env_file, rest, args);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(env_file, rest, args);
    if (strcmp(cmd, "routes") == 0)
        return cmd_routes(rest, args);
    return usage_error(usage_main, "unknown command", cmd);
}
