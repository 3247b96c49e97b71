#include "cdc/inspect_command.h"

#include <google/protobuf/util/json_util.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/common/options.h"
#include "cdc/kafka/kafka_client_config.h"
#include "cdc/kafka/kafka_properties.h"
#include "proto/change_event.pb.h"

namespace enrich::cdc {

int RunInspect(const std::vector<std::string>& args) {
  std::string brokers, topic, group, kafka_properties;
  bool from_beginning = false;
  int64_t limit = 0, idle_ms = 0;
  OptionSet opts("enrich-cdc inspect",
                 "prints change events from a topic as JSON lines.\n\nUsage: "
                 "enrich-cdc inspect --topic T [--from-beginning] [--limit N]");
  opts.AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                 "Kafka bootstrap servers.", &brokers);
  opts.AddString("kafka-properties", "ENRICH_KAFKA_PROPERTIES", "",
                 "Extra librdkafka properties, key=value;key2=value2 (e.g. "
                 "TLS and SASL settings).",
                 &kafka_properties);
  opts.AddString("topic", "", "", "Topic to read (required).", &topic);
  opts.AddBool("from-beginning", "", false,
               "Start at the oldest record instead of the newest.",
               &from_beginning);
  opts.AddInt("limit", "", 0, "Stop after N events (0: no limit).", &limit);
  opts.AddInt("idle-exit-ms", "", 0,
              "Exit once no record arrived for this long (0: never).",
              &idle_ms);
  auto rest =
      opts.Parse(args, [](const char* name) { return std::getenv(name); });
  if (!rest.ok()) {
    std::fprintf(stderr, "enrich-cdc inspect: %s\n",
                 std::string(rest.status().message()).c_str());
    return 2;
  }
  if (opts.help_requested()) {
    std::fputs(opts.Help().c_str(), stdout);
    return 0;
  }
  if (topic.empty()) {
    std::fputs("enrich-cdc inspect: --topic is required\n", stderr);
    return 2;
  }
  absl::StatusOr<kafka::KafkaProperties> extra =
      kafka::ParseKafkaProperties(kafka_properties);
  if (!extra.ok()) {
    std::fprintf(stderr, "enrich-cdc inspect: --kafka-properties: %s\n",
                 std::string(extra.status().message()).c_str());
    return 2;
  }
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  // A throwaway group: inspecting never moves anyone's committed offsets.
  absl::Status configured = kafka::ConfigureKafkaClient(
      conf->c_ptr_global(),
      {{"bootstrap.servers", brokers},
       {"group.id",
        absl::StrCat("enrich-inspect-", absl::ToUnixNanos(absl::Now()))},
       {"enable.auto.commit", "false"},
       {"auto.offset.reset", from_beginning ? "earliest" : "latest"}},
      *extra, kafka::KafkaClient::kConsumer);
  if (!configured.ok()) {
    std::fprintf(stderr, "enrich-cdc inspect: %s\n",
                 std::string(configured.message()).c_str());
    return 2;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) {
    std::fprintf(stderr, "enrich-cdc inspect: %s\n", error.c_str());
    return 1;
  }
  if (consumer->subscribe({topic}) != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "enrich-cdc inspect: cannot subscribe to %s\n",
                 topic.c_str());
    return 1;
  }
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  int64_t printed = 0;
  absl::Time last_record = absl::Now();
  while (limit == 0 || printed < limit) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT ||
        m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (idle_ms > 0 &&
          absl::Now() - last_record > absl::Milliseconds(idle_ms)) {
        break;
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "enrich-cdc inspect: %s\n", m->errstr().c_str());
      return 1;
    }
    last_record = absl::Now();
    std::string key = m->key() ? *m->key() : "";
    if (m->payload() == nullptr) {
      std::printf(
          "{\"partition\":%d,\"offset\":%lld,\"key\":\"%s\","
          "\"tombstone\":true}\n",
          m->partition(), static_cast<long long>(m->offset()), key.c_str());
    } else {
      v1::ChangeEvent event;
      std::string text;
      if (!event.ParseFromArray(m->payload(), static_cast<int>(m->len())) ||
          !google::protobuf::util::MessageToJsonString(event, &text, json)
               .ok()) {
        std::fprintf(stderr,
                     "enrich-cdc inspect: undecodable record at partition %d "
                     "offset %lld\n",
                     m->partition(), static_cast<long long>(m->offset()));
        continue;
      }
      std::printf("{\"partition\":%d,\"offset\":%lld,\"event\":%s}\n",
                  m->partition(), static_cast<long long>(m->offset()),
                  text.c_str());
    }
    std::fflush(stdout);
    ++printed;
  }
  consumer->close();
  return 0;
}

}  // namespace enrich::cdc
