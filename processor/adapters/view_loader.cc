#include "processor/adapters/view_loader.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/status_macros.h"
#include "processor/adapters/view_catalog.h"
#include "processor/core/compiled_view.h"

namespace enrich::processor {

absl::StatusOr<std::string> ReadViewFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the view definition file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (absl::StripAsciiWhitespace(text.str()).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the view definition file ", path, " is empty"));
  }
  return text.str();
}

absl::StatusOr<LoadedView> CompileInDatabase(pg::PgConnection& conn,
                                             const ViewDefinition& view) {
  ASSIGN_OR_RETURN(CatalogCheck check, CheckCatalog(conn, view));
  if (!check.problems.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "view ", view.name,
        " cannot be maintained: ", absl::StrJoin(check.problems, "; ")));
  }
  ASSIGN_OR_RETURN(ViewKeyFacts facts, ReadViewKeyFacts(conn, view));
  ASSIGN_OR_RETURN(CompiledView compiled, CompiledView::Compile(view, facts));
  LoadedView loaded;
  loaded.statements = std::make_unique<ViewStatements>(std::move(compiled));
  loaded.missing_indexes = std::move(check.missing_indexes);
  return loaded;
}

}  // namespace enrich::processor
