#include "processor/core/write_plan.h"

#include <algorithm>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "cdc/pgoutput/lsn.h"

namespace enrich::processor {
namespace {

void SortUnique(std::vector<std::string>* ids) {
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

bool UsesBulkPath(size_t ids, const WritePlanOptions& options) {
  return options.bulk_min_ids > 0 && ids >= options.bulk_min_ids;
}

// Key-ordered chunks of a truncate rebuild, one transaction otherwise; at
// least one (an empty one stores the offsets).
std::vector<WriteTransaction> Transactions(size_t ids, bool truncated,
                                           const WritePlanOptions& options) {
  const size_t chunk =
      truncated ? std::max<size_t>(1, options.max_rows_per_rebuild_transaction)
                : std::max<size_t>(1, ids);
  std::vector<WriteTransaction> transactions;
  size_t start = 0;
  do {
    const size_t end = std::min(ids, start + chunk);
    transactions.push_back({start, end, UsesBulkPath(end - start, options),
                            /*last=*/end == ids});
    start = end;
  } while (start < ids);
  return transactions;
}

}  // namespace

WritePlanner::WritePlanner(const AffectedConversations& plan,
                           WritePlanOptions options)
    : plan_(plan),
      options_(options),
      ids_(plan.full_rewrites.begin(), plan.full_rewrites.end()) {}

bool WritePlanner::resolves_fan_out() const { return plan_.has_lookup_keys(); }

bool WritePlanner::lists_rebuild_ids() const { return plan_.truncated.any(); }

bool WritePlanner::KeepsFanOutApart() const {
  // A replay or a truncate rebuild rewrites everything in full anyway.
  return !options_.rewrite_each_id_once && !plan_.truncated.any();
}

// Ids the plan names already are skipped here rather than by the dedup in
// Finish: a replay's fan-out names every conversation again, and holding
// each twice costs tens of MB.
void WritePlanner::AddFanOutId(std::string id) {
  if (plan_.full_rewrites.contains(id)) return;
  (KeepsFanOutApart() ? fan_out_ : ids_).push_back(std::move(id));
}

void WritePlanner::AddRebuildId(std::string id) {
  if (!plan_.full_rewrites.contains(id)) ids_.push_back(std::move(id));
}

WritePlan WritePlanner::Finish(const RewrittenIds* rewritten) && {
  SortUnique(&ids_);
  SortUnique(&fan_out_);
  WritePlan write;
  write.partial = SplitPartialWork();
  if (rewritten != nullptr) rewritten->RemoveFrom(&ids_);
  write.full_rewrites = std::move(ids_);
  write.transactions =
      Transactions(write.full_rewrites.size(), plan_.truncated.any(), options_);
  return write;
}

PartialWork WritePlanner::SplitPartialWork() {
  PartialWork partial;
  // Column updates get the joined-column rewrite like the fan-out (the
  // planner keeps them out of the plan's other sets; a fan-out may reach
  // them too).
  if (!plan_.column_updates.empty()) {
    fan_out_.insert(fan_out_.end(), plan_.column_updates.begin(),
                    plan_.column_updates.end());
    SortUnique(&fan_out_);
  }
  const bool in_full =
      options_.rewrite_each_id_once || plan_.truncated.any() ||
      UsesBulkPath(ids_.size() + fan_out_.size() + plan_.body_edits.size() +
                       plan_.appends.size(),
                   options_);
  if (in_full) {
    for (const auto* map : {&plan_.body_edits, &plan_.appends}) {
      for (const auto& change : *map) ids_.push_back(change.first);
    }
    ids_.insert(ids_.end(), fan_out_.begin(), fan_out_.end());
    SortUnique(&ids_);
    return partial;
  }
  // A conversation with a message change that a fan-out also reached is
  // rewritten in full (one kind of partial work per row and batch); a full
  // rewrite covers everything.
  std::vector<std::string> both;
  auto keep = [&](const absl::btree_map<std::string, std::string>& from,
                  MessageChangeList* to) {
    for (const auto& change : from) {
      if (std::binary_search(ids_.begin(), ids_.end(), change.first)) continue;
      if (std::binary_search(fan_out_.begin(), fan_out_.end(), change.first)) {
        both.push_back(change.first);
        continue;
      }
      to->push_back(change);
    }
  };
  keep(plan_.body_edits, &partial.edits);
  keep(plan_.appends, &partial.appends);
  std::sort(both.begin(), both.end());
  for (std::string& id : fan_out_) {
    if (std::binary_search(both.begin(), both.end(), id)) {
      ids_.push_back(std::move(id));
    } else {
      partial.joined.push_back(std::move(id));
    }
  }
  if (!both.empty()) std::sort(ids_.begin(), ids_.end());
  return partial;
}

WritePlan SnapshotRebuildPlan(std::vector<std::string> ids) {
  WritePlan write;
  std::sort(ids.begin(), ids.end());
  write.full_rewrites = std::move(ids);
  write.transactions = {{0, write.full_rewrites.size(), /*bulk=*/true,
                         /*last=*/true}};
  return write;
}

std::vector<std::string> TransactionIds(const WritePlan& write,
                                        const WriteTransaction& t) {
  return std::vector<std::string>(write.full_rewrites.begin() + t.begin,
                                  write.full_rewrites.begin() + t.end);
}

std::vector<std::string> LockIds(const std::vector<std::string>& ids,
                                 const PartialWork& partial) {
  // Three disjoint sets: one set of locks, in id order.
  std::vector<std::string> merged = ids;
  for (const MessageChangeList* list : {&partial.edits, &partial.appends}) {
    for (const auto& change : *list) merged.push_back(change.first);
  }
  merged.insert(merged.end(), partial.joined.begin(), partial.joined.end());
  std::sort(merged.begin(), merged.end());
  return merged;
}

std::vector<std::string> WithFallbacks(const std::vector<std::string>& ids,
                                       std::vector<std::string> fallbacks) {
  std::vector<std::string> merged;
  merged.reserve(ids.size() + fallbacks.size());
  merged = ids;
  merged.insert(merged.end(), std::make_move_iterator(fallbacks.begin()),
                std::make_move_iterator(fallbacks.end()));
  std::sort(merged.begin(), merged.end());
  return merged;
}

std::string LsnText(uint64_t lsn) { return pgoutput::FormatLsn(lsn); }

std::vector<std::string> SnapshotLsnTexts(const AffectedConversations& plan) {
  std::vector<std::string> lsns;
  for (uint64_t lsn : plan.snapshot_lsns) lsns.push_back(LsnText(lsn));
  return lsns;
}

}  // namespace enrich::processor
