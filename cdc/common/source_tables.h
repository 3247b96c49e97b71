// The four source tables of the contract (../shared/contract), by their
// names in the source schema: what enrich-cdc publishes by default
// (--tables). The processor does not use this list: it consumes the topics
// of the tables its view reads (processor/maintained_view.h), and the SQL
// that reads them is compiled from the view's definition
// (processor/core/view_statements.h).
//
//   for (absl::string_view table : kSourceTables) Subscribe(prefix, table);
#ifndef ENRICH_CDC_COMMON_SOURCE_TABLES_H_
#define ENRICH_CDC_COMMON_SOURCE_TABLES_H_

#include <array>

#include "absl/strings/string_view.h"

namespace enrich {

inline constexpr absl::string_view kConversationsTable =
    "raw_support_conversations";
inline constexpr absl::string_view kMessagesTable =
    "support_conversation_messages";
inline constexpr absl::string_view kSubscribersInsightsTable =
    "subscribers_insights";
inline constexpr absl::string_view kLinearIssuesTable = "linear_issues";

// All four, in the contract's order.
inline constexpr std::array<absl::string_view, 4> kSourceTables = {
    kConversationsTable, kMessagesTable, kSubscribersInsightsTable,
    kLinearIssuesTable};

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_SOURCE_TABLES_H_
