/*
 * dotenv.c - .env parser (see dotenv.h). Works on a bounded copy of one line at a time.
 */
#include "core/dotenv.h"
#include "core/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool key_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses the value part starting at p (line ends at end). Writes to out (cap bytes).
 * Returns NULL on success or an error message. */
static const char *parse_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t o = 0;
    while (p < end && blank(*p))
        p++;
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        for (;;) {
            if (p >= end)
                return "unterminated quoted value";
            char c = *p++;
            if (c == q)
                break;
            if (q == '"' && c == '\\') {
                if (p >= end)
                    return "unterminated escape";
                char e = *p++;
                switch (e) {
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                case '"':
                case '\\':
                case '$':
                    c = e;
                    break;
                default:
                    return "unknown escape in double-quoted value";
                }
            }
            if (o + 1 >= cap)
                return "value too long";
            out[o++] = c;
        }
        while (p < end && blank(*p))
            p++;
        if (p < end && *p != '#')
            return "unexpected text after quoted value";
    } else {
        const char *start = p, *stop = end;
        for (const char *q = p; q < end; q++) {
            if (*q == '#' && (q == start || blank(q[-1]))) {
                stop = q;
                break;
            }
        }
        while (stop > start && blank(stop[-1]))
            stop--;
        if ((size_t)(stop - start) + 1 > cap)
            return "value too long";
        memcpy(out, start, (size_t)(stop - start));
        o = (size_t)(stop - start);
    }
    out[o] = '\0';
    return NULL;
}

int dotenv_parse(const char *data, size_t len, dotenv_cb cb, void *ctx, char *err, size_t errlen)
{
    static _Thread_local char value[DOTENV_MAX_VALUE];
    char key[128];
    const char *p = data, *end = data + len;
    int line = 0;
    if (memchr(data, '\0', len) != NULL) {
        snprintf(err, errlen, "file contains a NUL byte");
        return MC_EBADREQ;
    }
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (eol == NULL)
            eol = end;
        if (eol > p && eol[-1] == '\r')
            eol--;
        const char *q = p;
        while (q < eol && blank(*q))
            q++;
        if (q == eol || *q == '#') {
            p = next;
            continue;
        }
        if ((size_t)(eol - q) > 7 && memcmp(q, "export", 6) == 0 && blank(q[6])) {
            q += 7;
            while (q < eol && blank(*q))
                q++;
        }
        size_t k = 0;
        while (q < eol && key_char(*q, k == 0)) {
            if (k + 1 >= sizeof(key)) {
                snprintf(err, errlen, "line %d: name too long", line);
                return MC_EBADREQ;
            }
            key[k++] = *q++;
        }
        key[k] = '\0';
        while (q < eol && blank(*q))
            q++;
        if (k == 0 || q >= eol || *q != '=') {
            snprintf(err, errlen, "line %d: expected NAME=value", line);
            return MC_EBADREQ;
        }
        const char *msg = parse_value(q + 1, eol, value, sizeof(value));
        if (msg != NULL) {
            snprintf(err, errlen, "line %d: %s", line, msg);
            return MC_EBADREQ;
        }
        int rc = cb(ctx, key, value);
        if (rc != 0)
            return rc;
        p = next;
    }
    return 0;
}
