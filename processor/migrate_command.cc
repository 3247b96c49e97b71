#include "processor/migrate_command.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/adapters/view_tables.h"
#include "processor/core/migrations.h"
#include "processor/core/retry.h"
#include "processor/operator_errors.h"

namespace enrich::processor {

namespace {

// Creates the view's join indexes it lacks, one statement at a time (CREATE
// INDEX CONCURRENTLY cannot run in a transaction): the source tables may
// belong to another role, so one that fails is reported, not fatal.
void CreateMissingIndexes(pg::PgConnection& conn, const std::string& view,
                          const std::vector<std::string>& statements,
                          Logger& log) {
  for (const std::string& statement : statements) {
    absl::Status created = conn.Exec(statement, "creating a join index");
    if (created.ok()) {
      log.Info("created a join index", {{"view", view}, {"sql", statement}});
    } else {
      log.Warn(
          "cannot create a join index; every change through that join "
          "scans its table until it exists",
          {{"view", view},
           {"error", StatusText(created)},
           {"action", statement}});
    }
  }
}

// The declared view's table, created and registered for `group`.
bool MigrateView(const std::string& pg_dsn, const std::string& group,
                 MaintainedView& view, Logger& log) {
  absl::StatusOr<std::unique_ptr<pg::PgConnection>> conn =
      pg::PgConnection::Connect(pg_dsn, "enrich-processor migrate");
  absl::StatusOr<std::vector<std::string>> missing =
      conn.ok() ? view.Compile(**conn) : conn.status();
  absl::StatusOr<ViewTableCreation> created =
      missing.ok() ? CreateViewTable(**conn, view.statements().view(),
                                     view.definition_sql(), group)
                   : missing.status();
  if (!created.ok()) {
    LogViewError(log, "cannot create the view's table", view.name(),
                 created.status());
    return false;
  }
  log.Info(created->created ? "created the view's table"
                            : "the view's table is current",
           {{"view", view.name()},
            {"table", created->table},
            {"group", group},
            {"message_paths",
             view.statements().has_message_paths() ? "true" : "false"}});
  CreateMissingIndexes(**conn, view.name(), *missing, log);
  return true;
}

}  // namespace

int MigrateCommand(const ProcessorFlags& flags, MaintainedView& view,
                   Logger& log) {
  const std::string& pg_dsn = flags.pg_dsn;
  if (pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN or ENRICH_PG_DSN_FILE) is required");
    return 2;
  }
  absl::StatusOr<std::vector<Migration>> migrations =
      OrderMigrations(EmbeddedMigrations());
  if (!migrations.ok()) {
    log.Error("bad migrations", {{"error", migrations.status().ToString()}});
    return 1;
  }
  MigrationReport report;
  RetryPolicy policy;
  policy.initial_backoff = absl::Seconds(1);
  policy.max_attempts = 5;  // 003's lock_timeout: readers hold the view
  absl::Status status = RetryWithBackoff(
      [&]() -> absl::Status {
        absl::StatusOr<MigrationReport> r =
            ApplyMigrations(pg_dsn, *migrations);
        if (!r.ok()) return r.status();
        report = *std::move(r);
        return absl::OkStatus();
      },
      policy, [](absl::Duration d) { absl::SleepFor(d); }, nullptr,
      [&](const absl::Status& error, absl::Duration backoff) {
        log.Warn("migration will be retried",
                 {{"error", error.ToString()},
                  {"backoff", absl::FormatDuration(backoff)}});
      });
  if (!status.ok()) {
    log.Error("migration failed", {{"error", status.ToString()}});
    return 1;
  }
  log.Info("migrated",
           {{"applied", absl::StrJoin(report.applied, ",")},
            {"already_applied", absl::StrCat(report.already_applied.size())}});
  if (!view.built_in() && !MigrateView(pg_dsn, flags.group_id, view, log)) {
    return 1;
  }
  return 0;
}

int DropViewCommand(const ProcessorFlags& flags, const std::string& name,
                    Logger& log) {
  if (flags.pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN or ENRICH_PG_DSN_FILE) is required");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<pg::PgConnection>> conn =
      pg::PgConnection::Connect(flags.pg_dsn, "enrich-processor drop-view");
  absl::StatusOr<ViewTableDrop> dropped =
      conn.ok() ? DropViewTable(**conn, name) : conn.status();
  if (!dropped.ok()) {
    LogViewError(log, "cannot drop the view", name, dropped.status());
    return 1;
  }
  log.Info("dropped the view",
           {{"view", name},
            {"table", dropped->table},
            {"table_dropped", dropped->table_dropped ? "true" : "false"},
            {"group", dropped->consumer_group},
            {"offset_rows", absl::StrCat(dropped->offset_rows)},
            {"snapshot_rows", absl::StrCat(dropped->snapshot_rows)}});
  return 0;
}

}  // namespace enrich::processor
