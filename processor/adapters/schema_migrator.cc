#include "processor/adapters/schema_migrator.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/processor_session.h"

namespace enrich::processor {
namespace {

using Rows = std::vector<pg::Row>;

// Runs a migration's text, which may hold many statements, with the simple
// query protocol (inside the caller's transaction).
absl::Status ExecScript(pg::PgConnection& conn, const Migration& migration) {
  absl::Status status = conn.Exec(
      migration.sql, absl::StrCat("migration ", migration.name, " failed"));
  if (absl::IsAborted(status)) {
    return absl::Status(
        status.code(),
        absl::StrCat(status.message(), "; nothing changed, run migrate again"));
  }
  return status;
}

}  // namespace

absl::Status CheckSchemaIsCurrent(const std::string& dsn,
                                  const std::vector<Migration>& migrations) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConnection> conn,
                   OpenProcessorSession(dsn));
  ASSIGN_OR_RETURN(
      Rows exists,
      conn->QueryParams(
          "SELECT to_regclass('enrich_schema_migrations') IS NOT NULL", {},
          "looking for enrich_schema_migrations"));
  if (pg::TextOrEmpty(exists[0], 0) != "t") {
    return absl::FailedPreconditionError(
        "the database was never migrated (no enrich_schema_migrations): run "
        "`enrich-processor migrate` first");
  }
  ASSIGN_OR_RETURN(
      Rows rows,
      conn->QueryParams("SELECT version, name FROM enrich_schema_migrations",
                        {}, "reading applied migrations"));
  std::vector<std::pair<int, std::string>> applied;
  for (const pg::Row& row : rows) {
    applied.emplace_back(std::atoi(pg::TextOrEmpty(row, 0).c_str()),
                         pg::TextOrEmpty(row, 1));
  }
  return CheckAppliedMigrations(migrations, applied);
}

absl::StatusOr<MigrationReport> ApplyMigrations(
    const std::string& dsn, const std::vector<Migration>& migrations) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConnection> conn,
                   OpenProcessorSession(dsn));
  pg::PgConnection& c = *conn;
  // Released when the connection closes.
  RETURN_IF_ERROR(c.QueryParams("SELECT pg_advisory_lock(hashtext("
                                "'enrich_schema_migrations'))",
                                {}, "taking the migration lock")
                      .status());
  RETURN_IF_ERROR(
      c.QueryParams("CREATE TABLE IF NOT EXISTS enrich_schema_migrations ("
                    "version integer PRIMARY KEY, name text NOT NULL, "
                    "checksum text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())",
                    {}, "creating enrich_schema_migrations")
          .status());
  ASSIGN_OR_RETURN(
      Rows applied_rows,
      c.QueryParams("SELECT version, checksum FROM enrich_schema_migrations",
                    {}, "reading applied migrations"));
  std::map<int, std::string> applied;
  for (const pg::Row& row : applied_rows) {
    applied[std::atoi(pg::TextOrEmpty(row, 0).c_str())] =
        pg::TextOrEmpty(row, 1);
  }

  MigrationReport report;
  for (const Migration& migration : migrations) {
    ASSIGN_OR_RETURN(Rows sum, c.QueryParams("SELECT md5($1)", {migration.sql},
                                             "checksumming a migration"));
    const std::string checksum = pg::TextOrEmpty(sum[0], 0);
    auto it = applied.find(migration.version);
    if (it != applied.end()) {
      const std::vector<std::string>& earlier = migration.earlier_checksums;
      if (it->second != checksum && std::find(earlier.begin(), earlier.end(),
                                              it->second) == earlier.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat("migration ", migration.name,
                         " was applied with different contents (checksum ",
                         it->second, ", file ", checksum,
                         "); never edit an applied migration, add a new one"));
      }
      report.already_applied.push_back(migration.name);
      continue;
    }
    RETURN_IF_ERROR(
        c.QueryParams("BEGIN", {}, "beginning a migration").status());
    absl::Status status = ExecScript(c, migration);
    if (status.ok()) {
      status = c.QueryParams(
                    "INSERT INTO enrich_schema_migrations "
                    "(version, name, checksum) VALUES ($1, $2, $3)",
                    {absl::StrCat(migration.version), migration.name, checksum},
                    "recording a migration")
                   .status();
    }
    if (status.ok()) {
      status = c.QueryParams("COMMIT", {}, "committing a migration").status();
    }
    if (!status.ok()) {
      c.RollBack();
      return status;
    }
    report.applied.push_back(migration.name);
  }
  return report;
}

}  // namespace enrich::processor
