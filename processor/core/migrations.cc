#include "processor/core/migrations.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace enrich::processor {
namespace {

constexpr absl::string_view kAcceptsChecksum = "-- accepts-checksum:";

// The accepts-checksum lines of `sql` (Migration::earlier_checksums).
absl::StatusOr<std::vector<std::string>> EarlierChecksums(
    absl::string_view name, absl::string_view sql) {
  std::vector<std::string> checksums;
  for (absl::string_view line : absl::StrSplit(sql, '\n')) {
    if (!absl::ConsumePrefix(&line, kAcceptsChecksum)) continue;
    line = absl::StripAsciiWhitespace(line);
    const bool hex =
        line.size() == 32 && std::all_of(line.begin(), line.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                 (c >= 'a' && c <= 'f');
        });
    if (!hex) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration ", name, ": '", kAcceptsChecksum,
                       "' needs 32 lower-case hex digits, not '", line, "'"));
    }
    checksums.emplace_back(line);
  }
  return checksums;
}

}  // namespace

absl::StatusOr<std::vector<Migration>> OrderMigrations(
    std::vector<std::pair<std::string, std::string>> files) {
  std::vector<Migration> migrations;
  for (auto& [name, sql] : files) {
    size_t digits = 0;
    while (digits < name.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(name[digits]))) {
      ++digits;
    }
    int version = 0;
    if (digits == 0 || digits >= name.size() || name[digits] != '_' ||
        !absl::EndsWith(name, ".sql") ||
        !absl::SimpleAtoi(name.substr(0, digits), &version) || version <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration file name ", name, " is not NNN_<name>.sql"));
    }
    absl::StatusOr<std::vector<std::string>> earlier =
        EarlierChecksums(name, sql);
    if (!earlier.ok()) return earlier.status();
    migrations.push_back({version, name, std::move(sql), *std::move(earlier)});
  }
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) {
              return a.version < b.version;
            });
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version == migrations[i - 1].version) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migrations ", migrations[i - 1].name, " and ", migrations[i].name,
          " share version ", migrations[i].version));
    }
  }
  return migrations;
}

absl::Status CheckAppliedMigrations(
    const std::vector<Migration>& known,
    const std::vector<std::pair<int, std::string>>& applied) {
  std::vector<std::pair<int, std::string>> sorted = applied;
  std::sort(sorted.begin(), sorted.end());
  for (const Migration& migration : known) {
    const bool present = std::any_of(
        sorted.begin(), sorted.end(),
        [&](const auto& a) { return a.first == migration.version; });
    if (!present) {
      return absl::FailedPreconditionError(
          absl::StrCat("migration ", migration.name,
                       " is not applied to the database: run "
                       "`enrich-processor migrate` first"));
    }
  }
  for (const auto& [version, name] : sorted) {
    // A copy to capture: C++17 lambdas cannot capture a structured binding
    // (clang refuses it; the libFuzzer build compiles this file with clang).
    const int applied_version = version;
    const bool is_known = std::any_of(
        known.begin(), known.end(),
        [&](const Migration& m) { return m.version == applied_version; });
    if (!is_known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database has migration ", name,
          ", which this enrich-processor does not know: it was migrated by a "
          "newer release; run that release (an older processor would write "
          "rows the newer schema does not expect)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace enrich::processor
