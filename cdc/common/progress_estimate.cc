#include "cdc/common/progress_estimate.h"

namespace enrich {

ProgressEstimate EstimateProgress(int64_t ids_done, int64_t total_estimate,
                                  absl::Duration elapsed) {
  ProgressEstimate out;
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds <= 0 || ids_done <= 0) return out;
  out.ids_per_second = static_cast<double>(ids_done) / seconds;
  const int64_t left = total_estimate - ids_done;
  if (left > 0) {
    out.eta = absl::Seconds(static_cast<double>(left) / out.ids_per_second);
  }
  return out;
}

}  // namespace enrich
