#include "cdc/core/partitioned_sink.h"

#include "cdc/kafka/partitioner.h"

namespace enrich::cdc {

int32_t PartitionedSink::PartitionCount(absl::string_view topic) {
  if (!last_topic_.empty() && topic == last_topic_) return last_partitions_;
  auto it = partitions_.find(topic);
  if (it == partitions_.end()) return 1;
  last_topic_.assign(topic.data(), topic.size());
  last_partitions_ = it->second;
  return last_partitions_;
}

int32_t PartitionedSink::PartitionFor(absl::string_view topic,
                                      absl::string_view routing_value) {
  absl::StatusOr<int32_t> partition =
      kafka::PartitionFor(routing_value, PartitionCount(topic));
  return partition.ok() ? *partition : 0;
}

absl::Status PartitionedSink::Produce(OutgoingRecord record) {
  return sink_->Produce(record);
}

}  // namespace enrich::cdc
