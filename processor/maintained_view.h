// The view a command maintains: the one --view names (a definition file,
// processor/core/VIEWS.md), or today's built-in enriched_support_conversations
// when --view is empty. Parsed when the command starts (no server), so bad
// files and the topics are known before anything connects; compiled against
// the database once it is reachable.
//
//   ASSIGN_OR_RETURN(MaintainedView view, MaintainedView::FromFlags(flags));
//   topics = view.Topics(prefix, schema);
//   RETURN_IF_ERROR(view.Compile(*conn));   // retried while unavailable
//   writer_options.statements = &view.statements();
//   loop_options.routes = view.Routes(schema);
//
// Movable, not copyable; the statements' address is stable across moves.
// Not thread-safe.
#ifndef ENRICH_PROCESSOR_MAINTAINED_VIEW_H_
#define ENRICH_PROCESSOR_MAINTAINED_VIEW_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "processor/core/view_definition.h"
#include "processor/core/view_routes.h"
#include "processor/core/view_statements.h"
#include "processor/processor_flags.h"

namespace enrich::pg {
class PgConnection;
}  // namespace enrich::pg

namespace enrich::processor {

// The consumer group of a view when --group-id is not given:
// "enrich-processor" for today's view (what it always was), and
// "enrich-processor.<view name>" for a declared one, so two views never
// share stored offsets or snapshot rebuilds.
std::string DefaultGroupId(const std::string& view_name, bool built_in);

class MaintainedView {
 public:
  // Today's view when flags.view_file is empty, else the file read and
  // parsed. InvalidArgument (a bad option) when the file cannot be read or
  // is outside the supported class (the parser's reason and fragment).
  static absl::StatusOr<MaintainedView> FromFlags(const ProcessorFlags& flags);

  bool built_in() const { return built_in_; }
  const std::string& name() const { return definition_.name; }
  // The definition file's text (today's: the embedded file).
  const std::string& definition_sql() const { return sql_; }
  const ViewDefinition& definition() const { return definition_; }

  // The Kafka topics of the tables the view reads (enrich-cdc must publish
  // them: its --tables), in the order the view reads them.
  absl::StatusOr<std::vector<std::string>> Topics(
      absl::string_view prefix, absl::string_view schema) const;

  // Compiles a declared view against the database `conn` is connected to
  // (view_loader.h: FailedPrecondition for missing keys, InvalidArgument for
  // a view the compiler refuses, the connection's errors otherwise); a
  // no-op for today's view. Returns the CREATE INDEX statements the view's
  // join columns lack (to report).
  absl::StatusOr<std::vector<std::string>> Compile(pg::PgConnection& conn);
  // After Compile (today's: always).
  const ViewStatements& statements() const { return *statements_; }
  // The affected-set rules, unqualified tables in `schema`. After Compile.
  ViewRoutes Routes(absl::string_view schema) const;

 private:
  MaintainedView() = default;

  bool built_in_ = false;
  std::string sql_;
  ViewDefinition definition_;
  const ViewStatements* statements_ = nullptr;
  std::unique_ptr<ViewStatements> owned_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_MAINTAINED_VIEW_H_
