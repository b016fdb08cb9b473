/*
 * migrate.h - schema migrations compiled into the binary.
 *
 * db/migrations/<dialect>/NNNN_name.sql are embedded at build time. Each applied file is
 * recorded in schema_migrations with its SHA-256; a recorded file whose text changed,
 * or a recorded version this binary does not know, stops start-up. Each migration runs
 * in its own transaction; concurrent instances serialize on a lock.
 */
#ifndef MC_INFRA_MIGRATE_H
#define MC_INFRA_MIGRATE_H

#include "infra/db/db.h"

#include <stddef.h>

/* Applies pending migrations. *applied (optional) counts them. On error err names the
 * migration and reason. Returns 0, MC_ECORRUPT (checksum/unknown version), or a db error. */
int db_migrate(struct db *db, int *applied, char *err, size_t errlen);

/* Number of migrations embedded for the database's dialect and how many are pending.
 * Returns 0 or an error. */
int db_migrate_status(struct db *db, int *known, int *pending, char *err, size_t errlen);

#endif
