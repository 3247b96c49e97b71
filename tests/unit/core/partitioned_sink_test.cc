#include "cdc/core/partitioned_sink.h"

#include "cdc/kafka/partitioner.h"
#include "gtest/gtest.h"

namespace enrich::cdc {
namespace {

TEST(PartitionedSinkTest, CountsFollowTheTopicAcrossAlternatingLookups) {
  PartitionedSink sink(/*sink=*/nullptr);  // Produce() is not called
  sink.SetPartitionCount("a", 6);
  sink.SetPartitionCount("b", 3);
  // Alternating topics exercise the last-topic shortcut both ways.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sink.PartitionCount("a"), 6);
    EXPECT_EQ(sink.PartitionCount("a"), 6);
    EXPECT_EQ(sink.PartitionCount("b"), 3);
    EXPECT_EQ(sink.PartitionCount("unknown"), 1);
  }
  EXPECT_EQ(sink.PartitionCount("b"), 3);
  EXPECT_EQ(sink.PartitionCount(""), 1);
  // A count changed after lookups is what the next lookup sees.
  sink.SetPartitionCount("b", 12);
  EXPECT_EQ(sink.PartitionCount("b"), 12);
}

TEST(PartitionedSinkTest, PartitionIsKafkasMurmur2OverTheRoutingValue) {
  PartitionedSink sink(/*sink=*/nullptr);
  sink.SetPartitionCount("a", 6);
  sink.SetPartitionCount("b", 7);
  for (const char* value : {"conv-1", "conv-2", "", "a much longer value"}) {
    EXPECT_EQ(sink.PartitionFor("a", value), *kafka::PartitionFor(value, 6));
    EXPECT_EQ(sink.PartitionFor("b", value), *kafka::PartitionFor(value, 7));
  }
}

}  // namespace
}  // namespace enrich::cdc
