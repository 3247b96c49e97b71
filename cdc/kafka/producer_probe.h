// The Kafka producer's metrics, owned in one place (a "probe"): handles are
// registered once at construction (per topic on first sight) and updated
// lock-free afterwards.
//
//   enrich_kafka_produce_latency_seconds   histogram  Produce() -> ack/failure
//   enrich_kafka_in_flight_records         gauge      accepted, not reported
//   enrich_kafka_produce_errors_total      counter    {class} every error seen
//                                                     (refused, failed
//                                                     delivery, client error)
//   enrich_kafka_delivered_records_total   counter    {topic}
//   enrich_kafka_delivered_bytes_total     counter    {topic} key + value bytes
//   enrich_kafka_failed_records_total      counter    {topic}
//   enrich_kafka_queue_full_waits_total    counter    Produce() waited for room
//   enrich_kafka_producer_fatal            gauge      1 once terminal
//
// Thread-safe (ForTopic takes a mutex on first sight of a topic).
#ifndef ENRICH_CDC_KAFKA_PRODUCER_PROBE_H_
#define ENRICH_CDC_KAFKA_PRODUCER_PROBE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/producer_errors.h"

namespace enrich::kafka {

class ProducerProbe {
 public:
  struct TopicMetrics {
    Counter* delivered_records;
    Counter* delivered_bytes;
    Counter* failed_records;
  };

  // `registry` must outlive the probe.
  explicit ProducerProbe(MetricsRegistry* registry);
  ProducerProbe(const ProducerProbe&) = delete;
  ProducerProbe& operator=(const ProducerProbe&) = delete;

  // Stable for the probe's lifetime; keep it.
  TopicMetrics* ForTopic(const std::string& topic);

  void Accepted() { in_flight_->Increment(); }
  void Delivered(TopicMetrics* topic, size_t bytes, absl::Duration latency);
  void Failed(TopicMetrics* topic, ProducerErrorClass error_class,
              absl::Duration latency);
  // An error that did not fail an accepted record (refused Produce(), client
  // error callback).
  void Error(ProducerErrorClass error_class);
  void QueueFullWait() { queue_full_waits_->Increment(); }
  void Fatal() { fatal_->Set(1); }

 private:
  MetricsRegistry* registry_;
  Histogram* latency_;
  Gauge* in_flight_;
  Counter* queue_full_waits_;
  Gauge* fatal_;
  Counter* errors_[static_cast<int>(ProducerErrorClass::kUnexpected) + 1];
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TopicMetrics>> topics_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_PRODUCER_PROBE_H_
