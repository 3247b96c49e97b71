// PartitionFor() agrees with librdkafka's own Java-compatible murmur2
// partitioner (what a "murmur2_random" producer would pick for the same key).
#include <librdkafka/rdkafka.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cdc/kafka/partitioner.h"
#include "gtest/gtest.h"

namespace enrich::kafka {
namespace {

TEST(PartitionerLibrdkafkaTest, AgreesWithLibrdkafkaMurmur2Partitioner) {
  for (int32_t partitions : {1, 2, 3, 6, 7, 12, 64, 1000}) {
    for (int i = 0; i < 500; ++i) {
      std::string key = absl::StrCat("conversation-", i * 7919, "-",
                                     std::string(i % 11, 'x'));
      int32_t theirs = rd_kafka_msg_partitioner_murmur2(
          nullptr, key.data(), key.size(), partitions, nullptr, nullptr);
      EXPECT_EQ(PartitionFor(key, partitions).value(), theirs)
          << key << " over " << partitions;
    }
  }
}

}  // namespace
}  // namespace enrich::kafka
