#include "cdc/kafka/topic_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/kafka/kafka_client_config.h"
#include "cdc/kafka/producer_errors.h"
#include "cdc/kafka/topic_naming.h"

namespace enrich::kafka {

namespace {

// What librdkafka reported about the brokers (its error_cb), served by
// rd_kafka_poll() on the thread that uses the admin: a metadata request to a
// broker that refuses us only times out, and the why is here.
struct BrokerErrors {
  Logger* logger = nullptr;
  // FailedPrecondition, with the operator's action, once a broker refused
  // the client's credentials or TLS; OK otherwise.
  absl::Status refused;
  // The reason of the last error, for a timeout's message.
  std::string last_reason;
};

// Authentication and TLS failures do not heal by retrying: the operator's
// settings (--kafka-properties) or the broker's users and certificate must
// change. OK for every other error.
absl::Status RefusalFor(int code, absl::string_view reason) {
  absl::Status status;
  switch (code) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      status = absl::FailedPreconditionError(
          absl::StrCat("Kafka refused the client's credentials: ", reason));
      SetOperatorAction(
          &status,
          "check sasl.mechanism, sasl.username and sasl.password in "
          "--kafka-properties (ENRICH_KAFKA_PROPERTIES) against the broker's "
          "SCRAM users, then restart");
      return status;
    case RD_KAFKA_RESP_ERR__SSL:
      status = absl::FailedPreconditionError(
          absl::StrCat("TLS with the Kafka broker failed: ", reason));
      SetOperatorAction(
          &status,
          "check ssl.ca.location in --kafka-properties "
          "(ENRICH_KAFKA_PROPERTIES): it must hold the authority that signed "
          "the broker's certificate, and the certificate must name the host "
          "in --kafka-brokers; then restart");
      return status;
    default:
      return absl::OkStatus();
  }
}

void OnBrokerError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* errors = static_cast<BrokerErrors*>(opaque);
  errors->last_reason = reason == nullptr ? "" : reason;
  if (absl::Status refused = RefusalFor(err, errors->last_reason);
      !refused.ok() && errors->refused.ok()) {
    errors->refused = refused;
  }
  if (errors->logger != nullptr) {
    errors->logger->Warn("kafka client error",
                         {{"client", "admin"},
                          {"error", ProducerErrorName(err)},
                          {"reason", errors->last_reason}});
  }
}

}  // namespace

struct TopicAdmin::Handles {
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  BrokerErrors errors;  // the error_cb's opaque: outlives rk
  ~Handles() {
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

namespace {

int TimeoutMs(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

// Partition counts of every topic the cluster reports (all topics, so that
// asking never auto-creates anything). Asks in slices of a second and serves
// the error callbacks in between, so that a refusal (credentials, TLS) ends
// the wait at once instead of at the timeout.
absl::StatusOr<absl::flat_hash_map<std::string, int32_t>> ReadMetadata(
    rd_kafka_t* rk, const BrokerErrors& errors, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err;
  while (true) {
    err = rd_kafka_metadata(
        rk, /*all_topics=*/1, nullptr, &metadata,
        TimeoutMs(std::min(deadline - absl::Now(), absl::Seconds(1))));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    rd_kafka_poll(rk, 0);
    if (!errors.refused.ok()) return errors.refused;
    if (absl::Now() >= deadline) {
      absl::Status status =
          ProducerErrorToStatus(err, "read Kafka cluster metadata");
      if (errors.last_reason.empty()) return status;
      return absl::Status(
          status.code(), absl::StrCat(status.message(), "; last broker error: ",
                                      errors.last_reason));
    }
  }
  absl::flat_hash_map<std::string, int32_t> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
    if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;  // not usable yet
    bool leaders = true;
    for (int p = 0; p < topic.partition_cnt; ++p) {
      if (topic.partitions[p].leader < 0) leaders = false;
    }
    if (topic.partition_cnt > 0 && leaders) {
      counts[topic.topic] = topic.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

}  // namespace

TopicAdmin::TopicAdmin(std::unique_ptr<Handles> handles, Logger* logger)
    : handles_(std::move(handles)), logger_(logger) {}

TopicAdmin::~TopicAdmin() = default;

absl::StatusOr<std::unique_ptr<TopicAdmin>> TopicAdmin::Create(
    const std::string& brokers, const KafkaProperties& extra_properties,
    Logger* logger) {
  if (brokers.empty()) {
    return absl::InvalidArgumentError("no Kafka brokers given");
  }
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::Status configured =
      ConfigureKafkaClient(conf,
                           {{"bootstrap.servers", brokers},
                            {"client.id", "enrich-cdc-admin"},
                            {"allow.auto.create.topics", "false"}},
                           extra_properties, KafkaClient::kAdmin);
  if (!configured.ok()) {
    rd_kafka_conf_destroy(conf);
    return configured;
  }
  auto handles = std::make_unique<Handles>();
  handles->errors.logger = logger;
  rd_kafka_conf_set_error_cb(conf, OnBrokerError);
  rd_kafka_conf_set_opaque(conf, &handles->errors);
  handles->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (handles->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the Kafka admin client: ", error));
  }
  handles->queue = rd_kafka_queue_new(handles->rk);
  return std::unique_ptr<TopicAdmin>(
      new TopicAdmin(std::move(handles), logger));
}

absl::StatusOr<absl::flat_hash_map<std::string, int32_t>>
TopicAdmin::PartitionCounts(const std::vector<std::string>& topics,
                            absl::Duration timeout) {
  absl::StatusOr<absl::flat_hash_map<std::string, int32_t>> all =
      ReadMetadata(handles_->rk, handles_->errors, timeout);
  if (!all.ok()) return all.status();
  absl::flat_hash_map<std::string, int32_t> counts;
  for (const std::string& topic : topics) {
    auto it = all->find(topic);
    if (it != all->end()) counts[topic] = it->second;
  }
  return counts;
}

absl::Status TopicAdmin::CreateMissing(
    const std::vector<const TopicSpec*>& missing, absl::Duration timeout) {
  char error[512];
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  auto destroy_new_topics = [&] {
    for (rd_kafka_NewTopic_t* t : new_topics) rd_kafka_NewTopic_destroy(t);
  };
  for (const TopicSpec* spec : missing) {
    rd_kafka_NewTopic_t* new_topic =
        rd_kafka_NewTopic_new(spec->name.c_str(), spec->partitions,
                              spec->replication_factor, error, sizeof(error));
    if (new_topic == nullptr) {
      destroy_new_topics();
      return absl::InvalidArgumentError(
          absl::StrCat("topic ", spec->name, ": ", error));
    }
    new_topics.push_back(new_topic);
    for (const auto& [key, value] : spec->configs) {
      rd_kafka_resp_err_t err =
          rd_kafka_NewTopic_set_config(new_topic, key.c_str(), value.c_str());
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        destroy_new_topics();
        return absl::InvalidArgumentError(
            absl::StrCat("topic ", spec->name, " config ", key, "=", value,
                         ": ", rd_kafka_err2str(err)));
      }
    }
  }
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(handles_->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  // Wait for the controller to finish creating, within our budget.
  rd_kafka_AdminOptions_set_request_timeout(options, TimeoutMs(timeout), error,
                                            sizeof(error));
  rd_kafka_AdminOptions_set_operation_timeout(options, TimeoutMs(timeout),
                                              error, sizeof(error));
  rd_kafka_CreateTopics(handles_->rk, new_topics.data(), new_topics.size(),
                        options, handles_->queue);
  rd_kafka_AdminOptions_destroy(options);
  destroy_new_topics();

  // The answer arrives within the request timeout; allow a little slack.
  rd_kafka_event_t* event = rd_kafka_queue_poll(
      handles_->queue, TimeoutMs(timeout + absl::Seconds(5)));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat("no CreateTopics answer from Kafka within ",
                     absl::FormatDuration(timeout)));
  }
  absl::Status result;
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = ProducerErrorToStatus(
        rd_kafka_event_error(event),
        absl::StrCat("create topics: ", rd_kafka_event_error_string(event)));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics =
        rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count && result.ok(); ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
      const char* name = rd_kafka_topic_result_name(topics[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR ||
          err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        // Someone else may have created it meanwhile: just as good.
        if (logger_ != nullptr && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          logger_->Info("kafka topic created", {{"topic", name}});
        }
        continue;
      }
      const char* message = rd_kafka_topic_result_error_string(topics[i]);
      result = ProducerErrorToStatus(
          err, absl::StrCat("create topic ", name, ": ",
                            message == nullptr ? "" : message));
      if (result.code() == absl::StatusCode::kInternal) {
        result = absl::FailedPreconditionError(result.message());
      }
    }
  }
  rd_kafka_event_destroy(event);
  return result;
}

absl::StatusOr<std::vector<TopicState>> TopicAdmin::EnsureTopics(
    const std::vector<TopicSpec>& specs, absl::Duration timeout) {
  for (const TopicSpec& spec : specs) {
    absl::Status valid = ValidateTopicName(spec.name);
    if (!valid.ok()) return valid;
    if (spec.partitions < 1 || spec.replication_factor < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic ", spec.name, ": partitions (", spec.partitions,
                       ") and replication factor (", spec.replication_factor,
                       ") must be at least 1"));
    }
  }
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<absl::flat_hash_map<std::string, int32_t>> counts =
      ReadMetadata(handles_->rk, handles_->errors, timeout);
  if (!counts.ok()) return counts.status();

  std::vector<const TopicSpec*> missing;
  for (const TopicSpec& spec : specs) {
    if (!counts->contains(spec.name)) missing.push_back(&spec);
  }
  if (!missing.empty()) {
    absl::Status created = CreateMissing(
        missing, std::max(deadline - absl::Now(), absl::Milliseconds(1)));
    if (!created.ok()) return created;
  }

  // Creation is asynchronous across the cluster: wait until every topic is
  // in the metadata with a leader for each partition.
  while (true) {
    bool all_visible = true;
    for (const TopicSpec& spec : specs) {
      if (!counts->contains(spec.name)) all_visible = false;
    }
    if (all_visible) break;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "Kafka topics created but not all visible with leaders within ",
          absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    counts = ReadMetadata(handles_->rk, handles_->errors, left);
    if (!counts.ok()) return counts.status();
  }

  std::vector<TopicState> states;
  for (const TopicSpec& spec : specs) {
    TopicState state;
    state.name = spec.name;
    state.partitions = counts->at(spec.name);
    state.created =
        std::find(missing.begin(), missing.end(), &spec) != missing.end();
    if (!state.created && state.partitions != spec.partitions &&
        logger_ != nullptr) {
      logger_->Warn("kafka topic exists with a different partition count",
                    {{"topic", spec.name},
                     {"partitions", absl::StrCat(state.partitions)},
                     {"requested", absl::StrCat(spec.partitions)}});
    }
    states.push_back(std::move(state));
  }
  return states;
}

}  // namespace enrich::kafka
