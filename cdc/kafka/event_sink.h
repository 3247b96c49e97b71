// The seam between the pipeline core and Kafka. The core produces records and
// learns, asynchronously, which were durably acknowledged; it never sees
// librdkafka. KafkaEventSink is the real implementation, FakeEventSink
// (fake_event_sink.h) the one for unit tests.
//
//   sink->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
//     if (status.ok()) status = acks.OnDelivered(seq);  // ack_tracker.h
//     if (!status.ok()) failed = status;
//   });
//   RETURN_IF_ERROR(sink->Produce({topic, partition, key, value, seq}));
//   sink->Poll(absl::ZeroDuration());        // in every loop iteration
//   ...
//   RETURN_IF_ERROR(sink->Flush(absl::Now() + absl::Seconds(30)));  // SIGTERM
//
// Contract:
//  * Produce() returning OK means the record was accepted; exactly one
//    delivery callback for its sequence number follows, from a later Poll()
//    or Flush() (never from inside Produce()). Produce() returning an error
//    means the record was not accepted and no callback will come.
//  * A callback with OK means Kafka acknowledged the record (acks=all).
//    Any other status means it was not delivered; the status code says what
//    to do (see producer_errors.h). Never treat a failed record as done.
//  * Within one partition, records are delivered and reported in Produce()
//    order (the real sink is an idempotent producer). Across partitions the
//    reports may interleave in any order.
//  * fatal_error() becomes non-OK once the sink is terminal; after that
//    Produce() fails with it and outstanding records are reported failed.
//  * Records still outstanding when the sink is destroyed are not reported:
//    Flush() before destroying.
//
// Thread-safety: Produce/Poll/Flush/SetDeliveryCallback must be called from
// one thread at a time (the pipeline loop); callbacks run on that thread.
// fatal_error() and in_flight() may be called from any thread.
#ifndef ENRICH_CDC_KAFKA_EVENT_SINK_H_
#define ENRICH_CDC_KAFKA_EVENT_SINK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace enrich::kafka {

// Views of the record's bytes: valid for the duration of Produce(), which
// copies what it keeps.
struct OutgoingRecord {
  absl::string_view topic;
  // Explicit partition, chosen by the caller (see partitioner.h); must exist.
  int32_t partition = 0;
  absl::string_view key;
  // nullopt is a tombstone (a null value), which a compacted topic uses to
  // forget `key`.
  std::optional<absl::string_view> value;
  // The caller's identifier for this record, echoed in the delivery callback.
  // The sink does not interpret it (uniqueness is the caller's business).
  uint64_t sequence_number = 0;
};

// An OutgoingRecord that owns its bytes (what fakes and tests keep).
struct OwnedRecord {
  OwnedRecord() = default;
  explicit OwnedRecord(const OutgoingRecord& record)
      : topic(record.topic),
        partition(record.partition),
        key(record.key),
        sequence_number(record.sequence_number) {
    if (record.value.has_value()) value.emplace(*record.value);
  }
  std::string topic;
  int32_t partition = 0;
  std::string key;
  std::optional<std::string> value;
  uint64_t sequence_number = 0;
};

using DeliveryCallback =
    std::function<void(uint64_t sequence_number, absl::Status status)>;

class EventSink {
 public:
  virtual ~EventSink() = default;

  // Must be set before the first Produce(); replaces any earlier callback.
  virtual void SetDeliveryCallback(DeliveryCallback callback) = 0;

  // Queues `record` for delivery. May block (serving the client internally)
  // while the local queue is full, up to a bound set at construction; then
  // Unavailable. InvalidArgument when the record can never be produced
  // (e.g. too large: the message names topic, key and size).
  virtual absl::Status Produce(OutgoingRecord record) = 0;

  // Serves the client for up to `timeout` and invokes the delivery callback
  // for every report that arrived. Returns the number of callbacks invoked.
  virtual int Poll(absl::Duration timeout) = 0;

  // Waits until every accepted record is reported (invoking callbacks) or
  // `deadline` passes: OK when none is outstanding, else DeadlineExceeded
  // naming how many are.
  virtual absl::Status Flush(absl::Time deadline) = 0;

  // Records accepted and not yet reported through the callback.
  virtual int64_t in_flight() const = 0;

  // OK while usable; the terminal error otherwise.
  virtual absl::Status fatal_error() const = 0;
};

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_EVENT_SINK_H_
