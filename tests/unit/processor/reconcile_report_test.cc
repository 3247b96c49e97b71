#include "processor/core/reconcile_report.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;

TEST(ReconcileReportTest, CountsEveryDifferenceAndKeepsASample) {
  ReconcileReport report;
  for (int i = 0; i < 25; ++i) {
    report.Add(RowDifference::kDifferent, std::to_string(i));
  }
  report.Add(RowDifference::kMissing, "m");
  report.Add(RowDifference::kExtra, "e");
  EXPECT_EQ(report.different, 25);
  EXPECT_EQ(report.missing, 1);
  EXPECT_EQ(report.extra, 1);
  EXPECT_EQ(report.differences(), 27);
  EXPECT_EQ(report.sample_different.size(), ReconcileReport::kSampleSize);
  EXPECT_EQ(report.sample_different.front(), "0");
  EXPECT_THAT(report.sample_missing, ElementsAre("m"));
  EXPECT_THAT(report.sample_extra, ElementsAre("e"));
}

TEST(ReconcileReportTest, DifferenceNamesRoundTrip) {
  for (RowDifference k : {RowDifference::kMissing, RowDifference::kExtra,
                          RowDifference::kDifferent}) {
    RowDifference parsed;
    ASSERT_TRUE(ParseRowDifference(RowDifferenceName(k), &parsed));
    EXPECT_EQ(parsed, k);
  }
  RowDifference parsed;
  EXPECT_FALSE(ParseRowDifference("same", &parsed));
}

TEST(PaceDelayTest, UnlimitedDoesNotWait) {
  EXPECT_EQ(PaceDelay(1000000, absl::Seconds(1), {}), absl::ZeroDuration());
}

TEST(PaceDelayTest, ChunkPauseIsAFloor) {
  ReconcilePacing pacing;
  pacing.chunk_pause = absl::Milliseconds(50);
  EXPECT_EQ(PaceDelay(10, absl::Seconds(100), pacing), absl::Milliseconds(50));
}

TEST(PaceDelayTest, RateLimitWaitsUntilTheAverageIsWithinTheLimit) {
  ReconcilePacing pacing;
  pacing.max_ids_per_second = 1000;
  // 3000 ids are due at 3 s; 1 s has passed.
  EXPECT_EQ(PaceDelay(3000, absl::Seconds(1), pacing), absl::Seconds(2));
  // Already slower than the limit: no wait.
  EXPECT_EQ(PaceDelay(3000, absl::Seconds(5), pacing), absl::ZeroDuration());
  pacing.chunk_pause = absl::Seconds(3);
  EXPECT_EQ(PaceDelay(3000, absl::Seconds(1), pacing), absl::Seconds(3));
}

TEST(EstimateProgressTest, RateAndEta) {
  ProgressEstimate p = EstimateProgress(1000, 5000, absl::Seconds(2));
  EXPECT_DOUBLE_EQ(p.ids_per_second, 500);
  EXPECT_EQ(p.eta, absl::Seconds(8));
  // Past a low estimate, or before any progress: no ETA.
  EXPECT_EQ(EstimateProgress(6000, 5000, absl::Seconds(2)).eta,
            absl::ZeroDuration());
  EXPECT_EQ(EstimateProgress(0, 5000, absl::Seconds(2)).ids_per_second, 0);
}

}  // namespace
}  // namespace enrich::processor
