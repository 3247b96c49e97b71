// KafkaDeadLetterSink configuration that needs no broker: the dead-letter
// producer keeps the main producer's durability floor.
#include <string>

#include "gtest/gtest.h"
#include "processor/adapters/kafka_dead_letter_sink.h"

namespace enrich::processor {
namespace {

KafkaDeadLetterSink::Options Offline() {
  KafkaDeadLetterSink::Options options;
  options.brokers = "127.0.0.1:1";  // nothing listens on port 1
  options.topic = "test.dead_letter";
  return options;
}

TEST(KafkaDeadLetterSinkOfflineTest, RefusesWeakerDurability) {
  KafkaDeadLetterSink::Options options = Offline();
  options.extra_properties = {{"enable.idempotence", "false"}};
  EXPECT_EQ(KafkaDeadLetterSink::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.extra_properties = {{"acks", "1"}};
  EXPECT_EQ(KafkaDeadLetterSink::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.extra_properties = {{"request.required.acks", "0"}};
  EXPECT_EQ(KafkaDeadLetterSink::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.extra_properties = {{"acks", "all"}, {"linger.ms", "5"}};
  EXPECT_TRUE(KafkaDeadLetterSink::Create(options).ok());
}

}  // namespace
}  // namespace enrich::processor
