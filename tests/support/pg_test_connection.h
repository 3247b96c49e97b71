// A small libpq connection for test set-up and assertions (not product code).
// Not thread-safe; one per thread.
#ifndef ENRICH_TESTS_SUPPORT_PG_TEST_CONNECTION_H_
#define ENRICH_TESTS_SUPPORT_PG_TEST_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct pg_conn;

namespace enrich::testing {

using SqlRow = std::vector<std::optional<std::string>>;

class PgTestConnection {
 public:
  static absl::StatusOr<std::unique_ptr<PgTestConnection>> Connect(
      const std::string& dsn);
  ~PgTestConnection();
  PgTestConnection(const PgTestConnection&) = delete;
  PgTestConnection& operator=(const PgTestConnection&) = delete;

  // Runs one or more statements; fails with the server's message.
  absl::Status Exec(const std::string& sql);
  // Runs one query and returns its rows as text (NULL as nullopt).
  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql);
  // The first column of the first row; an error when there is none or NULL.
  absl::StatusOr<std::string> QueryValue(const std::string& sql);

 private:
  explicit PgTestConnection(pg_conn* conn) : conn_(conn) {}
  pg_conn* conn_;
};

// ALTER TABLE ... REPLICA IDENTITY FULL on the four contract tables, as
// enrich-cdc wants them.
absl::Status SetContractTablesReplicaIdentityFull(PgTestConnection& conn);

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_SUPPORT_PG_TEST_CONNECTION_H_
