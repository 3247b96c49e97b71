#include "cdc/kafka/kafka_event_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cdc/kafka/kafka_client_config.h"
#include "cdc/kafka/producer_errors.h"

namespace enrich::kafka {

// The sequence number travels as the message's opaque pointer: no allocation
// per record.
static_assert(sizeof(void*) >= sizeof(uint64_t),
              "sequence numbers are carried in a pointer-sized opaque");

struct KafkaEventSink::Handles {
  rd_kafka_t* rk = nullptr;
  ~Handles() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

struct KafkaEventSink::TopicState {
  std::string name;
  rd_kafka_topic_t* rkt = nullptr;
  ProducerProbe::TopicMetrics* metrics = nullptr;
};

struct SinkCallbacks {
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                         void* opaque) {
    static_cast<KafkaEventSink*>(opaque)->HandleDelivery(message);
  }
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<KafkaEventSink*>(opaque)->HandleError(err, reason);
  }
};

namespace {

// Keys can be binary (encoded primary keys): escape and shorten for messages.
std::string PrintableKey(const void* data, size_t size) {
  if (data == nullptr) return "<null>";
  absl::string_view key(static_cast<const char*>(data), size);
  constexpr size_t kMax = 128;
  std::string text = absl::CHexEscape(key.substr(0, kMax));
  if (key.size() > kMax) absl::StrAppend(&text, "...");
  return absl::StrCat("\"", text, "\"");
}

std::string TooLargeMessage(absl::string_view topic, int32_t partition,
                            const void* key, size_t key_size, size_t value_size,
                            absl::string_view limit) {
  return absl::StrCat(
      "record too large for Kafka: topic ", topic, " partition ", partition,
      " key ", PrintableKey(key, key_size), " is ", key_size + value_size,
      " bytes (key ", key_size, " + value ", value_size, ") and exceeds ",
      limit,
      "; raise message.max.bytes (producer, via a Kafka property) and the "
      "topic's max.message.bytes, or shrink the row. Nothing was skipped.");
}

// The producer's fatal error (after RD_KAFKA_RESP_ERR__FATAL), as the
// terminal status; `advice`, if any, ends the message.
absl::Status FatalProducerError(rd_kafka_t* rk, absl::string_view advice) {
  char reason[512];
  rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, reason, sizeof(reason));
  return absl::InternalError(
      absl::StrCat("fatal Kafka producer error: ", rd_kafka_err2name(fatal),
                   ": ", reason, advice));
}

int64_t ToMillis(absl::Duration d) {
  return std::max<int64_t>(0, absl::ToInt64Milliseconds(d));
}

}  // namespace

KafkaEventSink::KafkaEventSink(const KafkaSinkOptions& options,
                               MetricsRegistry* registry, Logger* logger)
    : options_(options), logger_(logger) {
  if (registry == nullptr) {
    own_registry_ = std::make_unique<MetricsRegistry>();
    registry = own_registry_.get();
  }
  probe_ = std::make_unique<ProducerProbe>(registry);
  handles_ = std::make_unique<Handles>();
}

absl::StatusOr<std::unique_ptr<KafkaEventSink>> KafkaEventSink::Create(
    const KafkaSinkOptions& options, MetricsRegistry* registry,
    Logger* logger) {
  if (options.brokers.empty()) {
    return absl::InvalidArgumentError("no Kafka brokers given");
  }
  KafkaProperties ours = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.codec", options.compression},
      {"linger.ms", absl::StrCat(ToMillis(options.linger))},
      {"batch.size", absl::StrCat(options.batch_max_bytes)},
      {"message.max.bytes", absl::StrCat(options.max_message_bytes)},
      {"queue.buffering.max.messages",
       absl::StrCat(options.queue_max_messages)},
      {"queue.buffering.max.kbytes", absl::StrCat(options.queue_max_kbytes)},
      {"message.timeout.ms", absl::StrCat(ToMillis(options.delivery_timeout))},
      // Only what we ask for: no broker-side auto-creation of topics.
      {"allow.auto.create.topics", "false"},
  };
  // Refused before anything is created when the operator's properties
  // would weaken the durability floor.
  absl::StatusOr<KafkaProperties> properties = ClientProperties(
      std::move(ours), options.extra_properties, KafkaClient::kProducer);
  if (!properties.ok()) return properties.status();

  std::unique_ptr<KafkaEventSink> sink(
      new KafkaEventSink(options, registry, logger));
  std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)> conf(
      rd_kafka_conf_new(), rd_kafka_conf_destroy);
  absl::Status configured = SetKafkaProperties(conf.get(), *properties);
  if (!configured.ok()) return configured;
  char text[64];
  size_t text_size = sizeof(text);
  if (rd_kafka_conf_get(conf.get(), "message.max.bytes", text, &text_size) !=
          RD_KAFKA_CONF_OK ||
      !absl::SimpleAtoi(text, &sink->max_message_bytes_)) {
    return absl::InternalError("cannot read back message.max.bytes");
  }
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &SinkCallbacks::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &SinkCallbacks::OnError);
  rd_kafka_conf_set_opaque(conf.get(), sink.get());

  char error[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof(error));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the Kafka producer: ", error));
  }
  conf.release();  // rd_kafka_new took ownership
  sink->handles_->rk = rk;
  if (logger != nullptr) {
    logger->Info(
        "kafka producer created",
        {{"brokers", options.brokers},
         {"compression", options.compression},
         {"linger_ms", absl::StrCat(ToMillis(options.linger))},
         {"message_max_bytes", absl::StrCat(sink->max_message_bytes_)},
         {"idempotence", "true"},
         {"acks", "all"},
         {"extra", RedactedKafkaProperties(options.extra_properties)}});
  }
  return sink;
}

KafkaEventSink::~KafkaEventSink() {
  if (handles_->rk != nullptr) {
    // Whatever the owner did not flush is abandoned, promptly: without the
    // purge, destroy would wait for in-flight requests.
    rd_kafka_purge(handles_->rk, RD_KAFKA_PURGE_F_QUEUE |
                                     RD_KAFKA_PURGE_F_INFLIGHT |
                                     RD_KAFKA_PURGE_F_NON_BLOCKING);
    rd_kafka_poll(handles_->rk, 0);  // purge reports land in reports_, unsent
  }
  for (auto& [name, topic] : topics_) rd_kafka_topic_destroy(topic->rkt);
  last_topic_ = nullptr;
  topics_.clear();
  handles_.reset();  // rd_kafka_destroy while the callbacks' targets live
}

void KafkaEventSink::SetDeliveryCallback(DeliveryCallback callback) {
  callback_ = std::move(callback);
}

absl::Status KafkaEventSink::fatal_error() const {
  absl::MutexLock lock(&fatal_mu_);
  return fatal_;
}

void KafkaEventSink::SetFatal(absl::Status status) {
  {
    absl::MutexLock lock(&fatal_mu_);
    if (!fatal_.ok()) return;
    fatal_ = status;
    has_fatal_.store(true, std::memory_order_release);
  }
  probe_->Fatal();
  if (logger_ != nullptr) {
    logger_->Error("kafka producer is terminal",
                   {{"error", std::string(status.message())}});
  }
}

absl::StatusOr<KafkaEventSink::TopicState*> KafkaEventSink::TopicFor(
    absl::string_view topic_name) {
  // Consecutive records are mostly for one topic: compare before hashing.
  if (last_topic_ != nullptr && last_topic_->name == topic_name) {
    return last_topic_;
  }
  auto it = topics_.find(topic_name);
  if (it != topics_.end()) return last_topic_ = it->second.get();
  const std::string topic(topic_name);
  auto state = std::make_unique<TopicState>();
  state->name = topic;
  state->metrics = probe_->ForTopic(topic);
  // Start from the default topic configuration so topic-level settings made
  // globally (message.timeout.ms, acks, passthrough) apply.
  rd_kafka_topic_conf_t* topic_conf =
      rd_kafka_default_topic_conf_dup(handles_->rk);
  rd_kafka_topic_conf_set_opaque(topic_conf, state.get());
  state->rkt = rd_kafka_topic_new(handles_->rk, topic.c_str(), topic_conf);
  if (state->rkt == nullptr) {
    return ProducerErrorToStatus(rd_kafka_last_error(),
                                 absl::StrCat("open topic ", topic));
  }
  TopicState* result = state.get();
  topics_.emplace(topic, std::move(state));
  return last_topic_ = result;
}

absl::Status KafkaEventSink::Produce(OutgoingRecord record) {
  if (has_fatal_.load(std::memory_order_acquire)) return fatal_error();
  const size_t value_size = record.value.has_value() ? record.value->size() : 0;
  if (static_cast<int64_t>(record.key.size() + value_size) >
      max_message_bytes_) {
    probe_->Error(ProducerErrorClass::kRecordTooLarge);
    return absl::InvalidArgumentError(TooLargeMessage(
        record.topic, record.partition, record.key.data(), record.key.size(),
        value_size, absl::StrCat("message.max.bytes=", max_message_bytes_)));
  }
  absl::StatusOr<TopicState*> topic = TopicFor(record.topic);
  if (!topic.ok()) return topic.status();

  // A null pointer is a tombstone to librdkafka: an empty value needs one.
  static char empty_value[1] = {0};
  void* value_data = nullptr;
  if (record.value.has_value()) {
    value_data = record.value->data() != nullptr
                     ? const_cast<char*>(record.value->data())
                     : empty_value;
  }
  absl::Time deadline = absl::InfiniteFuture();  // set when the queue is full
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        handles_->rk, RD_KAFKA_V_RKT((*topic)->rkt),
        RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(record.key.data()), record.key.size()),
        RD_KAFKA_V_VALUE(value_data, value_size),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(
            static_cast<uintptr_t>(record.sequence_number))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      probe_->Accepted();
      return absl::OkStatus();
    }
    ProducerErrorClass error_class = ClassifyProducerError(err);
    if (error_class == ProducerErrorClass::kQueueFull) {
      if (deadline == absl::InfiniteFuture()) {
        deadline = options_.clock() + options_.produce_block_timeout;
      }
      if (options_.clock() >= deadline) {
        probe_->Error(error_class);
        return absl::UnavailableError(absl::StrCat(
            "Kafka producer queue still full after ",
            absl::FormatDuration(options_.produce_block_timeout), " (",
            in_flight(),
            " records in flight): the brokers are not keeping up or are "
            "unreachable"));
      }
      // librdkafka's rule: serve delivery reports to make room, then retry.
      // Reports are buffered in reports_ and handed over by Poll().
      probe_->QueueFullWait();
      rd_kafka_poll(handles_->rk, 100);
      continue;
    }
    probe_->Error(error_class);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      SetFatal(FatalProducerError(handles_->rk, ""));
      return fatal_error();
    }
    if (error_class == ProducerErrorClass::kRecordTooLarge) {
      return absl::InvalidArgumentError(TooLargeMessage(
          record.topic, record.partition, record.key.data(), record.key.size(),
          value_size, absl::StrCat("message.max.bytes=", max_message_bytes_)));
    }
    return ProducerErrorToStatus(
        err, absl::StrCat("produce to ", record.topic, " partition ",
                          record.partition, " key ",
                          PrintableKey(record.key.data(), record.key.size())));
  }
}

void KafkaEventSink::HandleDelivery(const void* message_ptr) {
  const auto* message = static_cast<const rd_kafka_message_t*>(message_ptr);
  const auto sequence_number =
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
  auto* topic = static_cast<TopicState*>(rd_kafka_topic_opaque(message->rkt));
  int64_t latency_us = rd_kafka_message_latency(message);
  absl::Duration latency =
      latency_us >= 0 ? absl::Microseconds(latency_us) : absl::ZeroDuration();
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    probe_->Delivered(topic->metrics, message->key_len + message->len, latency);
    reports_.push_back({sequence_number, absl::OkStatus()});
    return;
  }
  ProducerErrorClass error_class = ClassifyProducerError(message->err);
  probe_->Failed(topic->metrics, error_class, latency);
  absl::Status status;
  if (error_class == ProducerErrorClass::kRecordTooLarge) {
    status = absl::InvalidArgumentError(TooLargeMessage(
        topic->name, message->partition, message->key, message->key_len,
        message->len, "the broker's limit (topic max.message.bytes)"));
  } else {
    status = ProducerErrorToStatus(
        message->err,
        absl::StrCat("delivery to ", topic->name, " partition ",
                     message->partition, " key ",
                     PrintableKey(message->key, message->key_len)));
  }
  if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
    SetFatal(FatalProducerError(handles_->rk, ""));
  }
  reports_.push_back({sequence_number, std::move(status)});
}

void KafkaEventSink::HandleError(int err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    probe_->Error(ProducerErrorClass::kFatal);
    SetFatal(FatalProducerError(
        handles_->rk,
        "; stop without confirming anything undelivered and restart"));
    return;
  }
  ProducerErrorClass error_class = ClassifyProducerError(err);
  probe_->Error(error_class);
  if (logger_ != nullptr) {
    logger_->Warn("kafka client error",
                  {{"error", ProducerErrorName(err)},
                   {"class", std::string(ProducerErrorClassName(error_class))},
                   {"reason", reason == nullptr ? "" : reason}});
  }
}

int KafkaEventSink::DrainReports() {
  if (reports_.empty()) return 0;
  // Swap out first: a callback may Produce(), which may buffer new reports.
  std::vector<Report> due;
  due.swap(reports_);
  for (Report& report : due) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (callback_) callback_(report.sequence_number, std::move(report.status));
  }
  return static_cast<int>(due.size());
}

int KafkaEventSink::Poll(absl::Duration timeout) {
  rd_kafka_poll(handles_->rk, static_cast<int>(ToMillis(timeout)));
  return DrainReports();
}

absl::Status KafkaEventSink::Flush(absl::Time deadline) {
  while (true) {
    DrainReports();
    if (in_flight() == 0) return absl::OkStatus();
    absl::Duration remaining = deadline - options_.clock();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("Kafka flush: ", in_flight(),
                       " record(s) still unacknowledged at the deadline"));
    }
    // flush() also sends lingering batches at once; short slices keep the
    // callbacks flowing and the deadline honoured.
    rd_kafka_flush(handles_->rk, static_cast<int>(ToMillis(std::min(
                                     remaining, absl::Milliseconds(100)))));
  }
}

}  // namespace enrich::kafka
