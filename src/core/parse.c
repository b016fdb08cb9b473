/*
 * parse.c - checked scalar parsers (see parse.h).
 */
#include "core/parse.h"
#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_int_range(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return MC_EBADREQ;
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '\0')
        return MC_EBADREQ;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return MC_EBADREQ;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == NULL || *end != '\0')
        return MC_EBADREQ;
    if (errno == ERANGE || v < min || v > max)
        return MC_EINVAL;
    *out = v;
    return 0;
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (s == NULL)
        return MC_EBADREQ;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return MC_EBADREQ;
}

int parse_duration(const char *s, int64_t *out_seconds)
{
    const long long max_s = 10LL * 366 * 86400;
    if (s == NULL || *s == '\0')
        return MC_EBADREQ;
    size_t n = strlen(s);
    if (n > 24)
        return MC_EBADREQ;
    char num[32];
    long long mult = 1;
    char last = s[n - 1];
    if (isdigit((unsigned char)last)) {
        memcpy(num, s, n + 1);
    } else {
        switch (last) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return MC_EBADREQ;
        }
        memcpy(num, s, n - 1);
        num[n - 1] = '\0';
    }
    if (num[0] == '-')
        return MC_EBADREQ;
    long long v;
    int rc = parse_int_range(num, 0, max_s, &v);
    if (rc != 0)
        return rc;
    if (v > max_s / mult)
        return MC_EINVAL;
    *out_seconds = v * mult;
    return 0;
}
