// A seeded generator of random views within the supported class of declared
// views (processor/core/VIEWS.md), over random tables, with random data and
// random changes to it: the input of view_differential_test, and later of
// the same check against the running pipeline.
//
//   std::mt19937_64 rng(seed);
//   RandomView view = RandomView::Generate(rng, "v");
//   conn.Exec(view.SchemaSql());       // tables and join indexes
//   conn.Exec(view.ViewSql());         // CREATE MATERIALIZED VIEW v AS ...
//   conn.Exec(view.InsertSql(rng));    // the first rows
//   conn.Exec(view.ChangeSql(rng));    // updates, deletes, inserts
//
// The shape: a root table keyed by integer, bigint, uuid, text or
// varchar(16); 0-3 lookup tables joined LEFT or INNER on their primary key
// to a root column (two lookups may share one; one may join on the root's
// own key); an optional child with a foreign key to the root (now and then
// of a wider type than the root's key) and a primary key of its own. Output
// columns: the root's key, root and lookup columns (some cast to text), and
// over the child count(*), count, sum, min, max, bool_or, bool_and and
// array_agg with random ORDER BY keys (DESC, NULLS FIRST/LAST, ties often left
// open), FILTERs of every simple form and casts on counts and sums; now and
// then a column is named like the compiled statements' own relations and
// columns (agg, agg_key, k...). Data: NULLs in every nullable column, few
// distinct values (ties), roots without children, dangling lookup and child
// foreign keys, TOASTed text (5000 random letters), quotes, backslashes,
// line breaks and non-ASCII text.
//
// Tables are named without a schema (create them under a search_path).
// Everything follows from the rng's state: one seed reproduces a run.
// Not thread-safe.
#ifndef ENRICH_TESTS_INTEGRATION_VIEWS_RANDOM_VIEW_H_
#define ENRICH_TESTS_INTEGRATION_VIEWS_RANDOM_VIEW_H_

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace enrich::testing {

enum class SqlType {
  kInteger,
  kBigint,
  kNumeric,
  kText,
  kBoolean,
  kTimestamptz,
  kDate,
  kUuid,
  kVarchar  // varchar(16), for keys only
};

// The type's name as in a column definition ("timestamptz").
const char* SqlTypeName(SqlType type);

struct RandomColumn {
  std::string name;
  SqlType type;
};

// A table of the generated view and the keys of its rows (ordinals: a key's
// literal is KeyLiteral(key.type, ordinal)).
struct RandomTable {
  std::string name;
  std::string alias;
  RandomColumn key;
  std::vector<RandomColumn> columns;  // besides the key
  std::set<int> present;              // ordinals of the rows there now
  int next_ordinal = 1;
};

struct RandomLookup {
  RandomTable table;
  bool inner = false;
  std::string root_column;  // of the root, of table.key's type
};

// The literal of key ordinal `ordinal` in `type`: distinct ordinals give
// distinct literals (text keys carry quotes, backslashes and non-ASCII).
std::string KeyLiteral(SqlType type, int ordinal);

class RandomView {
 public:
  static RandomView Generate(std::mt19937_64& rng, const std::string& name);

  const std::string& name() const { return name_; }
  const RandomTable& root() const { return root_; }
  const std::vector<RandomLookup>& lookups() const { return lookups_; }
  bool has_child() const { return has_child_; }
  const RandomTable& child() const { return child_; }

  // CREATE TABLE for each table, and an index on each join column.
  std::string SchemaSql() const;
  // `CREATE MATERIALIZED VIEW <name> AS SELECT ...`. With
  // `break_ties_by_child_key`, every array_agg ORDER BY that does not end
  // with the child's key gets it appended (ascending), as the compiler
  // does (compiled_view.h): the rows the compiled statements must give.
  std::string ViewSql(const std::string& name,
                      bool break_ties_by_child_key) const;
  // Rows for every table (the child's and the root's foreign keys partly
  // dangling or NULL).
  std::string InsertSql(std::mt19937_64& rng);
  // Updates of every table (keys and foreign keys too: a child moves to
  // another root), deletes and inserts.
  std::string ChangeSql(std::mt19937_64& rng);
  // Literals of root keys that have no root row.
  std::vector<std::string> MissingRootKeys(std::mt19937_64& rng) const;
  // Distinct literals of lookup `i`'s key type: present keys, keys without
  // a lookup row (which roots may name), and NULL.
  std::vector<std::string> FanOutKeys(std::mt19937_64& rng, size_t i) const;

 private:
  struct Output {
    std::string expression;  // without ORDER BY tie-breaker
    std::string name;
    // For array_agg: the text after the argument up to ")" (the ORDER BY
    // clause, possibly empty), and whether it ends with the child's key.
    bool array_agg = false;
    std::string argument;
    std::string order_by;
    bool ends_with_child_key = false;
    std::string filter;  // " FILTER (WHERE ...)" or empty
    std::string cast;    // "::integer" or empty
  };

  std::string RowValues(std::mt19937_64& rng, const RandomTable& table,
                        int ordinal);
  std::string ForeignValue(std::mt19937_64& rng, const RandomTable& target);

  std::string name_;
  RandomTable root_;
  std::vector<RandomLookup> lookups_;
  bool has_child_ = false;
  RandomTable child_;
  std::string child_fk_;             // the child's column naming the root
  size_t child_position_ = 0;        // among the joins
  std::vector<bool> reversed_join_;  // per join: `key = fk` instead
  std::vector<Output> outputs_;
  std::vector<std::string> group_by_;
};

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_INTEGRATION_VIEWS_RANDOM_VIEW_H_
