#include "processor/core/database_errors.h"

#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

TEST(StatusCodeForSqlStateTest, TransactionConflictsRetryTheTransaction) {
  EXPECT_EQ(StatusCodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("55P03"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("57014"), absl::StatusCode::kAborted);
}

TEST(StatusCodeForSqlStateTest, ConnectionTroubleReconnects) {
  EXPECT_EQ(StatusCodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("08000"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("53300"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("25006"), absl::StatusCode::kUnavailable);
}

TEST(StatusCodeForSqlStateTest, PermanentErrorsStop) {
  EXPECT_EQ(StatusCodeForSqlState("42501"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForSqlState("28P01"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForSqlState("42P01"),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForSqlState("42703"),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForSqlState("23505"), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState("22P02"), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState(""), absl::StatusCode::kInternal);
}

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
