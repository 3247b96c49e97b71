#include "processor/reconcile_command.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/progress_estimate.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/processor_session.h"
#include "processor/adapters/reconciler.h"
#include "processor/operator_errors.h"
#include "processor/stop_signal.h"

namespace enrich::processor {
namespace {

const char* TrueFalse(bool b) { return b ? "true" : "false"; }

// A progress line at most every 2 s.
std::function<void(const ReconcileReport&, int64_t)> ProgressLogger(
    absl::Time start, Logger& log) {
  return [&log, start, last_progress = start](const ReconcileReport& r,
                                              int64_t total) mutable {
    const absl::Time now = absl::Now();
    if (now - last_progress < absl::Seconds(2)) return;
    last_progress = now;
    const auto p = EstimateProgress(r.ids_checked, total, now - start);
    log.Info("reconcile progress",
             {{"chunks", absl::StrCat(r.chunks)},
              {"ids", absl::StrCat(r.ids_checked)},
              {"ids_estimate", absl::StrCat(total)},
              {"rate_per_s", absl::StrFormat("%.0f", p.ids_per_second)},
              {"eta_s", absl::StrFormat("%.1f", absl::ToDoubleSeconds(p.eta))},
              {"missing", absl::StrCat(r.missing)},
              {"extra", absl::StrCat(r.extra)},
              {"different", absl::StrCat(r.different)}});
  };
}

Reconciler::Options ReconcilerOptions(const ProcessorFlags& flags,
                                      absl::Time start, Logger& log) {
  Reconciler::Options options;
  options.chunk_size = static_cast<size_t>(flags.chunk_size);
  options.pacing.max_ids_per_second = flags.max_ids_per_second;
  options.pacing.chunk_pause = absl::Milliseconds(flags.chunk_pause_ms);
  options.dry_run = flags.dry_run;
  options.stop_requested = [] { return StopRequested().load(); };
  // Sleep in short steps so SIGTERM is honoured during a long pause.
  options.sleep = [](absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    while (!StopRequested().load() && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(100), until - absl::Now()));
    }
  };
  options.on_chunk = ProgressLogger(start, log);
  return options;
}

void LogFinished(const ProcessorFlags& flags, const ReconcileReport& report,
                 double seconds, Logger& log) {
  log.Info("reconcile finished",
           {{"interrupted", TrueFalse(StopRequested().load())},
            {"chunks", absl::StrCat(report.chunks)},
            {"ids", absl::StrCat(report.ids_checked)},
            {"missing", absl::StrCat(report.missing)},
            {"extra", absl::StrCat(report.extra)},
            {"different", absl::StrCat(report.different)},
            {"rows_repaired", absl::StrCat(report.rows_repaired)},
            {"dry_run", TrueFalse(flags.dry_run)},
            {"sample_missing", absl::StrJoin(report.sample_missing, ",")},
            {"sample_extra", absl::StrJoin(report.sample_extra, ",")},
            {"sample_different", absl::StrJoin(report.sample_different, ",")},
            {"seconds", absl::StrFormat("%.1f", seconds)}});
}

// The one line for humans and scripts, on stdout.
void PrintSummary(const ProcessorFlags& flags, const ReconcileReport& report,
                  double seconds) {
  std::printf(
      "reconcile: %s %lld ids in %lld chunks in %.1f s: missing=%lld "
      "extra=%lld different=%lld %s=%lld\n",
      StopRequested().load() ? "interrupted after" : "checked",
      static_cast<long long>(report.ids_checked),
      static_cast<long long>(report.chunks), seconds,
      static_cast<long long>(report.missing),
      static_cast<long long>(report.extra),
      static_cast<long long>(report.different),
      flags.dry_run ? "would_repair" : "rows_repaired",
      static_cast<long long>(flags.dry_run ? report.differences()
                                           : report.rows_repaired));
  std::fflush(stdout);
}

// The view's statements, compiled against the database (a no-op for
// today's view); false, logged, when it cannot be.
bool CompileView(const ProcessorFlags& flags, MaintainedView& view,
                 Logger& log) {
  auto conn = OpenProcessorSession(flags.pg_dsn);
  absl::StatusOr<std::vector<std::string>> missing =
      conn.ok() ? view.Compile(**conn) : conn.status();
  if (!missing.ok()) {
    LogViewError(log, "cannot maintain the view", view.name(),
                 missing.status());
    return false;
  }
  return true;
}

}  // namespace

int ReconcileCommand(const ProcessorFlags& flags, MaintainedView& view,
                     Logger& log) {
  if (flags.pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN or ENRICH_PG_DSN_FILE) is required");
    return 2;
  }
  if (flags.chunk_size < 1 || flags.max_ids_per_second < 0 ||
      flags.chunk_pause_ms < 0) {
    log.Error(
        "--chunk-size must be >= 1, --max-ids-per-second and "
        "--chunk-pause-ms >= 0");
    return 2;
  }
  StopOnSigtermAndSigint();
  const absl::Time start = absl::Now();
  Reconciler::Options options = ReconcilerOptions(flags, start, log);
  log.Info("reconciling",
           {{"chunk_size", absl::StrCat(flags.chunk_size)},
            {"max_ids_per_second", absl::StrCat(flags.max_ids_per_second)},
            {"chunk_pause_ms", absl::StrCat(flags.chunk_pause_ms)},
            {"dry_run", TrueFalse(flags.dry_run)}});
  if (!SchemaIsCurrent(flags.pg_dsn, log)) return 1;
  if (!CompileView(flags, view, log)) return 1;
  options.writer.statements = &view.statements();
  auto reconciler = Reconciler::Connect(flags.pg_dsn, options);
  if (!reconciler.ok()) {
    log.Error("cannot connect to PostgreSQL",
              {{"error", StatusText(reconciler.status())},
               {"action", ActionFor(reconciler.status())}});
    return 1;
  }
  absl::StatusOr<ReconcileReport> report = (*reconciler)->Run();
  if (!report.ok()) {
    log.Error("reconcile failed", {{"error", StatusText(report.status())},
                                   {"action", ActionFor(report.status())}});
    return 1;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  LogFinished(flags, *report, seconds, log);
  PrintSummary(flags, *report, seconds);
  return 0;
}

}  // namespace enrich::processor
