// EventSink over librdkafka: an idempotent producer (enable.idempotence=true,
// acks=all) with compression and batching, producing to the partition the
// caller names. librdkafka stays inside kafka_event_sink.cc.
//
//   MetricsRegistry registry;
//   Logger logger("cdc");
//   KafkaSinkOptions options;
//   options.brokers = "127.0.0.1:9092";
//   ASSIGN_OR_RETURN(std::unique_ptr<KafkaEventSink> sink,
//                    KafkaEventSink::Create(options, &registry, &logger));
//
// Behaviour beyond the EventSink contract (event_sink.h):
//  * Queue full: Produce() serves the client (delivery reports are buffered,
//    not delivered, so callbacks still only come from Poll()/Flush()) and
//    retries until `produce_block_timeout`, then returns Unavailable. Memory
//    is bounded by queue_max_messages / queue_max_kbytes.
//  * A record whose key + value exceed message.max.bytes is refused with
//    InvalidArgument naming topic, partition, key and sizes; one the broker
//    rejects as too large (the topic's max.message.bytes is lower) is
//    reported failed with the same kind of message. Never a silent drop.
//  * A fatal librdkafka error (rd_kafka_fatal_error) makes fatal_error()
//    Internal for good; outstanding records are then reported failed.
//  * Client-level errors (broker down, ...) are logged and counted; librdkafka
//    keeps retrying them until message.timeout.ms (`delivery_timeout`).
#ifndef ENRICH_CDC_KAFKA_KAFKA_EVENT_SINK_H_
#define ENRICH_CDC_KAFKA_KAFKA_EVENT_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/event_sink.h"
#include "cdc/kafka/kafka_properties.h"
#include "cdc/kafka/producer_probe.h"

namespace enrich::kafka {

struct KafkaSinkOptions {
  std::string brokers;  // bootstrap.servers
  std::string client_id = "enrich-cdc";
  // compression.codec: none, gzip, snappy, lz4 or zstd.
  std::string compression = "lz4";
  // linger.ms: 20 rather than librdkafka's 5 gives fewer, larger batches,
  // faster end to end (tests/bench/RESULTS.md, section 4.1).
  absl::Duration linger = absl::Milliseconds(20);
  int64_t batch_max_bytes = 1000000;  // batch.size
  // message.max.bytes: the largest key + value accepted (a passthrough
  // message.max.bytes overrides it, and the check follows).
  int64_t max_message_bytes = 1000000;
  int64_t queue_max_messages = 100000;    // queue.buffering.max.messages
  int64_t queue_max_kbytes = 256 * 1024;  // queue.buffering.max.kbytes
  absl::Duration delivery_timeout = absl::Minutes(5);  // message.timeout.ms
  // How long Produce() waits for room in a full queue before Unavailable.
  absl::Duration produce_block_timeout = absl::Seconds(30);
  // Applied last, so they may override the settings above - except
  // enable.idempotence and acks, which must stay true / all (InvalidArgument
  // otherwise), since delivery guarantees depend on them.
  KafkaProperties extra_properties;
  std::function<absl::Time()> clock = absl::Now;
};

class KafkaEventSink : public EventSink {
 public:
  // `registry` and `logger` may be null (then metrics are kept privately and
  // nothing is logged); otherwise they must outlive the sink.
  // InvalidArgument for a bad setting (never echoing a secret value).
  static absl::StatusOr<std::unique_ptr<KafkaEventSink>> Create(
      const KafkaSinkOptions& options, MetricsRegistry* registry,
      Logger* logger);

  // Abandons (purges) anything still outstanding, without callbacks.
  ~KafkaEventSink() override;
  KafkaEventSink(const KafkaEventSink&) = delete;
  KafkaEventSink& operator=(const KafkaEventSink&) = delete;

  void SetDeliveryCallback(DeliveryCallback callback) override;
  absl::Status Produce(OutgoingRecord record) override;
  int Poll(absl::Duration timeout) override;
  absl::Status Flush(absl::Time deadline) override;
  int64_t in_flight() const override {
    return in_flight_.load(std::memory_order_relaxed);
  }
  absl::Status fatal_error() const override;

  // The effective message.max.bytes.
  int64_t max_message_bytes() const { return max_message_bytes_; }

 private:
  struct Handles;  // librdkafka objects
  struct TopicState;
  struct Report {
    uint64_t sequence_number;
    absl::Status status;
  };

  KafkaEventSink(const KafkaSinkOptions& options, MetricsRegistry* registry,
                 Logger* logger);
  absl::StatusOr<TopicState*> TopicFor(absl::string_view topic);
  int DrainReports();
  void SetFatal(absl::Status status);

  // librdkafka callbacks, served on the thread calling poll/flush.
  // `message` is an rd_kafka_message_t.
  friend struct SinkCallbacks;
  void HandleDelivery(const void* message);
  void HandleError(int err, const char* reason);

  const KafkaSinkOptions options_;
  std::unique_ptr<MetricsRegistry> own_registry_;  // when none was given
  Logger* logger_;
  std::unique_ptr<ProducerProbe> probe_;
  int64_t max_message_bytes_ = 0;
  DeliveryCallback callback_;
  std::vector<Report> reports_;  // filled by OnDelivery, drained by Poll
  std::atomic<int64_t> in_flight_{0};
  mutable absl::Mutex fatal_mu_;
  absl::Status fatal_ ABSL_GUARDED_BY(fatal_mu_);
  std::atomic<bool> has_fatal_{false};  // fatal_ is set; read lock-free
  absl::flat_hash_map<std::string, std::unique_ptr<TopicState>> topics_;
  TopicState* last_topic_ = nullptr;  // the one TopicFor() found last
  // Last member: destroyed first, while everything its callbacks touch lives.
  std::unique_ptr<Handles> handles_;
};

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_KAFKA_EVENT_SINK_H_
