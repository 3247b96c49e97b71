// Kafka topic names for change events: one topic per table,
// "<prefix>.<schema>.<table>", e.g. "support.public.conversations".
//
// Kafka accepts 1..249 characters from [a-zA-Z0-9._-], and not "." or "..".
// PostgreSQL identifiers can hold anything (quoted names with spaces, unicode,
// ...); such a name is an error naming the table, never silently rewritten,
// because a rewrite could map two tables onto one topic. Pure functions,
// thread-safe.
#ifndef ENRICH_CDC_KAFKA_TOPIC_NAMING_H_
#define ENRICH_CDC_KAFKA_TOPIC_NAMING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::kafka {

inline constexpr size_t kMaxTopicNameLength = 249;

// OK when `name` is a legal Kafka topic name; otherwise InvalidArgument
// saying which rule it breaks (and at which character).
absl::Status ValidateTopicName(absl::string_view name);

// "<prefix>.<schema>.<table>", validated. An empty prefix gives
// "<schema>.<table>". Schema and table must be non-empty.
absl::StatusOr<std::string> TopicNameFor(absl::string_view prefix,
                                         absl::string_view schema,
                                         absl::string_view table);

// Kafka's metrics treat '.' and '_' alike, so "a.b" and "a_b" collide there
// (the broker warns and refuses to create the second). Two names with equal
// CollisionKey() must not both be used.
std::string TopicCollisionKey(absl::string_view name);

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_TOPIC_NAMING_H_
