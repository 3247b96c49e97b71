#include "processor/core/view_table.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace enrich::processor {
namespace {

// The bookkeeping columns with their definitions, as sql/002 has them.
struct BookkeepingColumn {
  const char* name;
  const char* definition;
};
constexpr BookkeepingColumn kBookkeeping[] = {
    {"source_commit_lsn", "pg_lsn"},
    {"source_commit_at", "timestamptz"},
    {"enriched_at", "timestamptz NOT NULL DEFAULT now()"},
};

// Whether `text` occurs in a FILTER constant of `view`: the only text of
// the compiled statements the view's author writes freely.
bool InAConstant(const ViewDefinition& view, const std::string& text) {
  return std::any_of(
      view.columns.begin(), view.columns.end(),
      [&](const ViewOutputColumn& column) {
        const auto* aggregate = std::get_if<ViewAggregate>(&column.value);
        return aggregate != nullptr && aggregate->filter.has_value() &&
               absl::StrContains(aggregate->filter->constant, text);
      });
}

// The set-based recompute over no ids, a statement without parameters:
// CREATE TABLE AS takes none. Its id array `$n::type[]` becomes an empty
// array of that type, so every column keeps the type the recompute gives
// it. `n` is chosen so the text replaced occurs nowhere else.
std::string RecomputeOverNoIds(const CompiledView& view) {
  int param = 1;
  std::string ids;
  for (;; ++param) {
    ids = absl::StrCat("$", param, "::", view.key_type(), "[]");
    if (!InAConstant(view.definition(), ids)) break;
  }
  return absl::StrReplaceAll(
      view.RecomputeSetSelect(param),
      {{ids, absl::StrCat("'{}'::", view.key_type(), "[]")}});
}

// `text` as an SQL string literal (standard_conforming_strings, on since
// PostgreSQL 9.1: a quote is doubled, a backslash is itself).
std::string Literal(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

// `DO $tag$ <body> $tag$`, the tag chosen so the body cannot end it.
std::string DoBlock(const std::string& body) {
  std::string tag = "view_table";
  while (absl::StrContains(body, absl::StrCat("$", tag, "$"))) tag += "_";
  return absl::StrCat("DO $", tag, "$ BEGIN ", body, " END $", tag, "$");
}

}  // namespace

const std::vector<std::string>& ViewTableBookkeepingColumns() {
  static const auto* names = [] {
    auto* list = new std::vector<std::string>;
    for (const BookkeepingColumn& column : kBookkeeping) {
      list->push_back(column.name);
    }
    return list;
  }();
  return *names;
}

absl::StatusOr<std::vector<std::string>> CreateViewTableStatements(
    const CompiledView& view) {
  const std::string& table = view.table();
  for (const std::string& column : view.RewrittenColumns()) {
    for (const BookkeepingColumn& bookkeeping : kBookkeeping) {
      if (column == bookkeeping.name) {
        return absl::InvalidArgumentError(absl::StrCat(
            "view ", table, ": column ", column,
            " is named like a bookkeeping column of its table (",
            "source_commit_lsn, source_commit_at, enriched_at); rename it "
            "in the view (... AS another_name)"));
      }
    }
  }

  std::vector<std::string> statements;
  // WITH NO DATA plans the recompute, so the columns take exactly the types
  // the processor's writes produce, and runs nothing.
  statements.push_back(absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                                    " AS ", RecomputeOverNoIds(view),
                                    " WITH NO DATA"));
  // ALTER TABLE ... ADD PRIMARY KEY has no IF NOT EXISTS. Named by
  // PostgreSQL's default, <table>_pkey, which is 002's name for today's.
  statements.push_back(DoBlock(absl::StrCat(
      "IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = ", Literal(table),
      "::regclass AND indisprimary) THEN ALTER TABLE ", table,
      " ADD PRIMARY KEY (", view.key_column(), "); END IF;")));
  std::string bookkeeping = absl::StrCat("ALTER TABLE ", table);
  for (size_t i = 0; i < std::size(kBookkeeping); ++i) {
    absl::StrAppend(&bookkeeping, i == 0 ? " " : ", ",
                    "ADD COLUMN IF NOT EXISTS ", kBookkeeping[i].name, " ",
                    kBookkeeping[i].definition);
  }
  statements.push_back(std::move(bookkeeping));
  // sql/004 creates the roles; a database migrated without them (or a
  // scratch database) gets the table without grants rather than an error.
  statements.push_back(DoBlock(absl::StrCat(
      "IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enrich_processor') "
      "THEN GRANT SELECT, INSERT, UPDATE, DELETE ON ",
      table,
      " TO enrich_processor; END IF; "
      "IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enrich_reader') "
      "THEN GRANT SELECT ON ",
      table, " TO enrich_reader; END IF;")));
  return statements;
}

std::vector<std::string> DropViewTableStatements(absl::string_view table) {
  return {absl::StrCat("DROP TABLE IF EXISTS ", table)};
}

}  // namespace enrich::processor
