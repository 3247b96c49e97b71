// An in-memory EventSink for unit tests of the pipeline core, with fault
// injection: fail the Nth Produce(), fail / drop / delay (and so reorder) the
// Nth delivery report, turn terminal.
//
// Indexes count from 0. "Produce index" counts every Produce() call; "record
// index" counts accepted records only (what produced() holds).
//
//   FakeEventSink sink;
//   sink.SetDeliveryCallback(...);
//   sink.DelayDelivery(/*record_index=*/0, /*polls=*/2);  // 0 reported late
//   sink.FailDelivery(3, absl::UnavailableError("broker down"));
//   sink.DropDelivery(5);                                 // never reported
//
// Poll() reports every pending record in acceptance order, skipping those
// still delayed (each Poll() counts a delay down by one) and those dropped.
// Flush() polls until nothing but dropped records is outstanding; with a
// dropped record outstanding it returns DeadlineExceeded at once (it never
// sleeps). Thread-safety as EventSink; the fault-injection and inspection
// methods may be called from any thread.
#ifndef ENRICH_CDC_KAFKA_FAKE_EVENT_SINK_H_
#define ENRICH_CDC_KAFKA_FAKE_EVENT_SINK_H_

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "cdc/kafka/event_sink.h"

namespace enrich::kafka {

class FakeEventSink : public EventSink {
 public:
  FakeEventSink() = default;
  FakeEventSink(const FakeEventSink&) = delete;
  FakeEventSink& operator=(const FakeEventSink&) = delete;

  // --- fault injection ---
  // The Produce() call with this index returns `status` (not accepted).
  void FailProduce(int64_t produce_index, absl::Status status);
  // The accepted record with this index is reported with `status`.
  void FailDelivery(int64_t record_index, absl::Status status);
  // The accepted record with this index is never reported.
  void DropDelivery(int64_t record_index);
  // The accepted record with this index is held back for `polls` Poll()
  // calls, so records accepted after it are reported first.
  void DelayDelivery(int64_t record_index, int polls);
  // While held, Poll() reports nothing (everything stays in flight).
  void HoldDeliveries(bool hold);
  // Turns the sink terminal: Produce() fails with `status`, and the next
  // Poll()/Flush() reports every outstanding (non-dropped) record with it.
  void SetFatalError(absl::Status status);

  // --- inspection ---
  // Every accepted record, in acceptance order.
  std::vector<OwnedRecord> produced() const;
  // Every report made through the callback, in order.
  std::vector<std::pair<uint64_t, absl::Status>> reports() const;

  // --- EventSink ---
  void SetDeliveryCallback(DeliveryCallback callback) override;
  absl::Status Produce(OutgoingRecord record) override;
  int Poll(absl::Duration timeout) override;
  absl::Status Flush(absl::Time deadline) override;
  int64_t in_flight() const override;
  absl::Status fatal_error() const override;

 private:
  struct Pending {
    int64_t record_index;
    uint64_t sequence_number;
    absl::Status status;
    int delay_polls;
    bool dropped;
  };

  mutable absl::Mutex mu_;
  DeliveryCallback callback_;  // used on the owning thread only
  int64_t produce_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<int64_t, absl::Status> produce_failures_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, absl::Status> delivery_failures_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> dropped_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, int> delays_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  std::vector<OwnedRecord> produced_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, absl::Status>> reports_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_FAKE_EVENT_SINK_H_
