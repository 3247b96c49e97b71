#include "cdc/pgoutput/lsn.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace enrich::pgoutput {
namespace {

// Parses 1..8 hex digits; false on anything else.
bool ParseHalf(absl::string_view digits, uint32_t* out) {
  if (digits.empty() || digits.size() > 8) return false;
  uint32_t value = 0;
  for (char c : digits) {
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    value = (value << 4) | digit;
  }
  *out = value;
  return true;
}

}  // namespace

std::string FormatLsn(Lsn lsn) {
  return absl::StrFormat("%X/%X", static_cast<uint32_t>(lsn >> 32),
                         static_cast<uint32_t>(lsn));
}

absl::StatusOr<Lsn> ParseLsn(absl::string_view text) {
  size_t slash = text.find('/');
  uint32_t high = 0;
  uint32_t low = 0;
  if (slash == absl::string_view::npos ||
      !ParseHalf(text.substr(0, slash), &high) ||
      !ParseHalf(text.substr(slash + 1), &low)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an LSN (want e.g. \"16/B374D848\"): \"",
                     absl::CEscape(text.substr(0, 64)), "\""));
  }
  return (static_cast<Lsn>(high) << 32) | low;
}

}  // namespace enrich::pgoutput
