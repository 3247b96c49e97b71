#include "processor/core/view_routes.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace enrich::processor {
namespace {

// A table name as written, split into (schema, name).
std::pair<std::string, std::string> Qualified(absl::string_view written,
                                              absl::string_view schema) {
  const size_t dot = written.find('.');
  if (dot == absl::string_view::npos) {
    return {std::string(schema), std::string(written)};
  }
  return {std::string(written.substr(0, dot)),
          std::string(written.substr(dot + 1))};
}

}  // namespace

RootKeyForm RootKeyFormOf(absl::string_view type) {
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
  absl::string_view bare = name;
  absl::ConsumePrefix(&bare, "pg_catalog.");
  if (bare == "uuid") return RootKeyForm::kUuid;
  for (absl::string_view integer :
       {"smallint", "integer", "bigint", "int", "int2", "int4", "int8"}) {
    if (bare == integer) return RootKeyForm::kInteger;
  }
  // text, varchar, a domain...: as the server prints them. This assumes
  // equal keys print alike, which holds for the text types; a type where
  // it does not (numeric: "1.0" and "1.00") could name one row twice.
  return RootKeyForm::kText;
}

ViewRoutes ViewRoutes::FromView(const ViewDefinition& view,
                                absl::string_view schema,
                                RootKeyForm root_key_form,
                                ChildEdits child_edits) {
  ViewRoutes routes;
  routes.root_key_form_ = root_key_form;
  routes.child_edits_ = child_edits;
  auto add = [&](const ViewTable& table, TableRoute route) {
    auto [table_schema, name] = Qualified(table.name, schema);
    for (RoutedTable& known : routes.tables_) {
      if (known.schema == table_schema && known.name == name) {
        known.routes.push_back(std::move(route));
        return;
      }
    }
    routes.tables_.push_back(
        {std::move(table_schema), std::move(name), {std::move(route)}});
  };
  add(view.root.table, {TableRole::kRoot, 0, view.root.key_column,
                        /*column_is_key=*/true});
  if (view.child) {
    add(view.child->table,
        {TableRole::kChild, 0, view.child->foreign_key_column,
         /*column_is_key=*/false});
  }
  for (size_t i = 0; i < view.lookups.size(); ++i) {
    add(view.lookups[i].table,
        {TableRole::kLookup, i, view.lookups[i].key_column,
         /*column_is_key=*/true});
  }
  routes.lookup_count_ = view.lookups.size();
  return routes;
}

const std::vector<TableRoute>* ViewRoutes::Find(absl::string_view schema,
                                                absl::string_view name) const {
  for (const RoutedTable& table : tables_) {
    if (table.schema == schema && table.name == name) return &table.routes;
  }
  return nullptr;
}

bool ViewRoutes::ReadsSchema(absl::string_view schema) const {
  for (const RoutedTable& table : tables_) {
    if (table.schema == schema) return true;
  }
  return false;
}

std::string ViewRoutes::SchemasText() const {
  std::vector<absl::string_view> schemas;
  for (const RoutedTable& table : tables_) {
    bool seen = false;
    for (absl::string_view s : schemas) seen = seen || s == table.schema;
    if (!seen) schemas.push_back(table.schema);
  }
  return absl::StrJoin(schemas, ", ");
}

}  // namespace enrich::processor
