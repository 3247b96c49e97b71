#include "cdc/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace enrich {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "metrics registry misuse: %s\n", message.c_str());
  std::abort();
}

// C++17 has no atomic<double>::fetch_add.
void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta,
                                       std::memory_order_relaxed)) {
  }
}

const char* TypeName(int type) {
  switch (type) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

// The identity of a series inside its family: label values joined with a
// separator that cannot be confused (length-prefixed).
std::string SeriesKey(const MetricLabels& labels) {
  std::string key;
  for (const auto& [name, value] : labels) {
    absl::StrAppend(&key, value.size(), ":", value, ";");
  }
  return key;
}

void AppendLabels(std::string* out, const MetricLabels& labels,
                  absl::string_view extra_name = {},
                  absl::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"", MetricsRegistry::EscapeLabelValue(value),
                    "\"");
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    absl::StrAppend(out, extra_name, "=\"", extra_value, "\"");
  }
  out->push_back('}');
}

}  // namespace

void Gauge::Add(double delta) { AtomicAdd(value_, delta); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) { Observe(value, 1); }

void Histogram::Observe(double value, uint64_t times) {
  // lower_bound finds the first bound >= value: Prometheus buckets are
  // inclusive upper bounds (le = "less or equal").
  size_t index =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin();
  buckets_[index].fetch_add(times, std::memory_order_relaxed);
  AtomicAdd(sum_, value * static_cast<double>(times));
  count_.fetch_add(times, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  // Read the count first: buckets incremented after this may then exceed it,
  // so clamp to keep the series monotonic and consistent with _count.
  snapshot.count = count_.load(std::memory_order_relaxed);
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  uint64_t running = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(std::min(running, snapshot.count));
  }
  snapshot.cumulative.push_back(snapshot.count);
  return snapshot;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i) bounds.push_back(start + i * width);
  return bounds;
}

std::vector<double> LatencyBucketsSeconds() {
  return ExponentialBuckets(0.0005, 2, 18);  // 0.5 ms .. 65.536 s
}

bool MetricsRegistry::IsValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' ||
              (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool MetricsRegistry::IsValidLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok =
        absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

std::string MetricsRegistry::EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integers (the common case for counts) print without exponent or point.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

MetricsRegistry::Series* MetricsRegistry::FindOrAdd(
    absl::string_view name, absl::string_view help, Type type,
    const MetricLabels& labels, const std::vector<double>* upper_bounds) {
  if (!IsValidMetricName(name)) {
    Die(absl::StrCat("invalid metric name \"", name, "\""));
  }
  std::vector<std::string> label_names;
  for (const auto& [label, value] : labels) {
    if (!IsValidLabelName(label) ||
        (type == Type::kHistogram && label == "le")) {
      Die(absl::StrCat("invalid label name \"", label, "\" on ", name));
    }
    if (std::find(label_names.begin(), label_names.end(), label) !=
        label_names.end()) {
      Die(absl::StrCat("duplicate label name \"", label, "\" on ", name));
    }
    label_names.push_back(label);
  }
  if (upper_bounds != nullptr) {
    for (size_t i = 0; i < upper_bounds->size(); ++i) {
      double bound = (*upper_bounds)[i];
      if (!std::isfinite(bound) || (i > 0 && bound <= (*upper_bounds)[i - 1])) {
        Die(absl::StrCat("histogram ", name,
                         " buckets must be finite and strictly increasing"));
      }
    }
  }

  Family* family;
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    families_.emplace_back();
    family = &families_.back();
    family->name = std::string(name);
    family->help = std::string(help);
    family->type = type;
    family->label_names = label_names;
    if (upper_bounds != nullptr) family->upper_bounds = *upper_bounds;
    by_name_.emplace(family->name, family);
  } else {
    family = it->second;
    if (family->type != type) {
      Die(absl::StrCat(name, " registered as ",
                       TypeName(static_cast<int>(family->type)), " and as ",
                       TypeName(static_cast<int>(type))));
    }
    if (family->label_names != label_names) {
      Die(absl::StrCat(name, " registered with labels (",
                       absl::StrJoin(family->label_names, ","), ") and (",
                       absl::StrJoin(label_names, ","), ")"));
    }
    if (upper_bounds != nullptr && family->upper_bounds != *upper_bounds) {
      Die(absl::StrCat("histogram ", name,
                       " registered with different buckets"));
    }
  }

  std::string key = SeriesKey(labels);
  auto series_it = family->by_key.find(key);
  if (series_it != family->by_key.end()) return series_it->second;
  family->series.emplace_back();
  Series* series = &family->series.back();
  series->labels = labels;
  switch (type) {
    case Type::kCounter:
      series->counter = std::make_unique<Counter>();
      break;
    case Type::kGauge:
      series->gauge = std::make_unique<Gauge>();
      break;
    case Type::kHistogram:
      series->histogram = std::make_unique<Histogram>(family->upper_bounds);
      break;
  }
  family->by_key.emplace(std::move(key), series);
  return series;
}

Counter* MetricsRegistry::AddCounter(absl::string_view name,
                                     absl::string_view help,
                                     const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  return FindOrAdd(name, help, Type::kCounter, labels, nullptr)->counter.get();
}

Gauge* MetricsRegistry::AddGauge(absl::string_view name, absl::string_view help,
                                 const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  return FindOrAdd(name, help, Type::kGauge, labels, nullptr)->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(absl::string_view name,
                                         absl::string_view help,
                                         std::vector<double> upper_bounds,
                                         const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  return FindOrAdd(name, help, Type::kHistogram, labels, &upper_bounds)
      ->histogram.get();
}

std::string MetricsRegistry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const Family& family : families_) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help),
                    "\n# TYPE ", family.name, " ",
                    TypeName(static_cast<int>(family.type)), "\n");
    for (const Series& series : family.series) {
      switch (family.type) {
        case Type::kCounter:
          out += family.name;
          AppendLabels(&out, series.labels);
          absl::StrAppend(&out, " ", series.counter->Value(), "\n");
          break;
        case Type::kGauge:
          out += family.name;
          AppendLabels(&out, series.labels);
          absl::StrAppend(&out, " ", FormatValue(series.gauge->Value()), "\n");
          break;
        case Type::kHistogram: {
          Histogram::Snapshot snapshot = series.histogram->Read();
          for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
            std::string le = i < snapshot.upper_bounds.size()
                                 ? FormatValue(snapshot.upper_bounds[i])
                                 : "+Inf";
            absl::StrAppend(&out, family.name, "_bucket");
            AppendLabels(&out, series.labels, "le", le);
            absl::StrAppend(&out, " ", snapshot.cumulative[i], "\n");
          }
          absl::StrAppend(&out, family.name, "_sum");
          AppendLabels(&out, series.labels);
          absl::StrAppend(&out, " ", FormatValue(snapshot.sum), "\n");
          absl::StrAppend(&out, family.name, "_count");
          AppendLabels(&out, series.labels);
          absl::StrAppend(&out, " ", snapshot.count, "\n");
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace enrich
