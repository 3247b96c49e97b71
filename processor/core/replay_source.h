// ReplaySource: the RecordSource of `enrich-processor replay`. Passes
// records through from the real source and tracks, per partition, how far
// they were consumed, so the loop can close the batch in hand as soon as
// every partition was consumed up to the end it had when the replay started
// (ProcessorLoopOptions::batch_complete) instead of waiting out a batch
// window for records that will not come. Pure: no librdkafka.
//
//   ReplaySource replay(kafka_source.get(), start_positions, end_offsets);
//   loop_options.batch_complete = [&](const AffectedConversations&) {
//     return replay.ConsumedToEnd();
//   };
//   ProcessorLoop loop(&replay, ...);
//
// Not thread-safe (like every RecordSource); `inner` must outlive it.
#ifndef ENRICH_PROCESSOR_CORE_REPLAY_SOURCE_H_
#define ENRICH_PROCESSOR_CORE_REPLAY_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "processor/core/loop_seams.h"

namespace enrich::processor {

class ReplaySource : public RecordSource {
 public:
  // `starts`: the next offset each partition starts at (negative: its
  // beginning, counted as 0); `ends`: the offset each partition must be
  // consumed up to (exclusive). Partitions not in `ends` are not waited for.
  ReplaySource(RecordSource* inner, const std::vector<PartitionOffset>& starts,
               const std::vector<PartitionOffset>& ends);
  ReplaySource(const ReplaySource&) = delete;
  ReplaySource& operator=(const ReplaySource&) = delete;

  absl::StatusOr<std::optional<ConsumedRecord>> Poll(
      absl::Duration timeout) override;
  uint64_t assignment_generation() const override;
  void Committed(const std::vector<PartitionOffset>& offsets) override;

  // True once every partition of `ends` was consumed (polled, not
  // necessarily committed) up to its end.
  bool ConsumedToEnd() const { return partitions_short_of_end_ == 0; }

  // Records not consumed yet below the ends, over every partition (for
  // progress).
  int64_t RecordsShortOfEnd() const;

 private:
  struct Position {
    int64_t consumed = 0;  // next offset after the last polled record
    int64_t end = 0;
  };
  RecordSource* inner_;
  absl::btree_map<std::pair<std::string, int32_t>, Position> positions_;
  size_t partitions_short_of_end_ = 0;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_REPLAY_SOURCE_H_
