// Setting the pipeline's librdkafka configuration (no broker needed): the
// error names the refused key and hides a secret value.
#include "cdc/kafka/kafka_client_config.h"

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Conf = std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)>;

Conf NewConf() { return Conf(rd_kafka_conf_new(), rd_kafka_conf_destroy); }

std::string Get(rd_kafka_conf_t* conf, const char* key) {
  char value[256];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK) return "";
  return value;
}

TEST(KafkaClientConfigTest, OperatorsPropertiesOverrideOurs) {
  Conf conf = NewConf();
  ASSERT_TRUE(ConfigureKafkaClient(conf.get(), {{"linger.ms", "0"}},
                                   {{"linger.ms", "7"}}, KafkaClient::kConsumer)
                  .ok());
  EXPECT_EQ(Get(conf.get(), "linger.ms"), "7");
}

TEST(KafkaClientConfigTest, RefusedKeyNamedWithItsValue) {
  Conf conf = NewConf();
  absl::Status status = SetKafkaProperties(conf.get(), {{"linger.ms", "soon"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("linger.ms=soon"));
}

TEST(KafkaClientConfigTest, RefusedSecretKeyHidesItsValue) {
  Conf conf = NewConf();
  absl::Status status =
      SetKafkaProperties(conf.get(), {{"no.such.password", "hunter2"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no.such.password"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("hunter2")));
}

TEST(KafkaClientConfigTest, ProducerFloorCheckedBeforeAnythingIsSet) {
  Conf conf = NewConf();
  absl::Status status =
      ConfigureKafkaClient(conf.get(), {{"linger.ms", "3"}}, {{"acks", "1"}},
                           KafkaClient::kProducer);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("acks"));
  EXPECT_NE(Get(conf.get(), "linger.ms"), "3");
}

}  // namespace
}  // namespace enrich::kafka
