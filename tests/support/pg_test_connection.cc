#include "tests/support/pg_test_connection.h"

#include <libpq-fe.h>

#include "absl/strings/str_cat.h"

namespace enrich::testing {
namespace {

std::string ErrorText(PGconn* conn) {
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgTestConnection>> PgTestConnection::Connect(
    const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", ErrorText(conn)));
    PQfinish(conn);
    return status;
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgTestConnection>(new PgTestConnection(conn));
}

PgTestConnection::~PgTestConnection() { PQfinish(conn_); }

absl::Status PgTestConnection::Exec(const std::string& sql) {
  if (!PQsendQuery(conn_, sql.c_str())) {
    return absl::UnavailableError(ErrorText(conn_));
  }
  absl::Status status;
  while (PGresult* result = PQgetResult(conn_)) {
    ExecStatusType code = PQresultStatus(result);
    if (status.ok() && code != PGRES_COMMAND_OK && code != PGRES_TUPLES_OK &&
        code != PGRES_EMPTY_QUERY) {
      status = absl::InternalError(
          absl::StrCat(PQresultErrorMessage(result), " in: ", sql));
    }
    PQclear(result);
  }
  return status;
}

absl::StatusOr<std::vector<SqlRow>> PgTestConnection::Query(
    const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexec(conn_, sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return absl::InternalError(
        absl::StrCat(PQresultErrorMessage(result.get()), " in: ", sql));
  }
  std::vector<SqlRow> rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    SqlRow row;
    for (int c = 0; c < PQnfields(result.get()); ++c) {
      if (PQgetisnull(result.get(), r, c)) {
        row.push_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(result.get(), r, c),
                                     PQgetlength(result.get(), r, c)));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<std::string> PgTestConnection::QueryValue(
    const std::string& sql) {
  absl::StatusOr<std::vector<SqlRow>> rows = Query(sql);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->front().empty() || !rows->front()[0]) {
    return absl::NotFoundError(absl::StrCat("no value from: ", sql));
  }
  return *rows->front()[0];
}

absl::Status SetContractTablesReplicaIdentityFull(PgTestConnection& conn) {
  for (const char* table :
       {"raw_support_conversations", "support_conversation_messages",
        "subscribers_insights", "linear_issues"}) {
    absl::Status status = conn.Exec(
        absl::StrCat("ALTER TABLE ", table, " REPLICA IDENTITY FULL"));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace enrich::testing
