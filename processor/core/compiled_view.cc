#include "processor/core/compiled_view.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace enrich::processor {
namespace {

std::string Ref(const ViewColumnRef& column) {
  return absl::StrCat(column.table_alias, ".", column.column);
}

// `(expression)::type`, or `expression` when `type` is empty.
std::string Cast(const std::string& expression, const std::string& type) {
  if (type.empty()) return expression;
  return absl::StrCat("(", expression, ")::", type);
}

std::string OrderKey(const AggregateOrderKey& key) {
  std::string text = Ref(key.column);
  if (key.descending) absl::StrAppend(&text, " DESC");
  if (key.nulls_first.has_value()) {
    absl::StrAppend(&text, *key.nulls_first ? " NULLS FIRST" : " NULLS LAST");
  }
  return text;
}

// `aggregate` as SQL over `argument` (its own, or the child's key for a
// key array), with its ORDER BY and FILTER; no cast.
std::string AggregateSql(const ViewAggregate& aggregate,
                         const std::string& argument) {
  std::string text =
      absl::StrCat(AggregateFunctionName(aggregate.kind), "(", argument);
  if (!aggregate.order_by.empty()) {
    absl::StrAppend(&text, " ORDER BY ",
                    absl::StrJoin(aggregate.order_by, ", ",
                                  [](std::string* out, const auto& key) {
                                    absl::StrAppend(out, OrderKey(key));
                                  }));
  }
  absl::StrAppend(&text, ")");
  if (aggregate.filter.has_value()) {
    const AggregateFilter& f = *aggregate.filter;
    absl::StrAppend(&text, " FILTER (WHERE ",
                    Cast(Ref(f.column), f.column_cast), " ",
                    FilterOperatorSql(f.op), f.constant.empty() ? "" : " ",
                    f.constant, ")");
  }
  return text;
}

std::string ArgumentSql(const ViewAggregate& aggregate) {
  return aggregate.argument.has_value()
             ? Cast(Ref(*aggregate.argument), aggregate.argument_cast)
             : "*";
}

// Whether the NULL-extended row the view's LEFT JOIN gives a root without
// children changes an aggregate from its value over no rows: count(*)
// counts it, array_agg collects its NULL; unless a FILTER rejects it (only
// IS NULL accepts a NULL column).
bool CountsTheNullExtendedRow(const ViewAggregate& aggregate) {
  if (aggregate.kind != AggregateKind::kCountStar &&
      aggregate.kind != AggregateKind::kArrayAgg) {
    return false;
  }
  return !aggregate.filter.has_value() ||
         aggregate.filter->op == AggregateFilter::Op::kIsNull;
}

bool IsCount(const ViewAggregate& aggregate) {
  return aggregate.kind == AggregateKind::kCountStar ||
         aggregate.kind == AggregateKind::kCount;
}

const ViewAggregate* AggregateOf(const ViewOutputColumn& column) {
  return std::get_if<ViewAggregate>(&column.value);
}

// A projected column as the view selects it, with its cast
// (`(r.code)::text AS code`).
std::string ProjectionSql(const ViewOutputColumn& column) {
  const std::string ref = Ref(std::get<ProjectedColumn>(column.value).source);
  if (column.cast_type.empty()) return absl::StrCat(ref, " AS ", column.name);
  return absl::StrCat("(", ref, ")::", column.cast_type, " AS ", column.name);
}

// What a count column holds for a root without child rows, where the
// set-based join has no aggregate row: the count of nothing, 0, in the
// column's type. A bare 0 takes the type of the cast-free count or of an
// integer or numeric cast inside coalesce; any other cast (::text) is
// applied to the count's own type, as the view applies it.
std::string ZeroCount(const ViewOutputColumn& column) {
  static const auto* kNumeric = new absl::flat_hash_set<std::string>{
      "", "pg_catalog.int4", "pg_catalog.int8", "pg_catalog.numeric"};
  if (kNumeric->contains(column.cast_type)) return "0";
  return absl::StrCat("(0::pg_catalog.int8)::", column.cast_type);
}

// `base`, with underscores appended until no name in `taken` is equal.
std::string FreshName(std::string base,
                      const absl::flat_hash_set<std::string>& taken) {
  while (taken.contains(base)) base.push_back('_');
  return base;
}

absl::flat_hash_set<std::string> NamesInUse(const ViewDefinition& view) {
  absl::flat_hash_set<std::string> names = {view.root.table.alias};
  for (const LookupJoin& lookup : view.lookups) {
    names.insert(lookup.table.alias);
  }
  if (view.child.has_value()) names.insert(view.child->table.alias);
  for (const ViewOutputColumn& column : view.columns) names.insert(column.name);
  return names;
}

std::string KeyArrayName(absl::string_view column, absl::string_view key) {
  absl::string_view stem = column;
  if (!stem.empty() && stem.back() == 's') stem.remove_suffix(1);
  return absl::StrCat(stem, "_", key, "s");
}

std::string List(const std::vector<std::string>& names,
                 absl::string_view prefix) {
  return absl::StrJoin(names, ", ",
                       [prefix](std::string* out, const std::string& name) {
                         absl::StrAppend(out, prefix, name);
                       });
}

// Renames the child's alias to `alias` wherever the view names it: the
// child's columns appear only inside aggregates.
void RenameChild(ViewDefinition& view, const std::string& alias) {
  auto rename = [&](ViewColumnRef& ref) {
    if (ref.table_alias == view.child->table.alias) ref.table_alias = alias;
  };
  for (ViewOutputColumn& column : view.columns) {
    auto* aggregate = std::get_if<ViewAggregate>(&column.value);
    if (aggregate == nullptr) continue;
    if (aggregate->argument.has_value()) rename(*aggregate->argument);
    for (AggregateOrderKey& key : aggregate->order_by) rename(key.column);
    if (aggregate->filter.has_value()) rename(aggregate->filter->column);
  }
  view.child->table.alias = alias;
}

}  // namespace

absl::StatusOr<CompiledView> CompiledView::Compile(const ViewDefinition& view,
                                                   const ViewKeyFacts& facts) {
  if (facts.lookup_join_types.size() != view.lookups.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "view ", view.name, " has ", view.lookups.size(), " lookups but ",
        facts.lookup_join_types.size(), " lookup join types were given"));
  }
  if (NamesInUse(view).contains("ids")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "view ", view.name, ": `ids` is reserved for the statements' ids"));
  }
  CompiledView compiled(view);
  compiled.facts_ = facts;
  absl::flat_hash_set<std::string> taken = NamesInUse(view);
  if (view.child.has_value()) {
    const std::string alias = FreshName("s" + view.child->table.alias, taken);
    RenameChild(compiled.view_, alias);
    taken.insert(alias);
  }
  for (ViewOutputColumn& column : compiled.view_.columns) {
    if (const auto* projected = std::get_if<ProjectedColumn>(&column.value)) {
      // The key column holds the key as is: ids are compared with it.
      if (projected->source.table_alias == view.root.table.alias &&
          projected->source.column == view.root.key_column &&
          column.cast_type.empty() && compiled.key_output_.empty()) {
        compiled.key_output_ = column.name;
      }
      continue;
    }
    auto& aggregate = std::get<ViewAggregate>(column.value);
    if (aggregate.kind != AggregateKind::kArrayAgg) continue;
    if (!view.child.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("view ", view.name, ": array_agg without a child"));
    }
    const ViewColumnRef child_key{compiled.view_.child->table.alias,
                                  facts.child_key_column};
    if (aggregate.order_by.empty() ||
        !(aggregate.order_by.back().column == child_key)) {
      aggregate.order_by.push_back(
          AggregateOrderKey{child_key, /*descending=*/false, std::nullopt});
    }
    std::string keys = KeyArrayName(column.name, facts.child_key_column);
    if (!taken.insert(keys).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("view ", view.name, ": the key array of ", column.name,
                       " would be named ", keys, ", which is taken"));
    }
    compiled.key_arrays_.push_back(std::move(keys));
  }
  if (compiled.key_output_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "view ", view.name, " does not select its root's key ",
        view.root.table.alias, ".", view.root.key_column,
        " (without a cast); supported: select it, e.g. SELECT ",
        view.root.table.alias, ".", view.root.key_column, ", ..."));
  }
  compiled.agg_alias_ = FreshName("agg", taken);
  taken.insert(compiled.agg_alias_);
  // A column of the set-based aggregate relation beside the output and key
  // array columns, so it must not be named like one.
  compiled.group_key_ = FreshName(compiled.agg_alias_ + "_key", taken);
  return compiled;
}

std::vector<std::string> CompiledView::OutputColumns() const {
  std::vector<std::string> names;
  for (const ViewOutputColumn& column : view_.columns) {
    names.push_back(column.name);
  }
  return names;
}

std::vector<std::string> CompiledView::RewrittenColumns() const {
  std::vector<std::string> names = OutputColumns();
  names.insert(names.end(), key_arrays_.begin(), key_arrays_.end());
  return names;
}

std::vector<std::string> CompiledView::JoinedColumns() const {
  std::vector<std::string> names;
  for (const ViewOutputColumn& column : view_.columns) {
    if (AggregateOf(column) == nullptr && column.name != key_output_) {
      names.push_back(column.name);
    }
  }
  return names;
}

// Per-table SQL pieces shared by the statements below.
namespace {

std::string RootKey(const ViewDefinition& view) {
  return absl::StrCat(view.root.table.alias, ".", view.root.key_column);
}

std::string LookupCondition(const ViewDefinition& view,
                            const LookupJoin& lookup) {
  return absl::StrCat(lookup.table.alias, ".", lookup.key_column, " = ",
                      view.root.table.alias, ".", lookup.root_column);
}

// `(SELECT * FROM table alias WHERE condition OFFSET 0) alias`: one index
// lookup per outer row; OFFSET 0 keeps the planner from flattening it into
// a join over the whole table.
std::string FencedLookup(const ViewTable& table, const std::string& condition) {
  return absl::StrCat("(SELECT * FROM ", table.name, " ", table.alias,
                      " WHERE ", condition, " OFFSET 0) ", table.alias);
}

bool AnyCountsTheNullExtendedRow(const ViewDefinition& view) {
  for (const ViewOutputColumn& column : view.columns) {
    const ViewAggregate* aggregate = AggregateOf(column);
    if (aggregate != nullptr && CountsTheNullExtendedRow(*aggregate)) {
      return true;
    }
  }
  return false;
}

// The child's aggregates and key arrays, as the select list of a query over
// the child's alias; each carries its cast and output name.
std::string ChildAggregatesSql(const ViewDefinition& view,
                               const std::vector<std::string>& key_arrays,
                               const std::string& child_key) {
  std::vector<std::string> items;
  size_t array = 0;
  for (const ViewOutputColumn& column : view.columns) {
    const ViewAggregate* aggregate = AggregateOf(column);
    if (aggregate == nullptr) continue;
    std::string item = AggregateSql(*aggregate, ArgumentSql(*aggregate));
    if (!column.cast_type.empty())
      absl::StrAppend(&item, "::", column.cast_type);
    items.push_back(absl::StrCat(item, " AS ", column.name));
    if (aggregate->kind == AggregateKind::kArrayAgg) {
      items.push_back(absl::StrCat(AggregateSql(*aggregate, child_key), " AS ",
                                   key_arrays[array++]));
    }
  }
  return absl::StrJoin(items, ", ");
}

// The select list of both recomputes: projections as the view's, the
// aggregates and key arrays from the relation `agg`; `coalesce_counts`
// for a relation without a row for roots without children.
std::string RecomputeList(const ViewDefinition& view,
                          const std::vector<std::string>& key_arrays,
                          const std::string& agg, bool coalesce_counts) {
  std::vector<std::string> items;
  for (const ViewOutputColumn& column : view.columns) {
    const ViewAggregate* aggregate = AggregateOf(column);
    if (aggregate == nullptr) {
      items.push_back(ProjectionSql(column));
    } else if (coalesce_counts && IsCount(*aggregate)) {
      items.push_back(absl::StrCat("coalesce(", agg, ".", column.name, ", ",
                                   ZeroCount(column), ") AS ", column.name));
    } else {
      items.push_back(absl::StrCat(agg, ".", column.name));
    }
  }
  for (const std::string& keys : key_arrays) {
    items.push_back(absl::StrCat(agg, ".", keys));
  }
  return absl::StrJoin(items, ", ");
}

}  // namespace

std::string CompiledView::RecomputePerIdSelect() const {
  const ViewTable& root = view_.root.table;
  std::string sql = absl::StrCat(
      "SELECT ", RecomputeList(view_, key_arrays_, agg_alias_, false),
      " FROM ids CROSS JOIN LATERAL ",
      FencedLookup(root, absl::StrCat(RootKey(view_), " = ids.id")));
  for (const LookupJoin& lookup : view_.lookups) {
    const bool inner = lookup.kind == LookupJoinKind::kInner;
    absl::StrAppend(&sql,
                    inner ? " CROSS JOIN LATERAL " : " LEFT JOIN LATERAL ",
                    FencedLookup(lookup.table, LookupCondition(view_, lookup)),
                    inner ? "" : " ON true");
  }
  if (!view_.child.has_value()) return sql;
  const ChildJoin& child = *view_.child;
  const std::string child_fk =
      absl::StrCat(child.table.alias, ".", child.foreign_key_column);
  const std::string aggregates = ChildAggregatesSql(
      view_, key_arrays_,
      absl::StrCat(child.table.alias, ".", facts_.child_key_column));
  // A root without children: over no rows, unless an aggregate counts the
  // NULL-extended row of the view's LEFT JOIN, which a one-row relation
  // LEFT JOINed to the children reproduces.
  const std::string from =
      AnyCountsTheNullExtendedRow(view_)
          ? absl::StrCat("(SELECT) AS ", agg_alias_, "_one LEFT JOIN ",
                         child.table.name, " ", child.table.alias, " ON ",
                         child_fk, " = ", RootKey(view_))
          : absl::StrCat(child.table.name, " ", child.table.alias, " WHERE ",
                         child_fk, " = ", RootKey(view_));
  absl::StrAppend(&sql, " CROSS JOIN LATERAL (SELECT ", aggregates, " FROM ",
                  from, ") ", agg_alias_);
  return sql;
}

std::string CompiledView::RecomputeSetSelect(int param) const {
  const ViewTable& root = view_.root.table;
  const std::string ids =
      absl::StrCat("$", param, "::", facts_.root_key_type, "[]");
  std::string sql = absl::StrCat(
      "SELECT ", RecomputeList(view_, key_arrays_, agg_alias_, true), " FROM ",
      root.name, " ", root.alias);
  for (const LookupJoin& lookup : view_.lookups) {
    absl::StrAppend(
        &sql, lookup.kind == LookupJoinKind::kInner ? " JOIN " : " LEFT JOIN ",
        lookup.table.name, " ", lookup.table.alias, " ON ",
        LookupCondition(view_, lookup));
  }
  if (view_.child.has_value()) {
    const ChildJoin& child = *view_.child;
    const std::string child_fk =
        absl::StrCat(child.table.alias, ".", child.foreign_key_column);
    const std::string& group_key = group_key_;
    const std::string aggregates = ChildAggregatesSql(
        view_, key_arrays_,
        absl::StrCat(child.table.alias, ".", facts_.child_key_column));
    // One grouped pass over the children of all ids (through the foreign
    // key's index, in its order, so the GROUP BY needs no sort); a group per
    // id, NULL-extended, when an aggregate counts the view's NULL row.
    const std::string grouped =
        AnyCountsTheNullExtendedRow(view_)
            ? absl::StrCat("SELECT ", agg_alias_, "_ids.id AS ", group_key,
                           ", ", aggregates, " FROM unnest(", ids, ") AS ",
                           agg_alias_, "_ids(id) LEFT JOIN ", child.table.name,
                           " ", child.table.alias, " ON ", child_fk, " = ",
                           agg_alias_, "_ids.id GROUP BY ", agg_alias_,
                           "_ids.id")
            : absl::StrCat("SELECT ", child_fk, " AS ", group_key, ", ",
                           aggregates, " FROM ", child.table.name, " ",
                           child.table.alias, " WHERE ", child_fk, " = ANY(",
                           ids, ") GROUP BY ", child_fk);
    absl::StrAppend(&sql, " LEFT JOIN (", grouped, ") ", agg_alias_, " ON ",
                    agg_alias_, ".", group_key, " = ", RootKey(view_));
  }
  absl::StrAppend(&sql, " WHERE ", RootKey(view_), " = ANY(", ids, ")");
  return sql;
}

std::string CompiledView::GoneCondition(bool set_based) const {
  if (!set_based) {
    return absl::StrCat("NOT EXISTS (SELECT 1 FROM fresh f WHERE f.",
                        key_output_, " = ids.id)");
  }
  const ViewTable& root = view_.root.table;
  std::string sql =
      absl::StrCat("NOT EXISTS (SELECT 1 FROM ", root.name, " ", root.alias);
  for (const LookupJoin& lookup : view_.lookups) {
    if (lookup.kind != LookupJoinKind::kInner) continue;
    absl::StrAppend(&sql, " JOIN ", lookup.table.name, " ", lookup.table.alias,
                    " ON ", LookupCondition(view_, lookup));
  }
  absl::StrAppend(&sql, " WHERE ", RootKey(view_), " = ids.id)");
  return sql;
}

std::string CompiledView::ResolveFanOutSql() const {
  const ViewTable& root = view_.root.table;
  const std::string keys = FreshName("k", NamesInUse(view_));
  std::vector<std::string> branches;
  for (size_t i = 0; i < view_.lookups.size(); ++i) {
    const std::string& column = view_.lookups[i].root_column;
    branches.push_back(absl::StrCat(
        "SELECT ", root.alias, ".", view_.root.key_column,
        "::text FROM unnest($", i + 1, "::", facts_.lookup_join_types[i],
        "[]) AS ", keys, "(", column, ") CROSS JOIN LATERAL (SELECT ",
        view_.root.key_column, " FROM ", root.name, " WHERE ", column, " = ",
        keys, ".", column, " OFFSET 0) ", root.alias));
  }
  return absl::StrJoin(branches, " UNION ");
}

std::string CompiledView::ListRebuildIdsSql(const RebuildScope& scope) const {
  const std::string roots = absl::StrCat("SELECT ", view_.root.key_column,
                                         "::text FROM ", view_.root.table.name);
  if (scope.root_or_child) {
    return absl::StrCat(roots, " UNION SELECT ", key_output_, "::text FROM ",
                        view_.name);
  }
  std::vector<std::string> parts;
  for (size_t lookup : scope.lookups) {
    parts.push_back(absl::StrCat(
        roots, " WHERE ", view_.lookups[lookup].root_column, " IS NOT NULL"));
  }
  return absl::StrJoin(parts, " UNION ");
}

std::string CompiledView::RewriteJoinedColumnsSql(
    absl::string_view bookkeeping_assignment,
    absl::string_view written_marker) const {
  absl::flat_hash_set<std::string> taken = NamesInUse(view_);
  const std::string x = FreshName("x", taken);
  const std::string p = FreshName("p", taken);
  const std::string id = FreshName("fresh_id", taken);
  const std::string found = FreshName("found", taken);
  const std::string complete = FreshName("complete", taken);
  std::string marker(written_marker);
  for (const ViewOutputColumn& column : view_.columns) {
    const ViewAggregate* aggregate = AggregateOf(column);
    if (aggregate != nullptr && IsCount(*aggregate)) {
      marker = column.name;
      break;
    }
  }
  const ViewTable& root = view_.root.table;
  std::string found_sql = absl::StrCat(RootKey(view_), " IS NOT NULL");
  std::string lookups;
  for (const LookupJoin& lookup : view_.lookups) {
    absl::StrAppend(&lookups, " LEFT JOIN LATERAL ",
                    FencedLookup(lookup.table, LookupCondition(view_, lookup)),
                    " ON true");
    if (lookup.kind == LookupJoinKind::kInner) {
      absl::StrAppend(&found_sql, " AND ", lookup.table.alias, ".",
                      lookup.key_column, " IS NOT NULL");
    }
  }
  std::vector<std::string> projections;
  for (const ViewOutputColumn& column : view_.columns) {
    if (AggregateOf(column) == nullptr && column.name != key_output_) {
      projections.push_back(", " + ProjectionSql(column));
    }
  }
  const std::vector<std::string> joined = JoinedColumns();
  // Without joined columns there is nothing to set: only the ids that
  // cannot be kept this way are reported.
  const std::string differs =
      joined.empty()
          ? "false"
          : absl::StrCat("(", List(joined, "e."), ") IS DISTINCT FROM (",
                         List(joined, "f."), ")");
  const std::string set = joined.empty()
                              ? ""
                              : absl::StrCat("(", List(joined, ""), ") = ROW(",
                                             List(joined, "f."), "), ");
  return absl::StrCat(
      "WITH fresh AS MATERIALIZED (SELECT ", x, ".id AS ", id, ", ", found_sql,
      " AS ", found, ", ", p, ".", complete, absl::StrJoin(projections, ""),
      " FROM unnest($1::", facts_.root_key_type, "[]) AS ", x,
      "(id) LEFT JOIN LATERAL ",
      FencedLookup(root, absl::StrCat(RootKey(view_), " = ", x, ".id")),
      " ON true", lookups, " LEFT JOIN LATERAL (SELECT e.", marker,
      " IS NOT NULL AS ", complete, " FROM ", view_.name, " e WHERE e.",
      key_output_, " = ", x, ".id OFFSET 0) ", p,
      " ON true), updated AS (UPDATE ", view_.name, " e SET ", set,
      bookkeeping_assignment, " FROM fresh f WHERE e.", key_output_, " = f.",
      id, " AND f.", found, " AND f.", complete, " AND ", differs,
      " RETURNING e.", key_output_,
      ") SELECT (SELECT count(*) FROM updated), array_to_string(ARRAY(SELECT ",
      id, " FROM fresh WHERE NOT ", found, " OR ", complete,
      " IS NOT TRUE ORDER BY ", id, "), ',')");
}

}  // namespace enrich::processor
