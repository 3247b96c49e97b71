#include "cdc/kafka/kafka_properties.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace enrich::kafka {

absl::StatusOr<KafkaProperties> ParseKafkaProperties(absl::string_view text) {
  KafkaProperties properties;
  for (absl::string_view entry :
       absl::StrSplit(text, absl::ByAnyChar(";\n"), absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t equals = entry.find('=');
    if (equals == absl::string_view::npos) {
      // No '=' means no value, so nothing secret can leak by naming it.
      return absl::InvalidArgumentError(absl::StrCat(
          "Kafka property \"", entry, "\" has no '=': want key=value"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(entry.substr(0, equals));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          "a Kafka property has an empty key: want key=value");
    }
    properties.emplace_back(std::string(key),
                            std::string(entry.substr(equals + 1)));
  }
  return properties;
}

bool IsSecretKafkaProperty(absl::string_view key) {
  std::string lower = absl::AsciiStrToLower(key);
  return absl::StrContains(lower, "password") ||
         absl::StrContains(lower, "secret") ||
         absl::StrContains(lower, "pem") || absl::StrContains(lower, "jaas") ||
         absl::StrContains(lower, "oauthbearer.config") ||
         absl::StrContains(lower, "token");
}

std::string RedactedKafkaProperties(const KafkaProperties& properties) {
  std::string out;
  for (const auto& [key, value] : properties) {
    absl::StrAppend(&out, out.empty() ? "" : " ", key, "=",
                    IsSecretKafkaProperty(key) ? "<redacted>" : value);
  }
  return out;
}

absl::Status CheckProducerDurability(const KafkaProperties& properties) {
  for (const auto& [key, value] : properties) {
    std::string lower = absl::AsciiStrToLower(value);
    if (key == "enable.idempotence" && lower != "true") {
      return absl::InvalidArgumentError(
          "Kafka property enable.idempotence must stay true: without it a "
          "retried batch can be duplicated or reordered");
    }
    if ((key == "acks" || key == "request.required.acks") && lower != "all" &&
        lower != "-1") {
      return absl::InvalidArgumentError(absl::StrCat(
          "Kafka property ", key, "=", value,
          " would confirm records before every in-sync replica has them; "
          "only all (-1) is allowed"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KafkaProperties> ClientProperties(KafkaProperties base,
                                                 const KafkaProperties& extra,
                                                 KafkaClient client) {
  switch (client) {
    case KafkaClient::kProducer: {
      absl::Status durable = CheckProducerDurability(extra);
      if (!durable.ok()) return durable;
      break;
    }
    case KafkaClient::kConsumer:
    case KafkaClient::kAdmin:
      break;
  }
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

}  // namespace enrich::kafka
