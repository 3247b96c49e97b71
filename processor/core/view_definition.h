// A declared view, classified: what enrich-processor can maintain
// incrementally. Pure data, no parser in sight; processor/adapters/
// view_parser.h builds it from SQL text and refuses everything outside the
// supported class (processor/core/VIEWS.md).
//
// The supported class, one row per root row:
//
//   SELECT <root and lookup columns>, <aggregates over one child>
//   FROM root r
//   [LEFT] JOIN lookup l ON r.fk = l.key     -- zero or more
//   LEFT JOIN child ch ON r.key = ch.fk      -- at most one
//   GROUP BY r.key [, l.key ...]             -- only when there is a child
//
// Tables are named as written (schema-qualified when the text qualifies
// them) and referred to by alias; every column reference in the view is
// qualified, so each column below names its table by alias.
#ifndef ENRICH_PROCESSOR_CORE_VIEW_DEFINITION_H_
#define ENRICH_PROCESSOR_CORE_VIEW_DEFINITION_H_

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace enrich::processor {

// A column of one of the view's tables: `table_alias.column`.
struct ViewColumnRef {
  std::string table_alias;
  std::string column;

  friend bool operator==(const ViewColumnRef& a, const ViewColumnRef& b) {
    return a.table_alias == b.table_alias && a.column == b.column;
  }
};

// A table in FROM: `name` as written (e.g. "public.users"), and the alias
// the view uses for it (the name itself when it has no alias).
struct ViewTable {
  std::string name;
  std::string alias;

  friend bool operator==(const ViewTable& a, const ViewTable& b) {
    return a.name == b.name && a.alias == b.alias;
  }
};

// The table the view has one row per: grouped by (or, without GROUP BY,
// identified by) `key_column`.
struct RootTable {
  ViewTable table;
  std::string key_column;
};

enum class LookupJoinKind { kLeft, kInner };

// A table joined on its key to a column of the root (many roots to one
// lookup row): `root.root_column = lookup.key_column`. (A column cast to
// text in the condition, `(r.fk)::text = (l.key)::text`, is how
// pg_get_viewdef prints a join of varchar columns; it is read as the plain
// equality: the same comparison for varchar and text, an error when
// planned for most other types, but not the same for numeric on both
// sides, 1.5 against 1.50, which the parser cannot tell without a catalog.)
// kInner drops root rows with no lookup row; kLeft keeps them with NULLs.
struct LookupJoin {
  ViewTable table;
  LookupJoinKind kind = LookupJoinKind::kLeft;
  std::string root_column;
  std::string key_column;
};

// A table with many rows per root row, LEFT joined on its foreign key to
// the root's key: `root.key = child.foreign_key_column`. Its columns appear
// only inside aggregates.
struct ChildJoin {
  ViewTable table;
  std::string foreign_key_column;
};

enum class AggregateKind {
  kCountStar,  // count(*): joined rows, so 1 for a root without children
  kCount,      // count(col): non-NULL values
  kSum,
  kMin,
  kMax,
  kBoolOr,
  kBoolAnd,
  kArrayAgg,
};

// One ORDER BY key of array_agg.
struct AggregateOrderKey {
  ViewColumnRef column;
  bool descending = false;
  // NULLS FIRST/LAST as written; nullopt is PostgreSQL's default (NULLS
  // LAST ascending, NULLS FIRST descending).
  std::optional<bool> nulls_first;
};

// A FILTER (WHERE ...) with one simple predicate on a child column:
// `column IS [NOT] NULL`, or `column <op> constant` with op one of
// = <> < <= > >=. `constant` is the SQL text of the constant as written.
struct AggregateFilter {
  enum class Op {
    kIsNull,
    kIsNotNull,
    kEqual,
    kNotEqual,
    kLess,
    kLessOrEqual,
    kGreater,
    kGreaterOrEqual
  };
  ViewColumnRef column;
  // A cast on the column as written (`(c.v)::text > 'm'::text`, how
  // pg_get_viewdef prints a varchar compared with a text constant), as
  // PostgreSQL names the type ("text", "pg_catalog.int4"); empty when none.
  std::string column_cast;
  Op op = Op::kIsNotNull;
  std::string constant;  // empty for kIsNull and kIsNotNull
};

// An aggregate over the child's rows. Note count(*) over a LEFT join
// counts the NULL-extended row of a root without children as 1, which is
// why the reference view counts a child column instead.
struct ViewAggregate {
  AggregateKind kind = AggregateKind::kCount;
  std::optional<ViewColumnRef> argument;  // nullopt only for kCountStar
  // A cast on the argument as written (`min((c.v)::text)`, how
  // pg_get_viewdef prints min over a varchar); empty when none.
  std::string argument_cast;
  std::vector<AggregateOrderKey> order_by;  // only for kArrayAgg
  std::optional<AggregateFilter> filter;
};

// A column of the root or of a lookup, projected as is.
struct ProjectedColumn {
  ViewColumnRef source;
};

// One output column, in view order.
struct ViewOutputColumn {
  std::string name;
  std::variant<ProjectedColumn, ViewAggregate> value;
  // A cast applied to the value (`COUNT(m.id)::integer`), as PostgreSQL
  // names the type after parsing ("pg_catalog.int4"); empty when none.
  std::string cast_type;
};

struct ViewDefinition {
  std::string name;  // as written, e.g. "enriched_support_conversations"
  bool materialized = false;
  RootTable root;
  std::vector<LookupJoin> lookups;  // in FROM order
  std::optional<ChildJoin> child;
  std::vector<ViewOutputColumn> columns;
};

// The SQL function an aggregate calls ("count" for both counts, "bool_or",
// "array_agg"...), and a filter's operator as SQL ("IS NOT NULL", "<=").
const char* AggregateFunctionName(AggregateKind kind);
const char* FilterOperatorSql(AggregateFilter::Op op);

// A readable multi-line rendering of `view`, for `check-view` and test
// failure messages. Stable: one line per table, join and column.
std::string DescribeViewDefinition(const ViewDefinition& view);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_DEFINITION_H_
