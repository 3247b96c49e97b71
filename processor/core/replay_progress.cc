#include "processor/core/replay_progress.h"

#include <algorithm>

namespace enrich::processor {

int64_t RecordsRemaining(const std::vector<PartitionOffset>& ends,
                         const std::vector<PartitionOffset>& positions) {
  int64_t left = 0;
  for (const PartitionOffset& end : ends) {
    for (const PartitionOffset& at : positions) {
      if (at.topic == end.topic && at.partition == end.partition) {
        left += std::max<int64_t>(
            0, end.next_offset - std::max<int64_t>(0, at.next_offset));
      }
    }
  }
  return left;
}

ReplayProgress ReplayProgressAt(int64_t total, int64_t short_of_end,
                                int64_t applied, absl::Duration elapsed) {
  ReplayProgress out;
  out.consumed = total - short_of_end;
  out.applied = applied;
  out.remaining = short_of_end;
  out.estimate = EstimateProgress(out.consumed, total, elapsed);
  return out;
}

}  // namespace enrich::processor
