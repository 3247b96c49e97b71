// Setting a librdkafka client's configuration, for every Kafka client of
// both executables (enrich-cdc's sink and topic admin through the C API,
// the processor's consumer and dead-letter producer through RdKafka::Conf's
// c_ptr_global()). The settings themselves come from ClientProperties
// (cdc/kafka/kafka_properties.h). rdkafka.h stays in the .cc.
#ifndef ENRICH_CDC_KAFKA_KAFKA_CLIENT_CONFIG_H_
#define ENRICH_CDC_KAFKA_KAFKA_CLIENT_CONFIG_H_

#include "absl/status/status.h"
#include "cdc/kafka/kafka_properties.h"

struct rd_kafka_conf_s;

namespace enrich::kafka {

// Sets `properties` on `conf` in order. InvalidArgument naming the first key
// librdkafka refuses, with its value and librdkafka's reason unless the key
// is secret (IsSecretKafkaProperty: the reason may quote the value):
//   "invalid Kafka property linger.ms=soon: ..." or
//   "invalid Kafka property sasl.password (value hidden)".
absl::Status SetKafkaProperties(rd_kafka_conf_s* conf,
                                const KafkaProperties& properties);

// ClientProperties(base, extra, client), set on `conf`.
absl::Status ConfigureKafkaClient(rd_kafka_conf_s* conf, KafkaProperties base,
                                  const KafkaProperties& extra,
                                  KafkaClient client);

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_KAFKA_CLIENT_CONFIG_H_
