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

}  // namespace enrich::processor
