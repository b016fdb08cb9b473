/*
 * config.h - typed configuration from the environment and a .env file.
 *
 * Each variable of config_vars.h is read from the process environment, else the .env
 * file, else its default (the environment wins). Values are checked by type; every
 * problem is collected (not just the first) so `mimicare config check` can list them
 * all. In development and test, empty secret keys are taken from, or generated into,
 * DATA_DIR/secrets.env (mode 0600); in production they are start-up errors.
 */
#ifndef MC_CORE_CONFIG_H
#define MC_CORE_CONFIG_H

#include "core/config_vars.h"

#include <stdbool.h>
#include <stdio.h>

enum cfg_id {
#define X(sec, name, ...) CFG_##name,
    CONFIG_VARS(X)
#undef X
        CFG_COUNT
};

enum app_env { APP_ENV_DEVELOPMENT, APP_ENV_PRODUCTION, APP_ENV_TEST };

enum config_flags {
    CONFIG_PERSIST_SECRETS = 1 << 0, /* create DATA_DIR/secrets.env for missing keys */
    CONFIG_NO_DOTENV = 1 << 1,       /* ignore the .env file (tests) */
};

struct config;

/* Loads configuration. dotenv_path may be NULL for "./.env" (MIMICARE_ENV_FILE overrides).
 * Always sets *out (free with config_free). Returns 0, or MC_ECONFIG when there are
 * problems (see config_problem). */
int config_load(const char *dotenv_path, unsigned flags, struct config **out);
void config_free(struct config *c);

/* Raw string value ("" when empty); never NULL. */
const char *config_str(const struct config *c, enum cfg_id id);
/* INT → the number, DUR → seconds, BOOL → 0/1, ENUM → index into its choices. */
long long config_int(const struct config *c, enum cfg_id id);
bool config_bool(const struct config *c, enum cfg_id id);
enum app_env config_env(const struct config *c);
/* Where the value came from: "env", ".env", "default", "secrets.env" or "generated". */
const char *config_source(const struct config *c, enum cfg_id id);
/* For LIST variables: true if item is one of the comma-separated entries. */
bool config_list_has(const struct config *c, enum cfg_id id, const char *item);

int config_problem_count(const struct config *c);
const char *config_problem(const struct config *c, int i);
int config_warning_count(const struct config *c);
const char *config_warning(const struct config *c, int i);

/* Prints NAME=value (source) for every variable, secrets masked. */
void config_print(const struct config *c, FILE *f);
/* Prints a documented .env.example (every variable with its default). */
void config_print_example(FILE *f);
/* Prints freshly generated values for every secret key, as .env lines. */
void config_print_new_secrets(FILE *f);

/* Overrides one value after loading (tests and command-line flags); re-validates it.
 * Returns 0 or MC_ECONFIG. */
int config_set(struct config *c, enum cfg_id id, const char *value);

#endif
