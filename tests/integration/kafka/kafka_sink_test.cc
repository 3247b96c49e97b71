// KafkaEventSink and TopicAdmin against the real test broker (Kafka 3.9.1):
// topic creation, explicit-partition produce read back in order, tombstones,
// oversized values, one delivery callback per record, and the metrics probe.
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/kafka_event_sink.h"
#include "cdc/kafka/partitioner.h"
#include "cdc/kafka/topic_admin.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/services_environment.h"

namespace enrich::kafka {
namespace {

using ::enrich::testing::Services;
using ::testing::HasSubstr;

struct ConsumedRecord {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::optional<std::string> value;
};

// Reads every partition of `topic` from the beginning until `expected`
// records arrived (or 60 s passed). Records come back per partition in offset
// order.
std::map<int32_t, std::vector<ConsumedRecord>> ReadBack(
    const std::string& topic, int32_t partitions, size_t expected) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", Services().kafka_brokers, error);
  conf->set("group.id", absl::StrCat("readback-", topic), error);
  conf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  EXPECT_NE(consumer, nullptr) << error;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int32_t p = 0; p < partitions; ++p) {
    assignment.push_back(RdKafka::TopicPartition::create(
        topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  EXPECT_EQ(consumer->assign(assignment), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(assignment);

  std::map<int32_t, std::vector<ConsumedRecord>> by_partition;
  size_t count = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (count < expected && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(500));
    if (message->err() == RdKafka::ERR__TIMED_OUT ||
        message->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    EXPECT_EQ(message->err(), RdKafka::ERR_NO_ERROR) << message->errstr();
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    ConsumedRecord record;
    record.partition = message->partition();
    record.offset = message->offset();
    record.key = message->key() != nullptr ? *message->key() : "";
    if (message->payload() != nullptr) {
      record.value = std::string(static_cast<const char*>(message->payload()),
                                 message->len());
    }
    by_partition[record.partition].push_back(std::move(record));
    ++count;
  }
  consumer->close();
  return by_partition;
}

std::unique_ptr<TopicAdmin> Admin() {
  auto admin = TopicAdmin::Create(Services().kafka_brokers);
  EXPECT_TRUE(admin.ok()) << admin.status();
  return std::move(admin).value();
}

KafkaSinkOptions SinkOptions() {
  KafkaSinkOptions options;
  options.brokers = Services().kafka_brokers;
  options.compression = "zstd";
  return options;
}

TEST(TopicAdminTest, CreatesMissingTopicsAndReportsExistingOnes) {
  std::unique_ptr<TopicAdmin> admin = Admin();
  std::vector<TopicSpec> specs = {
      {"it.admin.conversations", 3, 1, {{"cleanup.policy", "compact"}}},
      {"it.admin.messages", 5, 1, {}}};
  auto first = admin->EnsureTopics(specs, absl::Seconds(30));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].name, "it.admin.conversations");
  EXPECT_EQ((*first)[0].partitions, 3);
  EXPECT_TRUE((*first)[0].created);
  EXPECT_EQ((*first)[1].partitions, 5);

  // Twice is fine; an existing topic keeps its real partition count even
  // when asked for another.
  specs[1].partitions = 8;
  auto second = admin->EnsureTopics(specs, absl::Seconds(30));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)[0].created);
  EXPECT_FALSE((*second)[1].created);
  EXPECT_EQ((*second)[1].partitions, 5);

  auto counts = admin->PartitionCounts(
      {"it.admin.messages", "it.admin.does-not-exist"}, absl::Seconds(10));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->size(), 1u);
  EXPECT_EQ(counts->at("it.admin.messages"), 5);
}

TEST(TopicAdminTest, ImpossibleReplicationFactorIsFailedPrecondition) {
  std::unique_ptr<TopicAdmin> admin = Admin();
  auto result = admin->EnsureTopics({{"it.admin.replicated", 1, 3, {}}},
                                    absl::Seconds(30));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
      << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("it.admin.replicated"));
  EXPECT_EQ(admin->EnsureTopics({{"bad topic", 1, 1, {}}}, absl::Seconds(5))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KafkaEventSinkTest, ExplicitPartitionsReadBackInOrderWithOneCallbackEach) {
  const std::string topic = "it.sink.ordered";
  const int32_t kPartitions = 3;
  const int kRecords = 600;
  ASSERT_TRUE(
      Admin()
          ->EnsureTopics({{topic, kPartitions, 1, {}}}, absl::Seconds(30))
          .ok());
  MetricsRegistry registry;
  auto sink = KafkaEventSink::Create(SinkOptions(), &registry, nullptr);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::map<uint64_t, int> callbacks;
  std::vector<uint64_t> failures;
  (*sink)->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
    ++callbacks[seq];
    if (!status.ok()) failures.push_back(seq);
  });

  // 40 "conversations"; each one's records share a partition.
  std::map<int32_t, std::vector<std::pair<std::string, std::string>>> sent;
  for (int i = 0; i < kRecords; ++i) {
    std::string conversation = absl::StrCat("conv-", i % 40);
    int32_t partition = PartitionFor(conversation, kPartitions).value();
    std::string key = absl::StrCat("{\"id\":", i, "}");
    std::string value = absl::StrCat(conversation, "|seq=", i);
    ASSERT_TRUE((*sink)
                    ->Produce({topic, partition, key, value,
                               static_cast<uint64_t>(1000 + i)})
                    .ok());
    sent[partition].emplace_back(key, value);
    if (i % 50 == 0) (*sink)->Poll(absl::ZeroDuration());
  }
  ASSERT_TRUE((*sink)->Flush(absl::Now() + absl::Seconds(30)).ok());
  EXPECT_EQ((*sink)->in_flight(), 0);
  EXPECT_TRUE(failures.empty());
  ASSERT_EQ(callbacks.size(), static_cast<size_t>(kRecords));
  for (const auto& [seq, count] : callbacks) {
    EXPECT_EQ(count, 1) << seq;
    EXPECT_GE(seq, 1000u);
    EXPECT_LT(seq, 1000u + kRecords);
  }
  // Later polls report nothing more.
  EXPECT_EQ((*sink)->Poll(absl::Milliseconds(200)), 0);

  auto consumed = ReadBack(topic, kPartitions, kRecords);
  size_t total = 0;
  for (const auto& [partition, records] : sent) {
    const auto& got = consumed[partition];
    ASSERT_EQ(got.size(), records.size()) << "partition " << partition;
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(got[i].partition, partition);
      EXPECT_EQ(got[i].key, records[i].first);
      ASSERT_TRUE(got[i].value.has_value());
      EXPECT_EQ(*got[i].value, records[i].second);
    }
    total += got.size();
  }
  EXPECT_EQ(total, static_cast<size_t>(kRecords));

  std::string metrics = registry.Render();
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat("enrich_kafka_delivered_records_total{"
                                     "topic=\"",
                                     topic, "\"} ", kRecords, "\n")));
  EXPECT_THAT(metrics, HasSubstr("enrich_kafka_in_flight_records 0\n"));
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat(
                  "enrich_kafka_produce_latency_seconds_count ", kRecords)));
}

TEST(KafkaEventSinkTest, TombstoneHasNullValue) {
  const std::string topic = "it.sink.tombstones";
  ASSERT_TRUE(
      Admin()
          ->EnsureTopics({{topic, 1, 1, {{"cleanup.policy", "compact"}}}},
                         absl::Seconds(30))
          .ok());
  auto sink = KafkaEventSink::Create(SinkOptions(), nullptr, nullptr).value();
  std::vector<std::pair<uint64_t, absl::Status>> reports;
  sink->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
    reports.emplace_back(seq, status);
  });
  ASSERT_TRUE(
      sink->Produce({topic, 0, "row-1", std::string("deleted row"), 1}).ok());
  ASSERT_TRUE(sink->Produce({topic, 0, "row-1", std::nullopt, 2}).ok());
  ASSERT_TRUE(sink->Produce({topic, 0, "row-2", std::string(""), 3}).ok());
  ASSERT_TRUE(sink->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_EQ(reports.size(), 3u);
  for (const auto& [seq, status] : reports) EXPECT_TRUE(status.ok()) << status;

  auto consumed = ReadBack(topic, 1, 3);
  ASSERT_EQ(consumed[0].size(), 3u);
  EXPECT_EQ(consumed[0][0].value, "deleted row");
  EXPECT_EQ(consumed[0][1].key, "row-1");
  EXPECT_FALSE(consumed[0][1].value.has_value());  // a tombstone, not ""
  EXPECT_EQ(consumed[0][2].value, "");             // empty, not a tombstone
}

std::string RandomBytes(size_t size) {
  std::mt19937 random(42);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

TEST(KafkaEventSinkTest, ValueOverProducerLimitIsRefusedClearly) {
  KafkaSinkOptions options = SinkOptions();
  options.max_message_bytes = 100000;
  auto sink = KafkaEventSink::Create(options, nullptr, nullptr).value();
  absl::Status status =
      sink->Produce({"it.sink.big", 0, "pk-1", RandomBytes(150000), 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("topic it.sink.big partition 0 key \"pk-1\" is 150004 "
                        "bytes"));
}

TEST(KafkaEventSinkTest, ValueOverBrokerTopicLimitFailsDeliveryClearly) {
  const std::string topic = "it.sink.small-limit";
  ASSERT_TRUE(
      Admin()
          ->EnsureTopics({{topic, 1, 1, {{"max.message.bytes", "20000"}}}},
                         absl::Seconds(30))
          .ok());
  auto sink = KafkaEventSink::Create(SinkOptions(), nullptr, nullptr).value();
  std::vector<std::pair<uint64_t, absl::Status>> reports;
  sink->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
    reports.emplace_back(seq, status);
  });
  // Random bytes: compression cannot shrink them under the limit.
  ASSERT_TRUE(sink->Produce({topic, 0, "pk-big", RandomBytes(60000), 5}).ok());
  absl::Status flushed = sink->Flush(absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(flushed.ok()) << flushed;
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].first, 5u);
  EXPECT_EQ(reports[0].second.code(), absl::StatusCode::kInvalidArgument)
      << reports[0].second;
  EXPECT_THAT(
      std::string(reports[0].second.message()),
      HasSubstr(absl::StrCat("topic ", topic, " partition 0 key \"pk-big\"")));
  EXPECT_THAT(std::string(reports[0].second.message()), HasSubstr("60006"));
}

TEST(KafkaEventSinkTest, UnknownPartitionIsReportedNotDropped) {
  const std::string topic = "it.sink.two-partitions";
  ASSERT_TRUE(
      Admin()->EnsureTopics({{topic, 2, 1, {}}}, absl::Seconds(30)).ok());
  KafkaSinkOptions options = SinkOptions();
  options.delivery_timeout = absl::Seconds(10);
  auto sink = KafkaEventSink::Create(options, nullptr, nullptr).value();
  std::vector<std::pair<uint64_t, absl::Status>> reports;
  sink->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
    reports.emplace_back(seq, status);
  });
  absl::Status produced = sink->Produce({topic, 7, "k", std::string("v"), 1});
  if (produced.ok()) {
    sink->Flush(absl::Now() + absl::Seconds(30)).IgnoreError();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_FALSE(reports[0].second.ok());
    EXPECT_EQ(reports[0].second.code(), absl::StatusCode::kFailedPrecondition)
        << reports[0].second;
  } else {
    EXPECT_EQ(produced.code(), absl::StatusCode::kFailedPrecondition)
        << produced;
  }
  EXPECT_TRUE(sink->fatal_error().ok());
}

}  // namespace
}  // namespace enrich::kafka
