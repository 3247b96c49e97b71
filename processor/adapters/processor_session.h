// The processor's PostgreSQL sessions (the writer's, the reconciler's and
// the migrator's) open through the shared pg::PgConnection
// (cdc/postgres/pg_connection.h) under one name, so an operator finds them
// in pg_stat_activity as "enrich-processor" (unless the DSN names another).
#ifndef ENRICH_PROCESSOR_ADAPTERS_PROCESSOR_SESSION_H_
#define ENRICH_PROCESSOR_ADAPTERS_PROCESSOR_SESSION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cdc/postgres/pg_connection.h"

namespace enrich::processor {

// Fails as pg::OpenPgConnection (cdc/postgres/pg_connect.h): kUnavailable
// when the server is refused or unreachable (retry), kPermissionDenied /
// kFailedPrecondition with the operator's action for a wrong password,
// unknown role or missing database (stop).
inline absl::StatusOr<std::unique_ptr<pg::PgConnection>> OpenProcessorSession(
    const std::string& dsn) {
  return pg::PgConnection::Connect(dsn, "enrich-processor");
}

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_PROCESSOR_SESSION_H_
