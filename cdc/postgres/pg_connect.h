// Opening a libpq connection, for PgConnection::Connect
// (cdc/postgres/pg_connection.h), which both executables use. A failure
// is classified by ClassifyPgError (cdc/common/pg_error_class.h):
//   kUnavailable        refused, unreachable, timed out, starting up, too
//                       many connections: retry later
//   kPermissionDenied   wrong password, unknown role, no pg_hba.conf entry,
//                       no password given, no CONNECT grant: stop
//   kFailedPrecondition the database does not exist: stop
//   kInvalidArgument    the connection string does not parse: stop
// The message is one line for the operator: "cannot connect to PostgreSQL at
// host:port/db: <libpq's reason> [SQLSTATE]" followed, for the permanent
// cases, by "; <action>". The conninfo itself (it may hold a password) never
// appears in it. libpq-fe.h stays in the .cc.
#ifndef ENRICH_CDC_POSTGRES_PG_CONNECT_H_
#define ENRICH_CDC_POSTGRES_PG_CONNECT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct pg_conn;

namespace enrich::pg {

struct OpenedPgConnection {
  pg_conn* conn;         // owned by the caller: PQfinish it
  std::string describe;  // "host:port/db", for messages
};

// Connects with `conninfo` (a keyword/value string or a URI) plus
// `settings` (keyword, value) pairs that override it (e.g. {"replication",
// "database"}). connect_timeout, when set, bounds the whole attempt (libpq
// applies it per host; a timeout is kUnavailable either way). Blocks; not
// interrupted by signals.
absl::StatusOr<OpenedPgConnection> OpenPgConnection(
    const std::string& conninfo,
    const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_PG_CONNECT_H_
