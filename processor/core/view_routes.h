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
// Two facts the definition does not state travel with the routes: the form
// of the root's key (how the planner tells keys apart and spells them), and
// whether the writer applies child changes in place (ChildEdits).
//
//   ViewRoutes routes = ViewRoutes::FromView(
//       view, "public", RootKeyFormOf(facts.root_key_type));
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

// How the planner reads a root key (the text an event carries) and spells
// it in a plan, by the key's SQL type (RootKeyFormOf):
//   kUuid     a uuid in either case; canonical: lower-case 8-4-4-4-12.
//   kInteger  a decimal int64 (absl::SimpleAtoi: "007" is 7); canonical:
//             its decimal ("7"). Anything else, or out of range, is not a
//             key.
//   kText     any text, the empty string included; canonical: the text,
//             byte for byte.
// A NULL is never a key.
enum class RootKeyForm { kUuid, kInteger, kText };

// The form of a root key of SQL type `type` as ViewKeyFacts::root_key_type
// or format_type() spell it (either case, optionally "pg_catalog."):
// "uuid" is kUuid; "smallint", "integer", "bigint", "int", "int2", "int4"
// and "int8" are kInteger; anything else (text, varchar(16), character
// varying, ...) is kText: its text as printed tells keys apart, which
// assumes equal keys print alike (not so for numeric: "1.0", "1.00"). The
// one place that maps a type name to a key form.
RootKeyForm RootKeyFormOf(absl::string_view type);

// Whether the planner may plan a child change in place: a child INSERT as
// an append, a body-only child UPDATE as a body edit
// (affected_conversations.h). Those read today's message columns (id,
// created_at, body) and only the writer's statements for today's view apply
// them, so only today's routes (EnrichedSupportConversationsRoutes,
// processor/adapters/declared_views.h) ask for kInPlace. With kFullRewrite
// every child change rewrites its old and new parent in full.
enum class ChildEdits { kFullRewrite, kInPlace };

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
  // A name written "s.t" is table t of schema s. `root_key_form` is the
  // form of its root's key (RootKeyFormOf(ViewKeyFacts::root_key_type));
  // `child_edits` kInPlace only for a view whose writer applies appends and
  // body edits (ChildEdits).
  static ViewRoutes FromView(const ViewDefinition& view,
                             absl::string_view schema,
                             RootKeyForm root_key_form,
                             ChildEdits child_edits = ChildEdits::kFullRewrite);

  // The routes of table `schema`.`name`, or nullptr when the view does not
  // read it.
  const std::vector<TableRoute>* Find(absl::string_view schema,
                                      absl::string_view name) const;
  // Whether some table the view reads is in `schema`.
  bool ReadsSchema(absl::string_view schema) const;

  const std::vector<RoutedTable>& tables() const { return tables_; }
  // The view's lookups: the number of fan-out key sets a plan holds.
  size_t lookup_count() const { return lookup_count_; }
  // The form of the root's key.
  RootKeyForm root_key_form() const { return root_key_form_; }
  // Whether child changes may be planned in place (ChildEdits).
  bool child_in_place() const { return child_edits_ == ChildEdits::kInPlace; }
  // The schemas of the tables, comma-separated, for error messages.
  std::string SchemasText() const;

 private:
  std::vector<RoutedTable> tables_;  // in the order first read
  size_t lookup_count_ = 0;
  // No tables, no keys: the defaults assume nothing of a key's text.
  RootKeyForm root_key_form_ = RootKeyForm::kText;
  ChildEdits child_edits_ = ChildEdits::kFullRewrite;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_ROUTES_H_
