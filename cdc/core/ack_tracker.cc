#include "cdc/core/ack_tracker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace enrich::cdc {

uint64_t AckTracker::NextSequence() {
  if (transactions_.empty() || transactions_.back().sealed) {
    transactions_.push_back(
        {next_sequence_, next_sequence_, 0, 0, /*sealed=*/false, 0});
  }
  Transaction& open = transactions_.back();
  ++open.end_sequence;
  ++open.outstanding;
  ++in_flight_;
  delivered_.push_back(false);
  return next_sequence_++;
}

void AckTracker::SealTransaction(uint64_t end_lsn, int64_t commit_time_us) {
  end_lsn = std::max(end_lsn, last_sealed_lsn_);
  last_sealed_lsn_ = end_lsn;
  if (transactions_.empty() || transactions_.back().sealed) {
    transactions_.push_back({next_sequence_, next_sequence_, 0, end_lsn,
                             /*sealed=*/true, commit_time_us});
  } else {
    transactions_.back().end_lsn = end_lsn;
    transactions_.back().sealed = true;
    transactions_.back().commit_time_us = commit_time_us;
  }
  ConfirmCompletedPrefix();
}

absl::Status AckTracker::OnDelivered(uint64_t sequence) {
  if (sequence < delivered_base_ || sequence >= next_sequence_ ||
      delivered_[sequence - delivered_base_]) {
    return absl::FailedPreconditionError(absl::StrCat(
        "delivery report for unknown or already acknowledged record ",
        sequence));
  }
  delivered_[sequence - delivered_base_] = true;
  // Transactions are ordered by sequence range: find the owner by search.
  auto owner = std::upper_bound(
      transactions_.begin(), transactions_.end(), sequence,
      [](uint64_t seq, const Transaction& t) { return seq < t.end_sequence; });
  if (owner == transactions_.end() || sequence < owner->first_sequence) {
    return absl::InternalError(
        absl::StrCat("no transaction owns record ", sequence));
  }
  --owner->outstanding;
  --in_flight_;
  ConfirmCompletedPrefix();
  return absl::OkStatus();
}

bool AckTracker::AdvanceWhenIdle(uint64_t lsn) {
  if (!transactions_.empty()) return false;
  if (lsn > confirmable_) confirmable_ = lsn;
  if (lsn > last_sealed_lsn_) last_sealed_lsn_ = lsn;
  return true;
}

void AckTracker::ConfirmCompletedPrefix() {
  while (!transactions_.empty() && transactions_.front().sealed &&
         transactions_.front().outstanding == 0) {
    const Transaction& done = transactions_.front();
    confirmable_ = std::max(confirmable_, done.end_lsn);
    if (on_confirm_) on_confirm_(done.end_lsn, done.commit_time_us);
    // Drop the delivered flags of records that can no longer be reported.
    while (delivered_base_ < done.end_sequence) {
      delivered_.pop_front();
      ++delivered_base_;
    }
    transactions_.pop_front();
  }
}

}  // namespace enrich::cdc
