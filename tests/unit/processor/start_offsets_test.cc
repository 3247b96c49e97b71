#include "processor/core/start_offsets.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;

TEST(ResolveStartOffsetsTest, StoredOffsetElseBeginning) {
  std::vector<PartitionOffset> assigned = {
      {"a", 0, 0}, {"a", 1, 0}, {"b", 0, 0}};
  ResolveStartOffsets({{"a", 1, 42}, {"b", 0, 7}}, &assigned);
  EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 0, kOffsetBeginning},
                                    PartitionOffset{"a", 1, 42},
                                    PartitionOffset{"b", 0, 7}));
}

TEST(ResolveStartOffsetsTest, OverwritesWhateverTheAssignmentHeld) {
  std::vector<PartitionOffset> assigned = {{"a", 0, 99}, {"a", 1, 5}};
  ResolveStartOffsets({{"a", 1, 3}}, &assigned);
  EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 0, kOffsetBeginning},
                                    PartitionOffset{"a", 1, 3}));
}

TEST(ResolveStartOffsetsTest, MatchesTopicAndPartitionTogether) {
  // Same partition number in another topic, same topic another partition:
  // neither is this partition's offset.
  std::vector<PartitionOffset> assigned = {{"a", 2, 0}};
  ResolveStartOffsets({{"b", 2, 10}, {"a", 3, 11}}, &assigned);
  EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 2, kOffsetBeginning}));
}

TEST(ResolveStartOffsetsTest, NeverBackwardsWhenAPartitionIsNamedTwice) {
  for (const std::vector<PartitionOffset>& known :
       {std::vector<PartitionOffset>{{"a", 0, 50}, {"a", 0, 20}},
        std::vector<PartitionOffset>{{"a", 0, 20}, {"a", 0, 50}}}) {
    std::vector<PartitionOffset> assigned = {{"a", 0, 0}};
    ResolveStartOffsets(known, &assigned);
    EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 0, 50}));
  }
}

TEST(ResolveStartOffsetsTest, StoredZeroIsNotTheBeginning) {
  // Offset 0 is a real position (the first record of a never-compacted
  // partition), distinct from "nothing stored".
  std::vector<PartitionOffset> assigned = {{"a", 0, 0}};
  ResolveStartOffsets({{"a", 0, 0}}, &assigned);
  EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 0, 0}));
}

TEST(ResolveStartOffsetsTest, NothingAssignedNothingKnown) {
  std::vector<PartitionOffset> assigned;
  ResolveStartOffsets({{"a", 0, 5}}, &assigned);
  EXPECT_TRUE(assigned.empty());
  assigned = {{"a", 0, 9}};
  ResolveStartOffsets({}, &assigned);
  EXPECT_THAT(assigned, ElementsAre(PartitionOffset{"a", 0, kOffsetBeginning}));
}

}  // namespace
}  // namespace enrich::processor
