// The test Kafka broker works with Debian's librdkafka 2.0.2 the way the
// pipeline uses it: topic creation through the admin API, the idempotent
// producer with every compression codec, and a consumer group reading back.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/services_environment.h"

namespace enrich::testing {
namespace {

void CreateTopic(const std::string& topic, int partitions) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(
      rd_kafka_conf_set(conf, "bootstrap.servers",
                        Services().kafka_brokers.c_str(), error, sizeof(error)),
      RD_KAFKA_CONF_OK);
  rd_kafka_t* admin =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(admin, nullptr) << error;
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, /*replication_factor=*/1,
                            error, sizeof(error));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
  rd_kafka_CreateTopics(admin, &new_topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr) << "no CreateTopics answer in 30 s";
  const rd_kafka_CreateTopics_result_t* result =
      rd_kafka_event_CreateTopics_result(event);
  size_t count = 0;
  const rd_kafka_topic_result_t** topics =
      rd_kafka_CreateTopics_result_topics(result, &count);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(topics[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(topics[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_destroy(admin);
}

class KafkaSmokeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KafkaSmokeTest, IdempotentCompressedProduceThenGroupConsume) {
  const std::string codec = GetParam();
  const std::string topic = absl::StrCat("smoke.", codec);
  const int kMessages = 200;
  CreateTopic(topic, 3);

  std::string error;
  std::unique_ptr<RdKafka::Conf> pconf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(pconf->set("bootstrap.servers", Services().kafka_brokers, error),
            RdKafka::Conf::CONF_OK);
  ASSERT_EQ(pconf->set("enable.idempotence", "true", error),
            RdKafka::Conf::CONF_OK);
  ASSERT_EQ(pconf->set("acks", "all", error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(pconf->set("compression.codec", codec, error),
            RdKafka::Conf::CONF_OK)
      << error;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(pconf.get(), error));
  ASSERT_NE(producer, nullptr) << error;
  for (int i = 0; i < kMessages; ++i) {
    std::string key = absl::StrCat("key-", i);
    std::string value = absl::StrCat("value-", i, "-", std::string(100, 'x'));
    ASSERT_EQ(
        producer->produce(topic, RdKafka::Topic::PARTITION_UA,
                          RdKafka::Producer::RK_MSG_COPY, value.data(),
                          value.size(), key.data(), key.size(), 0, nullptr),
        RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(30000), RdKafka::ERR_NO_ERROR);

  std::unique_ptr<RdKafka::Conf> cconf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  cconf->set("bootstrap.servers", Services().kafka_brokers, error);
  cconf->set("group.id", absl::StrCat("smoke-group-", codec), error);
  cconf->set("auto.offset.reset", "earliest", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), error));
  ASSERT_NE(consumer, nullptr) << error;
  ASSERT_EQ(consumer->subscribe({topic}), RdKafka::ERR_NO_ERROR);

  std::set<std::string> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < kMessages &&
         std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(500));
    if (message->err() == RdKafka::ERR__TIMED_OUT) continue;
    ASSERT_EQ(message->err(), RdKafka::ERR_NO_ERROR) << message->errstr();
    std::string value(static_cast<const char*>(message->payload()),
                      message->len());
    EXPECT_EQ(value.rfind(absl::StrCat("value-", message->key()->substr(4)), 0),
              0u);
    seen.insert(*message->key());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
  ASSERT_EQ(consumer->commitSync(), RdKafka::ERR_NO_ERROR);
  consumer->close();
}

INSTANTIATE_TEST_SUITE_P(Codecs, KafkaSmokeTest,
                         ::testing::Values("none", "gzip", "snappy", "lz4",
                                           "zstd"));

}  // namespace
}  // namespace enrich::testing
