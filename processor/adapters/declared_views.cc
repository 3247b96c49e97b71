#include "processor/adapters/declared_views.h"

#include <cstdio>
#include <cstdlib>

#include "absl/status/statusor.h"
#include "processor/adapters/embedded_views.h"
#include "processor/adapters/view_parser.h"

namespace enrich::processor {

absl::string_view EnrichedSupportConversationsDefinition() {
  return kEnrichedSupportConversationsSql;
}

ViewKeyFacts EnrichedSupportConversationsKeyFacts() {
  return ViewKeyFacts{"uuid", "id", {"text", "text"}};
}

const CompiledView& EnrichedSupportConversationsView() {
  static const CompiledView* view = [] {
    absl::StatusOr<CompiledView> compiled = [] {
      absl::StatusOr<ViewDefinition> parsed =
          ParseViewDefinition(EnrichedSupportConversationsDefinition());
      if (!parsed.ok()) return absl::StatusOr<CompiledView>(parsed.status());
      return CompiledView::Compile(*parsed,
                                   EnrichedSupportConversationsKeyFacts());
    }();
    if (!compiled.ok()) {
      std::fprintf(stderr, "sql/views/enriched_support_conversations.sql: %s\n",
                   compiled.status().ToString().c_str());
      std::abort();
    }
    return new CompiledView(*std::move(compiled));
  }();
  return *view;
}

const ViewStatements& EnrichedSupportConversationsStatements() {
  static const ViewStatements* statements =
      new ViewStatements(EnrichedSupportConversationsView());
  return *statements;
}

ViewRoutes EnrichedSupportConversationsRoutes(absl::string_view schema) {
  return RoutesFor(EnrichedSupportConversationsStatements(), schema);
}

}  // namespace enrich::processor
