// The seams between the processor's consume loop (processor_loop.h) and the
// outside world, so the loop is unit-tested with fakes:
//
//   BatchWriter      applies one planned batch and stores its offsets in one
//                    transaction (EnrichedRowWriter in production)
//   RecordSource     consumed Kafka records (KafkaRecordSource)
//   DeadLetterSink   the dead-letter topic (KafkaDeadLetterSink)
//
// None of them is thread-safe; the loop uses each from one thread.
#ifndef ENRICH_PROCESSOR_CORE_LOOP_SEAMS_H_
#define ENRICH_PROCESSOR_CORE_LOOP_SEAMS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/consumed_batch.h"

namespace enrich::processor {

struct WriteResult {
  // Distinct conversation ids the batch rewrote (after fan-out resolution).
  size_t conversations = 0;
  // Rows inserted or updated (unchanged rows are not rewritten).
  size_t rows_upserted = 0;
  size_t rows_deleted = 0;
  size_t transactions = 0;
  // The batch held a snapshot its consumer group had not rebuilt the table
  // for, and every row was rewritten (enriched_row_writer.h).
  bool rebuilt_for_snapshot = false;
};

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  // Rewrites the rows `plan` names and stores `offsets` atomically: either
  // both are committed or neither. Errors carry the code of
  // database_errors.h (kAborted / kUnavailable: retry the call; anything
  // else: stop).
  virtual absl::StatusOr<WriteResult> Apply(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets) = 0;
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The next record, or nullopt when none arrived within `timeout`.
  // kUnavailable is transient (the loop logs it and polls again); any other
  // error is terminal.
  virtual absl::StatusOr<std::optional<ConsumedRecord>> Poll(
      absl::Duration timeout) = 0;
  // Changes whenever the assignment changes (partitions revoked, lost or
  // assigned). Records polled under an earlier generation may belong to
  // partitions this consumer no longer owns, and their positions were reset
  // to the stored offsets: the loop drops its unapplied records then.
  virtual uint64_t assignment_generation() const = 0;
  // The offsets just committed with a batch (for lag accounting).
  virtual void Committed(const std::vector<PartitionOffset>& offsets) = 0;
};

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Returns OK once every dead letter is durably on the dead-letter topic
  // (acknowledged). On error some may have been written; the loop retries
  // the whole call, so a dead letter may be written twice, never zero times.
  virtual absl::Status Send(const std::vector<DeadLetter>& dead_letters) = 0;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_LOOP_SEAMS_H_
