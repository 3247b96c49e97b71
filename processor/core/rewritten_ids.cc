#include "processor/core/rewritten_ids.h"

#include <algorithm>
#include <optional>

#include "processor/core/affected_conversations.h"

namespace enrich::processor {

void RewrittenIds::RemoveFrom(std::vector<std::string>* ids) const {
  if (ids_.empty() && !all_) return;
  ids->erase(std::remove_if(ids->begin(), ids->end(),
                            [this](const std::string& id) {
                              std::optional<absl::uint128> bits = UuidBits(id);
                              return bits && (all_ || ids_.contains(*bits));
                            }),
             ids->end());
}

void RewrittenIds::Add(const std::vector<std::string>& ids) {
  if (all_) return;
  ids_.reserve(ids_.size() + ids.size());
  for (const std::string& id : ids) {
    std::optional<absl::uint128> bits = UuidBits(id);
    if (bits) ids_.insert(*bits);
  }
}

}  // namespace enrich::processor
