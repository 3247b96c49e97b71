#include "cdc/kafka/topic_naming.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace enrich::kafka {
namespace {

bool IsTopicChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

}  // namespace

absl::Status ValidateTopicName(absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("Kafka topic name is empty");
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka topic name \"", name, "\" is not allowed"));
  }
  if (name.size() > kMaxTopicNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Kafka topic name \"", name.substr(0, 40), "...\" is ", name.size(),
        " characters long; the limit is ", kMaxTopicNameLength));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsTopicChar(name[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Kafka topic name \"", absl::CHexEscape(name),
          "\" has the character '", absl::CHexEscape(name.substr(i, 1)),
          "' at offset ", i, "; Kafka allows only [a-zA-Z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TopicNameFor(absl::string_view prefix,
                                         absl::string_view schema,
                                         absl::string_view table) {
  if (schema.empty() || table.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot name a topic for table \"", schema, "\".\"", table,
                     "\": schema and table must be non-empty"));
  }
  std::string name = prefix.empty()
                         ? absl::StrCat(schema, ".", table)
                         : absl::StrCat(prefix, ".", schema, ".", table);
  absl::Status valid = ValidateTopicName(name);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table \"", absl::CHexEscape(schema), "\".\"", absl::CHexEscape(table),
        "\" with topic prefix \"", prefix, "\": ", valid.message()));
  }
  return name;
}

std::string TopicCollisionKey(absl::string_view name) {
  std::string key(name);
  std::replace(key.begin(), key.end(), '.', '_');
  return key;
}

}  // namespace enrich::kafka
