// Declared views, slice 2 (VIEWS.md): the statements that keep a table equal
// to a view, compiled from its ViewDefinition (view_definition.h). Pure
// string building: no parser, no libpq; nothing here runs a statement.
//
//   ViewKeyFacts facts{.root_key_type = "uuid", .child_key_column = "id",
//                      .lookup_join_types = {"text", "text"}};
//   absl::StatusOr<CompiledView> compiled = CompiledView::Compile(view, facts);
//   // compiled->RecomputePerIdSelect(): the table's rows for the ids of a
//   // relation `ids(id)`; compiled->ResolveFanOutSql(): lookup keys to ids.
//
// The enriched table is named as the view and has the view's output columns
// in the view's order, then one bookkeeping column per array_agg (below).
//
// Deterministic arrays: an array_agg whose ORDER BY does not end with the
// child's key gets the key appended (ascending), so ties in the order the
// view leaves open are broken by the child's key. The reference view
// already ends with `m.id`; a view that does not is maintained as if it
// did, and a comparison with its own SQL is exact only where it has no ties.
//
// Key arrays: each array_agg column `X` has a companion column holding the
// child keys behind its elements, in the same ORDER BY and FILTER (what the
// in-place edit and append paths address elements by). Its name is X with
// one trailing "s" dropped, then "_<child key>s": all_messages ->
// all_message_ids (the column sql/005_message_ids.sql created),
// latest_titles -> latest_title_ids. A plural column name gives a plural
// name of the keys; a name that collides with another column is refused.
//
// The child is read under an alias of its own: "s" then the view's alias
// (today's messages: `sm`, the name the hand-written statements gave them
// and the plan checks of tests/integration/processor look for), with
// underscores appended while it collides with another alias or column.
//
// Immutable after Compile; thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_COMPILED_VIEW_H_
#define ENRICH_PROCESSOR_CORE_COMPILED_VIEW_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {

// What the view's text does not say about its tables and the catalog would:
// given with the definition until the catalog input (VIEWS.md, next slices)
// reads them from pg_catalog.
struct ViewKeyFacts {
  // The SQL type of the root's key ("uuid"): the element type of the id
  // arrays the statements take.
  std::string root_key_type;
  // The child's primary key column ("id"): the array tie-breaker and the
  // key arrays' elements.
  std::string child_key_column;
  // Per lookup, in ViewDefinition::lookups order, the SQL type of the root
  // column it joins on ("text"): the element type of its fan-out keys.
  std::vector<std::string> lookup_join_types;
};

// Which source tables were emptied, for ListRebuildIdsSql: the root or the
// child (every row may change), and the indexes of the lookups emptied.
struct RebuildScope {
  bool root_or_child = false;
  std::vector<size_t> lookups;
};

class CompiledView {
 public:
  // InvalidArgument when the view cannot be maintained as declared: its
  // root key is not an output column (as is: a cast one does not count),
  // facts do not match its lookups, an alias the statements reserve ("ids")
  // is taken, or a key-array name collides.
  static absl::StatusOr<CompiledView> Compile(const ViewDefinition& view,
                                              const ViewKeyFacts& facts);

  // The enriched table (the view's name) and its key column (the output
  // column of the root's key).
  const std::string& table() const { return view_.name; }
  const std::string& key_column() const { return key_output_; }
  const std::string& key_type() const { return facts_.root_key_type; }
  // The definition as compiled: array_agg tie-breakers appended, the
  // child's alias renamed (below).
  const ViewDefinition& definition() const { return view_; }
  // The view's output columns, in its order.
  std::vector<std::string> OutputColumns() const;
  // OutputColumns() then the key arrays, in array_agg column order: what a
  // full rewrite sets and the recompute SELECTs return, in this order.
  std::vector<std::string> RewrittenColumns() const;
  // The output columns of root and lookup columns other than the key: what
  // a lookup change can alter.
  std::vector<std::string> JoinedColumns() const;

  // RewrittenColumns() for the ids of a relation named `ids` with one
  // column `id` (of the root key's type): a lookup per id through the
  // root's key and each lookup's key, each fenced by OFFSET 0 so it stays a
  // nested loop over an index, and the child's aggregate per root through
  // its foreign key. Ids without a root row (or without an INNER lookup's
  // row) yield no row.
  std::string RecomputePerIdSelect() const;
  // The same rows for the ids of `$<param>` (an array of root keys),
  // set-based: root and lookups by joins, the child aggregated in one
  // grouped pass over its foreign-key index.
  std::string RecomputeSetSelect(int param) const;
  // A condition on `ids.id` that holds for the ids whose row is gone after
  // RecomputePerIdSelect ran as a CTE named `fresh`, or (set_based) after
  // RecomputeSetSelect, which is not read twice: no root row (or no INNER
  // lookup row) in the statement's snapshot.
  std::string GoneCondition(bool set_based) const;

  // Lookup keys to the root ids (as text) they reach: one UNION branch per
  // lookup, its keys `$<n>` (lookup n-1, of its join type) looked up one at
  // a time through the root's join column.
  std::string ResolveFanOutSql() const;
  // The joined-column rewrite for the root ids `$1`: reads root and lookups
  // after the row lock, sets JoinedColumns() where they differ and
  // `bookkeeping_assignment` (e.g. "(a, b) = ($2, $3)"). Returns the rows
  // updated and the comma-separated ids it cannot rewrite this way: no
  // root row or INNER lookup row any more, or an incomplete row (a
  // placeholder: NULL in the first count column, or in `written_marker`
  // when the view has no count).
  std::string RewriteJoinedColumnsSql(absl::string_view bookkeeping_assignment,
                                      absl::string_view written_marker) const;
  // The ids (text) a truncate of the tables in `scope` reached: every root
  // and table row when the root or the child was emptied, else the roots
  // that join each emptied lookup. `scope` must name a table.
  std::string ListRebuildIdsSql(const RebuildScope& scope) const;

 private:
  explicit CompiledView(ViewDefinition view) : view_(std::move(view)) {}

  ViewDefinition view_;  // tie-breakers appended
  ViewKeyFacts facts_;
  std::string key_output_;
  std::vector<std::string> key_arrays_;  // per array_agg column, in order
  std::string agg_alias_;                // the child aggregate's relation
  std::string group_key_;                // its root key column, set-based
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_COMPILED_VIEW_H_
