// DeliveryReports routes a sink's delivery reports into an AckTracker for the
// duration of one replication attempt: each acknowledged record is counted
// and handed to the tracker; the first failure (a record Kafka did not take,
// or a report the tracker rejects) is kept for the loop to stop on.
//
//   AckTracker acks(start_lsn);
//   DeliveryReports deliveries(sink, &acks, delivered_counter);
//   ... produce, sink->Poll(...) ...
//   RETURN_IF_ERROR(deliveries.first_error());
//
// Hooks the sink's delivery callback on construction and unhooks it on
// destruction, so the sink never calls into a tracker that is gone. The sink,
// the tracker and the counter must outlive it. Not thread-safe: the sink's
// callbacks run on the loop's thread (see event_sink.h).
#ifndef ENRICH_CDC_CORE_DELIVERY_REPORTS_H_
#define ENRICH_CDC_CORE_DELIVERY_REPORTS_H_

#include "absl/status/status.h"
#include "cdc/common/metrics.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/kafka/event_sink.h"

namespace enrich::cdc {

class DeliveryReports {
 public:
  DeliveryReports(kafka::EventSink* sink, AckTracker* acks, Counter* delivered);
  ~DeliveryReports();
  DeliveryReports(const DeliveryReports&) = delete;
  DeliveryReports& operator=(const DeliveryReports&) = delete;

  // OK until a delivery fails; then that failure, for good.
  const absl::Status& first_error() const { return first_error_; }

 private:
  void OnReport(uint64_t sequence, absl::Status status);

  kafka::EventSink* sink_;
  AckTracker* acks_;
  Counter* delivered_;
  absl::Status first_error_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_DELIVERY_REPORTS_H_
