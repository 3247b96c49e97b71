#include "cdc/common/metrics.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRegistryTest, RendersCounterAndGaugeWithHelpAndType) {
  MetricsRegistry registry;
  Counter* events =
      registry.AddCounter("enrich_events_total", "Events.",
                          {{"table", "messages"}, {"op", "insert"}});
  events->Increment();
  events->Increment(41);
  Gauge* in_flight = registry.AddGauge("enrich_in_flight", "In flight.");
  in_flight->Set(3);
  in_flight->Add(-0.5);
  EXPECT_EQ(registry.Render(),
            "# HELP enrich_events_total Events.\n"
            "# TYPE enrich_events_total counter\n"
            "enrich_events_total{table=\"messages\",op=\"insert\"} 42\n"
            "# HELP enrich_in_flight In flight.\n"
            "# TYPE enrich_in_flight gauge\n"
            "enrich_in_flight 2.5\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnSameHandle) {
  MetricsRegistry registry;
  Counter* a = registry.AddCounter("c_total", "C.", {{"topic", "x"}});
  Counter* b = registry.AddCounter("c_total", "C.", {{"topic", "x"}});
  Counter* other = registry.AddCounter("c_total", "C.", {{"topic", "y"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other);
  a->Increment();
  other->Increment(2);
  EXPECT_EQ(registry.Render(),
            "# HELP c_total C.\n# TYPE c_total counter\n"
            "c_total{topic=\"x\"} 1\nc_total{topic=\"y\"} 2\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.AddGauge("g", "line one\nback\\slash \"quoted\"",
                    {{"v", "a\"b\\c\nd"}});
  EXPECT_EQ(registry.Render(),
            "# HELP g line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\"} 0\n");
}

TEST(MetricsRegistryTest, RendersHistogramCumulativeWithInf) {
  MetricsRegistry registry;
  Histogram* latency = registry.AddHistogram("lat_seconds", "Latency.",
                                             {0.005, 0.1, 1}, {{"topic", "t"}});
  latency->Observe(0.001);
  latency->Observe(0.005);  // bounds are inclusive
  latency->Observe(0.05);
  latency->Observe(3);
  EXPECT_EQ(registry.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{topic=\"t\",le=\"0.005\"} 2\n"
            "lat_seconds_bucket{topic=\"t\",le=\"0.1\"} 3\n"
            "lat_seconds_bucket{topic=\"t\",le=\"1\"} 3\n"
            "lat_seconds_bucket{topic=\"t\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{topic=\"t\"} 3.056\n"
            "lat_seconds_count{topic=\"t\"} 4\n");
}

TEST(MetricsRegistryTest, HistogramObservesAValueManyTimesAtOnce) {
  MetricsRegistry registry;
  Histogram* h = registry.AddHistogram("h", "H.", {1});
  h->Observe(0.5, 3);
  h->Observe(2, 2);
  Histogram::Snapshot snapshot = h->Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{3, 5}));
  EXPECT_DOUBLE_EQ(snapshot.sum, 5.5);
  EXPECT_EQ(snapshot.count, 5u);
}

TEST(MetricsRegistryTest, HistogramWithoutLabels) {
  MetricsRegistry registry;
  registry.AddHistogram("h", "H.", {1})->Observe(2);
  EXPECT_EQ(registry.Render(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 2\nh_count 1\n");
}

TEST(MetricsRegistryTest, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(MetricsRegistry::FormatValue(0), "0");
  EXPECT_EQ(MetricsRegistry::FormatValue(-7), "-7");
  EXPECT_EQ(MetricsRegistry::FormatValue(0.1), "0.1");
  EXPECT_EQ(MetricsRegistry::FormatValue(1e-9), "1e-09");
  EXPECT_EQ(MetricsRegistry::FormatValue(1e20), "1e+20");
  EXPECT_EQ(
      MetricsRegistry::FormatValue(std::numeric_limits<double>::infinity()),
      "+Inf");
  EXPECT_EQ(
      MetricsRegistry::FormatValue(-std::numeric_limits<double>::infinity()),
      "-Inf");
  EXPECT_EQ(MetricsRegistry::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(MetricsRegistry::FormatValue(1.0 / 3),
            "0.3333333333333333");  // shortest that round-trips
}

TEST(MetricsRegistryTest, ValidatesNames) {
  EXPECT_TRUE(MetricsRegistry::IsValidMetricName("enrich:cdc_events_total"));
  EXPECT_FALSE(MetricsRegistry::IsValidMetricName("1abc"));
  EXPECT_FALSE(MetricsRegistry::IsValidMetricName("a-b"));
  EXPECT_FALSE(MetricsRegistry::IsValidMetricName(""));
  EXPECT_TRUE(MetricsRegistry::IsValidLabelName("topic_1"));
  EXPECT_FALSE(MetricsRegistry::IsValidLabelName("__reserved"));
  EXPECT_FALSE(MetricsRegistry::IsValidLabelName("a:b"));
}

TEST(MetricsRegistryDeathTest, TypeConflictAborts) {
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddCounter("x", "X.");
        registry.AddGauge("x", "X.");
      },
      "registered as counter and as gauge");
}

TEST(MetricsRegistryDeathTest, LabelNameMismatchAborts) {
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddCounter("x", "X.", {{"a", "1"}});
        registry.AddCounter("x", "X.", {{"b", "1"}});
      },
      "registered with labels");
}

TEST(MetricsRegistryDeathTest, InvalidNameAborts) {
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddCounter("bad-name", "X.");
      },
      "invalid metric name");
}

TEST(MetricsRegistryDeathTest, UnsortedBucketsAbort) {
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddHistogram("h", "H.", {1, 1});
      },
      "strictly increasing");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  Counter* counter = registry.AddCounter("c_total", "C.");
  Gauge* gauge = registry.AddGauge("g", "G.");
  Histogram* histogram = registry.AddHistogram("h", "H.", {0.5});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Registration from several threads returns the same series too.
      Counter* mine = registry.AddCounter("per_thread_total", "P.",
                                          {{"shard", t % 2 ? "odd" : "even"}});
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        mine->Increment();
        gauge->Add(1);
        histogram->Observe(i % 2 ? 1.0 : 0.25);
        if (i % 10000 == 0) registry.Render();  // render while updating
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter->Value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(gauge->Value(), double{kThreads} * kPerThread);
  Histogram::Snapshot snapshot = histogram->Read();
  EXPECT_EQ(snapshot.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snapshot.cumulative[0], uint64_t{kThreads} * kPerThread / 2);
  EXPECT_DOUBLE_EQ(snapshot.sum, kThreads * (kPerThread / 2) * 1.25);
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("per_thread_total{shard=\"even\"} 200000\n"));
  EXPECT_THAT(text, HasSubstr("per_thread_total{shard=\"odd\"} 200000\n"));
}

TEST(MetricsRegistryTest, BucketHelpers) {
  EXPECT_THAT(ExponentialBuckets(1, 2, 4), ::testing::ElementsAre(1, 2, 4, 8));
  EXPECT_THAT(LinearBuckets(0, 5, 3), ::testing::ElementsAre(0, 5, 10));
  std::vector<double> latency = LatencyBucketsSeconds();
  EXPECT_TRUE(std::is_sorted(latency.begin(), latency.end()));
  EXPECT_GT(latency.back(), 60);
}

}  // namespace
}  // namespace enrich
