// Makes sure the change-event topics exist, through librdkafka's admin API
// (librdkafka stays inside topic_admin.cc).
//
//   ASSIGN_OR_RETURN(auto admin, TopicAdmin::Create(brokers, properties));
//   ASSIGN_OR_RETURN(std::vector<TopicState> topics,
//                    admin->EnsureTopics({{"support.public.messages", 6, 3}},
//                                        absl::Seconds(30)));
//   // topics[i].partitions feeds PartitionFor().
//
// Existing topics are left as they are (never altered); their actual
// partition count is reported, and may differ from the one asked for.
// Not thread-safe: use from one thread.
#ifndef ENRICH_CDC_KAFKA_TOPIC_ADMIN_H_
#define ENRICH_CDC_KAFKA_TOPIC_ADMIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdc/common/log.h"
#include "cdc/kafka/kafka_properties.h"

namespace enrich::kafka {

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = 1;
  // Topic configs applied on creation only, e.g. {"cleanup.policy",
  // "compact"}.
  KafkaProperties configs;
};

struct TopicState {
  std::string name;
  int32_t partitions = 0;  // actual count
  bool created = false;    // true when this call created it
};

class TopicAdmin {
 public:
  // `extra_properties` are client settings (security, ...). `logger` may be
  // null; otherwise it must outlive the admin, and gets librdkafka's errors
  // about the brokers as warnings (msg="kafka client error" client=admin).
  static absl::StatusOr<std::unique_ptr<TopicAdmin>> Create(
      const std::string& brokers, const KafkaProperties& extra_properties = {},
      Logger* logger = nullptr);
  ~TopicAdmin();
  TopicAdmin(const TopicAdmin&) = delete;
  TopicAdmin& operator=(const TopicAdmin&) = delete;

  // Creates the missing topics and returns every topic's state, in `specs`
  // order, once each is visible in the cluster metadata with all its
  // partitions. Errors: InvalidArgument for a bad spec (topic name,
  // partitions < 1, replication < 1); FailedPrecondition when the cluster
  // refuses (replication factor above the broker count, ACLs, policy), and
  // as soon as a broker refuses the client's credentials (SASL) or TLS fails
  // (an untrusted certificate), then with the operator's action attached
  // (OperatorAction(), cdc/common/pg_error_class.h); Unavailable /
  // DeadlineExceeded when the cluster does not answer within `timeout`, with
  // the last error librdkafka reported about the brokers in the message.
  absl::StatusOr<std::vector<TopicState>> EnsureTopics(
      const std::vector<TopicSpec>& specs, absl::Duration timeout);

  // Partition counts of the named topics that exist (missing ones are absent
  // from the result). Never creates anything. Errors as EnsureTopics's.
  absl::StatusOr<absl::flat_hash_map<std::string, int32_t>> PartitionCounts(
      const std::vector<std::string>& topics, absl::Duration timeout);

 private:
  struct Handles;
  TopicAdmin(std::unique_ptr<Handles> handles, Logger* logger);
  absl::Status CreateMissing(const std::vector<const TopicSpec*>& missing,
                             absl::Duration timeout);

  std::unique_ptr<Handles> handles_;
  Logger* logger_;
};

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_TOPIC_ADMIN_H_
