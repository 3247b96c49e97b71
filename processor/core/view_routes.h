// Declared views, slice 3 (VIEWS.md): the affected-set rules of a view,
// derived from its ViewDefinition. Pure data: which source tables the view
// reads, and for each the role it plays and the column an event of it is
// routed by. AffectedConversationsPlanner plans events by these routes.
//
//   root      its key column, old and new: the view rows of those keys
//   child     its foreign key to the root, old and new (a moved child row
//             touches two view rows)
//   lookup i  its key column, old and new: fan-out keys of lookup i (FROM
//             order), resolved later to the roots whose join column
//             (LookupJoin::root_column) equals one of them
//             (CompiledView::ResolveFanOutSql, $i+1)
//
// A table the view reads twice (a lookup joined on two root columns, or the
// root joined to itself) has one route per role. Tables are identified by
// (schema, name): the view's name as written, an unqualified one in the
// source schema the routes are derived for.
//
//   ViewRoutes routes = ViewRoutes::FromView(view, "public");
//   const std::vector<TableRoute>* r = routes.Find("public", "linear_issues");
//
// Immutable; copyable; thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_VIEW_ROUTES_H_
#define ENRICH_PROCESSOR_CORE_VIEW_ROUTES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {

enum class TableRole { kRoot, kChild, kLookup };

// One way a table's events reach view rows.
struct TableRoute {
  TableRole role = TableRole::kRoot;
  // kLookup: the lookup's index in ViewDefinition::lookups (FROM order).
  size_t lookup = 0;
  // The column an event is routed by: the root's key, the child's foreign
  // key, the lookup's key.
  std::string column;
  // Whether `column` is the table's key (root, lookup). Under REPLICA
  // IDENTITY DEFAULT the event's key then tells its old value; a child's
  // foreign key needs the old row (REPLICA IDENTITY FULL).
  bool column_is_key = false;

  friend bool operator==(const TableRoute& a, const TableRoute& b) {
    return a.role == b.role && a.lookup == b.lookup && a.column == b.column &&
           a.column_is_key == b.column_is_key;
  }
};

// A source table the view reads, with its routes (root first, then child,
// then lookups in FROM order).
struct RoutedTable {
  std::string schema;
  std::string name;
  std::vector<TableRoute> routes;
};

class ViewRoutes {
 public:
  // No tables: every event is of an unknown table.
  ViewRoutes() = default;

  // The routes of `view`, whose unqualified table names are in `schema`.
  // A name written "s.t" is table t of schema s.
  static ViewRoutes FromView(const ViewDefinition& view,
                             absl::string_view schema);

  // The routes of table `schema`.`name`, or nullptr when the view does not
  // read it.
  const std::vector<TableRoute>* Find(absl::string_view schema,
                                      absl::string_view name) const;
  // Whether some table the view reads is in `schema`.
  bool ReadsSchema(absl::string_view schema) const;

  const std::vector<RoutedTable>& tables() const { return tables_; }
  // The view's lookups: the number of fan-out key sets a plan holds.
  size_t lookup_count() const { return lookup_count_; }
  // The schemas of the tables, comma-separated, for error messages.
  std::string SchemasText() const;

 private:
  std::vector<RoutedTable> tables_;  // in the order first read
  size_t lookup_count_ = 0;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_ROUTES_H_
