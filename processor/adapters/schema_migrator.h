// Applies the sql/ migrations to the target database (libpq).
//
//   ASSIGN_OR_RETURN(std::vector<Migration> all,
//                    OrderMigrations(EmbeddedMigrations()));
//   ASSIGN_OR_RETURN(MigrationReport report, ApplyMigrations(dsn, all));
//
// Holds a session advisory lock for the whole run, so two `migrate`s never
// interleave. Each migration runs in its own transaction together with its
// row in enrich_schema_migrations (version, name, md5 of the text): applied
// entirely or not at all. An applied version is skipped; an applied version
// whose text changed since is kFailedPrecondition (add a new file instead).
// A migration that fails rolls back and stops the run with the server's
// message; kAborted (e.g. 003's lock_timeout) means run `migrate` again.
#ifndef ENRICH_PROCESSOR_ADAPTERS_SCHEMA_MIGRATOR_H_
#define ENRICH_PROCESSOR_ADAPTERS_SCHEMA_MIGRATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "processor/core/migrations.h"

namespace enrich::processor {

struct MigrationReport {
  std::vector<std::string> applied;          // names, in order
  std::vector<std::string> already_applied;  // names, in order
};

absl::StatusOr<MigrationReport> ApplyMigrations(
    const std::string& dsn, const std::vector<Migration>& migrations);

// Whether the database at `dsn` has exactly `migrations` applied
// (CheckAppliedMigrations: FailedPrecondition when it lacks one or has one
// this binary does not know). `run`, `replay` and `reconcile` check this
// before writing. No enrich_schema_migrations table: FailedPrecondition
// (never migrated); other database errors by their SQLSTATE class.
absl::Status CheckSchemaIsCurrent(const std::string& dsn,
                                  const std::vector<Migration>& migrations);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_SCHEMA_MIGRATOR_H_
