#include "cdc/core/delivery_reports.h"

#include <utility>

namespace enrich::cdc {

DeliveryReports::DeliveryReports(kafka::EventSink* sink, AckTracker* acks,
                                 Counter* delivered)
    : sink_(sink), acks_(acks), delivered_(delivered) {
  sink_->SetDeliveryCallback([this](uint64_t sequence, absl::Status status) {
    OnReport(sequence, std::move(status));
  });
}

DeliveryReports::~DeliveryReports() { sink_->SetDeliveryCallback(nullptr); }

void DeliveryReports::OnReport(uint64_t sequence, absl::Status status) {
  if (!status.ok()) {
    if (first_error_.ok()) first_error_ = std::move(status);
    return;
  }
  absl::Status tracked = acks_->OnDelivered(sequence);
  if (!tracked.ok() && first_error_.ok()) first_error_ = tracked;
  delivered_->Increment();
}

}  // namespace enrich::cdc
