#include "processor/core/retry.h"

#include <algorithm>

#include "processor/core/database_errors.h"

namespace enrich::processor {

absl::Status RetryWithBackoff(
    const std::function<absl::Status()>& attempt, const RetryPolicy& policy,
    const std::function<void(absl::Duration)>& sleep,
    const std::function<bool()>& stop_requested,
    const std::function<void(const absl::Status&, absl::Duration)>& on_retry) {
  absl::Duration backoff = policy.initial_backoff;
  for (int attempts = 1;; ++attempts) {
    absl::Status status = attempt();
    if (status.ok() || !IsRetriable(status)) return status;
    if (policy.max_attempts > 0 && attempts >= policy.max_attempts) {
      return status;
    }
    if (stop_requested && stop_requested()) return status;
    if (on_retry) on_retry(status, backoff);
    sleep(backoff);
    backoff = std::min(backoff * policy.multiplier, policy.max_backoff);
  }
}

}  // namespace enrich::processor
