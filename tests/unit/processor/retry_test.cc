#include "processor/core/retry.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;

// A database that fails the first `failures` transactions with `error`.
struct FailingDatabase {
  int failures;
  absl::Status error;
  int calls = 0;
  absl::Status Apply() {
    ++calls;
    return calls <= failures ? error : absl::OkStatus();
  }
};

TEST(RetryWithBackoffTest, RetriesSerializationFailuresWithGrowingBackoff) {
  FailingDatabase db{4, absl::AbortedError("could not serialize access")};
  std::vector<absl::Duration> slept;
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Milliseconds(500);
  int retries_reported = 0;
  absl::Status status =
      RetryWithBackoff([&] { return db.Apply(); }, policy,
                       [&](absl::Duration d) { slept.push_back(d); }, nullptr,
                       [&](const absl::Status& e, absl::Duration) {
                         EXPECT_EQ(e.code(), absl::StatusCode::kAborted);
                         ++retries_reported;
                       });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(db.calls, 5);
  EXPECT_EQ(retries_reported, 4);
  EXPECT_THAT(slept,
              ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                          absl::Milliseconds(400), absl::Milliseconds(500)));
}

TEST(RetryWithBackoffTest, PermanentErrorReturnsAtOnce) {
  FailingDatabase db{100, absl::PermissionDeniedError("permission denied")};
  int sleeps = 0;
  absl::Status status =
      RetryWithBackoff([&] { return db.Apply(); }, RetryPolicy(),
                       [&](absl::Duration) { ++sleeps; }, nullptr, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(db.calls, 1);
  EXPECT_EQ(sleeps, 0);
}

TEST(RetryWithBackoffTest, StopRequestEndsRetryingWithTheLastError) {
  FailingDatabase db{100, absl::UnavailableError("server closed connection")};
  bool stop = false;
  absl::Status status =
      RetryWithBackoff([&] { return db.Apply(); }, RetryPolicy(),
                       [&](absl::Duration) { stop = db.calls >= 3; },
                       [&] { return stop; }, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(db.calls, 4);
}

TEST(RetryWithBackoffTest, MaxAttemptsBoundsTheRetries) {
  FailingDatabase db{100, absl::AbortedError("deadlock detected")};
  RetryPolicy policy;
  policy.max_attempts = 3;
  absl::Status status =
      RetryWithBackoff([&] { return db.Apply(); }, policy,
                       [](absl::Duration) {}, nullptr, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(db.calls, 3);
}

}  // namespace
}  // namespace enrich::processor
