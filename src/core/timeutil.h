/*
 * timeutil.h - the clock and RFC 3339 instants.
 *
 * All instants inside Mimicare are int64 milliseconds since the Unix epoch, UTC.
 * The clock can be pinned or offset for tests (idle timeouts are tested by moving
 * the clock, never by sleeping).
 */
#ifndef MC_CORE_TIMEUTIL_H
#define MC_CORE_TIMEUTIL_H

#include <stdint.h>

#define RFC3339_LEN 25 /* "2026-12-03T15:04:05.123Z" and the NUL */

/* Wall-clock now in epoch ms, plus the test offset. Thread-safe. */
int64_t mc_now_ms(void);
/* Monotonic time in nanoseconds (for durations, never for instants). */
int64_t mc_mono_ns(void);
/* Shifts mc_now_ms by offset_ms (tests only). */
void mc_clock_set_offset(int64_t offset_ms);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ". Years outside 0..9999 are clamped. */
void rfc3339_format(int64_t ms, char out[RFC3339_LEN]);

/* Parses an RFC 3339 date-time ("2026-12-03T15:04:05Z", optional fraction of 1-9
 * digits, "Z" or "+HH:MM"/"-HH:MM") into epoch ms. Returns 0 or MC_EBADREQ. Checks
 * calendar validity (no Feb 30) and rejects trailing garbage, and instants outside
 * years 0000..9999 UTC, so that rfc3339_format gives back the same instant. */
int rfc3339_parse(const char *s, int64_t *out_ms);

/* Parses a calendar date "YYYY-MM-DD" into days since 1970-01-01. 0 or MC_EBADREQ. */
int date_parse(const char *s, int64_t *out_days);

/* Days since 1970-01-01 for a proleptic Gregorian date (no validation). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
