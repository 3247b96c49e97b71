// ReplicationPublisher is the pgoutput Handler at the heart of enrich-cdc: it
// keeps the relation cache, builds an event per row change, holds each
// transaction in a TransactionBuffer until its commit, then produces its
// records in commit order with their transaction coordinates and numbers them
// in the AckTracker, sealing the transaction at its end LSN.
//
// Streamed transactions (pgoutput v2) are buffered per top-level xid across
// Stream Start/Stop blocks; Stream Commit publishes, Stream Abort publishes
// nothing (or drops one subtransaction's records).
//
// Non-transactional logical messages with the heartbeat prefix are reported
// through heartbeat_lsn(); the caller advances the slot with them when idle.
//
// Errors. A failed change or commit message leaves its transaction open
// (in_transaction() stays true) and unsealed in the AckTracker, so neither
// AdvanceWhenIdle nor a seal can confirm the slot past it; none of its
// records reaches the sink when the failure is the transaction buffer's
// spill (FailedPrecondition, naming the spill directory and the xid: the
// operator must make room or choose another directory, see
// transaction_buffer.h). After an error the publisher is done: the caller
// stops, or resumes from the confirmed LSN with a new one.
//
// Not thread-safe: lives on the replication loop's thread with its sink and
// tracker, which it does not own and which must outlive it.
#ifndef ENRICH_CDC_CORE_REPLICATION_PUBLISHER_H_
#define ENRICH_CDC_CORE_REPLICATION_PUBLISHER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "cdc/common/metrics.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/core/event_builder.h"
#include "cdc/core/record_sink.h"
#include "cdc/core/spill_env.h"
#include "cdc/core/transaction_buffer.h"
#include "cdc/pgoutput/messages.h"
#include "cdc/pgoutput/relation_cache.h"

namespace enrich::cdc {

inline constexpr char kHeartbeatPrefix[] = "enrich_cdc_heartbeat";

struct PublisherCounters {
  uint64_t transactions = 0;
  uint64_t events = 0;
  uint64_t aborted_streams = 0;
  uint64_t spilled_transactions = 0;
};

class ReplicationPublisher : public pgoutput::Handler {
 public:
  struct Options {
    std::string spill_dir = "/tmp";
    size_t transaction_memory_budget = 32 << 20;
    // Where per-table event counters go; may be null.
    MetricsRegistry* metrics = nullptr;
    // Makes the spill files (tests pass a fake). Not owned; must outlive the
    // publisher. Never null.
    SpillEnv* spill_env = SpillEnv::Default();
  };
  ReplicationPublisher(const EventBuilder* builder, RecordSink* sink,
                       AckTracker* acks, Options options);

  absl::Status OnBegin(const pgoutput::Begin& m) override;
  absl::Status OnCommit(const pgoutput::Commit& m) override;
  absl::Status OnOrigin(const pgoutput::Origin& m) override;
  absl::Status OnType(const pgoutput::TypeInfo& m) override;
  absl::Status OnRelation(const pgoutput::RelationMessage& m) override;
  absl::Status OnInsert(const pgoutput::Insert& m) override;
  absl::Status OnUpdate(const pgoutput::Update& m) override;
  absl::Status OnDelete(const pgoutput::Delete& m) override;
  absl::Status OnTruncate(const pgoutput::Truncate& m) override;
  absl::Status OnMessage(const pgoutput::LogicalMessage& m) override;
  absl::Status OnStreamStart(const pgoutput::StreamStart& m) override;
  absl::Status OnStreamStop(const pgoutput::StreamStop& m) override;
  absl::Status OnStreamCommit(const pgoutput::StreamCommit& m) override;
  absl::Status OnStreamAbort(const pgoutput::StreamAbort& m) override;

  // Publishes one snapshot row outside any transaction, numbered in the
  // AckTracker as part of the snapshot "transaction" sealed by the caller.
  absl::Status PublishSnapshotRow(const pgoutput::Relation& relation,
                                  const pgoutput::Tuple& row,
                                  uint64_t consistent_lsn, uint64_t index,
                                  bool last);

  // Publishes `relation`'s snapshot boundary (EventBuilder::SnapshotBoundary)
  // outside any transaction, numbered like PublishSnapshotRow.
  absl::Status PublishSnapshotBoundary(const pgoutput::Relation& relation,
                                       uint64_t consistent_lsn, uint64_t index,
                                       bool last);

  // Called every kProgressInterval records while a committed transaction is
  // being produced (a million-row transaction takes seconds): the caller
  // serves deliveries and keeps the replication connection alive. An error
  // stops publishing.
  static constexpr uint64_t kProgressInterval = 10000;
  void SetProgressCallback(std::function<absl::Status()> on_progress) {
    on_progress_ = std::move(on_progress);
  }

  // True between Begin and Commit, or while a streamed transaction is open.
  bool in_transaction() const;
  // LSN of the newest heartbeat message seen (0 if none).
  uint64_t heartbeat_lsn() const { return heartbeat_lsn_; }
  const PublisherCounters& counters() const { return counters_; }

 private:
  struct Coordinates {
    uint64_t commit_lsn;
    uint64_t end_lsn;
    uint32_t xid;
    int64_t commit_time_us;
    std::string origin;
  };
  // The buffer that change messages go to now, and the xid to file them
  // under (a subtransaction's own xid inside streams).
  absl::StatusOr<TransactionBuffer*> CurrentBuffer();
  // Appends built_ (just built, or the build's error) to the current buffer.
  absl::Status Buffer(uint32_t xid, absl::Status built);
  absl::Status PublishBuffered(TransactionBuffer* buffer,
                               const Coordinates& coordinates);
  // Produces `value` (and a tombstone or fan-out copies) for `event`.
  absl::Status ProduceEvent(const BufferedEvent& event,
                            absl::string_view value);
  // Produces built_ (a snapshot row or boundary) with the snapshot's
  // coordinates.
  absl::Status ProduceSnapshotEvent(uint64_t consistent_lsn, uint64_t index,
                                    bool last);
  std::unique_ptr<TransactionBuffer> NewBuffer();

  const EventBuilder* builder_;
  RecordSink* sink_;
  AckTracker* acks_;
  Options options_;
  pgoutput::RelationCache relations_;

  // The open non-streamed transaction, and a finished buffer kept for the
  // next one (its memory is reused).
  std::unique_ptr<TransactionBuffer> current_;
  std::unique_ptr<TransactionBuffer> spare_;
  // Reused for every event: the one being built, and a value being produced.
  BuiltEvent built_;
  std::string value_;
  pgoutput::Begin current_begin_{};
  std::string current_origin_;
  // Streamed transactions by top-level xid; stream_xid_ is the one whose
  // Stream Start..Stop block is being read (0 outside blocks).
  absl::flat_hash_map<uint32_t, std::unique_ptr<TransactionBuffer>> streams_;
  uint32_t stream_xid_ = 0;

  // Per (topic, operation) counters, created on first use.
  struct EventCounters {
    Counter* events = nullptr;
    Counter* bytes = nullptr;
  };
  static constexpr int kOperations = 8;  // > every enrich.v1.Operation value
  EventCounters& CountersFor(absl::string_view topic, int operation);
  absl::flat_hash_map<std::string, std::array<EventCounters, kOperations>>
      event_counters_;
  // The entry CountersFor() used last (valid until the map's next insert,
  // which resets it): a transaction's events are mostly for one topic.
  std::string last_counters_topic_;
  std::array<EventCounters, kOperations>* last_counters_ = nullptr;

  std::function<absl::Status()> on_progress_;
  uint64_t heartbeat_lsn_ = 0;
  PublisherCounters counters_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_REPLICATION_PUBLISHER_H_
