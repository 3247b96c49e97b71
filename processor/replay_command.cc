#include "processor/replay_command.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "processor/core/replay_progress.h"
#include "processor/core/replay_source.h"
#include "processor/core/replay_start.h"
#include "processor/core/start_offsets.h"
#include "processor/pipeline_wiring.h"

namespace enrich::processor {
namespace {

struct ReplayStart {
  std::optional<absl::Time> start_time;
  std::vector<PartitionOffset> offsets;  // --from-offsets
};

// The start the flags choose; logs the error and returns nullopt (exit 2)
// when they choose none, several, or a malformed one.
std::optional<ReplayStart> ReadReplayStart(const ProcessorFlags& flags,
                                           Logger& log) {
  const ReplayStartFlags given{flags.from_beginning, flags.from_timestamp,
                               flags.from_offsets};
  if (ReplayModesGiven(given) != 1) {
    log.Error(
        "replay needs exactly one of --from-beginning, --from-timestamp, "
        "--from-offsets");
    return std::nullopt;
  }
  ReplayStart start;
  if (!given.from_timestamp.empty()) {
    absl::StatusOr<absl::Time> t = ParseReplayTimestamp(given.from_timestamp);
    if (!t.ok()) {
      log.Error("bad --from-timestamp (RFC 3339, e.g. 2024-05-01T12:00:00Z)",
                {{"error", std::string(t.status().message())}});
      return std::nullopt;
    }
    start.start_time = *t;
  }
  if (!given.from_offsets.empty()) {
    auto parsed = ParseReplayOffsets(given.from_offsets);
    if (!parsed.ok()) {
      log.Error("bad --from-offsets", {{"error", parsed.status().ToString()}});
      return std::nullopt;
    }
    start.offsets = *std::move(parsed);
  }
  return start;
}

// A replay reads whole topics as fast as it can plan them. librdkafka stops
// fetching while its queue is full and then waits fetch.error.backoff.ms
// (500 ms by default) before it tries again; fetch responses are capped at
// 4 MB so what one response adds to the queue (decompressed) stays small.
// With librdkafka's defaults the benchmark's replay waited for records much
// of the time, and a lower queued.min.messages made it slower
// (tests/bench/RESULTS.md, section 4.1). --kafka-properties still override
// these.
void PreferFastFetching(kafka::KafkaProperties* properties) {
  properties->insert(properties->begin(), {{"fetch.error.backoff.ms", "10"},
                                           {"fetch.max.bytes", "4194304"}});
}

// Assigns the replay's partitions directly, from where `start` says, and
// stores its offsets under `offsets_group`. Logs the error and returns the
// exit code when the topics cannot be listed or none of their partitions
// is chosen.
std::optional<int> ChooseReplayPartitions(PipelineWiring& wiring,
                                          const ReplayStart& start,
                                          const std::string& offsets_group,
                                          KafkaRecordSource::Options* options,
                                          Logger& log) {
  PreferFastFetching(&options->extra_properties);
  auto counts =
      wiring.admin().PartitionCounts(wiring.topics(), absl::Seconds(30));
  if (!counts.ok()) {
    log.Error("cannot list the topics' partitions",
              {{"error", counts.status().ToString()}});
    return 1;
  }
  if (auto missing = FirstMissingTopic(wiring.topics(), *counts)) {
    log.Error("topic does not exist (has enrich-cdc run?)",
              {{"topic", *missing}});
    return 1;
  }
  options->assign_directly =
      ReplayPartitions(wiring.topics(), *counts, start.offsets);
  if (options->assign_directly.empty()) {
    log.Error("--from-offsets names no partition of the topics",
              {{"topics", absl::StrJoin(wiring.topics(), ",")}});
    return 2;
  }
  options->start_time = start.start_time;
  options->group_id = offsets_group;
  options->start_offsets =
      [offsets = start.offsets](std::vector<PartitionOffset>* assigned) {
        ResolveStartOffsets(offsets, assigned);
        return absl::OkStatus();
      };
  return std::nullopt;
}

// One replay's state once its consumer exists: the ends it stops at, the
// ReplaySource the loop reads through, and its progress and batch lines.
class ReplayRun {
 public:
  ReplayRun(const ProcessorFlags& flags, PipelineWiring* wiring,
            KafkaRecordSource* source, Logger* log)
      : flags_(flags), wiring_(wiring), source_(source), log_(log) {}

  // Reads the partitions' current ends (exit 1 when it cannot).
  std::optional<int> ReadEnds();
  // The loop's options for a replay (after ReadEnds); logs "replaying".
  ProcessorLoopOptions LoopOptions(const std::string& offsets_group);
  RecordSource* loop_source() { return replay_source_.get(); }
  void LogFinished() const;

 private:
  int64_t Remaining() const {
    return RecordsRemaining(ends_, source_->Assignment());
  }
  void OnIteration();
  void OnCommitted(const ConsumedBatch& batch, const WriteResult& result);

  const ProcessorFlags& flags_;
  PipelineWiring* const wiring_;
  KafkaRecordSource* const source_;
  Logger* const log_;
  std::vector<PartitionOffset> ends_;
  std::unique_ptr<ReplaySource> replay_source_;
  // The batch with the replay's first snapshot row was closed (Run()'s
  // thread only).
  bool snapshot_batch_closed_ = false;
  int64_t total_ = 0;
  int64_t applied_ = 0;
  const absl::Time start_ = absl::Now();
  absl::Time last_progress_ = absl::Now();
  uint64_t iterations_ = 0;
};

std::optional<int> ReplayRun::ReadEnds() {
  auto ends = source_->EndOffsets(absl::Seconds(30));
  if (!ends.ok()) {
    log_->Error("cannot read the end offsets",
                {{"error", ends.status().ToString()}});
    return 1;
  }
  ends_ = *std::move(ends);
  total_ = Remaining();
  return std::nullopt;
}

ProcessorLoopOptions ReplayRun::LoopOptions(const std::string& offsets_group) {
  ProcessorLoopOptions options = wiring_->LoopOptions();
  // A rebuild is cheapest as few, large batches: every batch recomputes each
  // conversation it names once, however many of its records name it (a
  // snapshot's messages name every conversation in every stretch of the
  // topic). So a replay batch takes everything up to the ends at once,
  // bounded by --replay-batch-max-records / --replay-batch-max-wait-ms, and
  // closes as soon as every partition was consumed to its end.
  options.max_batch_records = static_cast<size_t>(
      std::max<int64_t>(1, flags_.replay_batch_max_records));
  options.max_batch_wait =
      absl::Milliseconds(std::max<int64_t>(1, flags_.replay_batch_max_wait_ms));
  replay_source_ =
      std::make_unique<ReplaySource>(source_, source_->Assignment(), ends_);
  // The batch holding the first snapshot row closes at once: the writer
  // answers it with a rebuild of every row (enriched_row_writer.h), which
  // then runs while the rest of the topics is consumed, and every later
  // batch has nothing left to rewrite.
  options.batch_complete = [this](const AffectedConversations& planned) {
    if (!snapshot_batch_closed_ && !planned.snapshot_lsns.empty()) {
      snapshot_batch_closed_ = true;
      return true;
    }
    return replay_source_->ConsumedToEnd();
  };
  // The next batch is consumed and planned while this one is written.
  options.overlap_apply = true;
  options.on_iteration = [this] { OnIteration(); };
  log_->Info("replaying", {{"records", absl::StrCat(total_)},
                           {"partitions", absl::StrCat(ends_.size())},
                           {"offsets_group", offsets_group}});
  options.finished = [this] { return Remaining() == 0; };
  options.on_committed = [this](const ConsumedBatch& b, const WriteResult& r) {
    OnCommitted(b, r);
  };
  return options;
}

// Progress while consuming, every 2 s: batches are large, so waiting for
// their commits would leave long silences.
void ReplayRun::OnIteration() {
  wiring_->health().MarkLoopAlive();
  if (++iterations_ % 1024 != 0) return;
  const absl::Time now = absl::Now();
  if (now - last_progress_ < absl::Seconds(2)) return;
  last_progress_ = now;
  const ReplayProgress p = ReplayProgressAt(
      total_, replay_source_->RecordsShortOfEnd(), applied_, now - start_);
  log_->Info(
      "replay progress",
      {{"consumed", absl::StrCat(p.consumed)},
       {"applied", absl::StrCat(p.applied)},
       {"remaining", absl::StrCat(p.remaining)},
       {"rate_per_s", absl::StrFormat("%.0f", p.estimate.ids_per_second)},
       {"eta_s",
        absl::StrFormat("%.1f", absl::ToDoubleSeconds(p.estimate.eta))}});
}

// Batches are large in a replay: one line each, with where the time went
// (collecting = consuming and planning; writing = the writer's statements).
void ReplayRun::OnCommitted(const ConsumedBatch& b, const WriteResult& r) {
  applied_ += static_cast<int64_t>(b.records);
  const absl::Time now = absl::Now();
  log_->Info(
      "replay batch",
      {{"records", absl::StrCat(b.records)},
       {"conversations", absl::StrCat(r.conversations)},
       {"rows_upserted", absl::StrCat(r.rows_upserted)},
       {"rows_deleted", absl::StrCat(r.rows_deleted)},
       {"write_s", absl::StrFormat("%.2f", absl::ToDoubleSeconds(
                                               wiring_->TakeStatementsTime()))},
       {"since_start_s",
        absl::StrFormat("%.2f", absl::ToDoubleSeconds(now - start_))}});
}

void ReplayRun::LogFinished() const {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
  log_->Info("replay finished", {{"events", absl::StrCat(applied_)},
                                 {"seconds", absl::StrFormat("%.1f", seconds)},
                                 {"remaining", absl::StrCat(Remaining())}});
}

}  // namespace

int ReplayCommand(const ProcessorFlags& flags, MaintainedView& view,
                  Logger& log) {
  PipelineWiring wiring(flags, &view, &log);
  if (auto exit = wiring.Start()) return *exit;
  const std::optional<ReplayStart> start = ReadReplayStart(flags, log);
  if (!start) return 2;
  // A replay stores its progress under a group of its own, so it never
  // moves the offsets of `run`; it rewrites each conversation once
  // (rewritten_ids.h: exact because every replayed record was committed
  // before the replay's first write).
  const std::string offsets_group = absl::StrCat(flags.group_id, ".replay");
  if (auto exit = wiring.ConnectDatabase(offsets_group,
                                         /*rewrite_each_id_once=*/true)) {
    return *exit;
  }
  if (auto exit = wiring.StartDeadLetters()) return *exit;
  KafkaRecordSource::Options source_options = wiring.SourceOptions();
  if (auto exit = ChooseReplayPartitions(wiring, *start, offsets_group,
                                         &source_options, log)) {
    return *exit;
  }
  std::unique_ptr<KafkaRecordSource> source =
      wiring.CreateSource(std::move(source_options));
  if (source == nullptr) return 2;
  ProcessorProbe probe(wiring.metrics());
  ReplayRun replay(flags, &wiring, source.get(), &log);
  if (auto exit = replay.ReadEnds()) return *exit;
  ProcessorLoopOptions loop_options = replay.LoopOptions(offsets_group);
  absl::Status status = wiring.Consume(replay.loop_source(), source.get(),
                                       &probe, std::move(loop_options));
  if (!status.ok()) return LogLoopFailure(status, log);
  replay.LogFinished();
  LogStopped(probe, log);
  return 0;
}

}  // namespace enrich::processor
