#include "processor/maintained_view.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"
#include "cdc/kafka/topic_naming.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_loader.h"
#include "processor/adapters/view_parser.h"

namespace enrich::processor {

std::string DefaultGroupId(const std::string& view_name, bool built_in) {
  return built_in ? std::string("enrich-processor")
                  : absl::StrCat("enrich-processor.", view_name);
}

absl::StatusOr<MaintainedView> MaintainedView::FromFlags(
    const ProcessorFlags& flags) {
  MaintainedView view;
  if (flags.view_file.empty()) {
    view.built_in_ = true;
    view.sql_ = std::string(EnrichedSupportConversationsDefinition());
    view.statements_ = &EnrichedSupportConversationsStatements();
    view.definition_ = view.statements_->view().definition();
    return view;
  }
  ASSIGN_OR_RETURN(view.sql_, ReadViewFile(flags.view_file));
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(view.sql_);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.view_file, ": ", parsed.status().message()));
  }
  view.definition_ = *std::move(parsed);
  return view;
}

absl::StatusOr<std::vector<std::string>> MaintainedView::Topics(
    absl::string_view prefix, absl::string_view schema) const {
  // The tables only: the key's form does not change them. (A local: a
  // range-for over a temporary's member would outlive the temporary.)
  const ViewRoutes routes =
      ViewRoutes::FromView(definition_, schema, RootKeyForm::kText);
  std::vector<std::string> topics;
  for (const RoutedTable& table : routes.tables()) {
    ASSIGN_OR_RETURN(std::string topic,
                     kafka::TopicNameFor(prefix, table.schema, table.name));
    topics.push_back(std::move(topic));
  }
  return topics;
}

absl::StatusOr<std::vector<std::string>> MaintainedView::Compile(
    pg::PgConnection& conn) {
  if (statements_ != nullptr) return std::vector<std::string>();
  ASSIGN_OR_RETURN(LoadedView loaded, CompileInDatabase(conn, definition_));
  owned_ = std::move(loaded.statements);
  statements_ = owned_.get();
  return std::move(loaded.missing_indexes);
}

ViewRoutes MaintainedView::Routes(absl::string_view schema) const {
  return RoutesFor(statements(), schema);
}

}  // namespace enrich::processor
