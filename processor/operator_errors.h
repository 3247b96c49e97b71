// What enrich-processor tells the operator when an error stops a
// subcommand: the action to take for each kind of error, and the start-up
// check that the database's schema is this binary's.
//
//   log.Error("cannot connect to PostgreSQL",
//             {{"error", s.ToString()}, {"action", ActionFor(s)}});
//   if (!SchemaIsCurrent(dsn, log)) return 1;
#ifndef ENRICH_PROCESSOR_OPERATOR_ERRORS_H_
#define ENRICH_PROCESSOR_OPERATOR_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/common/log.h"

namespace enrich::processor {

// What the operator should do about an error that stops the processor,
// chosen by its code.
std::string ActionFor(const absl::Status& status);

// The same for an error about a declared view (--view): its
// FailedPrecondition messages name their own fix (a key to add, the
// migrate or drop-view to run).
std::string ViewActionFor(const absl::Status& status);

// Logs `what` about the declared view `view` failing with `status`, its
// action from ViewActionFor.
void LogViewError(Logger& log, absl::string_view what, const std::string& view,
                  const absl::Status& status);

// Whether the database's applied migrations are exactly this binary's
// (logs why not, with the action).
bool SchemaIsCurrent(const std::string& dsn, Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_OPERATOR_ERRORS_H_
