// Retrying a database transaction with exponential backoff. A database error
// is never skipped: a retriable one (IsRetriable) is retried until it
// succeeds or the caller asks to stop; any other returns at once.
//
//   RetryPolicy policy;  // 100 ms doubling to 10 s
//   absl::Status s = RetryWithBackoff(
//       [&] { return writer->Apply(batch.plan, batch.offsets).status(); },
//       policy,
//       /*sleep=*/[](absl::Duration d) { absl::SleepFor(d); },
//       /*stop_requested=*/[&] { return stopping.load(); },
//       /*on_retry=*/[&](const absl::Status& e, absl::Duration d) { log... });
//
// Returns the attempt's status when it is OK or not retriable; the last
// retriable error when stop_requested() turned true or max_attempts ran out.
#ifndef ENRICH_PROCESSOR_CORE_RETRY_H_
#define ENRICH_PROCESSOR_CORE_RETRY_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace enrich::processor {

struct RetryPolicy {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
  double multiplier = 2.0;
  // 0: unbounded (the processor's default: a database error is never
  // skipped, only waited out).
  int max_attempts = 0;
};

absl::Status RetryWithBackoff(
    const std::function<absl::Status()>& attempt, const RetryPolicy& policy,
    const std::function<void(absl::Duration)>& sleep,
    const std::function<bool()>& stop_requested,
    const std::function<void(const absl::Status&, absl::Duration)>& on_retry);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_RETRY_H_
