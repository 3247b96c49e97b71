#include "cdc/common/log.h"

#include "absl/strings/str_cat.h"

namespace enrich {
namespace {

// Quotes a value when logfmt needs it, escaping quotes, backslashes and
// control characters so one event is always one line.
void AppendValue(std::string* out, absl::string_view value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out->append(value.data(), value.size());
    return;
  }
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(
              out, "\\x",
              absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

Logger::Logger(std::string component, Sink sink,
               std::function<absl::Time()> clock)
    : component_(std::move(component)),
      sink_(std::move(sink)),
      clock_(std::move(clock)) {
  if (!sink_) {
    sink_ = [](const std::string& line) {
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fflush(stderr);
    };
  }
}

std::string Logger::Format(absl::Time ts, absl::string_view level,
                           absl::string_view component, absl::string_view msg,
                           std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone()),
      " level=", level, " component=", component, " msg=");
  AppendValue(&line, msg);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.first, "=");
    AppendValue(&line, field.second);
  }
  return line;
}

void Logger::Write(absl::string_view level, absl::string_view msg,
                   std::initializer_list<LogField> fields) {
  std::string line = Format(clock_(), level, component_, msg, fields);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  sink_(line);
}

void Logger::Info(absl::string_view msg,
                  std::initializer_list<LogField> fields) {
  Write("info", msg, fields);
}
void Logger::Warn(absl::string_view msg,
                  std::initializer_list<LogField> fields) {
  Write("warn", msg, fields);
}
void Logger::Error(absl::string_view msg,
                   std::initializer_list<LogField> fields) {
  Write("error", msg, fields);
}

}  // namespace enrich
