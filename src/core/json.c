/*
 * json.c - strict JSON parsing and typed getters (see json.h).
 */
#include "core/json.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void verrs_add(struct verrs *v, int code, const char *field, const char *fmt, ...)
{
    if (code == MC_EBADREQ)
        v->structural = true;
    if (v->n >= VERRS_MAX) {
        v->n++;
        return;
    }
    struct verr *e = &v->items[v->n++];
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

int verrs_result(const struct verrs *v)
{
    if (v->n == 0)
        return 0;
    return v->structural ? MC_EBADREQ : MC_EINVAL;
}

int json_nesting_depth(const char *data, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_str) {
            if (c == '\\')
                i++; /* skip the escaped character */
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int json_parse_strict(const char *data, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "request body is empty");
        return MC_EBADREQ;
    }
    if (json_nesting_depth(data, len, JSON_MAX_DEPTH) > JSON_MAX_DEPTH) {
        snprintf(err, errlen, "JSON nesting is deeper than %d levels", JSON_MAX_DEPTH);
        return MC_EBADREQ;
    }
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (root == NULL) {
        /* jansson appends " near '<input>'": cut it so the client's bytes are not echoed */
        char *near = strstr(je.text, " near '");
        if (near != NULL)
            *near = '\0';
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return MC_EBADREQ;
    }
    *out = root;
    return 0;
}

void json_check_fields(json_t *obj, const char *const allowed[], struct verrs *v)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            /* the key is client text: bound it and keep only printable ASCII */
            char safe[48];
            size_t j = 0;
            for (const char *p = key; *p && j < sizeof(safe) - 1; p++)
                safe[j++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
            safe[j] = '\0';
            verrs_add(v, MC_EBADREQ, safe, "unknown field");
        }
        (void)val;
    }
}

size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Looks up key; handles absent/null. Returns the value, or NULL when absent. */
static json_t *field(json_t *obj, const char *key, bool required, struct verrs *v)
{
    json_t *val = json_object_get(obj, key);
    if (val == NULL || json_is_null(val)) {
        if (required)
            verrs_add(v, MC_EBADREQ, key, "is required");
        return NULL;
    }
    return val;
}

bool json_get_str(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                  const char **out, struct verrs *v)
{
    json_t *val = field(obj, key, required, v);
    if (val == NULL)
        return false;
    if (!json_is_string(val)) {
        verrs_add(v, MC_EBADREQ, key, "must be a string");
        return false;
    }
    const char *s = json_string_value(val);
    size_t n = utf8_length(s);
    if (n < min_len || n > max_len) {
        verrs_add(v, MC_EINVAL, key, "must be %zu to %zu characters long", min_len, max_len);
        return false;
    }
    *out = s;
    return true;
}

bool json_get_int(json_t *obj, const char *key, bool required, long long min, long long max,
                  long long *out, struct verrs *v)
{
    json_t *val = field(obj, key, required, v);
    if (val == NULL)
        return false;
    if (!json_is_integer(val)) {
        verrs_add(v, MC_EBADREQ, key, "must be an integer");
        return false;
    }
    long long x = (long long)json_integer_value(val);
    if (x < min || x > max) {
        verrs_add(v, MC_EINVAL, key, "must be between %lld and %lld", min, max);
        return false;
    }
    *out = x;
    return true;
}

bool json_get_num(json_t *obj, const char *key, bool required, double min, double max, double *out,
                  struct verrs *v)
{
    json_t *val = field(obj, key, required, v);
    if (val == NULL)
        return false;
    if (!json_is_number(val)) {
        verrs_add(v, MC_EBADREQ, key, "must be a number");
        return false;
    }
    double x = json_number_value(val);
    if (!isfinite(x) || x < min || x > max) {
        verrs_add(v, MC_EINVAL, key, "must be between %g and %g", min, max);
        return false;
    }
    *out = x;
    return true;
}

bool json_get_bool(json_t *obj, const char *key, bool required, bool *out, struct verrs *v)
{
    json_t *val = field(obj, key, required, v);
    if (val == NULL)
        return false;
    if (!json_is_boolean(val)) {
        verrs_add(v, MC_EBADREQ, key, "must be true or false");
        return false;
    }
    *out = json_is_true(val);
    return true;
}

bool json_get_enum(json_t *obj, const char *key, bool required, const char *const values[],
                   int *out, struct verrs *v)
{
    json_t *val = field(obj, key, required, v);
    if (val == NULL)
        return false;
    if (!json_is_string(val)) {
        verrs_add(v, MC_EBADREQ, key, "must be a string");
        return false;
    }
    const char *s = json_string_value(val);
    for (int i = 0; values[i] != NULL; i++) {
        if (strcmp(s, values[i]) == 0) {
            *out = i;
            return true;
        }
    }
    char list[120];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; values[i] != NULL && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", values[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    verrs_add(v, MC_EINVAL, key, "must be one of: %s", list);
    return false;
}

bool json_get_instant(json_t *obj, const char *key, bool required, int64_t *out_ms, struct verrs *v)
{
    const char *s;
    if (!json_get_str(obj, key, required, 1, 40, &s, v))
        return false;
    if (rfc3339_parse(s, out_ms) != 0) {
        verrs_add(v, MC_EINVAL, key, "must be an RFC 3339 date-time");
        return false;
    }
    return true;
}

bool json_get_date(json_t *obj, const char *key, bool required, int64_t *out_days, struct verrs *v)
{
    const char *s;
    if (!json_get_str(obj, key, required, 1, 10, &s, v))
        return false;
    if (date_parse(s, out_days) != 0) {
        verrs_add(v, MC_EINVAL, key, "must be a date YYYY-MM-DD");
        return false;
    }
    return true;
}
