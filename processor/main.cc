// enrich-processor: consumes change events and keeps
// enriched_support_conversations equal to the reference view by rewriting
// only the affected rows.
//
//   enrich-processor migrate [options]   apply sql/ (compiled in); idempotent
//   enrich-processor run|replay|reconcile [options]   not built yet (issue 4)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cdc/common/log.h"
#include "cdc/common/options.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/migrations.h"
#include "processor/core/retry.h"

namespace {

int Migrate(const std::string& pg_dsn, enrich::Logger& log) {
  if (pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN) is required");
    return 2;
  }
  absl::StatusOr<std::vector<enrich::processor::Migration>> migrations =
      enrich::processor::OrderMigrations(
          enrich::processor::EmbeddedMigrations());
  if (!migrations.ok()) {
    log.Error("bad migrations", {{"error", migrations.status().ToString()}});
    return 1;
  }
  enrich::processor::MigrationReport report;
  enrich::processor::RetryPolicy policy;
  policy.initial_backoff = absl::Seconds(1);
  policy.max_attempts = 5;  // 003's lock_timeout: readers hold the view
  absl::Status status = enrich::processor::RetryWithBackoff(
      [&]() -> absl::Status {
        absl::StatusOr<enrich::processor::MigrationReport> r =
            enrich::processor::ApplyMigrations(pg_dsn, *migrations);
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

}  // namespace

int main(int argc, char** argv) {
  std::string pg_dsn, kafka_brokers, topic_prefix, group_id, metrics_addr;
  enrich::OptionSet opts(
      "enrich-processor",
      "consumes change events from Kafka and rewrites the affected rows of\n"
      "enriched_support_conversations.\n\nUsage: enrich-processor "
      "migrate|run|replay|reconcile [options]");
  opts.AddString("pg-dsn", "ENRICH_PG_DSN", "",
                 "libpq connection string of the target database.", &pg_dsn,
                 /*secret=*/true);
  opts.AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                 "Kafka bootstrap servers, comma-separated.", &kafka_brokers);
  opts.AddString("topic-prefix", "ENRICH_TOPIC_PREFIX", "support",
                 "Topics are named <prefix>.<schema>.<table>.", &topic_prefix);
  opts.AddString("group-id", "ENRICH_GROUP_ID", "enrich-processor",
                 "Kafka consumer group.", &group_id);
  opts.AddString("metrics-addr", "ENRICH_METRICS_ADDR", "127.0.0.1:9188",
                 "host:port of the /metrics endpoint; port 0 picks a free "
                 "port.",
                 &metrics_addr);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto rest =
      opts.Parse(args, [](const char* name) { return std::getenv(name); });
  if (!rest.ok()) {
    std::fprintf(stderr, "enrich-processor: %s\n",
                 std::string(rest.status().message()).c_str());
    return 2;
  }
  if (opts.help_requested()) {
    std::fputs(opts.Help().c_str(), stdout);
    return 0;
  }
  if (rest->size() != 1) {
    std::fprintf(stderr,
                 "enrich-processor: expected one subcommand "
                 "(migrate|run|replay|reconcile); see --help\n");
    return 2;
  }
  enrich::Logger log("processor");
  const std::string& command = rest->front();
  if (command == "migrate") return Migrate(pg_dsn, log);
  if (command == "run" || command == "replay" || command == "reconcile") {
    log.Error("subcommand not built yet (issue 4)", {{"subcommand", command}});
    return 1;
  }
  std::fprintf(stderr, "enrich-processor: unknown subcommand %s\n",
               command.c_str());
  return 2;
}
