// The catalog side of declared views (processor/core/VIEWS.md): a view's
// definition read from PostgreSQL, and what the classified view assumes
// (processor/core/view_requirements.h) checked against the catalog.
//
//   ASSIGN_OR_RETURN(std::string sql, ReadViewDefinition(conn, "my_view"));
//   ASSIGN_OR_RETURN(ViewDefinition view, ParseViewDefinition(sql));
//   ASSIGN_OR_RETURN(CatalogCheck check, CheckCatalog(conn, view));
//   // check.problems empty: the keys hold; check.missing_indexes: the
//   // CREATE INDEX statements the view's joins need.
//   ASSIGN_OR_RETURN(ViewKeyFacts facts, ReadViewKeyFacts(conn, view));
//   ASSIGN_OR_RETURN(CompiledView compiled, CompiledView::Compile(view,
//                                                                 facts));
//
// Table names are resolved as PostgreSQL resolves the view's text
// (to_regclass, the session's search_path); a name that needed quotes
// (mixed case) is not found. Not thread-safe (one PgConnection).
#ifndef ENRICH_PROCESSOR_ADAPTERS_VIEW_CATALOG_H_
#define ENRICH_PROCESSOR_ADAPTERS_VIEW_CATALOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/core/compiled_view.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {

// The definition of the view or materialized view `name` (optionally
// schema-qualified) as one `CREATE [MATERIALIZED] VIEW schema.name AS
// SELECT ...` statement, from pg_get_viewdef, for ParseViewDefinition.
// Errors: NotFound (no relation of that name), FailedPrecondition (it is
// not a view: a table, an index...), and the connection's own.
absl::StatusOr<std::string> ReadViewDefinition(pg::PgConnection& conn,
                                               const std::string& name);

struct CatalogCheck {
  // One line per unmet key requirement or missing table or column, with
  // the reason and the fix: the view cannot be maintained until it is
  // empty.
  std::vector<std::string> problems;
  // `CREATE INDEX CONCURRENTLY IF NOT EXISTS ...` for each join column
  // without an index (one statement each, in requirement order).
  std::vector<std::string> missing_indexes;
};

// Checks CatalogRequirements(view) against the database. Errors are the
// connection's; what the catalog lacks is in the result.
absl::StatusOr<CatalogCheck> CheckCatalog(pg::PgConnection& conn,
                                          const ViewDefinition& view);

// What CompiledView needs that the view's text does not say
// (compiled_view.h): the type of the root's key and of each root column a
// lookup joins on (format_type, e.g. "uuid", "character varying(20)"), and
// the child's primary key column. FailedPrecondition when a table or
// column is missing or the child has no single-column primary key (the
// arrays' tie-breaker and the in-place paths address its rows by it);
// otherwise the connection's errors.
absl::StatusOr<ViewKeyFacts> ReadViewKeyFacts(pg::PgConnection& conn,
                                              const ViewDefinition& view);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_VIEW_CATALOG_H_
