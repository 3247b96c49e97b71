#include "processor/operator_errors.h"

#include <vector>

#include "absl/status/statusor.h"
#include "cdc/common/pg_error_class.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/migrations.h"

namespace enrich::processor {

std::string ActionFor(const absl::Status& status) {
  // A failed login or a missing database knows its own action.
  if (std::string action = OperatorAction(status); !action.empty()) {
    return action;
  }
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return "grant the role enrich_processor to the --pg-dsn user (see "
             "sql/README.md, Roles), then restart";
    case absl::StatusCode::kFailedPrecondition:
      return "the target schema is missing or outdated: run `enrich-processor "
             "migrate`, then restart";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
      return "the database or Kafka stayed unavailable; check them and "
             "restart (nothing was skipped)";
    default:
      return "nothing was skipped: the batch's offsets were not stored; fix "
             "the cause and restart";
  }
}

std::string ViewActionFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return "do what the error says, then restart";
    case absl::StatusCode::kInvalidArgument:
      return "change the view's definition (`enrich-processor check-view "
             "FILE` checks it), then restart";
    default:
      return ActionFor(status);
  }
}

void LogViewError(Logger& log, absl::string_view what, const std::string& view,
                  const absl::Status& status) {
  log.Error(what, {{"view", view},
                   {"error", StatusText(status)},
                   {"action", ViewActionFor(status)}});
}

bool SchemaIsCurrent(const std::string& dsn, Logger& log) {
  absl::StatusOr<std::vector<Migration>> migrations =
      OrderMigrations(EmbeddedMigrations());
  absl::Status status = migrations.status();
  if (status.ok()) {
    status = CheckSchemaIsCurrent(dsn, *migrations);
  }
  if (!status.ok()) {
    log.Error("the database schema does not match this binary",
              {{"error", StatusText(status)}, {"action", ActionFor(status)}});
  }
  return status.ok();
}

}  // namespace enrich::processor
