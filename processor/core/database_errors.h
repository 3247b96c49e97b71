// What the processor should do about a database error, decided from its
// SQLSTATE alone (pure, so every class is unit-tested without a server).
//
//   absl::StatusCode code = StatusCodeForSqlState("40001");  // kAborted
//
// The codes follow absl::Status's guidance, as everywhere in this project:
//   kAborted            retry the whole transaction (serialization failure,
//                       deadlock, lock timeout, statement cancelled)
//   kUnavailable        reconnect and retry (connection lost, server shutting
//                       down or starting, too many connections, read-only
//                       after a failover, out of resources)
//   kPermissionDenied   stop: a grant is missing (see sql/README.md, Roles)
//   kFailedPrecondition stop: the schema is not what the processor needs
//                       (undefined table, column or function: run
//                       `enrich-processor migrate`)
//   kInternal           stop: anything else (a bug, a constraint violation);
//                       never skipped, because skipping loses a change
#ifndef ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_
#define ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace enrich::processor {

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate);

// True for the codes a caller retries with backoff (kAborted, kUnavailable).
bool IsRetriable(const absl::Status& status);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_
