// What `enrich-processor reconcile` found and repaired, and its pacing
// arithmetic (its progress estimate is cdc/common/progress_estimate.h,
// shared with replay and enrich-cdc's snapshot). Pure: no libpq.
//
//   ReconcileReport report;
//   report.Add(RowDifference::kMissing, "3f2a...");   // per differing id
//   absl::Duration wait = PaceDelay(report.ids_checked, elapsed, pacing);
//   ProgressEstimate p = EstimateProgress(report.ids_checked, total, elapsed);
//
// Not thread-safe; plain values.
#ifndef ENRICH_PROCESSOR_CORE_RECONCILE_REPORT_H_
#define ENRICH_PROCESSOR_CORE_RECONCILE_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdc/common/progress_estimate.h"

namespace enrich::processor {

// How an enriched row differs from the reference computation.
enum class RowDifference {
  kMissing,    // the conversation exists, the enriched row does not
  kExtra,      // the enriched row exists, the conversation does not
  kDifferent,  // both exist and differ in at least one of the 33 columns
};

// "missing", "extra", "different"; InvalidArgument-free: unknown text maps
// to nothing (ParseRowDifference returns false).
absl::string_view RowDifferenceName(RowDifference kind);
bool ParseRowDifference(absl::string_view text, RowDifference* kind);

struct ReconcileReport {
  // At most this many ids per kind are kept as a sample.
  static constexpr size_t kSampleSize = 10;

  int64_t chunks = 0;
  int64_t ids_checked = 0;
  int64_t missing = 0;
  int64_t extra = 0;
  int64_t different = 0;
  // Rows the writer inserted, updated or deleted while repairing (can be
  // lower than differences() when `run` fixed a row first, 0 on a dry run).
  int64_t rows_repaired = 0;
  std::vector<std::string> sample_missing;
  std::vector<std::string> sample_extra;
  std::vector<std::string> sample_different;

  void Add(RowDifference kind, const std::string& id);
  int64_t differences() const { return missing + extra + different; }
};

// Pacing of the chunks. Zero values mean "no limit".
struct ReconcilePacing {
  int64_t max_ids_per_second = 0;
  absl::Duration chunk_pause = absl::ZeroDuration();
};

// How long to wait after a chunk: chunk_pause, and at least long enough that
// ids_done over the whole elapsed time stays within max_ids_per_second.
absl::Duration PaceDelay(int64_t ids_done, absl::Duration elapsed,
                         const ReconcilePacing& pacing);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_RECONCILE_REPORT_H_
