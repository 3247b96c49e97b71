#include "processor/core/consumed_batch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "change_event.pb.h"

namespace enrich::processor {

ConsumedBatchBuilder::ConsumedBatchBuilder(std::string schema)
    : planner_(std::move(schema)) {}

void ConsumedBatchBuilder::Add(const ConsumedRecord& record) {
  ++records_;
  int64_t& next = next_offsets_[{record.topic, record.partition}];
  next = std::max(next, record.offset + 1);
  if (!record.value) {
    ++tombstones_;
    return;
  }
  // Parsed on an arena whose first block is the builder's own buffer: an
  // event's columns and strings are bump-allocated there and dropped at
  // once, instead of a malloc and a free each (a replay parses millions).
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = arena_block_.data();
  arena_options.initial_block_size = arena_block_.size();
  google::protobuf::Arena arena(arena_options);
  enrich::v1::ChangeEvent& event =
      *google::protobuf::Arena::CreateMessage<enrich::v1::ChangeEvent>(&arena);
  if (!event.ParseFromString(*record.value)) {
    dead_letters_.push_back(
        {record, absl::StrCat("not a serialized enrich.v1.ChangeEvent (",
                              record.value->size(), " bytes)")});
    return;
  }
  absl::Status planned = planner_.Add(event);
  if (!planned.ok()) {
    dead_letters_.push_back({record, std::string(planned.message())});
    return;
  }
  if (commit_times_.empty() ||
      commit_times_.back().commit_time_us != event.commit_time_us()) {
    commit_times_.push_back({event.commit_time_us(), 0});
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
