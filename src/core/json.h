/*
 * json.h - strict JSON input on top of jansson.
 *
 * Parsing refuses duplicate keys, invalid UTF-8, NUL in strings, nesting deeper than
 * JSON_MAX_DEPTH and trailing data. Typed getters check one field each and record a
 * problem (field name + message) in a struct verrs instead of failing at the first
 * one, so the client sees every mistake in one answer.
 *
 * Status of a problem: structural ones (wrong type, unknown field, missing field) are
 * 400; values of the right type outside their allowed range or set are 422.
 */
#ifndef MC_CORE_JSON_H
#define MC_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64
#define VERRS_MAX      16

struct verr {
    char field[64];    /* JSON field name, "" for the whole body */
    char message[160]; /* what is wrong, safe to show the client */
};

struct verrs {
    int n;           /* problems recorded (at most VERRS_MAX kept) */
    bool structural; /* true if any problem is a 400-class one */
    struct verr items[VERRS_MAX];
};

/* Records a problem. code is MC_EBADREQ (structural) or MC_EINVAL (value). */
void verrs_add(struct verrs *v, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 0 if nothing was recorded, else MC_EBADREQ or MC_EINVAL. */
int verrs_result(const struct verrs *v);

/* Parses len bytes strictly (see above). On success *out is a new reference the caller
 * json_decref()s. On failure returns MC_EBADREQ and writes a client-safe reason to err. */
int json_parse_strict(const char *data, size_t len, json_t **out, char *err, size_t errlen);

/* Returns the deepest nesting level of arrays/objects in data, stopping (and returning
 * limit + 1) as soon as limit is exceeded. Strings are skipped correctly. */
int json_nesting_depth(const char *data, size_t len, int limit);

/* Records an "unknown field" problem for every key of obj not in allowed (NULL-ended). */
void json_check_fields(json_t *obj, const char *const allowed[], struct verrs *v);

/* Getters: each returns true when *out was set; false when the field is absent, null
 * (only when !required) or wrong, recording a problem in v when required or wrong.
 * Lengths are counted in Unicode code points. */
bool json_get_str(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                  const char **out, struct verrs *v);
bool json_get_int(json_t *obj, const char *key, bool required, long long min, long long max,
                  long long *out, struct verrs *v);
bool json_get_num(json_t *obj, const char *key, bool required, double min, double max, double *out,
                  struct verrs *v);
bool json_get_bool(json_t *obj, const char *key, bool required, bool *out, struct verrs *v);
/* values is NULL-ended; *out is the index of the matching value. */
bool json_get_enum(json_t *obj, const char *key, bool required, const char *const values[],
                   int *out, struct verrs *v);
/* RFC 3339 instant → epoch ms. */
bool json_get_instant(json_t *obj, const char *key, bool required, int64_t *out_ms,
                      struct verrs *v);
/* YYYY-MM-DD → days since epoch. */
bool json_get_date(json_t *obj, const char *key, bool required, int64_t *out_days, struct verrs *v);

/* Number of code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

#endif
