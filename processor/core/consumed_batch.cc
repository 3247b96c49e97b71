#include "processor/core/consumed_batch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace enrich::processor {

ConsumedBatchBuilder::ConsumedBatchBuilder(ViewRoutes routes)
    : planner_(std::move(routes)) {}

void ConsumedBatchBuilder::Add(const ConsumedRecord& record) {
  ++records_;
  int64_t& next = next_offsets_[{record.topic, record.partition}];
  next = std::max(next, record.offset + 1);
  if (!record.value) {
    ++tombstones_;
    return;
  }
  absl::Status parsed = event_.Parse(*record.value);
  if (!parsed.ok()) {
    dead_letters_.push_back(
        {record,
         absl::StrCat("not a serialized enrich.v1.ChangeEvent (",
                      record.value->size(), " bytes): ", parsed.message())});
    return;
  }
  absl::Status planned = planner_.Add(event_);
  if (!planned.ok()) {
    dead_letters_.push_back({record, std::string(planned.message())});
    return;
  }
  if (commit_times_.empty() ||
      commit_times_.back().commit_time_us != event_.commit_time_us()) {
    commit_times_.push_back({event_.commit_time_us(), 0});
  }
  ++commit_times_.back().events;
}

ConsumedBatch ConsumedBatchBuilder::Take() {
  ConsumedBatch batch;
  batch.plan = planner_.Take();
  for (const auto& [partition, next] : next_offsets_) {
    batch.offsets.push_back({partition.first, partition.second, next});
  }
  batch.dead_letters = std::move(dead_letters_);
  batch.commit_times = std::move(commit_times_);
  batch.records = records_;
  batch.tombstones = tombstones_;
  next_offsets_.clear();
  dead_letters_.clear();
  commit_times_.clear();
  records_ = 0;
  tombstones_ = 0;
  return batch;
}

}  // namespace enrich::processor
