#include "cdc/core/partitioned_sink.h"

#include "cdc/kafka/partitioner.h"

namespace enrich::cdc {

int32_t PartitionedSink::PartitionCount(absl::string_view topic) {
  auto it = partitions_.find(topic);
  return it == partitions_.end() ? 1 : it->second;
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
