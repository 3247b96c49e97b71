#include "processor/core/view_table.h"

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace enrich::processor {
namespace {

// The bookkeeping columns and their types, as sql/002 has them (CREATE
// TABLE AS types each by a typed NULL); enriched_at's default and NOT NULL
// are altered in after.
struct BookkeepingColumn {
  const char* name;
  const char* type;
};
constexpr BookkeepingColumn kBookkeeping[] = {
    {"source_commit_lsn", "pg_lsn"},
    {"source_commit_at", "timestamptz"},
    {"enriched_at", "timestamptz"},
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

  // The view's columns, the bookkeeping, then the key arrays: today's
  // table has this order (sql/005 added all_message_ids after 002's
  // columns), so a table created from its definition is the same table.
  const std::vector<std::string> outputs = view.OutputColumns();
  const std::vector<std::string> rewritten = view.RewrittenColumns();
  std::vector<std::string> select(outputs);
  for (const BookkeepingColumn& column : kBookkeeping) {
    select.push_back(absl::StrCat("NULL::", column.type, " AS ", column.name));
  }
  select.insert(select.end(), rewritten.begin() + outputs.size(),
                rewritten.end());

  std::vector<std::string> statements;
  // WITH NO DATA plans the recompute, so the columns take exactly the types
  // the processor's writes produce, and runs nothing.
  statements.push_back(absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                                    " AS SELECT ", absl::StrJoin(select, ", "),
                                    " FROM (", RecomputeOverNoIds(view),
                                    ") AS recomputed WITH NO DATA"));
  // Both are no-ops on a table that has them.
  statements.push_back(absl::StrCat("ALTER TABLE ", table,
                                    " ALTER COLUMN enriched_at SET DEFAULT "
                                    "now(), ALTER COLUMN enriched_at SET "
                                    "NOT NULL"));
  // ALTER TABLE ... ADD PRIMARY KEY has no IF NOT EXISTS. Named by
  // PostgreSQL's default, <table>_pkey, which is 002's name for today's.
  statements.push_back(DoBlock(absl::StrCat(
      "IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = ", Literal(table),
      "::regclass AND indisprimary) THEN ALTER TABLE ", table,
      " ADD PRIMARY KEY (", view.key_column(), "); END IF;")));
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
