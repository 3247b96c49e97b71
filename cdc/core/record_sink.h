// RecordSink is the seam between the pure core and Kafka: the core decides
// what to publish and in which order; the sink picks partitions and produces
// asynchronously. Delivery reports do not come back through this interface:
// the adapter hands them to the AckTracker on the replication loop's thread.
#ifndef ENRICH_CDC_CORE_RECORD_SINK_H_
#define ENRICH_CDC_CORE_RECORD_SINK_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/kafka/event_sink.h"

namespace enrich::cdc {

// The record type is the Kafka seam's (cdc/kafka/event_sink.h: plain C++,
// no librdkafka); sequence_number is the AckTracker's.
using kafka::OutgoingRecord;

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // The partition for `routing_value` on `topic` (stable hash).
  virtual int32_t PartitionFor(absl::string_view topic,
                               absl::string_view routing_value) = 0;
  virtual int32_t PartitionCount(absl::string_view topic) = 0;
  // Queues a record (its views need to live only during the call). Blocks
  // (while polling for deliveries) when the producer's queue is full. An error
  // is terminal for the process.
  virtual absl::Status Produce(OutgoingRecord record) = 0;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_RECORD_SINK_H_
