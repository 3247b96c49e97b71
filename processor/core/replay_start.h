// Where `enrich-processor replay` starts: the parsing and validation of
// --from-beginning / --from-timestamp / --from-offsets, and the partitions
// it reads. Pure: the caller hands in the topics' partition counts (asked
// of the brokers) and logs the errors.
//
//   ReplayStartFlags flags{from_beginning, from_timestamp, from_offsets};
//   if (ReplayModesGiven(flags) != 1) { /* usage error */ }
//   ASSIGN_OR_RETURN(absl::Time t, ParseReplayTimestamp(flags.from_timestamp));
//   ASSIGN_OR_RETURN(auto offsets, ParseReplayOffsets(flags.from_offsets));
//   if (auto topic = FirstMissingTopic(topics, counts)) { /* not created */ }
//   std::vector<PartitionOffset> read = ReplayPartitions(topics, counts,
//                                                        offsets);
#ifndef ENRICH_PROCESSOR_CORE_REPLAY_START_H_
#define ENRICH_PROCESSOR_CORE_REPLAY_START_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "processor/core/consumed_batch.h"

namespace enrich::processor {

// The three ways to choose a replay's start, as given (empty: not given).
struct ReplayStartFlags {
  bool from_beginning = false;
  std::string from_timestamp;  // RFC 3339
  std::string from_offsets;    // topic:partition:offset,...
};

// How many of the three ways were given; a replay needs exactly one.
int ReplayModesGiven(const ReplayStartFlags& flags);

// --from-timestamp: an RFC 3339 time ("2024-05-01T12:00:00Z",
// fractional seconds and offsets allowed). InvalidArgument otherwise, its
// message being the time parser's error alone.
absl::StatusOr<absl::Time> ParseReplayTimestamp(absl::string_view text);

// --from-offsets: "topic:partition:offset,..." (empty items skipped).
// InvalidArgument naming the first malformed item (a part missing or extra,
// a partition or offset that is not a number, a negative offset), or when
// no item is given. A partition named twice starts at the last offset given
// for it; the result names each partition once, in order of first mention.
absl::StatusOr<std::vector<PartitionOffset>> ParseReplayOffsets(
    absl::string_view text);

// The first of `topics` (in order) that `partition_counts` lacks, i.e. that
// does not exist in the cluster; nullopt when all exist.
std::optional<std::string> FirstMissingTopic(
    const std::vector<std::string>& topics,
    const absl::flat_hash_map<std::string, int32_t>& partition_counts);

// The partitions a replay reads, each at kOffsetBeginning (the start is
// resolved on assignment: ResolveStartOffsets, or the start time), topic by
// topic in order of `topics`, partitions ascending: every partition of every
// topic, or only those `from_offsets` names when it is non-empty (names of
// other topics or partitions beyond a topic's count are ignored, so the
// result may be empty: a usage error for the caller). Topics missing from
// `partition_counts` contribute nothing.
std::vector<PartitionOffset> ReplayPartitions(
    const std::vector<std::string>& topics,
    const absl::flat_hash_map<std::string, int32_t>& partition_counts,
    const std::vector<PartitionOffset>& from_offsets);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_REPLAY_START_H_
