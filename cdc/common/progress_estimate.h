// Rate and time left of a long walk (enrich-cdc's snapshot rows, the
// processor's `reconcile` ids and `replay` records), from the work done so
// far and the time it took. Pure.
//
//   ProgressEstimate p = EstimateProgress(done, total, now - start);
//   log.Info("progress", {{"rate_per_s", absl::StrFormat("%.0f",
//                                                        p.ids_per_second)}});
#ifndef ENRICH_CDC_COMMON_PROGRESS_ESTIMATE_H_
#define ENRICH_CDC_COMMON_PROGRESS_ESTIMATE_H_

#include <cstdint>

#include "absl/time/time.h"

namespace enrich {

struct ProgressEstimate {
  // Units done per second (rows, ids or records); zero before any progress
  // or when no time has passed.
  double ids_per_second = 0;
  // Remaining time at the current rate; zero when done or unknown (no
  // progress yet, or the total estimate already passed).
  absl::Duration eta = absl::ZeroDuration();
};

// `total_estimate` is the expected number of units (e.g. the planner's row
// estimate); it may be wrong in either direction.
ProgressEstimate EstimateProgress(int64_t ids_done, int64_t total_estimate,
                                  absl::Duration elapsed);

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_PROGRESS_ESTIMATE_H_
