// Structured one-line logs in logfmt:
//   ts=2026-11-24T03:24:32.056Z level=info component=cdc msg="slot created"
//   slot=enrich_cdc
// A Logger is injected wherever something logs (no global logger), so tests
// can capture lines. Thread-safe: lines from several threads never interleave.
#ifndef ENRICH_CDC_COMMON_LOG_H_
#define ENRICH_CDC_COMMON_LOG_H_

#include <cstdio>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace enrich {

using LogField = std::pair<absl::string_view, std::string>;

class Logger {
 public:
  // Writes complete lines to `sink`; the default writes to stderr.
  using Sink = std::function<void(const std::string& line)>;
  explicit Logger(std::string component, Sink sink = nullptr,
                  std::function<absl::Time()> clock = absl::Now);

  void Info(absl::string_view msg, std::initializer_list<LogField> fields = {});
  void Warn(absl::string_view msg, std::initializer_list<LogField> fields = {});
  void Error(absl::string_view msg,
             std::initializer_list<LogField> fields = {});

  // The logfmt line without the trailing newline (exposed for tests).
  static std::string Format(absl::Time ts, absl::string_view level,
                            absl::string_view component, absl::string_view msg,
                            std::initializer_list<LogField> fields);

 private:
  void Write(absl::string_view level, absl::string_view msg,
             std::initializer_list<LogField> fields);

  std::string component_;
  Sink sink_;
  std::function<absl::Time()> clock_;
  std::mutex mu_;
};

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_LOG_H_
