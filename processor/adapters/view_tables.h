// A declared view's table, created from its definition and registered, or
// dropped with everything the processor keeps for it (processor/core/
// VIEWS.md, slice 4). The registry is enrich_processor_views
// (sql/008_declared_views.sql); the statements are view_table.h's.
//
//   ASSIGN_OR_RETURN(ViewTableCreation created,
//                    CreateViewTable(conn, compiled, definition_text,
//                                    "enrich-processor-rollup"));
//   // created.created: false when the view was registered already, as is.
//   ASSIGN_OR_RETURN(ViewTableDrop dropped, DropViewTable(conn, "rollup"));
//
// Each call is one transaction, serialized with any other call for the
// same name by an advisory lock: it is applied entirely or not at all.
// They run DDL, so `conn` must be a role that may create tables in the
// view's schema (the role that runs `migrate`), not enrich_processor.
// Names are the view's name as written; an unqualified one is resolved by
// the session's search_path, both in the registry's sense (the row is
// keyed by the text) and PostgreSQL's (the table). Not thread-safe (one
// PgConnection).
#ifndef ENRICH_PROCESSOR_ADAPTERS_VIEW_TABLES_H_
#define ENRICH_PROCESSOR_ADAPTERS_VIEW_TABLES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/core/compiled_view.h"

namespace enrich::processor {

struct ViewTableCreation {
  std::string table;
  // True when this call created the table (or recreated it: registered,
  // but dropped by hand since); false when the view was registered with
  // the same definition and group and its table was there. Either way the
  // table has every column, its primary key and its grants afterwards.
  bool created = false;
};

// Creates `view`'s table and registers the view with its definition's text
// and the consumer group that will maintain it. Errors:
//   * FailedPrecondition, naming the view and what to do, when the name is
//     registered with another definition text or another group; when the
//     group is registered for another view; when a relation of that name
//     exists and is not a registered view's table (someone's table or
//     materialized view: rename or drop it, or declare the view under
//     another name); when enrich_processor_views is missing (run
//     `enrich-processor migrate`);
//   * InvalidArgument when the view cannot have a table
//     (CreateViewTableStatements);
//   * the connection's own (Unavailable, Aborted...: nothing changed).
absl::StatusOr<ViewTableCreation> CreateViewTable(
    pg::PgConnection& conn, const CompiledView& view,
    const std::string& definition, const std::string& consumer_group);

struct ViewTableDrop {
  std::string table;
  std::string consumer_group;
  bool table_dropped = false;  // false: it had been dropped by hand already
  int64_t offset_rows = 0;     // of the group, deleted
  int64_t snapshot_rows = 0;   // of the group, deleted
};

// Drops the table of the registered view `name`, its registry row and its
// consumer group's rows in enrich_processor_offsets and
// enrich_processor_snapshots, in one transaction. NotFound when no view of
// that name is registered (nothing is dropped: a relation that is not a
// registered view's table is never dropped here). FailedPrecondition
// (from the server) when another object depends on the table; the
// connection's own errors otherwise.
absl::StatusOr<ViewTableDrop> DropViewTable(pg::PgConnection& conn,
                                            const std::string& name);

// Whether `name` is registered for `consumer_group` with the definition
// text `definition`: what `run`, `replay` and `reconcile` check before they
// write a declared view's table. FailedPrecondition, with what to run, when
// it is not registered (`migrate --view`), is registered for another group,
// or with another definition (the table's columns may differ: migrate the
// new definition under a new name, or drop-view and migrate); the
// connection's errors otherwise. Needs only SELECT on the registry.
absl::Status CheckViewRegistered(pg::PgConnection& conn,
                                 const std::string& name,
                                 const std::string& definition,
                                 const std::string& consumer_group);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_VIEW_TABLES_H_
