#include "processor/core/processor_loop.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cdc/common/status_macros.h"
#include "processor/core/consumed_batch.h"
#include "processor/core/database_errors.h"

namespace enrich::processor {

ProcessorProbe::ProcessorProbe(MetricsRegistry* registry)
    : records(registry->AddCounter("enrich_processor_records_total",
                                   "Kafka records consumed.")),
      tombstones(registry->AddCounter(
          "enrich_processor_tombstones_total",
          "Tombstone records skipped (they only advance offsets).")),
      dead_letters(registry->AddCounter(
          "enrich_processor_dead_letters_total",
          "Records sent to the dead-letter topic (undecodable or "
          "unplannable).")),
      dropped_on_rebalance(registry->AddCounter(
          "enrich_processor_records_dropped_on_rebalance_total",
          "Unapplied records dropped because the assignment changed (they "
          "are consumed again from the stored offsets).")),
      batches(registry->AddCounter("enrich_processor_batches_total",
                                   "Batches committed.")),
      conversations_rewritten(registry->AddCounter(
          "enrich_processor_conversations_total",
          "Conversations recomputed (after fan-out resolution).")),
      rows_upserted(registry->AddCounter(
          "enrich_processor_rows_upserted_total",
          "Enriched rows inserted or rewritten because they changed.")),
      rows_deleted(registry->AddCounter("enrich_processor_rows_deleted_total",
                                        "Enriched rows deleted.")),
      retries(registry->AddCounter(
          "enrich_processor_retries_total",
          "Batch attempts retried after a retriable database or Kafka "
          "error.")),
      batch_records(registry->AddHistogram("enrich_processor_batch_records",
                                           "Records per committed batch.",
                                           ExponentialBuckets(1, 4, 9))),
      batch_seconds(registry->AddHistogram(
          "enrich_processor_batch_apply_seconds",
          "Time to apply one batch (dead letters, rows and offsets), "
          "retries included.",
          LatencyBucketsSeconds())),
      freshness_seconds(registry->AddHistogram(
          "enrich_processor_freshness_seconds",
          "Per event: time from the source commit to the commit of the "
          "enriched rows it affected.",
          LatencyBucketsSeconds())),
      last_freshness_seconds(registry->AddGauge(
          "enrich_processor_last_freshness_seconds",
          "Freshness of the newest event of the last committed batch.")),
      last_commit_unix_seconds(
          registry->AddGauge("enrich_processor_last_commit_unix_seconds",
                             "When the last batch was committed.")) {}

ProcessorLoop::ProcessorLoop(RecordSource* source, BatchWriter* writer,
                             DeadLetterSink* dead_letters,
                             ProcessorProbe* probe, Logger* log,
                             ProcessorLoopOptions options)
    : source_(source),
      writer_(writer),
      dead_letters_(dead_letters),
      probe_(probe),
      log_(log),
      options_(std::move(options)) {}

absl::Status ProcessorLoop::Run(const std::atomic<bool>& stop) {
  absl::Status status = RunBatches(stop);
  // The batch in flight (overlap_apply) is completed on every way out, an
  // error included, so nothing is applied after Run() returned.
  absl::Status last = FinishInFlight(/*wait=*/true);
  return status.ok() ? last : status;
}

absl::Status ProcessorLoop::RunBatches(const std::atomic<bool>& stop) {
  ConsumedBatchBuilder builder(options_.routes);
  uint64_t generation = source_->assignment_generation();
  bool ready = false;
  auto set_ready = [&](bool now_ready, const std::string& reason) {
    if (now_ready == ready) return;
    ready = now_ready;
    if (options_.on_readiness) options_.on_readiness(ready, reason);
  };
  // When the previous batch stopped collecting: records found already
  // buffered right after its commit may have arrived any time since, so
  // their collection window started then.
  absl::Time collecting_since = options_.clock();
  while (true) {
    absl::Time batch_deadline = absl::InfiniteFuture();
    // The first poll of a batch does not wait: it only takes what the
    // consumer already buffered (e.g. while the previous batch was applied).
    bool first_poll = true;
    // Past the batch's deadline: take only what is already buffered, close
    // the batch at the first poll that finds nothing.
    bool draining = false;
    while (!BatchFull(builder.records()) &&
           !stop.load(std::memory_order_relaxed)) {
      if (options_.on_iteration) options_.on_iteration();
      const absl::Time now = options_.clock();
      if (builder.records() > 0 && now >= batch_deadline) draining = true;
      if (builder.records() == 0 && !in_flight_ && options_.finished &&
          options_.finished()) {
        return absl::OkStatus();
      }
      const bool batch_start = first_poll;
      first_poll = false;
      const absl::Duration timeout =
          batch_start || draining
              ? absl::ZeroDuration()
              : std::min(options_.poll_timeout,
                         std::max(absl::ZeroDuration(), batch_deadline - now));
      absl::StatusOr<std::optional<ConsumedRecord>> polled =
          source_->Poll(timeout);
      if (source_->assignment_generation() != generation) {
        generation = source_->assignment_generation();
        if (builder.records() > 0) {
          ConsumedBatch dropped = builder.Take();
          probe_->dropped_on_rebalance->Increment(dropped.records);
          log_->Info("assignment changed: dropped unapplied records",
                     {{"records", absl::StrCat(dropped.records)}});
          batch_deadline = absl::InfiniteFuture();
          draining = false;
        }
      }
      if (!polled.ok()) {
        if (polled.status().code() != absl::StatusCode::kUnavailable) {
          return polled.status();
        }
        set_ready(false, polled.status().ToString());
        log_->Warn("consuming", {{"error", polled.status().ToString()}});
        continue;
      }
      set_ready(true, "");
      if (!polled->has_value()) {
        // Idle: a good moment to complete the batch in flight, if done.
        RETURN_IF_ERROR(FinishInFlight(/*wait=*/false));
        if (draining) break;
        continue;
      }
      if (builder.records() == 0) {
        // The window starts at the batch's first record; for a record that
        // was already buffered when the batch started, at the latest when
        // the previous batch stopped collecting. A window that is already
        // over (the previous batch took longer to apply) closes the batch
        // with what is buffered instead of waiting again.
        batch_deadline = (batch_start ? collecting_since : options_.clock()) +
                         options_.max_batch_wait;
      }
      builder.Add(**polled);
      if (options_.batch_complete && options_.batch_complete(builder.plan())) {
        break;
      }
    }
    collecting_since = options_.clock();
    ConsumedBatch batch = builder.Take();
    if (!batch.empty()) RETURN_IF_ERROR(Commit(std::move(batch), stop));
    if (stop.load(std::memory_order_relaxed)) return absl::OkStatus();
  }
}

absl::Status ProcessorLoop::Commit(ConsumedBatch batch,
                                   const std::atomic<bool>& stop) {
  if (!options_.overlap_apply) {
    ASSIGN_OR_RETURN(WriteResult result, Apply(batch, stop));
    AfterCommit(batch, result);
    return absl::OkStatus();
  }
  // Batches commit in order: this one starts once its predecessor is done.
  RETURN_IF_ERROR(FinishInFlight(/*wait=*/true));
  InFlight next;
  next.batch = std::make_unique<ConsumedBatch>(std::move(batch));
  const ConsumedBatch* handed_over = next.batch.get();
  next.result = std::async(std::launch::async, [this, handed_over, &stop] {
    return Apply(*handed_over, stop);
  });
  in_flight_ = std::move(next);
  return absl::OkStatus();
}

bool ProcessorLoop::ApplyRunning() const {
  return in_flight_ && in_flight_->result.wait_for(std::chrono::seconds(0)) !=
                           std::future_status::ready;
}

bool ProcessorLoop::BatchFull(size_t records) const {
  // A full batch keeps collecting while its predecessor is being applied:
  // it could not be applied before anyway, and the consumer would idle.
  return records >= options_.max_batch_records && !ApplyRunning();
}

absl::Status ProcessorLoop::FinishInFlight(bool wait) {
  if (!in_flight_ || (!wait && ApplyRunning())) return absl::OkStatus();
  absl::StatusOr<WriteResult> result = in_flight_->result.get();
  std::unique_ptr<ConsumedBatch> batch = std::move(in_flight_->batch);
  in_flight_.reset();
  if (!result.ok()) return result.status();
  AfterCommit(*batch, *result);
  return absl::OkStatus();
}

void ProcessorLoop::AfterCommit(const ConsumedBatch& batch,
                                const WriteResult& result) {
  source_->Committed(batch.offsets);
  if (options_.on_committed) options_.on_committed(batch, result);
}

absl::StatusOr<WriteResult> ProcessorLoop::Apply(
    const ConsumedBatch& batch, const std::atomic<bool>& stop) {
  const absl::Time start = options_.clock();
  probe_->records->Increment(batch.records);
  probe_->tombstones->Increment(batch.tombstones);
  // On SIGTERM a retriable error still gets a short grace to clear, so the
  // batch in hand is committed whenever the database allows it.
  const absl::Duration kShutdownGrace = absl::Seconds(20);
  std::optional<absl::Time> stop_seen;
  auto stop_requested = [&] {
    if (!stop.load(std::memory_order_relaxed)) return false;
    if (!stop_seen) stop_seen = options_.clock();
    return options_.clock() - *stop_seen > kShutdownGrace;
  };
  auto on_retry = [&](absl::string_view what) {
    return [this, what](const absl::Status& error, absl::Duration backoff) {
      probe_->retries->Increment();
      if (options_.on_readiness) options_.on_readiness(false, error.ToString());
      log_->Warn(absl::StrCat(what, " failed; retrying"),
                 {{"error", error.ToString()},
                  {"backoff", absl::FormatDuration(backoff)}});
    };
  };
  if (!batch.dead_letters.empty()) {
    for (const DeadLetter& d : batch.dead_letters) {
      log_->Warn("dead letter",
                 {{"topic", d.record.topic},
                  {"partition", absl::StrCat(d.record.partition)},
                  {"offset", absl::StrCat(d.record.offset)},
                  {"reason", d.reason}});
    }
    // Kafka delivery failures are transient until proven otherwise: the
    // sink reports Unavailable for them.
    absl::Status sent = RetryWithBackoff(
        [&] { return dead_letters_->Send(batch.dead_letters); }, options_.retry,
        options_.sleep, stop_requested, on_retry("sending dead letters"));
    if (!sent.ok()) {
      return absl::Status(
          sent.code(),
          absl::StrCat("sending ", batch.dead_letters.size(),
                       " dead letters (nothing stored for this batch): ",
                       sent.message()));
    }
    probe_->dead_letters->Increment(batch.dead_letters.size());
  }
  WriteResult result;
  absl::Status applied = RetryWithBackoff(
      [&]() -> absl::Status {
        absl::StatusOr<WriteResult> r =
            writer_->Apply(batch.plan, batch.offsets);
        if (!r.ok()) return r.status();
        result = *r;
        return absl::OkStatus();
      },
      options_.retry, options_.sleep, stop_requested,
      on_retry("applying the batch"));
  if (!applied.ok()) return applied;
  const absl::Time committed = options_.clock();
  if (result.rebuilt_for_snapshot) {
    log_->Info(
        "snapshot rebuilt",
        {{"conversations", absl::StrCat(result.conversations)},
         {"rows_upserted", absl::StrCat(result.rows_upserted)},
         {"rows_deleted", absl::StrCat(result.rows_deleted)},
         {"seconds",
          absl::StrFormat("%.1f", absl::ToDoubleSeconds(committed - start))}});
  }
  probe_->batches->Increment();
  probe_->batch_records->Observe(static_cast<double>(batch.records));
  probe_->batch_seconds->Observe(absl::ToDoubleSeconds(committed - start));
  probe_->conversations_rewritten->Increment(result.conversations);
  probe_->rows_upserted->Increment(result.rows_upserted);
  probe_->rows_deleted->Increment(result.rows_deleted);
  const int64_t now_us = absl::ToUnixMicros(committed);
  int64_t newest = 0;
  for (const ConsumedBatch::CommitTimeRun& run : batch.commit_times) {
    const int64_t t = run.commit_time_us;
    if (t <= 0) continue;  // no commit time (not from enrich-cdc)
    probe_->freshness_seconds->Observe(static_cast<double>(now_us - t) / 1e6,
                                       run.events);
    newest = std::max(newest, t);
  }
  if (newest > 0) {
    probe_->last_freshness_seconds->Set(static_cast<double>(now_us - newest) /
                                        1e6);
  }
  probe_->last_commit_unix_seconds->Set(
      absl::ToDoubleSeconds(committed - absl::UnixEpoch()));
  if (options_.on_readiness) options_.on_readiness(true, "");
  return result;
}

}  // namespace enrich::processor
