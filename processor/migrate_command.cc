#include "processor/migrate_command.h"

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/migrations.h"
#include "processor/core/retry.h"

namespace enrich::processor {

int MigrateCommand(const std::string& pg_dsn, Logger& log) {
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
  return 0;
}

}  // namespace enrich::processor
