// One classification of PostgreSQL errors for both executables: what the
// caller should do about an error, from its SQLSTATE and the state of the
// connection it came on. Pure (no libpq), so every class is unit-tested
// without a server; the libpq adapters (cdc/postgres/pg_connect.cc,
// pg_connection.cc, replication_stream.cc) read the SQLSTATE
// and the connection state and call it.
//
//   ClassifyPgError("40001", PgConnectionState::kOpen);       // kAborted
//   ClassifyPgError("28P01", PgConnectionState::kConnecting); //
//   kPermissionDenied ClassifyPgError("", PgConnectionState::kConnecting); //
//   kUnavailable
//
// The codes follow absl::Status's guidance, as everywhere in this project:
//   kUnavailable        retry the call / reconnect: connection refused or
//                       lost, server shutting down or starting, too many
//                       connections, read-only after a failover, out of
//                       resources, an error without SQLSTATE (libpq's own),
//                       an object in use by another session (55006: e.g. a
//                       replication slot another enrich-cdc streams from,
//                       released when that process goes)
//   kAborted            retry the whole transaction: serialization failure,
//                       deadlock, lock timeout (55P03), statement cancelled
//                       (57014: statement_timeout or pg_cancel_backend)
//   kPermissionDenied   stop and tell the operator: a grant is missing
//                       (42501) or the server refused the login (28xxx: wrong
//                       password, unknown role, no pg_hba.conf entry; or no
//                       password given where one is required)
//   kFailedPrecondition stop and tell the operator: something the program
//                       needs is missing or in the wrong state (a database,
//                       schema, table, column, function; a setting or a
//                       limit; a feature not supported)
//   kInternal           stop: anything else (a bug, a constraint violation,
//                       bad data); never skipped, because skipping loses a
//                       change
#ifndef ENRICH_CDC_COMMON_PG_ERROR_CLASS_H_
#define ENRICH_CDC_COMMON_PG_ERROR_CLASS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace enrich {

// Where the connection stood when the error came.
enum class PgConnectionState {
  kOpen,        // the session is usable: the server refused one statement
  kLost,        // the session broke during the call (PQstatus is bad)
  kConnecting,  // opening the connection failed
  // Opening failed because the server asked for a password and none was
  // given (PQconnectionNeedsPassword): no SQLSTATE, the client gave up.
  kPasswordMissing,
};

// What the caller should do (see the table above). `sqlstate` is the
// five-character code, or empty when the error has none.
absl::StatusCode ClassifyPgError(absl::string_view sqlstate,
                                 PgConnectionState state);

// The operator's action for a connection that could not be opened, for the
// permanent cases (wrong password, unknown role, missing database, missing
// CONNECT grant, missing password); empty when the failure is worth
// retrying (refused, unreachable, starting up, too many connections).
std::string ConnectionFailureAction(absl::string_view sqlstate,
                                    PgConnectionState state);

// The operator's action travels with a status as a payload, not in its
// message, so whoever logs the error says it once, in an `action=` field
// (both executables), instead of guessing one from the code alone.
void SetOperatorAction(absl::Status* status, absl::string_view action);
// The action set by SetOperatorAction, or empty.
std::string OperatorAction(const absl::Status& status);
// "CODE: message", without payloads (absl::Status::ToString prints them):
// what a log's error field shows next to an action field.
std::string StatusText(const absl::Status& status);

// libpq's connection error text in PQERRORS_VERBOSE form, split into the
// SQLSTATE of the last server error it holds (empty when the server sent
// none: refused, unreachable, timeout) and the text as libpq prints it by
// default (the "XXXXX: " code and the LOCATION lines removed). Verbose form
// is used because the connection's error result is not reachable through
// libpq's API; the code sits in a fixed place after the severity, and is not
// translated, unlike the message.
//   "... failed: FATAL:  28P01: password authentication failed ...\n
//    LOCATION:  auth_failed, auth.c:326\n"
//   -> {"28P01", "... failed: FATAL:  password authentication failed ..."}
struct PgConnectError {
  std::string sqlstate;
  std::string text;
};
PgConnectError ParseVerboseConnectError(absl::string_view message);

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_PG_ERROR_CLASS_H_
