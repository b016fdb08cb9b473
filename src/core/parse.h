/*
 * parse.h - bounded, checked parsers for numbers, booleans and durations.
 * These replace atoi/strtol-without-checks everywhere (style.md 7).
 */
#ifndef MC_CORE_PARSE_H
#define MC_CORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Parses a whole decimal integer (optional leading '-') in [min, max]. No spaces, no
 * '+', no trailing characters. Returns 0, MC_EBADREQ (not a number) or MC_EINVAL (out of
 * range, including overflow). */
int parse_int_range(const char *s, long long min, long long max, long long *out);

/* Parses true/false/1/0/yes/no/on/off (case-insensitive). 0 or MC_EBADREQ. */
int parse_bool(const char *s, bool *out);

/* Parses a duration into seconds: a bare integer is seconds; otherwise an integer with
 * one unit suffix s, m, h or d ("30s", "15m", "1h", "7d"). Range 0..10 years.
 * Returns 0, MC_EBADREQ (syntax) or MC_EINVAL (too large). */
int parse_duration(const char *s, int64_t *out_seconds);

#endif
