#include "processor/core/reconcile_report.h"

#include <algorithm>

namespace enrich::processor {

absl::string_view RowDifferenceName(RowDifference kind) {
  switch (kind) {
    case RowDifference::kMissing:
      return "missing";
    case RowDifference::kExtra:
      return "extra";
    case RowDifference::kDifferent:
      return "different";
  }
  return "unknown";
}

bool ParseRowDifference(absl::string_view text, RowDifference* kind) {
  for (RowDifference k : {RowDifference::kMissing, RowDifference::kExtra,
                          RowDifference::kDifferent}) {
    if (text == RowDifferenceName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

void ReconcileReport::Add(RowDifference kind, const std::string& id) {
  int64_t* count = nullptr;
  std::vector<std::string>* sample = nullptr;
  switch (kind) {
    case RowDifference::kMissing:
      count = &missing;
      sample = &sample_missing;
      break;
    case RowDifference::kExtra:
      count = &extra;
      sample = &sample_extra;
      break;
    case RowDifference::kDifferent:
      count = &different;
      sample = &sample_different;
      break;
  }
  ++*count;
  if (sample->size() < kSampleSize) sample->push_back(id);
}

absl::Duration PaceDelay(int64_t ids_done, absl::Duration elapsed,
                         const ReconcilePacing& pacing) {
  absl::Duration wait = std::max(absl::ZeroDuration(), pacing.chunk_pause);
  if (pacing.max_ids_per_second > 0 && ids_done > 0) {
    // The earliest time at which ids_done ids are within the rate.
    const absl::Duration due =
        absl::Seconds(static_cast<double>(ids_done) /
                      static_cast<double>(pacing.max_ids_per_second));
    wait = std::max(wait, due - elapsed);
  }
  return wait;
}

}  // namespace enrich::processor
