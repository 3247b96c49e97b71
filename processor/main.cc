// enrich-processor: consumes change events and keeps a view's table
// (enriched_support_conversations, or the declared view --view names) equal
// to the view by rewriting only the affected rows.
//
//   enrich-processor migrate [options]   apply sql/ (compiled in); idempotent
//                                        (migrate_command.h)
//   enrich-processor run [options]       consume and rewrite until SIGTERM
//                                        (run_command.h)
//   enrich-processor replay --from-beginning|--from-timestamp T|
//                           --from-offsets t:p:o,...   re-apply history, then
//                           exit (progress: events, rate, ETA)
//                                        (replay_command.h)
//   enrich-processor reconcile [--chunk-size N] [--max-ids-per-second N]
//                              [--chunk-pause-ms MS] [--dry-run]
//                                        compare with the reference in
//                                        key-ordered chunks, repair the
//                                        differences, report them
//                                        (progress: ids, rate, ETA)
//                                        (reconcile_command.h)
//   enrich-processor check-view FILE     classify a view definition file
//                                        or say why it is not supported;
//                                        connects to nothing
//   enrich-processor check-view --catalog-view NAME
//                                        the same for a view in the
//                                        database, with its keys and join
//                                        indexes checked in the catalog
//                                        (check_view_command.h)
//   enrich-processor drop-view NAME      drop a declared view's table and
//                                        what the processor kept for it
//                                        (migrate_command.h)
//
// This file parses the options (processor_flags.h) and dispatches; `run`
// and `replay` share their wiring (pipeline_wiring.h).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cdc/common/log.h"
#include "cdc/common/options.h"
#include "processor/check_view_command.h"
#include "processor/maintained_view.h"
#include "processor/migrate_command.h"
#include "processor/processor_flags.h"
#include "processor/reconcile_command.h"
#include "processor/replay_command.h"
#include "processor/run_command.h"

int main(int argc, char** argv) {
  // Buffers above 256 KiB (librdkafka's fetch and decompression buffers, a
  // replay's id arrays) are mapped and unmapped each time instead of being
  // kept in the heap: glibc otherwise raises this threshold as such buffers
  // are freed, and a replay's peak RSS held freed buffers
  // (tests/bench/RESULTS.md, section 4.1).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // As in enrich-cdc: Debian's abseil keeps Mutex deadlock detection on (a
  // graph update per lock); a debugging aid the tests keep.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  enrich::processor::ProcessorFlags flags;
  enrich::OptionSet opts(
      "enrich-processor",
      "consumes change events from Kafka and rewrites the affected rows of\n"
      "a view's table: enriched_support_conversations, or the declared view\n"
      "--view names.\n\nUsage: enrich-processor "
      "migrate|run|replay|reconcile [--view FILE] [options]\n"
      "       enrich-processor check-view FILE\n"
      "       enrich-processor check-view --catalog-view NAME [--pg-dsn D]\n"
      "       enrich-processor drop-view NAME [--pg-dsn D]\n\n"
      "With --view, `migrate` creates the view's table (named as the view)\n"
      "and registers it for its consumer group; run, replay and reconcile\n"
      "then maintain it. drop-view drops the table, its registration and\n"
      "its group's stored offsets.\n\n"
      "check-view parses FILE, one CREATE [MATERIALIZED] VIEW ... AS SELECT,\n"
      "with PostgreSQL's parser and prints its root table, lookups, child\n"
      "and columns, or why it is outside the supported class (exit 1). It\n"
      "reads only FILE and connects to nothing. With --catalog-view it\n"
      "reads view NAME from the database instead, and also checks that the\n"
      "keys it joins on are unique (exit 1 when not) and lists the CREATE\n"
      "INDEX statements its join columns lack (processor/core/VIEWS.md).");
  enrich::processor::AddProcessorFlags(&opts, &flags);
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
  if (!rest->empty() && rest->front() == "check-view") {
    const bool from_catalog = !flags.catalog_view.empty();
    if (rest->size() != (from_catalog ? 1 : 2)) {
      std::fprintf(stderr,
                   "enrich-processor: check-view takes one FILE or "
                   "--catalog-view NAME; see --help\n");
      return 2;
    }
    return from_catalog ? enrich::processor::CheckCatalogViewCommand(
                              flags.pg_dsn, flags.catalog_view)
                        : enrich::processor::CheckViewCommand((*rest)[1]);
  }
  if (!rest->empty() && rest->front() == "drop-view") {
    if (rest->size() != 2) {
      std::fprintf(stderr,
                   "enrich-processor: drop-view takes one view NAME; see "
                   "--help\n");
      return 2;
    }
    enrich::Logger log("processor");
    return enrich::processor::DropViewCommand(flags, (*rest)[1], log);
  }
  if (rest->size() != 1) {
    std::fprintf(
        stderr,
        "enrich-processor: expected one subcommand "
        "(migrate|run|replay|reconcile|check-view|drop-view); see --help\n");
    return 2;
  }
  enrich::Logger log("processor");
  const std::string& command = rest->front();
  if (command != "migrate" && command != "run" && command != "replay" &&
      command != "reconcile") {
    std::fprintf(stderr, "enrich-processor: unknown subcommand %s\n",
                 command.c_str());
    return 2;
  }
  absl::StatusOr<enrich::processor::MaintainedView> view =
      enrich::processor::MaintainedView::FromFlags(flags);
  if (!view.ok()) {
    log.Error("bad --view", {{"error", std::string(view.status().message())}});
    return 2;
  }
  if (flags.group_id.empty()) {
    flags.group_id =
        enrich::processor::DefaultGroupId(view->name(), view->built_in());
  }
  if (command == "migrate") {
    return enrich::processor::MigrateCommand(flags, *view, log);
  }
  if (command == "run") return enrich::processor::RunCommand(flags, *view, log);
  if (command == "replay") {
    return enrich::processor::ReplayCommand(flags, *view, log);
  }
  return enrich::processor::ReconcileCommand(flags, *view, log);
}
