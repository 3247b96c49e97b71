#include "processor/core/replay_progress.h"

#include <vector>

#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

TEST(RecordsRemainingTest, SumsEndMinusPositionOverMatchingPartitions) {
  const std::vector<PartitionOffset> ends = {
      {"a", 0, 100}, {"a", 1, 50}, {"b", 0, 10}};
  EXPECT_EQ(RecordsRemaining(ends, {{"a", 0, 40}, {"a", 1, 50}, {"b", 0, 3}}),
            60 + 0 + 7);
}

TEST(RecordsRemainingTest, BeginningCountsAsZeroAndPastTheEndAsNothing) {
  const std::vector<PartitionOffset> ends = {{"a", 0, 100}, {"a", 1, 50}};
  EXPECT_EQ(RecordsRemaining(ends, {{"a", 0, kOffsetBeginning}, {"a", 1, 70}}),
            100);
}

TEST(RecordsRemainingTest, PartitionsInOnlyOneListCountNothing) {
  EXPECT_EQ(RecordsRemaining({{"a", 0, 100}}, {{"a", 1, 0}, {"b", 0, 0}}), 0);
  EXPECT_EQ(RecordsRemaining({}, {{"a", 0, 0}}), 0);
}

TEST(ReplayProgressAtTest, CountsRateAndEta) {
  const ReplayProgress p = ReplayProgressAt(/*total=*/10000,
                                            /*short_of_end=*/6000,
                                            /*applied=*/3000, absl::Seconds(4));
  EXPECT_EQ(p.consumed, 4000);
  EXPECT_EQ(p.applied, 3000);
  EXPECT_EQ(p.remaining, 6000);
  EXPECT_DOUBLE_EQ(p.estimate.ids_per_second, 1000);
  EXPECT_EQ(p.estimate.eta, absl::Seconds(6));
}

TEST(ReplayProgressAtTest, NothingConsumedYetHasNoRateNorEta) {
  const ReplayProgress p = ReplayProgressAt(500, 500, 0, absl::Seconds(3));
  EXPECT_EQ(p.consumed, 0);
  EXPECT_EQ(p.remaining, 500);
  EXPECT_EQ(p.estimate.ids_per_second, 0);
  EXPECT_EQ(p.estimate.eta, absl::ZeroDuration());
}

TEST(ReplayProgressAtTest, EverythingConsumedHasNoEta) {
  const ReplayProgress p = ReplayProgressAt(500, 0, 200, absl::Seconds(2));
  EXPECT_EQ(p.consumed, 500);
  EXPECT_EQ(p.remaining, 0);
  EXPECT_DOUBLE_EQ(p.estimate.ids_per_second, 250);
  EXPECT_EQ(p.estimate.eta, absl::ZeroDuration());
}

}  // namespace
}  // namespace enrich::processor
