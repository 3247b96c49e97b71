#include "tests/integration/views/random_view.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace enrich::testing {
namespace {

// rng() % n: the same numbers from a seed on every standard library (the
// <random> distributions are not specified bit for bit).
int Pick(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % n); }
bool Chance(std::mt19937_64& rng, int percent) {
  return Pick(rng, 100) < percent;
}
template <typename T>
void Shuffle(std::mt19937_64& rng, std::vector<T>& items) {
  for (int i = static_cast<int>(items.size()) - 1; i > 0; --i) {
    std::swap(items[i], items[Pick(rng, i + 1)]);
  }
}
template <typename T>
const T& OneOf(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[Pick(rng, static_cast<int>(items.size()))];
}

std::string Quote(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

// Random letters: pglz finds no repeats, so 5000 of them are stored out of
// line (TOASTed), not compressed in the row.
std::string RandomLetters(std::mt19937_64& rng, int length) {
  std::string text;
  for (int i = 0; i < length; ++i) {
    text.push_back(static_cast<char>('a' + Pick(rng, 26)));
  }
  return text;
}

std::string TextValue(std::mt19937_64& rng) {
  static const std::vector<std::string> kTexts = {
      "",        "a",           "b",          "B",
      "O'Brien", "back\\slash", "two\nlines", "tab\there",
      "naïve",   "日本語",      "emoji 😀",    "quote\"d",
      "%_ like", "zzz",         "  spaced  ", "a"};
  if (Chance(rng, 8)) return Quote(RandomLetters(rng, 5000));
  return Quote(OneOf(rng, kTexts));
}

// A non-NULL value of `type` from a small domain, so values tie.
std::string Value(std::mt19937_64& rng, SqlType type) {
  switch (type) {
    case SqlType::kInteger:
      return std::to_string(Pick(rng, 7) - 2);
    case SqlType::kBigint:
      return std::to_string(static_cast<int64_t>(Pick(rng, 4)) * 3000000000);
    case SqlType::kNumeric:
      return OneOf(rng, std::vector<std::string>{"0", "1.5", "2.50", "-3.25",
                                                 "1000000.001", "7"});
    case SqlType::kText:
      return TextValue(rng);
    case SqlType::kBoolean:
      return Chance(rng, 50) ? "true" : "false";
    case SqlType::kTimestamptz:
      return absl::StrCat("'2024-01-0", 1 + Pick(rng, 3), " ",
                          Chance(rng, 50) ? "00" : "05", ":00:00+00'");
    case SqlType::kDate:
      return absl::StrCat("'2024-02-0", 1 + Pick(rng, 4), "'");
    case SqlType::kUuid:
      return KeyLiteral(SqlType::kUuid, Pick(rng, 6));
    case SqlType::kVarchar:
      return KeyLiteral(SqlType::kVarchar, Pick(rng, 6));
  }
  return "NULL";
}

std::string NullableValue(std::mt19937_64& rng, SqlType type) {
  return Chance(rng, 20) ? "NULL" : Value(rng, type);
}

// A FILTER constant of `type`: usually a value, sometimes a text long
// enough, or with a line break, to test that it is carried verbatim.
std::string FilterConstant(std::mt19937_64& rng, SqlType type) {
  if (type == SqlType::kText && Chance(rng, 15)) {
    return Chance(rng, 50) ? Quote(absl::StrCat("m", RandomLetters(rng, 200)))
                           : Quote("two\nlines");
  }
  if (type == SqlType::kInteger && Chance(rng, 20)) return "-1";
  return Value(rng, type);
}

SqlType KeyType(std::mt19937_64& rng) {
  return OneOf(rng, std::vector<SqlType>{SqlType::kInteger, SqlType::kBigint,
                                         SqlType::kUuid, SqlType::kText,
                                         SqlType::kVarchar});
}

SqlType PayloadType(std::mt19937_64& rng) {
  return OneOf(rng, std::vector<SqlType>{
                        SqlType::kInteger, SqlType::kBigint, SqlType::kNumeric,
                        SqlType::kText, SqlType::kText, SqlType::kBoolean,
                        SqlType::kTimestamptz, SqlType::kDate, SqlType::kUuid});
}

bool Summable(SqlType type) {
  return type == SqlType::kInteger || type == SqlType::kBigint ||
         type == SqlType::kNumeric;
}

// min and max exist for these (not boolean, not uuid in PostgreSQL 15).
bool Ordered(SqlType type) {
  return type != SqlType::kBoolean && type != SqlType::kUuid;
}

// A type that holds every value of `type`, for a foreign key declared
// wider than the key it names.
SqlType Wider(SqlType type) {
  switch (type) {
    case SqlType::kInteger:
      return SqlType::kBigint;
    case SqlType::kVarchar:
      return SqlType::kText;
    default:
      return type;
  }
}

std::vector<RandomColumn> PayloadColumns(std::mt19937_64& rng,
                                         const std::string& prefix, int min,
                                         int max) {
  std::vector<RandomColumn> columns;
  const int n = min + Pick(rng, max - min + 1);
  for (int i = 1; i <= n; ++i) {
    columns.push_back({absl::StrCat(prefix, i), PayloadType(rng)});
  }
  return columns;
}

std::string Ref(const RandomTable& table, const std::string& column) {
  return absl::StrCat(table.alias, ".", column);
}

// An ordinal of `table` without a row (a dangling key when referenced).
int MissingOrdinal(std::mt19937_64& rng, const RandomTable& table) {
  for (;;) {
    int ordinal = 1 + Pick(rng, table.next_ordinal + 20);
    if (table.present.count(ordinal) == 0) return ordinal;
  }
}

int PresentOrdinal(std::mt19937_64& rng, const RandomTable& table) {
  auto it = table.present.begin();
  std::advance(it, Pick(rng, static_cast<int>(table.present.size())));
  return *it;
}

}  // namespace

const char* SqlTypeName(SqlType type) {
  switch (type) {
    case SqlType::kInteger:
      return "integer";
    case SqlType::kBigint:
      return "bigint";
    case SqlType::kNumeric:
      return "numeric";
    case SqlType::kText:
      return "text";
    case SqlType::kBoolean:
      return "boolean";
    case SqlType::kTimestamptz:
      return "timestamptz";
    case SqlType::kDate:
      return "date";
    case SqlType::kUuid:
      return "uuid";
    case SqlType::kVarchar:
      return "varchar(16)";
  }
  return "?";
}

std::string KeyLiteral(SqlType type, int ordinal) {
  switch (type) {
    case SqlType::kInteger:
      return std::to_string(ordinal * 7 - 40);
    case SqlType::kBigint:
      return std::to_string(static_cast<int64_t>(ordinal) * 10000000007);
    case SqlType::kUuid: {
      char text[48];
      std::snprintf(text, sizeof(text), "'%08x-0000-4000-8000-%012x'",
                    static_cast<unsigned>(ordinal * 2654435761u), ordinal);
      return text;
    }
    case SqlType::kText:
    case SqlType::kVarchar:
      switch (ordinal % 4) {
        case 0:
          return Quote(absl::StrCat("k", ordinal));
        case 1:
          return Quote(absl::StrCat("O'k", ordinal));
        case 2:
          return Quote(absl::StrCat("ключ-", ordinal));
        default:
          return Quote(absl::StrCat("k\\", ordinal, " "));
      }
    default:
      return std::to_string(ordinal);
  }
}

RandomView RandomView::Generate(std::mt19937_64& rng, const std::string& name) {
  RandomView view;
  view.name_ = name;
  view.root_.name = "root_t";
  view.root_.alias = OneOf(rng, std::vector<std::string>{"r", "c", "root"});
  view.root_.key = {OneOf(rng, std::vector<std::string>{"id", "key", "code"}),
                    KeyType(rng)};
  const int lookups = Pick(rng, 4);
  for (int i = 1; i <= lookups; ++i) {
    RandomLookup lookup;
    lookup.table.name = absl::StrCat("lookup_", i);
    lookup.table.alias = absl::StrCat("l", i);
    lookup.table.key = {OneOf(rng, std::vector<std::string>{"id", "code"}),
                        KeyType(rng)};
    lookup.table.columns = PayloadColumns(rng, absl::StrCat("l", i, "v"), 1, 3);
    lookup.inner = Chance(rng, 30);
    // Now and then a lookup joins on another lookup's root column, or on
    // the root's key (one row of it per root, or none).
    for (const RandomLookup& earlier : view.lookups_) {
      if (earlier.table.key.type == lookup.table.key.type && Chance(rng, 30)) {
        lookup.root_column = earlier.root_column;
      }
    }
    if (lookup.root_column.empty() && Chance(rng, 10)) {
      lookup.table.key.type = view.root_.key.type;
      lookup.root_column = view.root_.key.name;
    }
    if (lookup.root_column.empty()) {
      lookup.root_column = absl::StrCat("l", i, "_ref");
      view.root_.columns.push_back({lookup.root_column, lookup.table.key.type});
    }
    view.lookups_.push_back(std::move(lookup));
  }
  for (RandomColumn& column : PayloadColumns(rng, "rv", 1, 3)) {
    view.root_.columns.push_back(std::move(column));
  }
  view.has_child_ = Chance(rng, 85);
  if (view.has_child_) {
    view.child_.name = "child_t";
    view.child_.alias = OneOf(rng, std::vector<std::string>{"m", "ch", "k"});
    view.child_.key = {OneOf(rng, std::vector<std::string>{"id", "cid"}),
                       KeyType(rng)};
    view.child_fk_ = OneOf(rng, std::vector<std::string>{"root_id", "parent"});
    view.child_.columns.push_back(
        {view.child_fk_,
         Chance(rng, 15) ? Wider(view.root_.key.type) : view.root_.key.type});
    for (RandomColumn& column : PayloadColumns(rng, "cv", 2, 5)) {
      view.child_.columns.push_back(std::move(column));
    }
    view.child_position_ = Pick(rng, lookups + 1);
  }
  for (int i = 0; i <= lookups; ++i) {
    view.reversed_join_.push_back(Chance(rng, 30));
  }

  // Projected columns: the root's key (always), root and lookup columns.
  std::vector<Output> projected;
  Output key;
  key.expression = Ref(view.root_, view.root_.key.name);
  key.name = Chance(rng, 50) ? view.root_.key.name : "root_key";
  projected.push_back(std::move(key));
  int column_number = 0;
  auto project = [&](const RandomTable& table, const RandomColumn& column) {
    Output output;
    output.expression = Ref(table, column.name);
    output.name = absl::StrCat("p", ++column_number, "_", column.name);
    if (Chance(rng, 10)) output.cast = "::text";
    projected.push_back(std::move(output));
  };
  for (const RandomColumn& column : view.root_.columns) {
    if (Chance(rng, 60)) project(view.root_, column);
  }
  for (const RandomLookup& lookup : view.lookups_) {
    if (Chance(rng, 30)) project(lookup.table, lookup.table.key);
    for (const RandomColumn& column : lookup.table.columns) {
      if (Chance(rng, 60)) project(lookup.table, column);
    }
  }

  // Aggregates over the child.
  std::vector<Output> aggregates;
  if (view.has_child_) {
    std::vector<RandomColumn> child_columns = view.child_.columns;
    child_columns.push_back(view.child_.key);
    const int n = 1 + Pick(rng, 6);
    for (int i = 1; i <= n; ++i) {
      const RandomColumn& column = OneOf(rng, child_columns);
      Output output;
      const int kind = Pick(rng, 8);
      std::string function;
      if (kind == 0) {
        function = "count";
        output.argument = "*";
      } else if (kind == 1) {
        function = "count";
      } else if (kind == 2 && Summable(column.type)) {
        function = "sum";
      } else if (kind == 3 && Ordered(column.type)) {
        function = Chance(rng, 50) ? "min" : "max";
      } else if (kind == 4 && column.type == SqlType::kBoolean) {
        function = Chance(rng, 50) ? "bool_or" : "bool_and";
      } else {
        function = "array_agg";
        output.array_agg = true;
      }
      if (output.argument.empty())
        output.argument = Ref(view.child_, column.name);
      if (output.array_agg) {
        std::vector<std::string> keys;
        const int key_count = Pick(rng, 4);
        for (int k = 0; k < key_count; ++k) {
          const RandomColumn& by = OneOf(rng, child_columns);
          std::string key = Ref(view.child_, by.name);
          if (Chance(rng, 40)) absl::StrAppend(&key, " DESC");
          if (Chance(rng, 30)) {
            absl::StrAppend(&key,
                            Chance(rng, 50) ? " NULLS FIRST" : " NULLS LAST");
          }
          keys.push_back(std::move(key));
          output.ends_with_child_key = by.name == view.child_.key.name;
        }
        if (!keys.empty()) {
          output.order_by =
              absl::StrCat(" ORDER BY ", absl::StrJoin(keys, ", "));
        }
      }
      if (Chance(rng, 35)) {
        const RandomColumn& on = OneOf(rng, child_columns);
        const int form = Pick(rng, 4);
        std::string condition;
        if (form == 0) {
          condition = absl::StrCat(Ref(view.child_, on.name), " IS NULL");
        } else if (form == 1) {
          condition = absl::StrCat(Ref(view.child_, on.name), " IS NOT NULL");
        } else {
          const std::string op =
              on.type == SqlType::kBoolean
                  ? OneOf(rng, std::vector<std::string>{"=", "<>"})
                  : OneOf(rng, std::vector<std::string>{"=", "<>", "<",
                                                        "<=", ">", ">="});
          condition = absl::StrCat(Ref(view.child_, on.name), " ", op, " ",
                                   FilterConstant(rng, on.type));
        }
        output.filter = absl::StrCat(" FILTER (WHERE ", condition, ")");
      }
      if (function == "count" && Chance(rng, 50)) {
        output.cast = OneOf(
            rng, std::vector<std::string>{"::integer", "::integer", "::bigint",
                                          "::numeric", "::text"});
      } else if (function == "sum" && Chance(rng, 20)) {
        output.cast = "::numeric";
      }
      output.expression = absl::StrCat(function, "(", output.argument);
      output.name = absl::StrCat(output.array_agg ? "arr" : function, i,
                                 output.array_agg ? "_values" : "");
      aggregates.push_back(std::move(output));
    }
  }
  // The view's columns in a random order, the root's key among them.
  std::vector<Output> all = std::move(projected);
  for (Output& output : aggregates) all.push_back(std::move(output));
  Shuffle(rng, all);
  // Now and then a column takes a name the compiled statements use for
  // their own relations and columns.
  static const std::vector<std::string> kTaken = {"agg",
                                                  "agg_key",
                                                  "agg_one",
                                                  "agg_ids",
                                                  "k",
                                                  "x",
                                                  "p",
                                                  "fresh",
                                                  "fresh_id",
                                                  "found",
                                                  "complete",
                                                  "id",
                                                  "s" + view.child_.alias};
  // The compiler names each array's key array (compiled_view.h) and
  // refuses a view where that name is taken; such names are not generated.
  auto key_array = [&](const std::string& name) {
    std::string stem = name;
    if (!stem.empty() && stem.back() == 's') stem.pop_back();
    return absl::StrCat(stem, "_", view.child_.key.name, "s");
  };
  auto taken = [&](const std::string& name) {
    for (const Output& other : all) {
      if (other.name == name ||
          (other.array_agg && key_array(other.name) == name)) {
        return true;
      }
    }
    return false;
  };
  for (Output& output : all) {
    if (!Chance(rng, 6)) continue;
    const std::string& name = OneOf(rng, kTaken);
    if (!taken(name) && !(output.array_agg && taken(key_array(name)))) {
      output.name = name;
    }
  }
  view.outputs_ = std::move(all);

  view.group_by_.push_back(Ref(view.root_, view.root_.key.name));
  for (const RandomLookup& lookup : view.lookups_) {
    view.group_by_.push_back(Ref(lookup.table, lookup.table.key.name));
  }
  Shuffle(rng, view.group_by_);
  return view;
}

std::string RandomView::SchemaSql() const {
  std::string sql;
  auto create = [&](const RandomTable& table) {
    std::vector<std::string> columns = {absl::StrCat(
        table.key.name, " ", SqlTypeName(table.key.type), " PRIMARY KEY")};
    for (const RandomColumn& column : table.columns) {
      columns.push_back(
          absl::StrCat(column.name, " ", SqlTypeName(column.type)));
    }
    absl::StrAppend(&sql, "CREATE TABLE ", table.name, " (",
                    absl::StrJoin(columns, ", "), ");\n");
  };
  create(root_);
  std::set<std::string> indexed;
  for (const RandomLookup& lookup : lookups_) {
    create(lookup.table);
    if (lookup.root_column != root_.key.name &&
        indexed.insert(lookup.root_column).second) {
      absl::StrAppend(&sql, "CREATE INDEX ON ", root_.name, " (",
                      lookup.root_column, ");\n");
    }
  }
  if (has_child_) {
    create(child_);
    absl::StrAppend(&sql, "CREATE INDEX ON ", child_.name, " (", child_fk_,
                    ");\n");
  }
  return sql;
}

std::string RandomView::ViewSql(const std::string& name,
                                bool break_ties_by_child_key) const {
  std::vector<std::string> items;
  for (const Output& output : outputs_) {
    std::string item = output.expression;
    if (output.array_agg) {
      std::string order_by = output.order_by;
      if (break_ties_by_child_key && !output.ends_with_child_key) {
        absl::StrAppend(&order_by, order_by.empty() ? " ORDER BY " : ", ",
                        Ref(child_, child_.key.name));
      }
      absl::StrAppend(&item, order_by);
    }
    if (!output.argument.empty()) absl::StrAppend(&item, ")", output.filter);
    if (!output.cast.empty()) item = absl::StrCat("(", item, ")", output.cast);
    items.push_back(absl::StrCat(item, " AS ", output.name));
  }
  std::vector<std::string> joins;
  for (size_t i = 0; i < lookups_.size(); ++i) {
    const RandomLookup& lookup = lookups_[i];
    const std::string fk = Ref(root_, lookup.root_column);
    const std::string key = Ref(lookup.table, lookup.table.key.name);
    joins.push_back(
        absl::StrCat(lookup.inner ? "JOIN " : "LEFT JOIN ", lookup.table.name,
                     " ", lookup.table.alias, " ON ",
                     reversed_join_[i] ? absl::StrCat(key, " = ", fk)
                                       : absl::StrCat(fk, " = ", key)));
  }
  if (has_child_) {
    const std::string fk = Ref(child_, child_fk_);
    const std::string key = Ref(root_, root_.key.name);
    joins.insert(
        joins.begin() + static_cast<std::ptrdiff_t>(child_position_),
        absl::StrCat("LEFT JOIN ", child_.name, " ", child_.alias, " ON ",
                     reversed_join_.back() ? absl::StrCat(fk, " = ", key)
                                           : absl::StrCat(key, " = ", fk)));
  }
  return absl::StrCat("CREATE MATERIALIZED VIEW ", name, " AS\nSELECT ",
                      absl::StrJoin(items, ",\n  "), "\nFROM ", root_.name, " ",
                      root_.alias, "\n", absl::StrJoin(joins, "\n"),
                      "\nGROUP BY ", absl::StrJoin(group_by_, ", "));
}

std::string RandomView::ForeignValue(std::mt19937_64& rng,
                                     const RandomTable& target) {
  const int roll = Pick(rng, 100);
  if (roll < 12) return "NULL";
  if (roll < 35 || target.present.empty()) {
    return KeyLiteral(target.key.type, MissingOrdinal(rng, target));
  }
  return KeyLiteral(target.key.type, PresentOrdinal(rng, target));
}

std::string RandomView::RowValues(std::mt19937_64& rng,
                                  const RandomTable& table, int ordinal) {
  std::vector<std::string> values = {KeyLiteral(table.key.type, ordinal)};
  for (const RandomColumn& column : table.columns) {
    const RandomTable* target = nullptr;
    if (&table == &root_) {
      for (const RandomLookup& lookup : lookups_) {
        if (lookup.root_column == column.name) target = &lookup.table;
      }
    } else if (&table == &child_ && column.name == child_fk_) {
      target = &root_;
    }
    values.push_back(target != nullptr ? ForeignValue(rng, *target)
                                       : NullableValue(rng, column.type));
  }
  return absl::StrCat("(", absl::StrJoin(values, ", "), ")");
}

std::string RandomView::InsertSql(std::mt19937_64& rng) {
  std::string sql;
  auto fill = [&](RandomTable& table, int rows) {
    std::vector<std::string> values;
    for (int i = 0; i < rows; ++i) {
      const int ordinal = table.next_ordinal++;
      // Some ordinals are skipped: keys that dangle from the start.
      if (Chance(rng, 15)) continue;
      table.present.insert(ordinal);
      values.push_back(RowValues(rng, table, ordinal));
    }
    if (values.empty()) return;
    absl::StrAppend(&sql, "INSERT INTO ", table.name, " VALUES ",
                    absl::StrJoin(values, ",\n  "), ";\n");
  };
  for (RandomLookup& lookup : lookups_) fill(lookup.table, 4 + Pick(rng, 10));
  fill(root_, 15 + Pick(rng, 40));
  if (has_child_) fill(child_, Pick(rng, 120));
  return sql;
}

std::string RandomView::ChangeSql(std::mt19937_64& rng) {
  std::string sql;
  auto change = [&](RandomTable& table) {
    const std::string key_column = table.key.name;
    std::vector<int> ordinals(table.present.begin(), table.present.end());
    for (int ordinal : ordinals) {
      const std::string key = KeyLiteral(table.key.type, ordinal);
      const int roll = Pick(rng, 100);
      if (roll < 12) {
        absl::StrAppend(&sql, "DELETE FROM ", table.name, " WHERE ", key_column,
                        " = ", key, ";\n");
        table.present.erase(ordinal);
      } else if (roll < 40 && !table.columns.empty()) {
        // A new row value: every column, foreign keys to present,
        // dangling or NULL keys (a child moves to another root).
        const std::string row = RowValues(rng, table, ordinal);
        std::vector<std::string> names;
        for (const RandomColumn& column : table.columns) {
          names.push_back(column.name);
        }
        absl::StrAppend(&sql, "UPDATE ", table.name, " SET (", key_column, ", ",
                        absl::StrJoin(names, ", "), ") = ROW", row, " WHERE ",
                        key_column, " = ", key, ";\n");
      } else if (roll < 45) {
        // The key itself changes.
        const int moved = table.next_ordinal++;
        absl::StrAppend(&sql, "UPDATE ", table.name, " SET ", key_column, " = ",
                        KeyLiteral(table.key.type, moved), " WHERE ",
                        key_column, " = ", key, ";\n");
        table.present.erase(ordinal);
        table.present.insert(moved);
      }
    }
    std::vector<std::string> values;
    for (int i = Pick(rng, 8); i > 0; --i) {
      // New keys, or keys that dangled so far: a dangling reference joins.
      const int ordinal =
          Chance(rng, 50) ? MissingOrdinal(rng, table) : table.next_ordinal++;
      if (!table.present.insert(ordinal).second) continue;
      values.push_back(RowValues(rng, table, ordinal));
    }
    if (!values.empty()) {
      absl::StrAppend(&sql, "INSERT INTO ", table.name, " VALUES ",
                      absl::StrJoin(values, ",\n  "), ";\n");
    }
  };
  for (RandomLookup& lookup : lookups_) change(lookup.table);
  change(root_);
  if (has_child_) change(child_);
  return sql;
}

std::vector<std::string> RandomView::MissingRootKeys(
    std::mt19937_64& rng) const {
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(KeyLiteral(root_.key.type, MissingOrdinal(rng, root_)));
  }
  return keys;
}

std::vector<std::string> RandomView::FanOutKeys(std::mt19937_64& rng,
                                                size_t i) const {
  const RandomTable& table = lookups_[i].table;
  std::set<int> ordinals;
  for (int n = Pick(rng, 6); n > 0; --n) {
    ordinals.insert(Chance(rng, 60) && !table.present.empty()
                        ? PresentOrdinal(rng, table)
                        : MissingOrdinal(rng, table));
  }
  std::vector<std::string> keys = {"NULL"};
  for (int ordinal : ordinals) {
    keys.push_back(KeyLiteral(table.key.type, ordinal));
  }
  return keys;
}

}  // namespace enrich::testing
