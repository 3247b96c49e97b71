// Declared views, slice 4 (VIEWS.md): the table a declared view is
// maintained in, as statements compiled from its CompiledView. Pure string
// building: nothing here runs a statement (processor/adapters/
// view_tables.h runs them, with the registry, in one transaction).
//
//   ASSIGN_OR_RETURN(std::vector<std::string> create,
//                    CreateViewTableStatements(compiled));
//   for (const std::string& statement : create) RETURN_IF_ERROR(run(...));
//
// The table is named view.table() and has, in this order:
//   * the view's output columns, then the processor's bookkeeping columns
//     as sql/002 gives today's table (source_commit_lsn pg_lsn,
//     source_commit_at timestamptz, enriched_at timestamptz NOT NULL
//     DEFAULT now()), then the view's key arrays: the order today's table
//     has since sql/005 added all_message_ids, so today's view gives the
//     table migrations 002 and 005 made;
//   * typed as PostgreSQL types the compiled set-based recompute
//     (RecomputeSetSelect): the types the processor's writes produce, which
//     are the view's own types where the view selects the same expression;
// with its primary key on key_column() (named <table>_pkey) and, where the
// roles of sql/004 exist, read-write rights for enrich_processor and read
// rights for enrich_reader (sql/004's grants on today's table). The
// writer's column lists name every column, so the order matters only to
// readers (SELECT *) and to today's table being one table on every path.
//
// Every statement is idempotent: running the list again on a database that
// has the table changes nothing (it adds what a partial earlier run left
// out). Names are emitted as the view writes them, unquoted, like every
// compiled statement; an unqualified name is resolved by the session's
// search_path.
#ifndef ENRICH_PROCESSOR_CORE_VIEW_TABLE_H_
#define ENRICH_PROCESSOR_CORE_VIEW_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "processor/core/compiled_view.h"

namespace enrich::processor {

// The bookkeeping columns every view table ends with, in order
// (source_commit_lsn, source_commit_at, enriched_at).
const std::vector<std::string>& ViewTableBookkeepingColumns();

// The statements that create `view`'s table (file comment), in order.
// InvalidArgument when a rewritten column is named like a bookkeeping
// column (the view must rename it): the table cannot hold both.
absl::StatusOr<std::vector<std::string>> CreateViewTableStatements(
    const CompiledView& view);

// The statements that drop the table `table` (a view's name as written);
// idempotent (nothing to drop is not an error). Refused by the server
// when another object depends on the table.
std::vector<std::string> DropViewTableStatements(absl::string_view table);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_TABLE_H_
