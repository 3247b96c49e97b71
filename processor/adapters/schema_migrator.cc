#include "processor/adapters/schema_migrator.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/status_macros.h"
#include "processor/adapters/pg_statement.h"

namespace enrich::processor {
namespace {

struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};

// Runs a migration's text, which may hold many statements, with the simple
// query protocol (inside the caller's transaction).
absl::Status ExecScript(PGconn* conn, const Migration& migration) {
  PgResult result(PQexec(conn, migration.sql.c_str()));
  const ExecStatusType status =
      result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
      status == PGRES_EMPTY_QUERY) {
    return absl::OkStatus();
  }
  const char* sqlstate =
      result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  const absl::StatusCode code = ClassifyPgError(
      sqlstate != nullptr ? sqlstate : "", PQstatus(conn) == CONNECTION_OK
                                               ? PgConnectionState::kOpen
                                               : PgConnectionState::kLost);
  std::string message = absl::StrCat(
      "migration ", migration.name, " failed: ",
      result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn));
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (sqlstate != nullptr)
    absl::StrAppend(&message, " (SQLSTATE ", sqlstate, ")");
  if (code == absl::StatusCode::kAborted) {
    absl::StrAppend(&message, "; nothing changed, run migrate again");
  }
  return absl::Status(code, message);
}

}  // namespace

absl::Status CheckSchemaIsCurrent(const std::string& dsn,
                                  const std::vector<Migration>& migrations) {
  ASSIGN_OR_RETURN(PGconn * raw, PgConnect(dsn));
  std::unique_ptr<PGconn, ConnCloser> conn(raw);
  ASSIGN_OR_RETURN(
      PgResult exists,
      PgExec(conn.get(), "looking for enrich_schema_migrations",
             "SELECT to_regclass('enrich_schema_migrations') IS NOT NULL"));
  if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t") {
    return absl::FailedPreconditionError(
        "the database was never migrated (no enrich_schema_migrations): run "
        "`enrich-processor migrate` first");
  }
  ASSIGN_OR_RETURN(
      PgResult rows,
      PgExec(conn.get(), "reading applied migrations",
             "SELECT version, name FROM enrich_schema_migrations"));
  std::vector<std::pair<int, std::string>> applied;
  for (int r = 0; r < PQntuples(rows.get()); ++r) {
    applied.emplace_back(std::atoi(PQgetvalue(rows.get(), r, 0)),
                         PQgetvalue(rows.get(), r, 1));
  }
  return CheckAppliedMigrations(migrations, applied);
}

absl::StatusOr<MigrationReport> ApplyMigrations(
    const std::string& dsn, const std::vector<Migration>& migrations) {
  ASSIGN_OR_RETURN(PGconn * raw, PgConnect(dsn));
  std::unique_ptr<PGconn, ConnCloser> conn(raw);
  PGconn* c = conn.get();
  // Released when the connection closes.
  ASSIGN_OR_RETURN(PgResult locked, PgExec(c, "taking the migration lock",
                                           "SELECT pg_advisory_lock(hashtext("
                                           "'enrich_schema_migrations'))"));
  ASSIGN_OR_RETURN(
      PgResult created,
      PgExec(c, "creating enrich_schema_migrations",
             "CREATE TABLE IF NOT EXISTS enrich_schema_migrations ("
             "version integer PRIMARY KEY, name text NOT NULL, "
             "checksum text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())"));
  ASSIGN_OR_RETURN(PgResult applied_rows,
                   PgExec(c, "reading applied migrations",
                          "SELECT version, checksum FROM "
                          "enrich_schema_migrations"));
  std::map<int, std::string> applied;
  for (int r = 0; r < PQntuples(applied_rows.get()); ++r) {
    applied[std::atoi(PQgetvalue(applied_rows.get(), r, 0))] =
        PQgetvalue(applied_rows.get(), r, 1);
  }

  MigrationReport report;
  for (const Migration& migration : migrations) {
    ASSIGN_OR_RETURN(PgResult sum, PgExec(c, "checksumming a migration",
                                          "SELECT md5($1)", {migration.sql}));
    const std::string checksum = PQgetvalue(sum.get(), 0, 0);
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
    ASSIGN_OR_RETURN(PgResult begin,
                     PgExec(c, "beginning a migration", "BEGIN"));
    absl::Status status = ExecScript(c, migration);
    if (status.ok()) {
      status =
          PgExec(c, "recording a migration",
                 "INSERT INTO enrich_schema_migrations "
                 "(version, name, checksum) VALUES ($1, $2, $3)",
                 {absl::StrCat(migration.version), migration.name, checksum})
              .status();
    }
    if (status.ok()) {
      status = PgExec(c, "committing a migration", "COMMIT").status();
    }
    if (!status.ok()) {
      PgResult ignored(PQexec(c, "ROLLBACK"));
      return status;
    }
    report.applied.push_back(migration.name);
  }
  return report;
}

}  // namespace enrich::processor
