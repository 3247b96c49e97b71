// Turning consumed Kafka records into one batch of work: the affected rows to
// rewrite, the offsets to store with them, and the records that go to the
// dead-letter topic. Pure: the consumer adapter hands in plain records.
//
//   ConsumedBatchBuilder builder(routes);  // view_routes.h
//   for (const ConsumedRecord& r : polled) builder.Add(r);
//   ConsumedBatch batch = builder.Take();
//   // produce batch.dead_letters, then apply batch.plan and store
//   // batch.offsets in one transaction.
//
// Every record advances its partition's offset, including tombstones (the
// null-value record that follows a delete, skipped) and dead letters (which
// the caller must have produced before it stores the offsets). Not
// thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_CONSUMED_BATCH_H_
#define ENRICH_PROCESSOR_CORE_CONSUMED_BATCH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/view_routes.h"
#include "proto/change_event_view.h"

namespace enrich::processor {

struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  // The serialized enrich.v1.ChangeEvent; nullopt for a tombstone.
  std::optional<std::string> value;
};

// The "next offset" value meaning "the partition's first retained record".
inline constexpr int64_t kOffsetBeginning = -2;

// The offset of the next record to consume from one partition.
struct PartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;

  friend bool operator==(const PartitionOffset& a, const PartitionOffset& b) {
    return a.topic == b.topic && a.partition == b.partition &&
           a.next_offset == b.next_offset;
  }
};

// A record the processor cannot use, and why.
struct DeadLetter {
  ConsumedRecord record;
  std::string reason;
};

struct ConsumedBatch {
  AffectedConversations plan;
  // One entry per partition seen, ordered by (topic, partition).
  std::vector<PartitionOffset> offsets;
  std::vector<DeadLetter> dead_letters;
  // The source commit times (microseconds since the Unix epoch) of the
  // planned events, for the freshness histogram, run-length encoded in
  // arrival order: the events of one transaction, or of a snapshot, share
  // one entry (a replay batch holds millions of events).
  struct CommitTimeRun {
    int64_t commit_time_us = 0;
    uint64_t events = 0;
  };
  std::vector<CommitTimeRun> commit_times;
  size_t records = 0;
  size_t tombstones = 0;

  bool empty() const { return records == 0; }
};

class ConsumedBatchBuilder {
 public:
  // Events are planned by `routes` (AffectedConversationsPlanner).
  explicit ConsumedBatchBuilder(ViewRoutes routes);
  ConsumedBatchBuilder(const ConsumedBatchBuilder&) = delete;
  ConsumedBatchBuilder& operator=(const ConsumedBatchBuilder&) = delete;

  // Never fails: a record that does not decode, or whose event the planner
  // rejects, becomes a dead letter.
  void Add(const ConsumedRecord& record);

  // Records added since the last Take().
  size_t records() const { return records_; }
  // The plan of the records added since the last Take().
  const AffectedConversations& plan() const { return planner_.plan(); }

  ConsumedBatch Take();

 private:
  AffectedConversationsPlanner planner_;
  // The record being added, parsed (reused, so parsing does not allocate).
  ChangeEventView event_;
  absl::btree_map<std::pair<std::string, int32_t>, int64_t> next_offsets_;
  std::vector<DeadLetter> dead_letters_;
  std::vector<ConsumedBatch::CommitTimeRun> commit_times_;
  size_t records_ = 0;
  size_t tombstones_ = 0;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_CONSUMED_BATCH_H_
