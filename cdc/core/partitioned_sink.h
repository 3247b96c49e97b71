// PartitionedSink is the RecordSink the publisher writes to: it picks each
// record's partition with Kafka's murmur2 over the routing value (so another
// Kafka client routing the same value agrees) and hands the record to a
// kafka::EventSink. Partition counts are registered per topic at start-up.
// Not thread-safe.
#ifndef ENRICH_CDC_CORE_PARTITIONED_SINK_H_
#define ENRICH_CDC_CORE_PARTITIONED_SINK_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "cdc/core/record_sink.h"
#include "cdc/kafka/event_sink.h"

namespace enrich::cdc {

class PartitionedSink : public RecordSink {
 public:
  // `sink` must outlive this object.
  explicit PartitionedSink(kafka::EventSink* sink) : sink_(sink) {}

  void SetPartitionCount(const std::string& topic, int32_t partitions) {
    partitions_[topic] = partitions;
    last_topic_.clear();
  }

  int32_t PartitionFor(absl::string_view topic,
                       absl::string_view routing_value) override;
  int32_t PartitionCount(absl::string_view topic) override;
  absl::Status Produce(OutgoingRecord record) override;

 private:
  kafka::EventSink* sink_;
  absl::flat_hash_map<std::string, int32_t> partitions_;
  // The topic looked up last and its count: consecutive records are mostly
  // for one topic, and comparing beats hashing the name for every record.
  std::string last_topic_;
  int32_t last_partitions_ = 1;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_PARTITIONED_SINK_H_
