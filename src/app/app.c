/*
 * app.c - builds the application from configuration: opens the database and the key-value
 * store, applies migrations, gathers every module's routes and runs the HTTP server until a
 * signal.
 */
#include "app/app.h"
#include "app/modules.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "infra/db/db.h"
#include "infra/db/migrate.h"
#include "infra/kv/kv.h"
#include "infra/mail/mail.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/idem/idem.h"
#include "modules/ratelimit/ratelimit.h"
#include "modules/auth/password.h"
#include "modules/users/users.h"
#include "core/json.h"
#include "core/rand.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 10000

static int http_threads(const struct config *cfg)
{
    long long n = config_int(cfg, CFG_HTTP_THREADS);
    if (n > 0)
        return (int)n;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)(2 * cores) : 4;
}

int app_open(struct config *cfg, int64_t started_mono_ns, struct app **out, char *err,
             size_t errlen)
{
    struct app *app = mc_xcalloc(1, sizeof(*app));
    app->svc.cfg = cfg;
    app->svc.started_mono_ns = started_mono_ns;
    int pool = (int)config_int(cfg, CFG_DB_POOL_SIZE);
    if (pool == 0)
        pool = http_threads(cfg) + (int)config_int(cfg, CFG_JOB_WORKERS) + 2;
    struct db_options dbo = {
        .pool_size = pool,
        .statement_timeout_ms = (int)config_int(cfg, CFG_DB_STATEMENT_TIMEOUT) * 1000,
    };
    int rc = db_open(config_str(cfg, CFG_DATABASE_URL), &dbo, &app->svc.db, err, errlen);
    if (rc != 0) {
        free(app);
        return rc;
    }
    /* a Redis that is down is not fatal here: readiness reports it, limits fail closed */
    rc = kv_open(cfg, &app->svc.kv, err, errlen);
    if (rc != 0) {
        db_close(app->svc.db);
        free(app);
        return rc;
    }
    rc = mail_open(cfg, &app->svc.mail, err, errlen);
    if (rc == 0 && (rc = auth_init(&app->svc)) != 0)
        snprintf(err, errlen, "cannot prepare password hashing");
    if (rc != 0) {
        mail_close(app->svc.mail);
        kv_close(app->svc.kv);
        db_close(app->svc.db);
        free(app);
        return rc;
    }
    *out = app;
    return 0;
}

void app_close(struct app *app)
{
    if (app == NULL)
        return;
    mail_close(app->svc.mail);
    kv_close(app->svc.kv);
    db_close(app->svc.db);
    free(app->routes);
    free(app);
}

/* The per-address limit of public API routes (see before_handler). */
static int rate_limit_public(struct http_req *req, struct http_res *res,
                             const struct http_route *route)
{
    if (route->access == NULL || strcmp(route->access, "public") != 0 ||
        strncmp(route->pattern, "/api/", 5) != 0)
        return 0;
    const struct services *svc = mod_services(req);
    return rl_enforce(svc->kv, res, "ip", http_client_ip(req),
                      config_int(svc->cfg, CFG_RATE_LIMIT_MAX_REQUESTS),
                      config_int(svc->cfg, CFG_RATE_LIMIT_WINDOW),
                      "too many requests from this address; retry later");
}

/* Runs before every handler: API routes that need no login are limited per client
 * address (RATE_LIMIT_MAX_REQUESTS per RATE_LIMIT_WINDOW, security.md I1). Ops endpoints
 * (/health, /metrics) are left alone: load balancers poll them. Fails closed. Then
 * HTTP_IDEMPOTENT routes claim or replay their Idempotency-Key (modules/idem). */
static int before_handler(struct http_req *req, struct http_res *res,
                          const struct http_route *route)
{
    int rc = rate_limit_public(req, res, route);
    return rc != 0 ? rc : idem_before(req, res, route);
}

/* Runs once a matched route's response is final: settles its Idempotency-Key. */
static void after_handler(struct http_req *req, struct http_res *res,
                          const struct http_route *route)
{
    idem_after(req, res, route);
}

/* APP_ENV=test only: SIGUSR1 makes the server read DATA_DIR/clock-offset-ms (a signed
 * integer) and shift its wall clock by that much, so tests of idle timeouts and lockouts
 * move time instead of sleeping (security.md B3). Never active in other environments. */
static void load_test_clock(const struct config *cfg)
{
    char path[1024], text[32] = "";
    snprintf(path, sizeof(path), "%s/clock-offset-ms", config_str(cfg, CFG_DATA_DIR));
    FILE *f = fopen(path, "r");
    long long offset = 0;
    if (f != NULL) {
        if (fgets(text, sizeof(text), f) != NULL)
            text[strcspn(text, "\r\n")] = '\0';
        fclose(f);
    }
    if (parse_int_range(text, -(1LL << 42), 1LL << 42, &offset) != 0) {
        log_warn("test clock: unreadable offset file");
        return;
    }
    mc_clock_set_offset(offset);
    log_info("test clock moved", LF_I("offsetMs", offset));
}

/* Raises the open-file limit so max_connections sockets fit (the soft limit is often
 * 1024); the hard limit is never exceeded. */
static void raise_fd_limit(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (target > rl.rlim_cur) {
        rl.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("cannot raise the open-file limit", LF_I("wanted", want));
    }
    if ((long)rl.rlim_cur < want)
        log_warn("open-file limit below HTTP_MAX_CONNECTIONS",
                 LF_I("limit", (long long)rl.rlim_cur), LF_I("wanted", want));
}

/* Concatenates each module's route table into one (module order = match order). */
struct http_route *app_routes(size_t *n)
{
    typedef const struct http_route *(*routes_fn)(size_t * count);
    static const routes_fn modules[] = {ops_routes,     clinic_routes,   auth_routes,
                                        account_routes, auth_mfa_routes, oauth_routes,
                                        apikeys_routes, care_routes,     admin_routes};
    size_t total = 0;
    for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
        size_t k;
        modules[m](&k);
        total += k;
    }
    struct http_route *all = mc_xcalloc(total, sizeof(*all));
    *n = 0;
    for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
        size_t k;
        const struct http_route *r = modules[m](&k);
        memcpy(all + *n, r, k * sizeof(*r));
        *n += k;
    }
    return all;
}

static void collect_routes(struct app *app)
{
    app->routes = app_routes(&app->nroutes);
}

/* Starts the thread that writes the audit chain's head to DATA_DIR/audit-checkpoint every
 * AUDIT_CHECKPOINT_INTERVAL. Returns it, or NULL (logged) when it cannot run. */
static struct audit_checkpointer *start_audit_checkpointer(struct app *app)
{
    const struct config *cfg = app->svc.cfg;
    const char *key = config_str(cfg, CFG_AUDIT_HMAC_SECRET);
    const char *dir = config_str(cfg, CFG_DATA_DIR);
    struct audit_checkpointer *cp = NULL;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_CHECKPOINT_FILE);
    if (key[0] == '\0' || n < 0 || (size_t)n >= sizeof(path)) {
        log_error("audit checkpoints disabled: AUDIT_HMAC_SECRET empty or DATA_DIR too long");
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        log_warn("cannot create DATA_DIR", LF_S("dir", dir));
    if (audit_checkpointer_start(app->svc.db, (const unsigned char *)key, strlen(key), path,
                                 (int)config_int(cfg, CFG_AUDIT_CHECKPOINT_INTERVAL), &cp) != 0)
        return NULL;
    return cp;
}

int app_serve(struct app *app, int port_override)
{
    const struct config *cfg = app->svc.cfg;
    collect_routes(app);
    struct http_server_opts o = {
        .host = config_str(cfg, CFG_BACKEND_HOST),
        .port = port_override > 0   ? port_override
                : port_override < 0 ? 0
                                    : (int)config_int(cfg, CFG_BACKEND_PORT),
        .threads = http_threads(cfg),
        .connection_timeout_s = (int)config_int(cfg, CFG_HTTP_CONNECTION_TIMEOUT),
        .header_timeout_s = (int)config_int(cfg, CFG_HTTP_HEADER_TIMEOUT),
        .request_timeout_s = (int)config_int(cfg, CFG_HTTP_REQUEST_TIMEOUT),
        .max_connections = (int)config_int(cfg, CFG_HTTP_MAX_CONNECTIONS),
        .max_connections_per_ip = (int)config_int(cfg, CFG_HTTP_MAX_CONNECTIONS_PER_IP),
        .max_json_body = (size_t)config_int(cfg, CFG_MAX_JSON_BODY_SIZE),
        .cors_origin = config_str(cfg, CFG_FRONTEND_URL),
        .request_logging = config_bool(cfg, CFG_ENABLE_REQUEST_LOGGING),
        .trusted_proxies = config_str(cfg, CFG_TRUSTED_PROXIES),
        .hsts = true, /* harmless over plain HTTP: browsers only honour it over TLS */
        .before = before_handler,
        .after = after_handler,
    };
    /* signals are taken synchronously by this thread; every other thread blocks them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    bool test_clock = config_env(cfg) == APP_ENV_TEST;
    if (test_clock)
        sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    raise_fd_limit((long)o.max_connections + 256);
    /* after the mask, so the thread inherits it */
    struct audit_checkpointer *audit_cp = start_audit_checkpointer(app);
    char err[256];
    app->svc.http = http_server_start(&o, app->routes, app->nroutes, &app->svc, err, sizeof(err));
    if (app->svc.http == NULL) {
        log_error("cannot start HTTP server", LF_S("error", err));
        audit_checkpointer_stop(audit_cp);
        return MC_EUNAVAIL;
    }
    int64_t ready_us = (mc_mono_ns() - app->svc.started_mono_ns) / 1000;
    log_info("listening", LF_S("host", o.host), LF_I("port", http_server_port(app->svc.http)),
             LF_I("threads", o.threads), LF_S("database", db_kind_name(app->svc.db)),
             LF_S("kv", kv_backend_name(app->svc.kv)), LF_I("readyUs", ready_us));
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
        load_test_clock(cfg);
    log_info("shutting down", LF_S("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
             LF_I("inflight", http_server_inflight(app->svc.http)));
    http_server_stop(app->svc.http, SHUTDOWN_GRACE_MS);
    app->svc.http = NULL;
    audit_checkpointer_stop(audit_cp); /* a last checkpoint with every request's events */
    log_info("stopped");
    return 0;
}

static int seed_tx(struct db_conn *c, void *arg)
{
    bool *already = arg;
    struct db_stmt *st = NULL;
    int rc = db_query_row(c, "SELECT value FROM app_meta WHERE key = 'demo_seeded'", NULL, 0, &st);
    db_finalize(st);
    if (rc == 0) {
        *already = true;
        return 0;
    }
    if (rc != MC_ENOTFOUND)
        return rc;
    rc = clinic_seed_demo(c);
    if (rc == 0)
        rc =
            db_exec(c, "INSERT INTO app_meta (key, value, updated_at) VALUES ('demo_seeded', ?, ?)",
                    DB_PARAMS(DBP_T("1"), DBP_I(mc_now_ms())), NULL);
    return rc;
}

int app_seed_demo(struct app *app, char *err, size_t errlen)
{
    struct db_conn *c = NULL;
    bool already = false;
    int rc = db_acquire(app->svc.db, 10000, &c);
    if (rc == 0)
        rc = db_tx(c, seed_tx, &already);
    if (rc != 0)
        snprintf(err, errlen, "seeding failed: %s (%s)", mc_strerror(rc),
                 c ? db_last_error(c) : "no connection");
    else
        log_info(already ? "demo data already present" : "demo data seeded");
    db_release(c);
    return rc;
}

/* ---- mimicare user create ---- */

struct user_create_ctx {
    struct app *app;
    struct user *u;
};

static int user_create_tx(struct db_conn *c, void *arg)
{
    struct user_create_ctx *x = arg;
    int rc = users_insert(c, x->u, true);
    if (rc != 0 || !config_bool(x->app->svc.cfg, CFG_ENABLE_AUDIT_LOGS))
        return rc;
    const char *key = config_str(x->app->svc.cfg, CFG_AUDIT_HMAC_SECRET);
    struct audit_event e = {.actor_role = "cli",
                            .action = "user_create",
                            .resource_type = "user",
                            .resource_id = x->u->id,
                            .outcome = "success",
                            .severity = "info",
                            .detail = x->u->role};
    return audit_append(c, (const unsigned char *)key, strlen(key), &e);
}

int app_user_create(struct app *app, const char *role, const char *email, const char *name,
                    const char *password, char *generated, size_t cap, char *err, size_t errlen)
{
    struct user u = {0};
    struct verrs v = {0};
    char pw[64];
    if (!users_role_valid(role) || !users_email_valid(email) || name[0] == '\0' ||
        strlen(name) > USER_NAME_MAX) {
        snprintf(err, errlen, "need --role patient|doctor|admin, a valid --email and a --name");
        return MC_EINVAL;
    }
    if (password == NULL) {
        unsigned char raw[18];
        mc_random_bytes(raw, sizeof(raw));
        b64url_encode(raw, sizeof(raw), pw);
        snprintf(generated, cap, "%s", pw);
        password = pw;
    }
    pw_check_policy(password, "password", &v);
    if (v.n > 0) {
        snprintf(err, errlen, "password %s", v.items[0].message);
        return MC_EBADREQ;
    }
    snprintf(u.email, sizeof(u.email), "%s", email);
    snprintf(u.role, sizeof(u.role), "%s", role);
    snprintf(u.name, sizeof(u.name), "%s", name);
    int rc = pw_hash(password, u.password_hash);
    struct db_conn *c = NULL;
    if (rc == 0)
        rc = db_acquire(app->svc.db, 10000, &c);
    struct user_create_ctx x = {app, &u};
    if (rc == 0)
        rc = db_tx(c, user_create_tx, &x);
    if (rc == MC_ECONFLICT)
        snprintf(err, errlen, "a user with that e-mail already exists");
    else if (rc != 0)
        snprintf(err, errlen, "%s", c ? db_last_error(c) : mc_strerror(rc));
    else
        log_info("user created", LF_S("id", u.id), LF_S("role", role));
    db_release(c);
    return rc;
}
