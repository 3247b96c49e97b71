#include "processor/core/replay_source.h"

#include <algorithm>

namespace enrich::processor {

ReplaySource::ReplaySource(RecordSource* inner,
                           const std::vector<PartitionOffset>& starts,
                           const std::vector<PartitionOffset>& ends)
    : inner_(inner) {
  for (const PartitionOffset& e : ends) {
    positions_[{e.topic, e.partition}].end = e.next_offset;
  }
  for (const PartitionOffset& s : starts) {
    auto it = positions_.find({s.topic, s.partition});
    if (it != positions_.end()) {
      it->second.consumed = std::max<int64_t>(0, s.next_offset);
    }
  }
  for (const auto& [key, p] : positions_) {
    if (p.consumed < p.end) ++partitions_short_of_end_;
  }
}

absl::StatusOr<std::optional<ConsumedRecord>> ReplaySource::Poll(
    absl::Duration timeout) {
  absl::StatusOr<std::optional<ConsumedRecord>> polled = inner_->Poll(timeout);
  if (polled.ok() && polled->has_value()) {
    const ConsumedRecord& r = **polled;
    auto it = positions_.find({r.topic, r.partition});
    if (it != positions_.end()) {
      Position& p = it->second;
      const bool was_short = p.consumed < p.end;
      p.consumed = std::max(p.consumed, r.offset + 1);
      if (was_short && p.consumed >= p.end) --partitions_short_of_end_;
    }
  }
  return polled;
}

int64_t ReplaySource::RecordsShortOfEnd() const {
  int64_t short_of_end = 0;
  for (const auto& [key, p] : positions_) {
    short_of_end += std::max<int64_t>(0, p.end - p.consumed);
  }
  return short_of_end;
}

uint64_t ReplaySource::assignment_generation() const {
  return inner_->assignment_generation();
}

void ReplaySource::Committed(const std::vector<PartitionOffset>& offsets) {
  inner_->Committed(offsets);
}

}  // namespace enrich::processor
