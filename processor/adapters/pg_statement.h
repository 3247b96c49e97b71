// libpq helpers shared by the processor's PostgreSQL adapters. Adapter
// internal: include from .cc files only, so libpq-fe.h never reaches the
// headers the rest of the processor includes.
#ifndef ENRICH_PROCESSOR_ADAPTERS_PG_STATEMENT_H_
#define ENRICH_PROCESSOR_ADAPTERS_PG_STATEMENT_H_

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::processor {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// A statement parameter in text format; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

// Runs one statement with text parameters. The error's code comes from the
// SQLSTATE (ClassifyPgError, cdc/common/pg_error_class.h); a lost connection
// is kUnavailable. The
// message names `what` and carries the server's message, detail and hint.
absl::StatusOr<PgResult> PgExec(PGconn* conn, absl::string_view what,
                                const std::string& sql,
                                const std::vector<PgParam>& params = {});

// A PostgreSQL array literal ({"a","b"}) of `values`, for a text parameter
// cast to text[] or uuid[].
std::string PgArrayLiteral(const std::vector<std::string>& values);

// Connects; fails as pg::OpenPgConnection (cdc/postgres/pg_connect.h):
// kUnavailable when the server is refused or unreachable (retry),
// kPermissionDenied / kFailedPrecondition with the operator's action for a
// wrong password, unknown role or missing database (stop). The session's
// application_name is "enrich-processor" unless `dsn` names one.
absl::StatusOr<PGconn*> PgConnect(const std::string& dsn);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_PG_STATEMENT_H_
