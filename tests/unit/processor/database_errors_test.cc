#include "processor/core/database_errors.h"

#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

TEST(IsRetriableTest, OnlyAbortedAndUnavailable) {
  EXPECT_TRUE(IsRetriable(absl::AbortedError("x")));
  EXPECT_TRUE(IsRetriable(absl::UnavailableError("x")));
  EXPECT_FALSE(IsRetriable(absl::OkStatus()));
  EXPECT_FALSE(IsRetriable(absl::PermissionDeniedError("x")));
  EXPECT_FALSE(IsRetriable(absl::FailedPreconditionError("x")));
  EXPECT_FALSE(IsRetriable(absl::InternalError("x")));
}

}  // namespace
}  // namespace enrich::processor
