// Declared views: SQL text in, a classified ViewDefinition
// (processor/core/view_definition.h) out, parsed by PostgreSQL's own
// grammar (libpg_query). Nothing here talks to a server; pg_query.h stays
// in the .cc.
#ifndef ENRICH_PROCESSOR_ADAPTERS_VIEW_PARSER_H_
#define ENRICH_PROCESSOR_ADAPTERS_VIEW_PARSER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {

// Parses `sql`, exactly one `CREATE [OR REPLACE] [MATERIALIZED] VIEW name
// [(columns)] AS SELECT ...` statement, and classifies it into the
// supported class (view_definition.h, VIEWS.md).
//
// Errors, all InvalidArgument (fix the definition; retrying cannot help):
//   * a syntax error, with PostgreSQL's message and the text at its position;
//   * a view outside the supported class, as
//       "<reason>: `<fragment>` (offset <n>); supported: <nearest form>"
//     where the fragment is cut from `sql` at the parse tree's location.
//
//   auto view = ParseViewDefinition(
//       "CREATE VIEW v AS SELECT c.id, count(m.id) AS n "
//       "FROM conversations c LEFT JOIN messages m "
//       "ON c.id = m.conversation_id GROUP BY c.id");
//   // view->root.key_column == "id", view->child->foreign_key_column ==
//   // "conversation_id"
//
// Thread-compatible; libpg_query keeps its parser state per thread.
absl::StatusOr<ViewDefinition> ParseViewDefinition(absl::string_view sql);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_VIEW_PARSER_H_
