/*
 * embed.h - files compiled into the binary (SQL migrations, openapi.yaml, the password list,
 * web assets).
 * Tables are generated at build time by cmake/embed.cmake and end with a zeroed row.
 */
#ifndef MC_CORE_EMBED_H
#define MC_CORE_EMBED_H

#include <stddef.h>

struct embed_file {
    const char *name;          /* path relative to its source folder, e.g. "0001_init.sql" */
    const unsigned char *data; /* the bytes, followed by a NUL */
    size_t len;                /* length without the NUL */
};

extern const struct embed_file embed_migrations_sqlite[];
extern const size_t embed_migrations_sqlite_count;
extern const struct embed_file embed_migrations_postgres[];
extern const size_t embed_migrations_postgres_count;
extern const struct embed_file embed_docs[];
extern const size_t embed_docs_count;
extern const struct embed_file embed_passwords[]; /* the .txt files of data/passwords */
extern const size_t embed_passwords_count;

/* Finds a file by name in a table; NULL if absent. */
const struct embed_file *embed_find(const struct embed_file *table, const char *name);

#endif
