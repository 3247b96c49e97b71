#include "cdc/kafka/producer_probe.h"

namespace enrich::kafka {

ProducerProbe::ProducerProbe(MetricsRegistry* registry)
    : registry_(registry),
      latency_(registry->AddHistogram(
          "enrich_kafka_produce_latency_seconds",
          "Time from Produce() to the delivery report (ack or failure).",
          LatencyBucketsSeconds())),
      in_flight_(registry->AddGauge(
          "enrich_kafka_in_flight_records",
          "Records accepted by the producer and not yet reported.")),
      queue_full_waits_(registry->AddCounter(
          "enrich_kafka_queue_full_waits_total",
          "Times Produce() found the local queue full and waited for room.")),
      fatal_(registry->AddGauge(
          "enrich_kafka_producer_fatal",
          "1 once the producer hit a fatal (terminal) error.")) {
  for (int i = 0; i <= static_cast<int>(ProducerErrorClass::kUnexpected); ++i) {
    auto error_class = static_cast<ProducerErrorClass>(i);
    errors_[i] = registry->AddCounter(
        "enrich_kafka_produce_errors_total",
        "Producer errors by class (refused records, failed deliveries, client "
        "errors).",
        {{"class", std::string(ProducerErrorClassName(error_class))}});
  }
}

ProducerProbe::TopicMetrics* ProducerProbe::ForTopic(const std::string& topic) {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) return it->second.get();
  auto metrics = std::make_unique<TopicMetrics>();
  MetricLabels labels = {{"topic", topic}};
  metrics->delivered_records =
      registry_->AddCounter("enrich_kafka_delivered_records_total",
                            "Records acknowledged by Kafka, by topic.", labels);
  metrics->delivered_bytes = registry_->AddCounter(
      "enrich_kafka_delivered_bytes_total",
      "Key plus value bytes acknowledged by Kafka, by topic.", labels);
  metrics->failed_records =
      registry_->AddCounter("enrich_kafka_failed_records_total",
                            "Records whose delivery failed, by topic.", labels);
  TopicMetrics* result = metrics.get();
  topics_.emplace(topic, std::move(metrics));
  return result;
}

void ProducerProbe::Delivered(TopicMetrics* topic, size_t bytes,
                              absl::Duration latency) {
  in_flight_->Decrement();
  latency_->Observe(absl::ToDoubleSeconds(latency));
  topic->delivered_records->Increment();
  topic->delivered_bytes->Increment(bytes);
}

void ProducerProbe::Failed(TopicMetrics* topic, ProducerErrorClass error_class,
                           absl::Duration latency) {
  in_flight_->Decrement();
  latency_->Observe(absl::ToDoubleSeconds(latency));
  topic->failed_records->Increment();
  Error(error_class);
}

void ProducerProbe::Error(ProducerErrorClass error_class) {
  errors_[static_cast<int>(error_class)]->Increment();
}

}  // namespace enrich::kafka
