// The schema migrations of sql/, as data: which to apply, in which order.
// Pure; the embedded copies come from the build (EmbeddedMigrations()), and
// processor/adapters/schema_migrator.h applies them.
#ifndef ENRICH_PROCESSOR_CORE_MIGRATIONS_H_
#define ENRICH_PROCESSOR_CORE_MIGRATIONS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace enrich::processor {

struct Migration {
  int version = 0;   // from the file name's leading digits: 002_x.sql -> 2
  std::string name;  // the file name
  std::string sql;
  // Checksums (md5 of the text) of earlier texts of this file that a
  // database may have recorded, each declared in the file by a line
  //   -- accepts-checksum: <32 lower-case hex digits>
  // A file is edited only when the schema a database reached with its
  // earlier text is the one the new text gives (e.g. the new text skips a
  // backfill the processor does anyway); such a database is not refused.
  std::vector<std::string> earlier_checksums;
};

// Validates and orders (file name, text) pairs: every name must be
// NNN_<words>.sql with a positive version, versions must be unique, and
// every accepts-checksum line must hold 32 lower-case hex digits.
// InvalidArgument naming the offending file otherwise.
absl::StatusOr<std::vector<Migration>> OrderMigrations(
    std::vector<std::pair<std::string, std::string>> files);

// Whether a database whose enrich_schema_migrations holds `applied`
// ((version, name) pairs, any order) is at exactly the schema of `known`
// (this binary's migrations, ordered): OK, or FailedPrecondition naming
// the first migration the database lacks ("run `enrich-processor migrate`")
// or the first one it has that this binary does not know (the database is
// newer: a processor built before that migration must not write to it).
absl::Status CheckAppliedMigrations(
    const std::vector<Migration>& known,
    const std::vector<std::pair<int, std::string>>& applied);

// The sql/ files compiled into the binary (generated at build time).
const std::vector<std::pair<std::string, std::string>>& EmbeddedMigrations();

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_MIGRATIONS_H_
