/*
 * dotenv.h - parser for .env files.
 *
 * Grammar, one assignment per line:  [export ]KEY=VALUE   where KEY is [A-Za-z_][A-Za-z0-9_]*.
 *   VALUE unquoted: up to end of line or " #", surrounding blanks trimmed.
 *   VALUE '...':    literal, no escapes.
 *   VALUE "...":    escapes \n \r \t \" \\ \$ ; may not span lines.
 * Blank lines and lines starting with # are ignored. NUL bytes are an error.
 */
#ifndef MC_CORE_DOTENV_H
#define MC_CORE_DOTENV_H

#include <stddef.h>

#define DOTENV_MAX_VALUE 8192

/* Called for each assignment; key and value are valid during the call only. A non-zero
 * return stops parsing and is returned. */
typedef int (*dotenv_cb)(void *ctx, const char *key, const char *value);

/* Parses len bytes. Returns 0, the callback's non-zero result, or MC_EBADREQ with
 * "line N: reason" in err. */
int dotenv_parse(const char *data, size_t len, dotenv_cb cb, void *ctx, char *err, size_t errlen);

#endif
