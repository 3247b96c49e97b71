#include "processor/core/view_requirements.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace enrich::processor {
namespace {

void AddOnce(std::vector<CatalogRequirement>* out, CatalogRequirement r) {
  if (std::find(out->begin(), out->end(), r) == out->end()) {
    out->push_back(std::move(r));
  }
}

std::string Qualified(const ViewTable& table, const std::string& column) {
  return absl::StrCat(table.alias, ".", column);
}

}  // namespace

std::vector<CatalogRequirement> CatalogRequirements(
    const ViewDefinition& view) {
  using Kind = CatalogRequirement::Kind;
  const ViewTable& root = view.root.table;
  std::vector<CatalogRequirement> out;
  AddOnce(&out, {Kind::kUniqueKey, root.name, view.root.key_column,
                 absl::StrCat("the root's key (",
                              Qualified(root, view.root.key_column),
                              "): one view row per row of ", root.name)});
  for (const LookupJoin& lookup : view.lookups) {
    AddOnce(&out, {Kind::kUniqueKey, lookup.table.name, lookup.key_column,
                   absl::StrCat("lookup ", lookup.table.alias, "'s key (",
                                Qualified(lookup.table, lookup.key_column),
                                "): at most one ", lookup.table.name,
                                " row per view row")});
    AddOnce(&out, {Kind::kIndexed, root.name, lookup.root_column,
                   absl::StrCat("a change to ", lookup.table.name,
                                " reaches its view rows through ",
                                Qualified(root, lookup.root_column))});
  }
  if (view.child.has_value()) {
    const ChildJoin& child = *view.child;
    AddOnce(&out,
            {Kind::kIndexed, child.table.name, child.foreign_key_column,
             absl::StrCat("a view row's aggregates are recomputed from "
                          "its own ",
                          child.table.name, " rows, found through ",
                          Qualified(child.table, child.foreign_key_column))});
  }
  return out;
}

}  // namespace enrich::processor
