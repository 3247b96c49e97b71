#include "processor/check_view_command.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/view_catalog.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/compiled_view.h"
#include "processor/core/view_definition.h"

namespace enrich::processor {
namespace {

void PrintError(const std::string& subject, const absl::Status& status) {
  std::fprintf(stderr, "enrich-processor check-view: %s: %s\n", subject.c_str(),
               std::string(status.message()).c_str());
}

// What the catalog lacks, printed; whether the view can be maintained.
bool ReportCatalog(const CatalogCheck& check) {
  for (const std::string& problem : check.problems) {
    std::fprintf(stderr, "enrich-processor check-view: refused: %s\n",
                 problem.c_str());
  }
  if (check.problems.empty()) std::puts("catalog: keys are unique");
  for (const std::string& statement : check.missing_indexes) {
    std::printf("catalog: a join column has no index; create it: %s;\n",
                statement.c_str());
  }
  return check.problems.empty();
}

}  // namespace

int CheckViewCommand(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "enrich-processor check-view: cannot read %s\n",
                 path.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(text.str());
  if (!view.ok()) {
    PrintError(path, view.status());
    return 1;
  }
  std::fputs(DescribeViewDefinition(*view).c_str(), stdout);
  return 0;
}

int CheckCatalogViewCommand(const std::string& pg_dsn,
                            const std::string& name) {
  absl::StatusOr<std::unique_ptr<pg::PgConnection>> conn =
      pg::PgConnection::Connect(pg_dsn, "enrich-processor");
  if (!conn.ok()) {
    PrintError(name, conn.status());
    return 2;
  }
  absl::StatusOr<std::string> sql = ReadViewDefinition(**conn, name);
  if (!sql.ok()) {
    PrintError(name, sql.status());
    return 2;
  }
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(*sql);
  if (!view.ok()) {
    PrintError(name, view.status());
    return 1;
  }
  std::fputs(DescribeViewDefinition(*view).c_str(), stdout);
  absl::StatusOr<CatalogCheck> check = CheckCatalog(**conn, *view);
  if (!check.ok()) {
    PrintError(name, check.status());
    return 2;
  }
  if (!ReportCatalog(*check)) return 1;
  // What the statements need beyond the text, then the statements
  // themselves: a view the compiler refuses is refused here too.
  absl::StatusOr<ViewKeyFacts> facts = ReadViewKeyFacts(**conn, *view);
  if (!facts.ok()) {
    PrintError(name, facts.status());
    return 1;
  }
  absl::StatusOr<CompiledView> compiled = CompiledView::Compile(*view, *facts);
  if (!compiled.ok()) {
    PrintError(name, compiled.status());
    return 1;
  }
  std::printf("compiled: key %s (%s), %zu rewritten columns\n",
              compiled->key_column().c_str(), compiled->key_type().c_str(),
              compiled->RewrittenColumns().size());
  return 0;
}

}  // namespace enrich::processor
