// A declared view's definition file, made into the statements that keep its
// table (processor/core/VIEWS.md): read, parsed with PostgreSQL's grammar,
// checked against the catalog and compiled with the facts the catalog
// gives. What `run`, `replay`, `reconcile` and `migrate` do with --view.
//
//   ASSIGN_OR_RETURN(std::string sql, ReadViewFile("views/rollup.sql"));
//   ASSIGN_OR_RETURN(ViewDefinition view, ParseViewDefinition(sql));
//   ...  // topics from ViewRoutes::FromView(view, schema), no server needed
//   ASSIGN_OR_RETURN(LoadedView loaded, CompileInDatabase(conn, view));
//   writer_options.statements = loaded.statements.get();
//
// Not thread-safe (one PgConnection).
#ifndef ENRICH_PROCESSOR_ADAPTERS_VIEW_LOADER_H_
#define ENRICH_PROCESSOR_ADAPTERS_VIEW_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "processor/core/view_definition.h"
#include "processor/core/view_statements.h"

namespace enrich::pg {
class PgConnection;
}  // namespace enrich::pg

namespace enrich::processor {

// The text of the definition file at `path`. InvalidArgument (a bad
// option: nothing to retry) when it cannot be read or is empty.
absl::StatusOr<std::string> ReadViewFile(const std::string& path);

struct LoadedView {
  // Owned: the writer keeps a pointer to it.
  std::unique_ptr<ViewStatements> statements;
  // `CREATE INDEX CONCURRENTLY ...` for each join column without an index:
  // the view is kept without them, but every fan-out or child lookup
  // scans its table (the caller reports them).
  std::vector<std::string> missing_indexes;
};

// Checks `view` against the catalog, reads its key facts and compiles it.
// FailedPrecondition when a key the view relies on is not unique, a table
// or column is missing, or the child has no single-column primary key (each
// problem with its fix, in the message); InvalidArgument when the compiler
// refuses the view; otherwise the connection's errors (retriable ones
// are kUnavailable/kAborted, database_errors.h).
absl::StatusOr<LoadedView> CompileInDatabase(pg::PgConnection& conn,
                                             const ViewDefinition& view);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_VIEW_LOADER_H_
