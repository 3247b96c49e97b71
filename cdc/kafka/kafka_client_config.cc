#include "cdc/kafka/kafka_client_config.h"

#include <librdkafka/rdkafka.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace enrich::kafka {

absl::Status SetKafkaProperties(rd_kafka_conf_t* conf,
                                const KafkaProperties& properties) {
  char error[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error,
                          sizeof(error)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          IsSecretKafkaProperty(key)
              ? absl::StrCat("invalid Kafka property ", key, " (value hidden)")
              : absl::StrCat("invalid Kafka property ", key, "=", value, ": ",
                             error));
    }
  }
  return absl::OkStatus();
}

absl::Status ConfigureKafkaClient(rd_kafka_conf_t* conf, KafkaProperties base,
                                  const KafkaProperties& extra,
                                  KafkaClient client) {
  absl::StatusOr<KafkaProperties> properties =
      ClientProperties(std::move(base), extra, client);
  if (!properties.ok()) return properties.status();
  return SetKafkaProperties(conf, *properties);
}

}  // namespace enrich::kafka
