// PgConnection owns one libpq connection (normal or replication) and turns
// libpq results into absl::Status with codes chosen by what the caller should
// do, by the one classification both executables share
// (cdc/common/pg_error_class.h): Unavailable (connection trouble: retry),
// Aborted (serialization failure, deadlock, lock or statement timeout: retry
// the transaction), PermissionDenied / FailedPrecondition (a login, grant,
// object or setting the operator must fix), Internal otherwise. Connect()
// fails as OpenPgConnection (cdc/postgres/pg_connect.h) does.
//
// The conninfo is never logged or put in an error (it may hold a password);
// describe() gives "host:port/db" for messages. Not thread-safe.
#ifndef ENRICH_CDC_POSTGRES_PG_CONNECTION_H_
#define ENRICH_CDC_POSTGRES_PG_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct pg_conn;
struct pg_result;

namespace enrich::pg {

using Row = std::vector<std::optional<std::string>>;

class PgConnection {
 public:
  enum class Mode { kNormal, kReplication };
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(
      const std::string& conninfo, Mode mode);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs a statement (or a replication command) and returns its rows as text.
  absl::StatusOr<std::vector<Row>> Query(const std::string& sql);
  // Same, with $1.. text parameters.
  absl::StatusOr<std::vector<Row>> QueryParams(
      const std::string& sql, const std::vector<std::string>& params);
  absl::Status Exec(const std::string& sql);

  // Quotes an identifier or literal for this connection's encoding.
  std::string QuoteIdentifier(const std::string& name);
  std::string QuoteLiteral(const std::string& value);

  std::string describe() const { return describe_; }
  pg_conn* raw() { return conn_; }

 private:
  PgConnection(pg_conn* conn, std::string describe)
      : conn_(conn), describe_(std::move(describe)) {}
  absl::StatusOr<std::vector<Row>> Collect(pg_result* result,
                                           const std::string& sql);
  pg_conn* conn_;
  std::string describe_;
};

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_PG_CONNECTION_H_
