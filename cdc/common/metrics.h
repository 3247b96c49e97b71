// A small Prometheus metrics registry: counters, gauges and fixed-bucket
// histograms with label sets, rendered in the text exposition format 0.0.4.
//
// No global state: one MetricsRegistry is created in main() and injected into
// every component that exports metrics (usually through a "probe" object that
// owns the handles it uses).
//
//   MetricsRegistry registry;
//   Counter* events = registry.AddCounter(
//       "enrich_cdc_events_total", "Change events published.",
//       {{"table", "conversations"}, {"op", "insert"}});
//   events->Increment();          // hot path: one relaxed atomic add
//   std::string text = registry.Render();   // served on GET /metrics
//
// Handles (Counter*, Gauge*, Histogram*) are owned by the registry, never
// move, and stay valid for the registry's lifetime; obtain them once and keep
// them. Asking again with the same name and labels returns the same handle.
//
// Thread-safety: everything is thread-safe. Updating a handle is lock-free;
// registering and rendering take an internal mutex (registration is meant for
// start-up or the first sight of a new label value, not every event).
//
// Misuse that is a programming error, not a runtime condition - an invalid
// metric or label name, the same name registered as two different types or
// with different label names or buckets - prints a message to stderr and
// aborts, like a failed CHECK. Label *values* may be any string; they are
// escaped on output.
#ifndef ENRICH_CDC_COMMON_METRICS_H_
#define ENRICH_CDC_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace enrich {

// Label name/value pairs of one series, e.g. {{"topic", "support.public.t"}}.
// Order matters for identity: register a series with the same label order
// every time (the names must match the family's names in order).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing integer count.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, strictly increasing;
// +Inf is implicit), plus their sum and count. Observe() is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  // `times` observations of `value` at once.
  void Observe(double value, uint64_t times);

  struct Snapshot {
    std::vector<double> upper_bounds;  // without +Inf
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Reads are not one atomic snapshot; the +Inf bucket is taken as the count
  // so the rendered buckets are always monotonic and end at _count.
  Snapshot Read() const;

 private:
  const std::vector<double> upper_bounds_;
  // buckets_[i] counts observations in (bound[i-1], bound[i]]; the last one
  // counts those above every bound.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Bucket helpers: {start, start*factor, ...} (count bounds) and
// {start, start+width, ...}.
std::vector<double> ExponentialBuckets(double start, double factor, int count);
std::vector<double> LinearBuckets(double start, double width, int count);
// Seconds from 0.5 ms to ~65 s, for latencies.
std::vector<double> LatencyBucketsSeconds();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each returns the series for (name, labels), creating the family on first
  // use (its help text and label names are fixed then) and the series on
  // first use of these label values. Never returns nullptr.
  Counter* AddCounter(absl::string_view name, absl::string_view help,
                      const MetricLabels& labels = {});
  Gauge* AddGauge(absl::string_view name, absl::string_view help,
                  const MetricLabels& labels = {});
  Histogram* AddHistogram(absl::string_view name, absl::string_view help,
                          std::vector<double> upper_bounds,
                          const MetricLabels& labels = {});

  // The whole registry in the Prometheus text format 0.0.4: families in
  // registration order, each with # HELP and # TYPE, series in registration
  // order.
  std::string Render() const;

  // The content type to serve Render() with.
  static constexpr absl::string_view kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

  // Exposed for tests and other renderers.
  static bool IsValidMetricName(absl::string_view name);
  static bool IsValidLabelName(absl::string_view name);
  static std::string EscapeLabelValue(absl::string_view value);
  static std::string EscapeHelp(absl::string_view help);
  // Shortest text that reads back as the same double; "+Inf", "-Inf", "NaN".
  static std::string FormatValue(double value);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::string> label_names;
    std::vector<double> upper_bounds;  // histograms only
    std::deque<Series> series;         // deque: stable addresses
    absl::flat_hash_map<std::string, Series*> by_key;
  };

  Series* FindOrAdd(absl::string_view name, absl::string_view help, Type type,
                    const MetricLabels& labels,
                    const std::vector<double>* upper_bounds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::deque<Family> families_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Family*> by_name_ ABSL_GUARDED_BY(mu_);
};

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_METRICS_H_
