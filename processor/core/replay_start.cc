#include "processor/core/replay_start.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace enrich::processor {
namespace {

bool Names(const std::vector<PartitionOffset>& offsets,
           const std::string& topic, int32_t partition) {
  return std::any_of(offsets.begin(), offsets.end(),
                     [&](const PartitionOffset& o) {
                       return o.topic == topic && o.partition == partition;
                     });
}

}  // namespace

int ReplayModesGiven(const ReplayStartFlags& flags) {
  return (flags.from_beginning ? 1 : 0) +
         (flags.from_timestamp.empty() ? 0 : 1) +
         (flags.from_offsets.empty() ? 0 : 1);
}

absl::StatusOr<absl::Time> ParseReplayTimestamp(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return t;
}

absl::StatusOr<std::vector<PartitionOffset>> ParseReplayOffsets(
    absl::string_view text) {
  std::vector<PartitionOffset> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    int32_t partition = 0;
    int64_t offset = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &partition) ||
        !absl::SimpleAtoi(parts[2], &offset) || offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--from-offsets: '", item, "' is not topic:partition:offset"));
    }
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& o) {
      return o.topic == parts[0] && o.partition == partition;
    });
    if (same != out.end()) {
      same->next_offset = offset;
    } else {
      out.push_back({std::move(parts[0]), partition, offset});
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("--from-offsets: no offsets given");
  }
  return out;
}

std::optional<std::string> FirstMissingTopic(
    const std::vector<std::string>& topics,
    const absl::flat_hash_map<std::string, int32_t>& partition_counts) {
  for (const std::string& topic : topics) {
    if (!partition_counts.contains(topic)) return topic;
  }
  return std::nullopt;
}

std::vector<PartitionOffset> ReplayPartitions(
    const std::vector<std::string>& topics,
    const absl::flat_hash_map<std::string, int32_t>& partition_counts,
    const std::vector<PartitionOffset>& from_offsets) {
  std::vector<PartitionOffset> out;
  for (const std::string& topic : topics) {
    auto it = partition_counts.find(topic);
    if (it == partition_counts.end()) continue;
    for (int32_t p = 0; p < it->second; ++p) {
      if (from_offsets.empty() || Names(from_offsets, topic, p)) {
        out.push_back({topic, p, kOffsetBeginning});
      }
    }
  }
  return out;
}

}  // namespace enrich::processor
