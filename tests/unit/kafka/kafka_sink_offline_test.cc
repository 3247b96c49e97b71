// KafkaEventSink behaviour that needs no broker: configuration guards, the
// size check, queue-full backpressure and delivery failure against an
// unreachable address. (The real-broker paths are in
// tests/integration/kafka/.)
#include <string>
#include <vector>

#include "cdc/common/metrics.h"
#include "cdc/kafka/kafka_event_sink.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::kafka {
namespace {

using ::testing::HasSubstr;

// Nothing listens on port 1.
constexpr char kNowhere[] = "127.0.0.1:1";

KafkaSinkOptions Offline() {
  KafkaSinkOptions options;
  options.brokers = kNowhere;
  return options;
}

TEST(KafkaSinkOfflineTest, RefusesWeakerDeliveryGuarantees) {
  KafkaSinkOptions options = Offline();
  options.extra_properties = {{"enable.idempotence", "false"}};
  EXPECT_EQ(KafkaEventSink::Create(options, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.extra_properties = {{"acks", "1"}};
  EXPECT_EQ(KafkaEventSink::Create(options, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.extra_properties = {{"acks", "all"}};
  EXPECT_TRUE(KafkaEventSink::Create(options, nullptr, nullptr).ok());
}

TEST(KafkaSinkOfflineTest, BadPropertyNamedButSecretValueHidden) {
  KafkaSinkOptions options = Offline();
  options.extra_properties = {{"no.such.property", "x"}};
  absl::Status status =
      KafkaEventSink::Create(options, nullptr, nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no.such.property"));
  options.extra_properties = {{"linger.ms", "-5"}};
  EXPECT_FALSE(KafkaEventSink::Create(options, nullptr, nullptr).ok());
  options.compression = "brotli";
  options.extra_properties = {};
  EXPECT_FALSE(KafkaEventSink::Create(options, nullptr, nullptr).ok());
}

TEST(KafkaSinkOfflineTest, OversizedRecordIsAClearError) {
  KafkaSinkOptions options = Offline();
  options.max_message_bytes = 1000;
  auto sink = KafkaEventSink::Create(options, nullptr, nullptr).value();
  EXPECT_EQ(sink->max_message_bytes(), 1000);
  absl::Status status = sink->Produce(
      {"support.public.messages", 2, "pk-42", std::string(1200, 'x'), 9});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("topic support.public.messages partition 2 key "
                        "\"pk-42\" is 1205 bytes (key 5 + value 1200)"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("message.max.bytes=1000"));
  EXPECT_EQ(sink->in_flight(), 0);
}

TEST(KafkaSinkOfflineTest, PassthroughOverridesMaxMessageBytes) {
  KafkaSinkOptions options = Offline();
  options.extra_properties = {{"message.max.bytes", "5000"}};
  auto sink = KafkaEventSink::Create(options, nullptr, nullptr).value();
  EXPECT_EQ(sink->max_message_bytes(), 5000);
}

TEST(KafkaSinkOfflineTest, UndeliverableRecordIsReportedFailedOnce) {
  MetricsRegistry registry;
  KafkaSinkOptions options = Offline();
  options.delivery_timeout = absl::Milliseconds(500);
  auto sink = KafkaEventSink::Create(options, &registry, nullptr).value();
  std::vector<std::pair<uint64_t, absl::Status>> reports;
  sink->SetDeliveryCallback([&](uint64_t seq, absl::Status status) {
    reports.emplace_back(seq, status);
  });
  ASSERT_TRUE(sink->Produce({"t", 0, "k", std::string("v"), 77}).ok());
  EXPECT_EQ(sink->in_flight(), 1);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (reports.empty() && absl::Now() < deadline) {
    sink->Poll(absl::Milliseconds(100));
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].first, 77u);
  EXPECT_EQ(reports[0].second.code(), absl::StatusCode::kUnavailable)
      << reports[0].second;
  EXPECT_THAT(std::string(reports[0].second.message()),
              HasSubstr("delivery to t partition 0"));
  EXPECT_EQ(sink->in_flight(), 0);
  EXPECT_TRUE(sink->Flush(absl::Now() + absl::Seconds(1)).ok());
  EXPECT_EQ(reports.size(), 1u);
  std::string metrics = registry.Render();
  EXPECT_THAT(metrics,
              HasSubstr("enrich_kafka_failed_records_total{topic=\"t\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("enrich_kafka_in_flight_records 0\n"));
  EXPECT_THAT(metrics,
              HasSubstr("enrich_kafka_produce_latency_seconds_count 1\n"));
}

TEST(KafkaSinkOfflineTest, FullQueueBlocksThenIsUnavailable) {
  MetricsRegistry registry;
  KafkaSinkOptions options = Offline();
  options.queue_max_messages = 2;
  options.produce_block_timeout = absl::Milliseconds(300);
  auto sink = KafkaEventSink::Create(options, &registry, nullptr).value();
  int callbacks = 0;
  sink->SetDeliveryCallback([&](uint64_t, absl::Status) { ++callbacks; });
  ASSERT_TRUE(sink->Produce({"t", 0, "a", std::string("1"), 1}).ok());
  ASSERT_TRUE(sink->Produce({"t", 0, "b", std::string("2"), 2}).ok());
  absl::Time start = absl::Now();
  absl::Status full = sink->Produce({"t", 0, "c", std::string("3"), 3});
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(full.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(full.message()), HasSubstr("queue still full"));
  EXPECT_EQ(callbacks, 0);  // never from inside Produce()
  EXPECT_EQ(sink->in_flight(), 2);
  EXPECT_THAT(
      registry.Render(),
      HasSubstr("enrich_kafka_produce_errors_total{class=\"queue_full\"} 1"));
  // Flush honours its deadline and says how many are left.
  absl::Status flushed = sink->Flush(absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(flushed.message()), HasSubstr("2 record(s)"));
}  // destruction abandons the two records without callbacks or hanging

}  // namespace
}  // namespace enrich::kafka
