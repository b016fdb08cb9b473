/*
 * fuzz_util.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * libFuzzer hands a target raw bytes that are not NUL-terminated; most of our parsers take
 * C strings, so fuzz_cstr() makes a malloc'd, NUL-terminated copy (an embedded NUL simply
 * ends the string early, as it would for a real caller). FUZZ_CHECK() turns a violated
 * invariant into a crash that libFuzzer records as an artifact, after saying which one.
 */
#ifndef MC_FUZZ_UTIL_H
#define MC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts the run (so libFuzzer saves the input) when cond is false. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);         \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* Returns a malloc'd copy of data[0..size) plus a NUL; the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
