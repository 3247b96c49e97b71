// PgConnection owns one libpq connection (normal or replication), the one
// PostgreSQL wrapper of both executables (enrich-cdc's source, slot and
// snapshot code; the processor's writer, reconciler and migrator). It turns
// libpq results into absl::Status with codes chosen by what the caller
// should do, by the one classification both share
// (cdc/common/pg_error_class.h): Unavailable (connection trouble: retry),
// Aborted (serialization failure, deadlock, lock or statement timeout: retry
// the transaction), PermissionDenied / FailedPrecondition (a login, grant,
// object or setting the operator must fix), Internal otherwise. Connect()
// fails as OpenPgConnection (cdc/postgres/pg_connect.h) does.
//
// A failed statement's message is one line:
//   "<what>: <server message> (SQLSTATE <code>) hint: <hint>"
// where `what` is the caller's label ("storing offsets"), or, without one,
// "PostgreSQL host:port/db" with "(running: <the statement's start>)" at the
// end. The conninfo is never logged or put in an error (it may hold a
// password); describe() gives "host:port/db" for messages.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
//                    PgConnection::Connect(dsn, "enrich-processor"));
//   ASSIGN_OR_RETURN(std::vector<Row> rows,
//                    conn->QueryParams("SELECT $1::int + 1", {"41"},
//                    "adding"));
//   // rows[0][0] == "42"
//
// libpq-fe.h stays in the .cc: this header may be included anywhere. Not
// thread-safe; non-copyable.
#ifndef ENRICH_CDC_POSTGRES_PG_CONNECTION_H_
#define ENRICH_CDC_POSTGRES_PG_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct pg_conn;
struct pg_result;

namespace enrich::pg {

// One result row, a column's text per element; nullopt is SQL NULL.
using Row = std::vector<std::optional<std::string>>;
// A statement parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;

// A column's text, "" for SQL NULL (as libpq's PQgetvalue gives it).
inline std::string TextOrEmpty(const Row& row, size_t column) {
  return row[column].value_or("");
}

class PgConnection {
 public:
  enum class Mode { kNormal, kReplication };
  // Opens a connection; `application_name` names the session in
  // pg_stat_activity unless `conninfo` names one.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(
      const std::string& conninfo, absl::string_view application_name,
      Mode mode = Mode::kNormal);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs `sql` (or a replication command) with the simple query protocol,
  // so it may hold several statements (the last one's rows are returned);
  // an empty script succeeds with no rows. `what` labels an error (file
  // comment).
  absl::StatusOr<std::vector<Row>> Query(const std::string& sql,
                                         absl::string_view what = {});
  // One statement with $1.. text parameters (the extended protocol).
  absl::StatusOr<std::vector<Row>> QueryParams(const std::string& sql,
                                               const std::vector<Param>& params,
                                               absl::string_view what = {});
  absl::Status Exec(const std::string& sql, absl::string_view what = {});

  // When the connection was lost, resets it once with the same conninfo:
  // true when it did (session settings are gone: set them again), false
  // when it was open. kUnavailable when the server cannot be reached.
  absl::StatusOr<bool> ReconnectIfLost();
  // True when the session is open with no transaction in progress; false
  // in a transaction (open or failed) or when the state is unknown.
  bool Idle() const;
  // Best effort: rolls back the transaction in progress, if any, on an
  // open connection; errors are ignored (a lost session rolled back on the
  // server already).
  void RollBack();

  // Quotes an identifier or literal for this connection's encoding.
  std::string QuoteIdentifier(const std::string& name);
  std::string QuoteLiteral(const std::string& value);

  std::string describe() const { return describe_; }
  // For the replication stream's COPY protocol only.
  pg_conn* raw() { return conn_; }

 private:
  PgConnection(pg_conn* conn, std::string describe)
      : conn_(conn), describe_(std::move(describe)) {}
  absl::StatusOr<std::vector<Row>> Collect(pg_result* result,
                                           const std::string& sql,
                                           absl::string_view what);
  pg_conn* conn_;
  std::string describe_;
};

// A PostgreSQL array literal ({"a","b"}) of `values`, for a text parameter
// cast to text[] or uuid[].
std::string ArrayLiteral(const std::vector<std::string>& values);

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_PG_CONNECTION_H_
