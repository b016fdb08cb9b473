/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 * Each line has ts, level, msg, requestId (when the calling thread is serving a
 * request) and the given fields. Values are JSON-escaped, so control characters and
 * ANSI escapes in user input cannot forge or colour log lines (security.md H3).
 * Never pass secrets, tokens, bodies or query values as fields.
 */
#ifndef MC_CORE_LOG_H
#define MC_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

struct log_field {
    const char *key; /* field name (a literal) */
    const char *str; /* string value, or NULL for a number */
    long long num;   /* number value when str is NULL */
};

static inline const char *log_nonnull(const char *s)
{
    return s ? s : "";
}

#define LF_S(k, v) ((struct log_field){(k), log_nonnull(v), 0})
#define LF_I(k, v) ((struct log_field){(k), NULL, (long long)(v)})

/* Sets the minimum level written. */
void log_set_level(enum log_level level);
/* Parses "debug|info|warn|error"; returns 0 or MC_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
/* True if a message at level would be written. */
int log_enabled(enum log_level level);
/* Sets the request id added to this thread's lines (NULL clears). Not copied. */
void log_set_request_id(const char *request_id);
/* Redirects output to fd (tests); default 2. */
void log_set_fd(int fd);

/* Writes one line. fields may be NULL when n is 0. */
void log_write(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

#define LOG_FIELDS_(...) ((const struct log_field[]){LF_S("", ""), __VA_ARGS__})
#define log_at_(lvl, msg, ...)                                                                     \
    log_write((lvl), (msg), LOG_FIELDS_(__VA_ARGS__) + 1,                                          \
              sizeof(LOG_FIELDS_(__VA_ARGS__)) / sizeof(struct log_field) - 1)
/* log_info("message", LF_S("key", value), LF_I("n", 3)); fields are optional. */
#define log_debug(...) log_at_(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at_(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at_(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at_(LOG_ERROR, __VA_ARGS__)

/* Appends s to b as the inside of a JSON string (no quotes), escaping quotes, backslash,
 * every control character and DEL, and replacing invalid UTF-8 with U+FFFD. */
struct buf;
void log_json_escape(struct buf *b, const char *s);

#endif
