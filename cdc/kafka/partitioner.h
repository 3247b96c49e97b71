// Partition selection that matches Kafka's default partitioner for keyed
// records: murmur2 (seed 0x9747b28c, the Java client's Utils.murmur2) of the
// routing value's bytes, made non-negative with `& 0x7fffffff`, modulo the
// partition count. Stable across processes, versions and languages, so a
// Java or librdkafka ("murmur2_random") producer with the same routing value
// as key picks the same partition.
//
// The pipeline routes by a value of its choice (by default the conversation
// id), not necessarily the record key, so one conversation's events share a
// partition and keep their commit order. Pure functions, thread-safe.
#ifndef ENRICH_CDC_KAFKA_PARTITIONER_H_
#define ENRICH_CDC_KAFKA_PARTITIONER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::kafka {

// Kafka's murmur2 over `bytes` (as a signed 32-bit value, like Java's).
int32_t KafkaMurmur2(absl::string_view bytes);

// (KafkaMurmur2(routing_value) & 0x7fffffff) % partition_count.
// InvalidArgument when partition_count < 1.
absl::StatusOr<int32_t> PartitionFor(absl::string_view routing_value,
                                     int32_t partition_count);

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_PARTITIONER_H_
