#include "processor/adapters/kafka_record_source.h"

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "cdc/kafka/kafka_client_config.h"
#include "processor/core/database_errors.h"
#include "processor/core/retry.h"

namespace enrich::processor {

using PartitionKey = std::pair<std::string, int32_t>;

struct KafkaRecordSource::Impl : public RdKafka::RebalanceCb,
                                 public RdKafka::EventCb {
  Options options;
  MetricsRegistry* registry = nullptr;
  Logger* log = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  uint64_t generation = 0;
  absl::Status fatal;
  // Next offset to apply per assigned partition: the assigned start, then
  // what each committed batch stored.
  std::map<PartitionKey, int64_t> assignment;
  std::map<PartitionKey, Gauge*> lag_gauges;
  std::set<std::string> warned_topics;
  absl::Time last_lag_update = absl::InfinitePast();
  bool closed = false;

  Gauge* LagGauge(const PartitionKey& key) {
    Gauge*& g = lag_gauges[key];
    if (g == nullptr) {
      g = registry->AddGauge(
          "enrich_processor_consumer_lag",
          "Records of the partition not yet applied: high watermark minus "
          "the next offset stored in the database (0 when the partition is "
          "not assigned to this instance).",
          {{"topic", key.first}, {"partition", absl::StrCat(key.second)}});
    }
    return g;
  }

  std::optional<int64_t> Lag(const PartitionKey& key, int64_t next) const {
    int64_t low = 0, high = 0;
    if (consumer->get_watermark_offsets(key.first, key.second, &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      return std::nullopt;
    }
    if (next < 0) next = low < 0 ? 0 : low;
    return std::max<int64_t>(0, high - next);
  }

  void UpdateLag() {
    for (const auto& [key, next] : assignment) {
      if (std::optional<int64_t> lag = Lag(key, next)) {
        LagGauge(key)->Set(static_cast<double>(*lag));
      }
    }
    last_lag_update = absl::Now();
  }

  void rebalance_cb(
      RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
      std::vector<RdKafka::TopicPartition*>& partitions) override {
    ++generation;
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS) {
      // Revoked (or lost, or a rebalance error): give everything up; the
      // records not applied yet are dropped by the loop.
      log->Info("partitions revoked",
                {{"partitions", absl::StrCat(partitions.size())},
                 {"reason", RdKafka::err2str(err)}});
      for (const auto& [key, next] : assignment) LagGauge(key)->Set(0);
      assignment.clear();
      c->unassign();
      return;
    }
    std::vector<PartitionOffset> wanted;
    for (const RdKafka::TopicPartition* p : partitions) {
      wanted.push_back({p->topic(), p->partition(), kOffsetBeginning});
    }
    RetryPolicy policy;
    policy.initial_backoff = absl::Milliseconds(200);
    policy.max_backoff = absl::Seconds(5);
    policy.max_attempts = 15;  // about a minute: within max.poll.interval.ms
    absl::Status status = RetryWithBackoff(
        [&] {
          for (PartitionOffset& w : wanted) w.next_offset = kOffsetBeginning;
          return options.start_offsets(&wanted);
        },
        policy, [](absl::Duration d) { absl::SleepFor(d); }, nullptr,
        [&](const absl::Status& error, absl::Duration backoff) {
          log->Warn("reading stored offsets failed; retrying",
                    {{"error", error.ToString()},
                     {"backoff", absl::FormatDuration(backoff)}});
        });
    if (!status.ok()) {
      fatal = absl::Status(
          IsRetriable(status) ? absl::StatusCode::kUnavailable : status.code(),
          absl::StrCat("reading the stored offsets of the assigned "
                       "partitions: ",
                       status.message()));
      if (IsRetriable(status)) {
        // Still failing after a minute: a restart is as good as anything.
        fatal = absl::InternalError(fatal.message());
      }
      c->unassign();
      return;
    }
    std::map<PartitionKey, int64_t> start;
    for (const PartitionOffset& w : wanted) {
      start[{w.topic, w.partition}] = w.next_offset;
    }
    std::vector<std::string> described;
    for (RdKafka::TopicPartition* p : partitions) {
      const int64_t next = start[{p->topic(), p->partition()}];
      p->set_offset(next >= 0 ? next : RdKafka::Topic::OFFSET_BEGINNING);
      assignment[{p->topic(), p->partition()}] = next;
      described.push_back(absl::StrCat(
          p->topic(), "/", p->partition(), "@",
          next >= 0 ? absl::StrCat(next) : std::string("beginning")));
    }
    RdKafka::ErrorCode assigned = c->assign(partitions);
    if (assigned != RdKafka::ERR_NO_ERROR) {
      fatal = absl::InternalError(
          absl::StrCat("assigning partitions: ", RdKafka::err2str(assigned)));
      return;
    }
    log->Info("partitions assigned at the stored offsets",
              {{"partitions", absl::StrJoin(described, ",")}});
  }

  absl::Status AssignDirectly() {
    std::vector<PartitionOffset> wanted = options.assign_directly;
    RETURN_IF_ERROR(options.start_offsets(&wanted));
    std::vector<RdKafka::TopicPartition*> partitions;
    for (const PartitionOffset& w : wanted) {
      partitions.push_back(RdKafka::TopicPartition::create(
          w.topic, w.partition,
          options.start_time
              ? absl::ToUnixMillis(*options.start_time)
              : (w.next_offset >= 0 ? w.next_offset
                                    : RdKafka::Topic::OFFSET_BEGINNING)));
    }
    if (options.start_time) {
      RdKafka::ErrorCode err = consumer->offsetsForTimes(partitions, 30000);
      if (err != RdKafka::ERR_NO_ERROR) {
        RdKafka::TopicPartition::destroy(partitions);
        return absl::UnavailableError(absl::StrCat(
            "looking up offsets by timestamp: ", RdKafka::err2str(err)));
      }
    }
    for (RdKafka::TopicPartition* p : partitions) {
      int64_t next = p->offset();
      // Resolve "beginning" to the first retained offset, so the progress
      // arithmetic works on real offsets.
      if (next == RdKafka::Topic::OFFSET_BEGINNING) {
        int64_t low = 0, high = 0;
        if (consumer->query_watermark_offsets(p->topic(), p->partition(), &low,
                                              &high,
                                              10000) == RdKafka::ERR_NO_ERROR) {
          next = low;
          p->set_offset(next);
        }
      }
      // No record at or after the time: start at the end.
      if (next == RdKafka::Topic::OFFSET_END) {
        int64_t low = 0, high = 0;
        consumer->query_watermark_offsets(p->topic(), p->partition(), &low,
                                          &high, 10000);
        next = high;
        p->set_offset(next);
      }
      assignment[{p->topic(), p->partition()}] =
          next >= 0 ? next : kOffsetBeginning;
    }
    RdKafka::ErrorCode err = consumer->assign(partitions);
    RdKafka::TopicPartition::destroy(partitions);
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(
          absl::StrCat("assigning partitions: ", RdKafka::err2str(err)));
    }
    ++generation;
    return absl::OkStatus();
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        if (event.fatal()) {
          fatal = absl::InternalError(absl::StrCat(
              "fatal Kafka consumer error: ", RdKafka::err2str(event.err()),
              ": ", event.str()));
        }
        log->Warn("kafka consumer error",
                  {{"error", RdKafka::err2str(event.err())},
                   {"detail", event.str()}});
        break;
      case RdKafka::Event::EVENT_STATS:
      case RdKafka::Event::EVENT_LOG:
      case RdKafka::Event::EVENT_THROTTLE:
        break;
    }
  }
};

KafkaRecordSource::KafkaRecordSource(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

KafkaRecordSource::~KafkaRecordSource() { Close(); }

absl::StatusOr<std::unique_ptr<KafkaRecordSource>> KafkaRecordSource::Create(
    Options options, MetricsRegistry* registry, Logger* log) {
  if (options.topics.empty()) {
    return absl::InvalidArgumentError("no topics to consume");
  }
  if (!options.start_offsets) {
    return absl::InvalidArgumentError("start_offsets is required");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->registry = registry;
  impl->log = log;
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  kafka::KafkaProperties settings = {
      {"bootstrap.servers", impl->options.brokers},
      {"group.id", impl->options.group_id},
      {"client.id", impl->options.client_id},
      // Offsets are stored in the target database only.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      // Eager assignors (see the header).
      {"partition.assignment.strategy", "range,roundrobin"},
      // New topics (enrich-cdc creates them on its first start) are noticed
      // within seconds.
      {"topic.metadata.refresh.interval.ms", "5000"},
      // A crashed instance's partitions move to the others within ~10 s
      // (librdkafka's default is 45 s).
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "3000"},
  };
  RETURN_IF_ERROR(kafka::ConfigureKafkaClient(
      conf->c_ptr_global(), std::move(settings), impl->options.extra_properties,
      kafka::KafkaClient::kConsumer));
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(impl.get()),
                error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(impl.get()),
                error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (impl->consumer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("creating the Kafka consumer: ", error));
  }
  if (!impl->options.assign_directly.empty()) {
    RETURN_IF_ERROR(impl->AssignDirectly());
    return std::unique_ptr<KafkaRecordSource>(
        new KafkaRecordSource(std::move(impl)));
  }
  RdKafka::ErrorCode subscribed =
      impl->consumer->subscribe(impl->options.topics);
  if (subscribed != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subscribing to ", absl::StrJoin(impl->options.topics, ","), ": ",
        RdKafka::err2str(subscribed)));
  }
  return std::unique_ptr<KafkaRecordSource>(
      new KafkaRecordSource(std::move(impl)));
}

absl::StatusOr<std::optional<ConsumedRecord>> KafkaRecordSource::Poll(
    absl::Duration timeout) {
  Impl& s = *impl_;
  if (!s.fatal.ok()) return s.fatal;
  std::unique_ptr<RdKafka::Message> m(s.consumer->consume(
      static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  if (!s.fatal.ok()) return s.fatal;
  if (absl::Now() - s.last_lag_update > absl::Seconds(1)) s.UpdateLag();
  switch (m->err()) {
    case RdKafka::ERR_NO_ERROR:
      break;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::nullopt;
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      // enrich-cdc creates its topics on its first start: wait for them.
      if (s.warned_topics.insert(m->topic_name()).second) {
        s.log->Warn("topic not available yet; waiting for it",
                    {{"topic", m->topic_name()}, {"error", m->errstr()}});
      }
      return std::nullopt;
    case RdKafka::ERR__FATAL:
      return absl::InternalError(
          absl::StrCat("fatal Kafka consumer error: ", m->errstr()));
    default:
      return absl::UnavailableError(absl::StrCat(
          "Kafka consumer: ", RdKafka::err2str(m->err()), ": ", m->errstr()));
  }
  ConsumedRecord record;
  record.topic = m->topic_name();
  record.partition = m->partition();
  record.offset = m->offset();
  if (m->key() != nullptr) record.key = *m->key();
  if (m->payload() != nullptr) {
    record.value.emplace(static_cast<const char*>(m->payload()), m->len());
  }
  return record;
}

uint64_t KafkaRecordSource::assignment_generation() const {
  return impl_->generation;
}

void KafkaRecordSource::Committed(const std::vector<PartitionOffset>& offsets) {
  for (const PartitionOffset& o : offsets) {
    auto it = impl_->assignment.find({o.topic, o.partition});
    if (it != impl_->assignment.end()) {
      it->second = std::max(it->second, o.next_offset);
    }
  }
  impl_->UpdateLag();
}

std::vector<PartitionOffset> KafkaRecordSource::Assignment() const {
  std::vector<PartitionOffset> out;
  for (const auto& [key, next] : impl_->assignment) {
    out.push_back({key.first, key.second, next});
  }
  return out;
}

absl::StatusOr<std::vector<PartitionOffset>> KafkaRecordSource::EndOffsets(
    absl::Duration timeout) {
  std::vector<PartitionOffset> out;
  for (const auto& [key, next] : impl_->assignment) {
    int64_t low = 0, high = 0;
    RdKafka::ErrorCode err = impl_->consumer->query_watermark_offsets(
        key.first, key.second, &low, &high,
        static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("querying the end of ",
                                                 key.first, "/", key.second,
                                                 ": ", RdKafka::err2str(err)));
    }
    out.push_back({key.first, key.second, high});
  }
  return out;
}

std::optional<int64_t> KafkaRecordSource::TotalLag() const {
  int64_t total = 0;
  for (const auto& [key, next] : impl_->assignment) {
    std::optional<int64_t> lag = impl_->Lag(key, next);
    if (!lag) return std::nullopt;
    total += *lag;
  }
  return total;
}

void KafkaRecordSource::Close() {
  if (impl_ == nullptr || impl_->closed) return;
  impl_->closed = true;
  if (!impl_->options.assign_directly.empty()) impl_->consumer->unassign();
  impl_->consumer->close();
}

}  // namespace enrich::processor
