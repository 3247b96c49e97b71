// Today's declared view, enriched_support_conversations: its definition
// file (sql/views/enriched_support_conversations.sql, compiled into the
// binary), parsed by ParseViewDefinition and compiled once. An adapter
// because the parse needs libpg_query; it talks to no server.
#ifndef ENRICH_PROCESSOR_ADAPTERS_DECLARED_VIEWS_H_
#define ENRICH_PROCESSOR_ADAPTERS_DECLARED_VIEWS_H_

#include "absl/strings/string_view.h"
#include "processor/core/compiled_view.h"
#include "processor/core/view_routes.h"
#include "processor/core/view_statements.h"

namespace enrich::processor {

// The definition file's text, as embedded.
absl::string_view EnrichedSupportConversationsDefinition();

// The facts about its tables the text does not state (compiled_view.h):
// uuid conversation ids, message key `id`, text join columns
// (../shared/contract/source_schema.sql).
ViewKeyFacts EnrichedSupportConversationsKeyFacts();

// The compiled view, built on first use and never changed: the reference
// stays valid for the life of the program. Thread-safe. Aborts with the
// reason if the embedded file does not parse or compile, a build defect
// that declared_views_test catches first.
const CompiledView& EnrichedSupportConversationsView();

// Its statement catalogue (view_statements.h), built on first use from
// EnrichedSupportConversationsView(); same lifetime and thread-safety.
const ViewStatements& EnrichedSupportConversationsStatements();

// Its affected-set rules (view_routes.h), its unqualified tables in the
// source schema `schema`: uuid root keys, and child changes planned in
// place (appends, body edits), which the writer applies to this view only.
ViewRoutes EnrichedSupportConversationsRoutes(absl::string_view schema);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_DECLARED_VIEWS_H_
