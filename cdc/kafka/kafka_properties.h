// librdkafka configuration passthrough: "key=value" pairs an operator adds to
// the pipeline's own settings (security.protocol, sasl.*, ssl.*, tuning).
// Pure functions, thread-safe.
#ifndef ENRICH_CDC_KAFKA_KAFKA_PROPERTIES_H_
#define ENRICH_CDC_KAFKA_KAFKA_PROPERTIES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::kafka {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// Parses "k1=v1;k2=v2" (';' or newlines separate entries; whitespace around
// keys and entries is trimmed; empty entries are skipped; the value is
// everything after the first '='). Values therefore cannot contain ';' or a
// newline - give such settings as files (e.g. ssl.key.location). Errors are
// InvalidArgument and never echo a secret value.
absl::StatusOr<KafkaProperties> ParseKafkaProperties(absl::string_view text);

// True for keys whose values must never be logged (passwords, keys, tokens).
bool IsSecretKafkaProperty(absl::string_view key);

// "k1=v1 k2=<redacted>" for logs.
std::string RedactedKafkaProperties(const KafkaProperties& properties);

// The durability floor of every producer the pipeline creates (the event
// sink and the processor's dead-letter producer): operator properties may
// not turn idempotence off or confirm records before every in-sync replica
// has them. InvalidArgument naming the key when `properties` would, e.g.
//   CheckProducerDurability({{"acks", "1"}})  // InvalidArgument
//   CheckProducerDurability({{"acks", "all"}, {"linger.ms", "5"}})  // OK
absl::Status CheckProducerDurability(const KafkaProperties& properties);

// What a client of the pipeline does with Kafka, for ClientProperties.
enum class KafkaClient {
  kProducer,  // writes records: enrich-cdc's sink, the dead-letter producer
  kConsumer,  // the processor's record source
  kAdmin,     // creates and describes topics; writes nothing
};

// The settings a client is created with, in the order to set them: the
// pipeline's own `base`, then the operator's `extra` (--kafka-properties),
// which therefore win where both name a key. A producer's `extra` must
// pass CheckProducerDurability first (its error is returned). E.g.
//   ClientProperties({{"acks", "all"}}, {{"linger.ms", "5"}},
//                    KafkaClient::kProducer)
//     // {{"acks", "all"}, {"linger.ms", "5"}}
absl::StatusOr<KafkaProperties> ClientProperties(KafkaProperties base,
                                                 const KafkaProperties& extra,
                                                 KafkaClient client);

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_KAFKA_PROPERTIES_H_
