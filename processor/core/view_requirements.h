// What a classified view (view_definition.h) assumes of the database's
// catalog, as a list the catalog adapter (processor/adapters/
// view_catalog.h) checks one by one. Pure: derived from the IR alone.
//
// The parser classifies from the text, without a catalog, so two of its
// assumptions are only checked here:
//   * keys are unique: the root's key (one view row per root row) and each
//     lookup's key (at most one lookup row per root row, so a lookup never
//     multiplies the child's aggregates);
//   * the joins the processor walks per change have an index: the root's
//     column each lookup joins on (a lookup change fans out to the roots
//     through it) and the child's foreign key column (a root's aggregates
//     are recomputed from its own children).
// A missing key is a refusal; a missing index is created (or reported).
//
//   for (const CatalogRequirement& r : CatalogRequirements(view)) ...
//   // reference view: unique raw_support_conversations.id,
//   // subscribers_insights.distinct_id, linear_issues.id; indexed
//   // raw_support_conversations.user_id, .linear_issue_id,
//   // support_conversation_messages.conversation_id
#ifndef ENRICH_PROCESSOR_CORE_VIEW_REQUIREMENTS_H_
#define ENRICH_PROCESSOR_CORE_VIEW_REQUIREMENTS_H_

#include <string>
#include <vector>

#include "processor/core/view_definition.h"

namespace enrich::processor {

struct CatalogRequirement {
  enum class Kind {
    kUniqueKey,  // a primary key or a unique index on exactly `column`
    kIndexed,    // an index whose first key column is `column`
  };
  Kind kind = Kind::kUniqueKey;
  std::string table;   // as the view names it, e.g. "public.users"
  std::string column;  // unquoted, as the parser gives it
  // Why the view needs it, for messages: "the root's key (c.id): one view
  // row per conversation row".
  std::string why;

  friend bool operator==(const CatalogRequirement& a,
                         const CatalogRequirement& b) {
    return a.kind == b.kind && a.table == b.table && a.column == b.column;
  }
};

// The root's key, then per lookup (FROM order) its key and the root's join
// column, then the child's foreign key column. A table and column needed
// twice (two lookups on one root column) are listed once, with the first
// reason.
std::vector<CatalogRequirement> CatalogRequirements(const ViewDefinition& view);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_REQUIREMENTS_H_
