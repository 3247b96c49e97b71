#include "processor/core/migrations.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace enrich::processor {

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
    migrations.push_back({version, name, std::move(sql)});
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
    const bool is_known =
        std::any_of(known.begin(), known.end(),
                    [&](const Migration& m) { return m.version == version; });
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
