// The consume loop of `enrich-processor run`: polls records, builds bounded
// batches, sends dead letters, applies each batch with its offsets in one
// transaction, and reports metrics. Pure: Kafka and PostgreSQL sit behind
// the seams of loop_seams.h, the clock and sleep are injected.
//
//   ProcessorProbe probe(&registry);
//   ProcessorLoop loop(&source, &writer, &dead_letters, &probe, &log, {});
//   absl::Status s = loop.Run(stop);  // returns once `stop` is set and the
//                                     // batch in hand is committed
//
// One batch, in order:
//   1. poll until `max_batch_records` records, or `max_batch_wait` after the
//      batch's first record, or `batch_complete` holds, or stop is
//      requested. The batch's first poll
//      does not wait; a record it finds was buffered while the previous
//      batch was applied, so the window started when that batch stopped
//      collecting. Past the window, only buffered records are taken (polls
//      that do not wait) and the first empty poll closes the batch: after
//      an apply longer than the window the next batch closes at once with
//      what arrived meanwhile, instead of waiting a window again;
//   2. if the assignment changed while polling, drop the records polled
//      before the change (the new assignment re-read the stored offsets, so
//      they are polled again by whoever owns their partition now);
//   3. dead letters to the dead-letter topic, retried with backoff until
//      acknowledged (never skipped: their offsets are stored in step 4);
//   4. BatchWriter::Apply(plan, offsets), retried with backoff while the
//      error is retriable (kAborted, kUnavailable); any other error ends
//      Run() with that error, nothing stored for the batch.
// Tombstones only advance offsets. Freshness (now minus each event's source
// commit time) is observed once the batch's transaction committed.
//
// Overlapped apply (ProcessorLoopOptions::overlap_apply, used by replay):
// steps 3 and 4 of a batch run on a second thread while this one collects
// the next batch; at most one batch is in flight, and a batch is applied
// only after its predecessor committed, so offsets are still stored in
// batch order. A batch that reaches max_batch_records while its predecessor
// is still being applied keeps collecting until that apply is done (it
// could not start earlier anyway); its memory grows with its distinct keys
// and dead letters, not with its records. A replay gains because its
// batches are large (consuming and planning the next one takes as long as
// writing this one); `run` keeps the plain sequence, whose small batches
// gain nothing.
//
// Not thread-safe: Run() on one thread; `stop` may be set from any thread
// (a signal handler sets an atomic). With overlap_apply, the BatchWriter,
// the DeadLetterSink, options.clock/sleep/on_readiness and the probe are
// also used from the apply thread (one batch at a time); RecordSource,
// on_iteration, on_committed, finished and batch_complete stay on Run()'s
// thread.
#ifndef ENRICH_PROCESSOR_CORE_PROCESSOR_LOOP_H_
#define ENRICH_PROCESSOR_CORE_PROCESSOR_LOOP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "processor/core/loop_seams.h"
#include "processor/core/retry.h"
#include "processor/core/view_routes.h"

namespace enrich::processor {

// The loop's metrics, registered once.
class ProcessorProbe {
 public:
  explicit ProcessorProbe(MetricsRegistry* registry);
  ProcessorProbe(const ProcessorProbe&) = delete;
  ProcessorProbe& operator=(const ProcessorProbe&) = delete;

  Counter* records;
  Counter* tombstones;
  Counter* dead_letters;
  Counter* dropped_on_rebalance;
  Counter* batches;
  Counter* conversations_rewritten;
  Counter* rows_upserted;
  Counter* rows_deleted;
  Counter* retries;
  Histogram* batch_records;
  Histogram* batch_seconds;
  Histogram* freshness_seconds;
  Gauge* last_freshness_seconds;
  Gauge* last_commit_unix_seconds;
};

struct ProcessorLoopOptions {
  // How the view's source tables' events reach its rows (view_routes.h),
  // source schema included. Empty: every event is a dead letter.
  ViewRoutes routes;
  size_t max_batch_records = 5000;
  absl::Duration max_batch_wait = absl::Milliseconds(200);
  absl::Duration poll_timeout = absl::Milliseconds(100);
  RetryPolicy retry;
  std::function<absl::Time()> clock = absl::Now;
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
    absl::SleepFor(d);
  };
  // Called on every loop iteration (liveness) and with the loop's state
  // (ready: false while a database or Kafka error is being retried).
  std::function<void()> on_iteration;
  std::function<void(bool ready, const std::string& reason)> on_readiness;
  // Called after every committed batch (replay progress).
  std::function<void(const ConsumedBatch&, const WriteResult&)> on_committed;
  // Ends Run() with OK when it returns true while no batch is open (replay:
  // caught up).
  std::function<bool()> finished;
  // Closes the batch in hand (at least one record) as soon as it returns
  // true after a poll, given the batch's plan so far, without waiting out
  // the window (replay: every partition was consumed up to its end, nothing
  // more is coming; or the batch holds a snapshot, whose rebuild should
  // start at once).
  std::function<bool(const AffectedConversations& planned)> batch_complete;
  // Applies each batch on a second thread while the next one is collected
  // (file comment).
  bool overlap_apply = false;
};

class ProcessorLoop {
 public:
  // Everything passed must outlive the loop.
  ProcessorLoop(RecordSource* source, BatchWriter* writer,
                DeadLetterSink* dead_letters, ProcessorProbe* probe,
                Logger* log, ProcessorLoopOptions options);
  ProcessorLoop(const ProcessorLoop&) = delete;
  ProcessorLoop& operator=(const ProcessorLoop&) = delete;

  // Runs until `stop` is set (then finishes and commits the batch in hand,
  // and returns OK), options.finished() holds, or a non-retriable error
  // (returned; the failed batch's offsets are not stored).
  absl::Status Run(const std::atomic<bool>& stop);

 private:
  // A batch handed to the apply thread and its outcome.
  struct InFlight {
    std::unique_ptr<ConsumedBatch> batch;
    std::future<absl::StatusOr<WriteResult>> result;
  };

  absl::Status RunBatches(const std::atomic<bool>& stop);
  // Whether a batch of `records` records closes now (max_batch_records,
  // and with overlap_apply no batch still being applied).
  bool BatchFull(size_t records) const;
  // A batch is in flight and its apply has not returned yet.
  bool ApplyRunning() const;
  // Applies `batch` now, or (overlap_apply) starts applying it on the apply
  // thread after waiting for the batch in flight.
  absl::Status Commit(ConsumedBatch batch, const std::atomic<bool>& stop);
  // Steps 3 and 4 and the batch's metrics; any thread.
  absl::StatusOr<WriteResult> Apply(const ConsumedBatch& batch,
                                    const std::atomic<bool>& stop);
  // What follows a batch's commit on Run()'s thread (the source's committed
  // offsets, on_committed).
  void AfterCommit(const ConsumedBatch& batch, const WriteResult& result);
  // Completes the batch in flight, if any: waits for it when `wait`, else
  // only when it is done already. Its error, if it failed.
  absl::Status FinishInFlight(bool wait);

  RecordSource* source_;
  BatchWriter* writer_;
  DeadLetterSink* dead_letters_;
  ProcessorProbe* probe_;
  Logger* log_;
  ProcessorLoopOptions options_;
  std::optional<InFlight> in_flight_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_PROCESSOR_LOOP_H_
