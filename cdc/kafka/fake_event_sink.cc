#include "cdc/kafka/fake_event_sink.h"

#include "absl/strings/str_cat.h"

namespace enrich::kafka {

void FakeEventSink::FailProduce(int64_t produce_index, absl::Status status) {
  absl::MutexLock lock(&mu_);
  produce_failures_[produce_index] = std::move(status);
}

void FakeEventSink::FailDelivery(int64_t record_index, absl::Status status) {
  absl::MutexLock lock(&mu_);
  delivery_failures_[record_index] = std::move(status);
}

void FakeEventSink::DropDelivery(int64_t record_index) {
  absl::MutexLock lock(&mu_);
  dropped_.insert(record_index);
}

void FakeEventSink::DelayDelivery(int64_t record_index, int polls) {
  absl::MutexLock lock(&mu_);
  delays_[record_index] = polls;
}

void FakeEventSink::HoldDeliveries(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_ = hold;
}

void FakeEventSink::SetFatalError(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fatal_ = std::move(status);
}

std::vector<OwnedRecord> FakeEventSink::produced() const {
  absl::MutexLock lock(&mu_);
  return produced_;
}

std::vector<std::pair<uint64_t, absl::Status>> FakeEventSink::reports() const {
  absl::MutexLock lock(&mu_);
  return reports_;
}

void FakeEventSink::SetDeliveryCallback(DeliveryCallback callback) {
  callback_ = std::move(callback);
}

absl::Status FakeEventSink::Produce(OutgoingRecord record) {
  absl::MutexLock lock(&mu_);
  int64_t produce_index = produce_calls_++;
  if (!fatal_.ok()) return fatal_;
  auto failure = produce_failures_.find(produce_index);
  if (failure != produce_failures_.end()) return failure->second;
  int64_t record_index = static_cast<int64_t>(produced_.size());
  Pending pending{record_index, record.sequence_number, absl::OkStatus(), 0,
                  false};
  if (auto it = delivery_failures_.find(record_index);
      it != delivery_failures_.end()) {
    pending.status = it->second;
  }
  if (auto it = delays_.find(record_index); it != delays_.end()) {
    pending.delay_polls = it->second;
  }
  pending.dropped = dropped_.contains(record_index);
  produced_.emplace_back(record);
  pending_.push_back(std::move(pending));
  return absl::OkStatus();
}

int FakeEventSink::Poll(absl::Duration timeout) {
  std::vector<std::pair<uint64_t, absl::Status>> due;
  {
    absl::MutexLock lock(&mu_);
    if (!fatal_.ok()) {
      // Terminal: everything outstanding fails with the fatal error.
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->dropped) {
          ++it;
          continue;
        }
        due.emplace_back(it->sequence_number, fatal_);
        it = pending_.erase(it);
      }
    } else if (!hold_) {
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->dropped) {
          ++it;
        } else if (it->delay_polls > 0) {
          --it->delay_polls;
          ++it;
        } else {
          due.emplace_back(it->sequence_number, it->status);
          it = pending_.erase(it);
        }
      }
    }
    reports_.insert(reports_.end(), due.begin(), due.end());
  }
  // Outside the lock: the callback may call back into the sink.
  for (const auto& [sequence_number, status] : due) {
    if (callback_) callback_(sequence_number, status);
  }
  return static_cast<int>(due.size());
}

absl::Status FakeEventSink::Flush(absl::Time deadline) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      int64_t reportable = 0;
      for (const Pending& pending : pending_) {
        if (!pending.dropped) ++reportable;
      }
      if (pending_.empty()) return absl::OkStatus();
      if (reportable == 0 || hold_) {
        return absl::DeadlineExceededError(
            absl::StrCat("flush: ", pending_.size(),
                         " record(s) still in flight at the deadline"));
      }
    }
    Poll(absl::ZeroDuration());
  }
}

int64_t FakeEventSink::in_flight() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(pending_.size());
}

absl::Status FakeEventSink::fatal_error() const {
  absl::MutexLock lock(&mu_);
  return fatal_;
}

}  // namespace enrich::kafka
