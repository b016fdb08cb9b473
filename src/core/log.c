/*
 * log.c - JSON-lines logger (see log.h). Each line is built in a thread-local buffer
 * and written with one write(2), so lines from different threads never interleave.
 */
#include "core/log.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int min_level = LOG_INFO;
static _Atomic int log_fd = 2;
static _Thread_local const char *tl_request_id;
static const char *const level_names[] = {"debug", "info", "warn", "error", "fatal"};

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, (int)level);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i <= LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return MC_EINVAL;
}

int log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

void log_set_request_id(const char *request_id)
{
    tl_request_id = request_id;
}

void log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not valid (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if ((c & 0xe0) == 0xc0) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void log_json_escape(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            buf_putc(b, (char)c);
            p++;
        } else {
            size_t n = utf8_seq_len(p);
            if (n == 0) {
                buf_puts(b, "\\ufffd");
                p++;
            } else {
                buf_append(b, p, n);
                p += n;
            }
        }
    }
}

/* A thread-local buffer has no destructor of its own: a pthread key frees it when the
 * thread exits (pool threads of a stopped server), so it does not leak. */
static pthread_key_t line_key;
static pthread_once_t line_key_once = PTHREAD_ONCE_INIT;

static void line_free(void *line)
{
    buf_free(line);
}

static void line_key_create(void)
{
    pthread_key_create(&line_key, line_free);
}

void log_write(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    static _Thread_local struct buf line = BUF_INIT;
    static _Thread_local bool line_registered;
    if (!line_registered) {
        pthread_once(&line_key_once, line_key_create);
        pthread_setspecific(line_key, &line);
        line_registered = true;
    }
    char ts[RFC3339_LEN];
    rfc3339_format(mc_now_ms(), ts);
    buf_reset(&line);
    buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
    log_json_escape(&line, msg);
    buf_putc(&line, '"');
    if (tl_request_id != NULL) {
        buf_puts(&line, ",\"requestId\":\"");
        log_json_escape(&line, tl_request_id);
        buf_putc(&line, '"');
    }
    for (size_t i = 0; i < n; i++) {
        buf_puts(&line, ",\"");
        log_json_escape(&line, fields[i].key);
        buf_puts(&line, "\":");
        if (fields[i].str != NULL) {
            buf_putc(&line, '"');
            log_json_escape(&line, fields[i].str);
            buf_putc(&line, '"');
        } else {
            buf_printf(&line, "%lld", fields[i].num);
        }
    }
    buf_puts(&line, "}\n");
    const char *p = line.data;
    size_t left = line.len;
    int fd = atomic_load(&log_fd);
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report a logging failure */
        }
        p += w;
        left -= (size_t)w;
    }
    /* keep a big line from pinning memory for the thread's life */
    if (line.cap > 65536)
        buf_free(&line);
}
