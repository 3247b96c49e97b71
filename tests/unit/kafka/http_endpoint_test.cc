#include "cdc/common/http_endpoint.h"

#include <httplib.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich {
namespace {

using ::testing::HasSubstr;

class FakeClock {
 public:
  absl::Time Now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST(HealthStateTest, LivenessFollowsLoopHeartbeat) {
  FakeClock clock;
  HealthState health(absl::Seconds(10), clock.AsFunction());
  EXPECT_TRUE(health.Liveness().ok());  // start-up grace
  clock.Advance(absl::Seconds(11));
  absl::Status silent = health.Liveness();
  EXPECT_EQ(silent.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(silent.message()), HasSubstr("silent for 11s"));
  health.MarkLoopAlive();
  EXPECT_TRUE(health.Liveness().ok());
  health.MarkLoopStopped("fatal Kafka error");
  EXPECT_EQ(health.Liveness().message(), "fatal Kafka error");
}

TEST(HealthStateTest, ReadinessFlag) {
  HealthState health(absl::Seconds(10));
  EXPECT_EQ(health.Readiness().message(), "starting");
  health.SetReady();
  EXPECT_TRUE(health.Readiness().ok());
  health.SetNotReady("snapshot in progress");
  EXPECT_EQ(health.Readiness().message(), "snapshot in progress");
}

TEST(HttpEndpointTest, ServesMetricsHealthAndReadinessOnFreePort) {
  MetricsRegistry registry;
  registry.AddCounter("enrich_test_total", "Test counter.", {{"k", "v"}})
      ->Increment(7);
  HealthState health(absl::Seconds(30));
  HttpEndpoint endpoint(&registry, health.LivenessCheck(),
                        health.ReadinessCheck());
  ASSERT_TRUE(endpoint.Start("127.0.0.1", 0).ok());
  ASSERT_GT(endpoint.port(), 0);

  httplib::Client client("127.0.0.1", endpoint.port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics->body, HasSubstr("enrich_test_total{k=\"v\"} 7\n"));

  auto healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);

  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_THAT(not_ready->body, HasSubstr("starting"));
  health.SetReady();
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  health.MarkLoopStopped("loop exited");
  auto dead = client.Get("/healthz");
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->status, 503);
  EXPECT_THAT(dead->body, HasSubstr("loop exited"));

  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  endpoint.Stop();
  endpoint.Stop();  // idempotent
  httplib::Client after("127.0.0.1", endpoint.port());
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/healthz"));
}

TEST(HttpEndpointTest, BusyPortIsUnavailableAndRestartWorks) {
  MetricsRegistry registry;
  HttpEndpoint first(&registry, nullptr, nullptr);
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  HttpEndpoint second(&registry, nullptr, nullptr);
  absl::Status busy = second.Start("127.0.0.1", first.port());
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first.Start("127.0.0.1", 0).code(),
            absl::StatusCode::kFailedPrecondition);
  first.Stop();
}

TEST(HttpEndpointTest, StartStopManyTimesDoesNotHang) {
  MetricsRegistry registry;
  for (int i = 0; i < 20; ++i) {
    HttpEndpoint endpoint(&registry, nullptr, nullptr);
    ASSERT_TRUE(endpoint.Start("127.0.0.1", 0).ok());
  }  // destructor stops
}

TEST(ParseHostPortTest, Forms) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9187", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9187);
  ASSERT_TRUE(ParseHostPort(":0", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseHostPort("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseHostPort("localhost", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:70000", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("::1:80", &host, &port).ok());
}

}  // namespace
}  // namespace enrich
