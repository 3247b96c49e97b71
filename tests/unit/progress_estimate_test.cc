// The rate and time left that enrich-cdc's snapshot and the processor's
// reconcile and replay report.
#include "cdc/common/progress_estimate.h"

#include "gtest/gtest.h"

namespace enrich {
namespace {

TEST(ProgressEstimateTest, RateIsDoneOverElapsedAndEtaTheRestAtThatRate) {
  const ProgressEstimate p = EstimateProgress(300, 1200, absl::Seconds(3));
  EXPECT_DOUBLE_EQ(p.ids_per_second, 100);
  EXPECT_EQ(p.eta, absl::Seconds(9));
}

TEST(ProgressEstimateTest, NoRateBeforeProgressOrTime) {
  EXPECT_EQ(EstimateProgress(0, 1200, absl::Seconds(3)).ids_per_second, 0);
  EXPECT_EQ(EstimateProgress(0, 1200, absl::Seconds(3)).eta,
            absl::ZeroDuration());
  EXPECT_EQ(EstimateProgress(300, 1200, absl::ZeroDuration()).ids_per_second,
            0);
  EXPECT_EQ(EstimateProgress(300, 1200, absl::ZeroDuration()).eta,
            absl::ZeroDuration());
}

TEST(ProgressEstimateTest, NoEtaOnceTheEstimateIsReachedOrPassed) {
  // A planner's estimate can be low: past it, the rate stays, the ETA is 0.
  const ProgressEstimate at = EstimateProgress(1200, 1200, absl::Seconds(4));
  EXPECT_DOUBLE_EQ(at.ids_per_second, 300);
  EXPECT_EQ(at.eta, absl::ZeroDuration());
  const ProgressEstimate past = EstimateProgress(1500, 1200, absl::Seconds(5));
  EXPECT_DOUBLE_EQ(past.ids_per_second, 300);
  EXPECT_EQ(past.eta, absl::ZeroDuration());
}

}  // namespace
}  // namespace enrich
