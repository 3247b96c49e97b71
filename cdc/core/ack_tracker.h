// AckTracker decides how far the replication slot may be confirmed: to the end
// LSN of a transaction only once Kafka has acknowledged every event of that
// transaction and of every transaction before it. Deliveries may be reported
// in any order (different partitions complete independently).
//
//   AckTracker acks;
//   uint64_t a = acks.NextSequence();   // one per produced record
//   uint64_t b = acks.NextSequence();
//   acks.SealTransaction(end_lsn);      // after its last record is produced
//   acks.OnDelivered(b); acks.OnDelivered(a);
//   acks.confirmable_lsn();             // == end_lsn now
//
// Not thread-safe: call from the replication loop's thread (delivery reports
// are collected there by polling the producer).
#ifndef ENRICH_CDC_CORE_ACK_TRACKER_H_
#define ENRICH_CDC_CORE_ACK_TRACKER_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/status/status.h"

namespace enrich::cdc {

class AckTracker {
 public:
  // `start_lsn`: what the slot is already confirmed to.
  explicit AckTracker(uint64_t start_lsn = 0) : confirmable_(start_lsn) {}

  // A sequence number for the next record of the open transaction (opened
  // implicitly by the first call after a seal).
  uint64_t NextSequence();

  // Closes the open transaction: every record it has is numbered. A
  // transaction with no records is sealed too, so its end LSN is confirmed in
  // turn. `end_lsn` must not go backwards. `commit_time_us` (UNIX micros, 0
  // when unknown) is reported back when the transaction is confirmed.
  void SealTransaction(uint64_t end_lsn, int64_t commit_time_us = 0);

  // Called once per transaction when it becomes confirmable, in commit order
  // (for lag metrics). Optional.
  using ConfirmCallback =
      std::function<void(uint64_t end_lsn, int64_t commit_time_us)>;
  void SetConfirmCallback(ConfirmCallback on_confirm) {
    on_confirm_ = std::move(on_confirm);
  }

  // Kafka acknowledged record `sequence`. FailedPrecondition for a number
  // never handed out or already acknowledged (a bug upstream, never ignored).
  absl::Status OnDelivered(uint64_t sequence);

  // When nothing is open or in flight, everything before `lsn` is done (a
  // keepalive or heartbeat past the last transaction): advance to it.
  // Returns false, and changes nothing, while anything is pending.
  bool AdvanceWhenIdle(uint64_t lsn);

  // The highest LSN the slot may be confirmed to. Never decreases.
  uint64_t confirmable_lsn() const { return confirmable_; }
  // Records produced but not yet acknowledged.
  uint64_t in_flight() const { return in_flight_; }
  // Sealed transactions waiting for acknowledgements, plus an open one.
  size_t pending_transactions() const { return transactions_.size(); }

 private:
  struct Transaction {
    uint64_t first_sequence;
    uint64_t end_sequence;  // one past the last record
    uint64_t outstanding;
    uint64_t end_lsn;
    bool sealed;
    int64_t commit_time_us;
  };
  void ConfirmCompletedPrefix();

  std::deque<Transaction> transactions_;
  ConfirmCallback on_confirm_;
  uint64_t next_sequence_ = 1;
  uint64_t confirmable_;
  uint64_t in_flight_ = 0;
  uint64_t last_sealed_lsn_ = 0;
  // Which records of pending transactions were acknowledged, indexed by
  // sequence - delivered_base_, so a duplicate report is caught.
  std::deque<bool> delivered_;
  uint64_t delivered_base_ = 1;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_ACK_TRACKER_H_
