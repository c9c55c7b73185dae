/* db_migrate: applies sql/NNNN_name.sql files to the database, in version order, each in its
 * own transaction, recording them in schema_migrations(version, name, checksum, applied_at).
 * It blocks (plain libpq): run it at start-up before serving, or from the `migrate` command.
 * A session-level pg_advisory_lock serialises concurrent runners (several instances starting
 * together): the second one waits, then finds everything applied. */
#ifndef NOVA_DB_MIGRATE_H
#define NOVA_DB_MIGRATE_H

#include <stddef.h>

/* Applies pending migrations from `sql_dir`. Files are named NNNN_name.sql (four digits, then
 * letters, digits, '_' or '-'); other files are ignored. A file must not contain its own
 * BEGIN/COMMIT, nor statements that cannot run in a transaction block.
 * Every already-applied migration is verified before any new one is applied: if an applied
 * file's SHA-256 changed, or an applied version has no file on disk (refused, not just logged:
 * the folder must keep describing the schema), nothing is applied and `err` names an
 * offending file (changed files are reported before missing ones; all are logged). It also
 * fails when two files share a version, and stops at the first migration that fails (earlier
 * ones stay applied); `err` then names the file and the reason.
 * Returns 0 or a negative errno-style code (-EINVAL for content problems, -EIO for database
 * errors, -ENOENT for a missing directory). */
int db_migrate_run(const char *database_url, const char *sql_dir, char *err, size_t errlen);

#endif
