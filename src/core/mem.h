/*
 * mem.h - small allocation helpers: checked malloc, a bump arena, a growable buffer.
 *
 * mc_xmalloc and friends abort with a message on failure: they are for small internal
 * objects only (style.md 6). Sizes that users control go through buf_* with a cap and
 * fail with MC_ETOOBIG instead.
 */
#ifndef MC_CORE_MEM_H
#define MC_CORE_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *mc_xmalloc(size_t n);
void *mc_xcalloc(size_t n, size_t size);
void *mc_xrealloc(void *p, size_t n);
char *mc_xstrdup(const char *s);

/* A per-request arena: many allocations, one free. */
struct arena;

/* Creates an arena whose chunks are at least chunk_size bytes. Free with arena_free. */
struct arena *arena_new(size_t chunk_size);
/* Returns n bytes aligned for any type; lives until arena_reset/arena_free. Aborts on OOM. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forgets every allocation but keeps the first chunk for reuse. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);
/* Bytes currently handed out (for tests and metrics). */
size_t arena_used(const struct arena *a);

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct buf {
    char *data; /* owned; free with buf_free */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* 0 = unlimited, else appends past max fail with MC_ETOOBIG */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Appends n bytes. Returns 0 or MC_ETOOBIG when the cap would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the data to the caller (who frees it) and resets the buffer. Never NULL. */
char *buf_steal(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
