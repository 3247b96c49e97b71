#include "processor/run_command.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cdc/common/pg_error_class.h"
#include "processor/core/retry.h"
#include "processor/core/start_offsets.h"
#include "processor/operator_errors.h"
#include "processor/pipeline_wiring.h"
#include "processor/stop_signal.h"

namespace enrich::processor {
namespace {

// On assignment: every assigned partition starts at the offset stored for
// it in the database (read once per topic), else at its beginning.
absl::Status StartAtStoredOffsets(EnrichedRowWriter& writer,
                                  std::vector<PartitionOffset>* assigned) {
  std::vector<PartitionOffset> stored;
  std::set<std::string> topics_read;
  for (const PartitionOffset& a : *assigned) {
    if (!topics_read.insert(a.topic).second) continue;
    auto offsets = writer.StoredOffsets(a.topic);
    if (!offsets.ok()) return offsets.status();
    stored.insert(stored.end(), offsets->begin(), offsets->end());
  }
  ResolveStartOffsets(stored, assigned);
  return absl::OkStatus();
}

// A table that was never built (a fresh install) or was emptied is built
// before consuming: the snapshot whose rebuild would build it may no longer
// be in the topics. Unless enrich-cdc has recorded no snapshot yet: then the
// first batch builds it (EnrichedRowWriter::BuildIfEmptyAtStart). False when
// the build failed (logged).
bool BuildTableIfEmpty(EnrichedRowWriter& writer, Logger& log) {
  const absl::Time start = absl::Now();
  absl::StatusOr<EnrichedRowWriter::StartBuild> build;
  absl::Status status = RetryWithBackoff(
      [&] {
        build = writer.BuildIfEmptyAtStart();
        return build.status();
      },
      RetryPolicy(), [](absl::Duration d) { absl::SleepFor(d); },
      [] { return StopRequested().load(); },
      [&](const absl::Status& error, absl::Duration backoff) {
        log.Warn("building the empty table failed; retrying",
                 {{"error", StatusText(error)},
                  {"backoff", absl::FormatDuration(backoff)}});
      });
  if (!status.ok()) {
    log.Error("cannot build the empty table",
              {{"error", StatusText(status)}, {"action", ActionFor(status)}});
    return false;
  }
  const std::optional<WriteResult>& built = build->built;
  if (built.has_value()) {
    log.Info("empty table built",
             {{"conversations", absl::StrCat(built->conversations)},
              {"rows_upserted", absl::StrCat(built->rows_upserted)},
              {"seconds", absl::StrFormat("%.1f", absl::ToDoubleSeconds(
                                                      absl::Now() - start))}});
  } else if (build->deferred) {
    log.Info(
        "enrich-cdc has recorded no snapshot yet: an empty table is built "
        "by the first batch (the rebuild of enrich-cdc's first snapshot)");
  }
  return true;
}

}  // namespace

int RunCommand(const ProcessorFlags& flags, MaintainedView& view, Logger& log) {
  PipelineWiring wiring(flags, &view, &log);
  if (auto exit = wiring.Start()) return *exit;
  if (auto exit = wiring.ConnectDatabase(flags.group_id,
                                         /*rewrite_each_id_once=*/false)) {
    return *exit;
  }
  EnrichedRowWriter* writer = wiring.writer();
  if (!BuildTableIfEmpty(*writer, log)) return 1;
  if (auto exit = wiring.StartDeadLetters()) return *exit;
  KafkaRecordSource::Options source_options = wiring.SourceOptions();
  source_options.start_offsets =
      [writer](std::vector<PartitionOffset>* assigned) {
        return StartAtStoredOffsets(*writer, assigned);
      };
  std::unique_ptr<KafkaRecordSource> source =
      wiring.CreateSource(std::move(source_options));
  if (source == nullptr) return 2;
  ProcessorProbe probe(wiring.metrics());
  absl::Status status =
      wiring.Consume(source.get(), source.get(), &probe, wiring.LoopOptions());
  if (!status.ok()) return LogLoopFailure(status, log);
  LogStopped(probe, log);
  return 0;
}

}  // namespace enrich::processor
