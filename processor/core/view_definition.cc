#include "processor/core/view_definition.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace enrich::processor {
namespace {

std::string Describe(const ViewColumnRef& column) {
  return absl::StrCat(column.table_alias, ".", column.column);
}

std::string Describe(const ViewTable& table) {
  return table.name == table.alias ? table.name
                                   : absl::StrCat(table.name, " ", table.alias);
}

}  // namespace

const char* AggregateFunctionName(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kCountStar:
    case AggregateKind::kCount:
      return "count";
    case AggregateKind::kSum:
      return "sum";
    case AggregateKind::kMin:
      return "min";
    case AggregateKind::kMax:
      return "max";
    case AggregateKind::kBoolOr:
      return "bool_or";
    case AggregateKind::kBoolAnd:
      return "bool_and";
    case AggregateKind::kArrayAgg:
      return "array_agg";
  }
  return "?";
}

const char* FilterOperatorSql(AggregateFilter::Op op) {
  switch (op) {
    case AggregateFilter::Op::kIsNull:
      return "IS NULL";
    case AggregateFilter::Op::kIsNotNull:
      return "IS NOT NULL";
    case AggregateFilter::Op::kEqual:
      return "=";
    case AggregateFilter::Op::kNotEqual:
      return "<>";
    case AggregateFilter::Op::kLess:
      return "<";
    case AggregateFilter::Op::kLessOrEqual:
      return "<=";
    case AggregateFilter::Op::kGreater:
      return ">";
    case AggregateFilter::Op::kGreaterOrEqual:
      return ">=";
  }
  return "?";
}

namespace {

std::string Describe(const ViewAggregate& aggregate) {
  std::string text = absl::StrCat(AggregateFunctionName(aggregate.kind), "(");
  if (aggregate.kind == AggregateKind::kCountStar) {
    absl::StrAppend(&text, "*");
  } else if (aggregate.argument.has_value()) {
    absl::StrAppend(&text, Describe(*aggregate.argument));
    if (!aggregate.argument_cast.empty()) {
      absl::StrAppend(&text, "::", aggregate.argument_cast);
    }
  }
  if (!aggregate.order_by.empty()) {
    absl::StrAppend(
        &text, " ORDER BY ",
        absl::StrJoin(aggregate.order_by, ", ",
                      [](std::string* out, const AggregateOrderKey& key) {
                        absl::StrAppend(out, Describe(key.column),
                                        key.descending ? " DESC" : "");
                        if (key.nulls_first.has_value()) {
                          absl::StrAppend(out, *key.nulls_first
                                                   ? " NULLS FIRST"
                                                   : " NULLS LAST");
                        }
                      }));
  }
  absl::StrAppend(&text, ")");
  if (aggregate.filter.has_value()) {
    const AggregateFilter& filter = *aggregate.filter;
    absl::StrAppend(&text, " FILTER (WHERE ", Describe(filter.column),
                    filter.column_cast.empty() ? "" : "::", filter.column_cast,
                    " ", FilterOperatorSql(filter.op),
                    filter.constant.empty() ? "" : " ", filter.constant, ")");
  }
  return text;
}

}  // namespace

std::string DescribeViewDefinition(const ViewDefinition& view) {
  std::string text = absl::StrCat(
      view.materialized ? "materialized view " : "view ", view.name, "\n",
      "root: ", Describe(view.root.table), " key ", view.root.key_column, "\n");
  for (const LookupJoin& lookup : view.lookups) {
    absl::StrAppend(
        &text, "lookup: ",
        lookup.kind == LookupJoinKind::kLeft ? "LEFT JOIN " : "JOIN ",
        Describe(lookup.table), " ON ", view.root.table.alias, ".",
        lookup.root_column, " = ", lookup.table.alias, ".", lookup.key_column,
        "\n");
  }
  if (view.child.has_value()) {
    absl::StrAppend(&text, "child: LEFT JOIN ", Describe(view.child->table),
                    " ON ", view.root.table.alias, ".", view.root.key_column,
                    " = ", view.child->table.alias, ".",
                    view.child->foreign_key_column, "\n");
  }
  for (const ViewOutputColumn& column : view.columns) {
    absl::StrAppend(&text, "column ", column.name, ": ");
    if (const auto* projected = std::get_if<ProjectedColumn>(&column.value)) {
      absl::StrAppend(&text, Describe(projected->source));
    } else {
      absl::StrAppend(&text, Describe(std::get<ViewAggregate>(column.value)));
    }
    if (!column.cast_type.empty()) {
      absl::StrAppend(&text, "::", column.cast_type);
    }
    absl::StrAppend(&text, "\n");
  }
  return text;
}

}  // namespace enrich::processor
