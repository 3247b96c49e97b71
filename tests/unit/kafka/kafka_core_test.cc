// Pure Kafka pieces: topic naming, partitioner, property parsing, and the
// fake sink other components test against.
#include <string>

#include "cdc/kafka/fake_event_sink.h"
#include "cdc/kafka/kafka_properties.h"
#include "cdc/kafka/partitioner.h"
#include "cdc/kafka/topic_naming.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(TopicNamingTest, PrefixSchemaTable) {
  EXPECT_EQ(TopicNameFor("support", "public", "conversations").value(),
            "support.public.conversations");
  EXPECT_EQ(TopicNameFor("", "public", "messages").value(), "public.messages");
}

TEST(TopicNamingTest, RejectsIllegalCharactersNamingTheTable) {
  absl::StatusOr<std::string> name =
      TopicNameFor("support", "public", "my table");
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(name.status().message()),
              HasSubstr("\"public\".\"my table\""));
  EXPECT_THAT(std::string(name.status().message()), HasSubstr("offset 17"));
  EXPECT_FALSE(TopicNameFor("support", "", "t").ok());
  EXPECT_FALSE(TopicNameFor("support", "public", "caf\xc3\xa9").ok());
}

TEST(TopicNamingTest, ValidatesKafkaRules) {
  EXPECT_TRUE(ValidateTopicName("a-b_c.D9").ok());
  EXPECT_FALSE(ValidateTopicName("").ok());
  EXPECT_FALSE(ValidateTopicName(".").ok());
  EXPECT_FALSE(ValidateTopicName("..").ok());
  EXPECT_TRUE(ValidateTopicName("...").ok());
  EXPECT_TRUE(ValidateTopicName(std::string(249, 'a')).ok());
  EXPECT_FALSE(ValidateTopicName(std::string(250, 'a')).ok());
  EXPECT_FALSE(ValidateTopicName("a/b").ok());
  EXPECT_FALSE(ValidateTopicName("a b").ok());
}

TEST(TopicNamingTest, CollisionKeyTreatsDotAndUnderscoreAlike) {
  EXPECT_EQ(TopicCollisionKey("s.public.a_b"),
            TopicCollisionKey("s_public.a.b"));
  EXPECT_NE(TopicCollisionKey("s.a"), TopicCollisionKey("s.b"));
}

// Vectors from Apache Kafka's UtilsTest.testMurmur2 (the Java client's
// default partitioner hash).
TEST(PartitionerTest, MatchesKafkaJavaMurmur2Vectors) {
  EXPECT_EQ(KafkaMurmur2("21"), -973932308);
  EXPECT_EQ(KafkaMurmur2("foobar"), -790332482);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(KafkaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(KafkaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971);
  EXPECT_EQ(KafkaMurmur2("abc"), 479470107);
}

TEST(PartitionerTest, PartitionIsPositiveHashModuloCount) {
  // -790332482 & 0x7fffffff = 1357151166; % 10 = 6.
  EXPECT_EQ(PartitionFor("foobar", 10).value(), 6);
  EXPECT_EQ(PartitionFor("foobar", 1).value(), 0);
  for (int i = 0; i < 1000; ++i) {
    std::string value = std::to_string(i);
    int32_t partition = PartitionFor(value, 7).value();
    EXPECT_GE(partition, 0);
    EXPECT_LT(partition, 7);
    EXPECT_EQ(partition, PartitionFor(value, 7).value());  // stable
  }
  EXPECT_EQ(PartitionFor("x", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KafkaPropertiesTest, ParsesAndRedacts) {
  absl::StatusOr<KafkaProperties> parsed = ParseKafkaProperties(
      " security.protocol=SASL_SSL; sasl.password = p=w;\nlinger.ms=10;;");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("security.protocol", "SASL_SSL"),
                                   Pair("sasl.password", " p=w"),
                                   Pair("linger.ms", "10")));
  std::string redacted = RedactedKafkaProperties(*parsed);
  EXPECT_THAT(redacted, HasSubstr("sasl.password=<redacted>"));
  EXPECT_THAT(redacted, ::testing::Not(HasSubstr("p=w")));
  EXPECT_TRUE(IsSecretKafkaProperty("ssl.key.password"));
  EXPECT_FALSE(IsSecretKafkaProperty("bootstrap.servers"));
  EXPECT_FALSE(ParseKafkaProperties("novalue").ok());
  EXPECT_FALSE(ParseKafkaProperties("=v").ok());
  EXPECT_TRUE(ParseKafkaProperties("").value().empty());
}

TEST(KafkaPropertiesTest, ProducerDurabilityCannotBeWeakened) {
  EXPECT_TRUE(CheckProducerDurability({}).ok());
  EXPECT_TRUE(CheckProducerDurability({{"acks", "all"},
                                       {"acks", "-1"},
                                       {"request.required.acks", "ALL"},
                                       {"enable.idempotence", "True"},
                                       {"linger.ms", "0"}})
                  .ok());
  for (const auto& [key, value] :
       KafkaProperties{{"acks", "1"},
                       {"acks", "0"},
                       {"request.required.acks", "1"},
                       {"enable.idempotence", "false"},
                       {"enable.idempotence", ""}}) {
    absl::Status status =
        CheckProducerDurability({{"linger.ms", "5"}, {key, value}});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << key << "=" << value;
    EXPECT_THAT(status.message(), HasSubstr(key));
  }
}

TEST(KafkaPropertiesTest, ClientPropertiesPutTheOperatorsLast) {
  absl::StatusOr<KafkaProperties> properties =
      ClientProperties({{"acks", "all"}, {"linger.ms", "0"}},
                       {{"linger.ms", "5"}, {"security.protocol", "ssl"}},
                       KafkaClient::kProducer);
  ASSERT_TRUE(properties.ok()) << properties.status();
  EXPECT_THAT(
      *properties,
      ElementsAre(Pair("acks", "all"), Pair("linger.ms", "0"),
                  Pair("linger.ms", "5"), Pair("security.protocol", "ssl")));
}

TEST(KafkaPropertiesTest, ClientPropertiesHoldOnlyProducersToTheFloor) {
  const KafkaProperties weaker = {{"acks", "1"}};
  EXPECT_EQ(
      ClientProperties({}, weaker, KafkaClient::kProducer).status().code(),
      absl::StatusCode::kInvalidArgument);
  // A consumer or the topic admin writes no records: acks means nothing.
  EXPECT_TRUE(ClientProperties({}, weaker, KafkaClient::kConsumer).ok());
  EXPECT_TRUE(ClientProperties({}, weaker, KafkaClient::kAdmin).ok());
}

class FakeEventSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_.SetDeliveryCallback([this](uint64_t seq, absl::Status status) {
      reports_.emplace_back(seq, status.code());
    });
  }
  absl::Status Produce(uint64_t seq) {
    return sink_.Produce({"t", 0, "k", std::string("v"), seq});
  }
  FakeEventSink sink_;
  std::vector<std::pair<uint64_t, absl::StatusCode>> reports_;
};

TEST_F(FakeEventSinkTest, ReportsInOrderOnPollNotOnProduce) {
  ASSERT_TRUE(Produce(10).ok());
  ASSERT_TRUE(Produce(11).ok());
  EXPECT_TRUE(reports_.empty());
  EXPECT_EQ(sink_.in_flight(), 2);
  EXPECT_EQ(sink_.Poll(absl::ZeroDuration()), 2);
  EXPECT_THAT(reports_, ElementsAre(Pair(10, absl::StatusCode::kOk),
                                    Pair(11, absl::StatusCode::kOk)));
  EXPECT_EQ(sink_.in_flight(), 0);
  EXPECT_EQ(sink_.produced().size(), 2u);
}

TEST_F(FakeEventSinkTest, FailsProduceAndDelivery) {
  sink_.FailProduce(1, absl::UnavailableError("queue full"));
  sink_.FailDelivery(1, absl::InvalidArgumentError("too large"));
  ASSERT_TRUE(Produce(1).ok());                                  // record 0
  EXPECT_EQ(Produce(2).code(), absl::StatusCode::kUnavailable);  // refused
  ASSERT_TRUE(Produce(3).ok());                                  // record 1
  sink_.Poll(absl::ZeroDuration());
  EXPECT_THAT(reports_,
              ElementsAre(Pair(1, absl::StatusCode::kOk),
                          Pair(3, absl::StatusCode::kInvalidArgument)));
}

TEST_F(FakeEventSinkTest, DelayReordersAndDropNeverReports) {
  sink_.DelayDelivery(0, 1);
  sink_.DropDelivery(2);
  for (uint64_t seq = 0; seq < 4; ++seq) ASSERT_TRUE(Produce(seq).ok());
  sink_.Poll(absl::ZeroDuration());
  EXPECT_THAT(reports_, ElementsAre(Pair(1, absl::StatusCode::kOk),
                                    Pair(3, absl::StatusCode::kOk)));
  sink_.Poll(absl::ZeroDuration());
  EXPECT_EQ(reports_.back(),
            std::make_pair(uint64_t{0}, absl::StatusCode::kOk));
  EXPECT_EQ(sink_.in_flight(), 1);  // the dropped one
  absl::Status flushed = sink_.Flush(absl::InfiniteFuture());
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(FakeEventSinkTest, FlushDrainsDelayedRecords) {
  sink_.DelayDelivery(0, 5);
  ASSERT_TRUE(Produce(7).ok());
  EXPECT_TRUE(sink_.Flush(absl::InfiniteFuture()).ok());
  EXPECT_THAT(reports_, ElementsAre(Pair(7, absl::StatusCode::kOk)));
}

TEST_F(FakeEventSinkTest, HoldKeepsEverythingInFlight) {
  sink_.HoldDeliveries(true);
  ASSERT_TRUE(Produce(1).ok());
  EXPECT_EQ(sink_.Poll(absl::ZeroDuration()), 0);
  EXPECT_FALSE(sink_.Flush(absl::InfiniteFuture()).ok());
  sink_.HoldDeliveries(false);
  EXPECT_EQ(sink_.Poll(absl::ZeroDuration()), 1);
}

TEST_F(FakeEventSinkTest, FatalErrorFailsOutstandingAndLaterProduces) {
  ASSERT_TRUE(Produce(1).ok());
  sink_.SetFatalError(absl::InternalError("fenced"));
  EXPECT_EQ(sink_.fatal_error().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Produce(2).code(), absl::StatusCode::kInternal);
  sink_.Poll(absl::ZeroDuration());
  EXPECT_THAT(reports_, ElementsAre(Pair(1, absl::StatusCode::kInternal)));
}

TEST_F(FakeEventSinkTest, CallbackMayProduce) {
  sink_.SetDeliveryCallback([this](uint64_t seq, absl::Status) {
    reports_.emplace_back(seq, absl::StatusCode::kOk);
    if (seq == 1) {
      ASSERT_TRUE(Produce(2).ok());
    }
  });
  ASSERT_TRUE(Produce(1).ok());
  sink_.Poll(absl::ZeroDuration());
  sink_.Poll(absl::ZeroDuration());
  EXPECT_EQ(reports_.size(), 2u);
}

}  // namespace
}  // namespace enrich::kafka
