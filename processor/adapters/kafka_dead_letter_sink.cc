#include "processor/adapters/kafka_dead_letter_sink.h"

#include <librdkafka/rdkafkacpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/kafka/kafka_client_config.h"

namespace enrich::processor {

struct KafkaDeadLetterSink::Impl : public RdKafka::DeliveryReportCb {
  Options options;
  std::unique_ptr<RdKafka::Producer> producer;
  int outstanding = 0;
  std::string first_failure;

  void dr_cb(RdKafka::Message& message) override {
    --outstanding;
    if (message.err() != RdKafka::ERR_NO_ERROR && first_failure.empty()) {
      first_failure =
          absl::StrCat(RdKafka::err2str(message.err()), ": ", message.errstr());
    }
  }
};

KafkaDeadLetterSink::KafkaDeadLetterSink(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

KafkaDeadLetterSink::~KafkaDeadLetterSink() {
  if (impl_ && impl_->producer) impl_->producer->flush(5000);
}

absl::StatusOr<std::unique_ptr<KafkaDeadLetterSink>>
KafkaDeadLetterSink::Create(Options options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  kafka::KafkaProperties settings = {
      {"bootstrap.servers", impl->options.brokers},
      {"client.id", impl->options.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "0"},
      {"message.timeout.ms",
       absl::StrCat(absl::ToInt64Milliseconds(impl->options.delivery_timeout))},
  };
  // The same floor as the event sink: a dead letter is a change the table
  // did not take, so losing one is losing that change.
  if (absl::Status configured = kafka::ConfigureKafkaClient(
          conf->c_ptr_global(), std::move(settings),
          impl->options.extra_properties, kafka::KafkaClient::kProducer);
      !configured.ok()) {
    return configured;
  }
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(impl.get()),
                error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  impl->producer.reset(RdKafka::Producer::create(conf.get(), error));
  if (impl->producer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("creating the dead-letter producer: ", error));
  }
  return std::unique_ptr<KafkaDeadLetterSink>(
      new KafkaDeadLetterSink(std::move(impl)));
}

absl::Status KafkaDeadLetterSink::Send(
    const std::vector<DeadLetter>& dead_letters) {
  Impl& s = *impl_;
  s.first_failure.clear();
  for (const DeadLetter& d : dead_letters) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("enrich-dead-letter-reason", d.reason);
    headers->add("enrich-source-topic", d.record.topic);
    headers->add("enrich-source-partition", absl::StrCat(d.record.partition));
    headers->add("enrich-source-offset", absl::StrCat(d.record.offset));
    const std::string* value = d.record.value ? &*d.record.value : nullptr;
    const absl::Time deadline = absl::Now() + s.options.delivery_timeout;
    while (true) {
      RdKafka::ErrorCode err = s.producer->produce(
          s.options.topic, RdKafka::Topic::PARTITION_UA,
          RdKafka::Producer::RK_MSG_COPY,
          value ? const_cast<char*>(value->data()) : nullptr,
          value ? value->size() : 0, d.record.key.data(), d.record.key.size(),
          0, headers, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) {
        ++s.outstanding;  // the producer owns `headers` now
        break;
      }
      if (err == RdKafka::ERR__QUEUE_FULL && absl::Now() < deadline) {
        s.producer->poll(100);
        continue;
      }
      delete headers;
      s.producer->flush(static_cast<int>(
          absl::ToInt64Milliseconds(s.options.delivery_timeout)));
      return absl::UnavailableError(absl::StrCat("producing a dead letter to ",
                                                 s.options.topic, ": ",
                                                 RdKafka::err2str(err)));
    }
  }
  s.producer->flush(
      static_cast<int>(absl::ToInt64Milliseconds(s.options.delivery_timeout)));
  if (s.outstanding > 0) {
    return absl::UnavailableError(absl::StrCat(
        s.outstanding, " dead letters not acknowledged by ", s.options.topic,
        " within ", absl::FormatDuration(s.options.delivery_timeout)));
  }
  if (!s.first_failure.empty()) {
    return absl::UnavailableError(absl::StrCat("dead letter not delivered to ",
                                               s.options.topic, ": ",
                                               s.first_failure));
  }
  return absl::OkStatus();
}

}  // namespace enrich::processor
