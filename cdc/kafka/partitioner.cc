#include "cdc/kafka/partitioner.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace enrich::kafka {

int32_t KafkaMurmur2(absl::string_view bytes) {
  // A transcription of org.apache.kafka.common.utils.Utils.murmur2, in
  // unsigned arithmetic (Java's int overflow wraps the same way) and with
  // Java's >>> as an unsigned shift. Java masks every byte with 0xff, so
  // reading unsigned bytes (little-endian words) is the same.
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = bytes.size();
  const unsigned char* data =
      reinterpret_cast<const unsigned char*>(bytes.data());
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  const size_t length4 = length / 4;
  for (size_t i = 0; i < length4; ++i) {
    const size_t i4 = i * 4;
    uint32_t k = static_cast<uint32_t>(data[i4]) |
                 (static_cast<uint32_t>(data[i4 + 1]) << 8) |
                 (static_cast<uint32_t>(data[i4 + 2]) << 16) |
                 (static_cast<uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(data[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

absl::StatusOr<int32_t> PartitionFor(absl::string_view routing_value,
                                     int32_t partition_count) {
  if (partition_count < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition count must be at least 1, got ", partition_count));
  }
  uint32_t positive =
      static_cast<uint32_t>(KafkaMurmur2(routing_value)) & 0x7fffffffu;
  return static_cast<int32_t>(positive %
                              static_cast<uint32_t>(partition_count));
}

}  // namespace enrich::kafka
