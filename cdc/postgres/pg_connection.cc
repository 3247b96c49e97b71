#include "cdc/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/status_macros.h"
#include "cdc/postgres/pg_connect.h"

namespace enrich::pg {
namespace {

std::string Trimmed(const char* message) {
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo, Mode mode) {
  std::vector<std::pair<std::string, std::string>> settings = {
      {"fallback_application_name", "enrich-cdc"}};
  if (mode == Mode::kReplication)
    settings.push_back({"replication", "database"});
  ASSIGN_OR_RETURN(OpenedPgConnection opened,
                   OpenPgConnection(conninfo, settings));
  return std::unique_ptr<PgConnection>(
      new PgConnection(opened.conn, std::move(opened.describe)));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

absl::StatusOr<std::vector<Row>> PgConnection::Collect(PGresult* raw,
                                                       const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, &PQclear);
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    return absl::Status(
        ClassifyPgError(sqlstate, PQstatus(conn_) == CONNECTION_OK
                                      ? PgConnectionState::kOpen
                                      : PgConnectionState::kLost),
        absl::StrCat("PostgreSQL ", describe_, ": ",
                     Trimmed(PQresultErrorMessage(result.get())),
                     sqlstate.empty() ? "" : absl::StrCat(" [", sqlstate, "]"),
                     " (running: ", sql.substr(0, 120), ")"));
  }
  std::vector<Row> rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    Row row;
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

absl::StatusOr<std::vector<Row>> PgConnection::Query(const std::string& sql) {
  return Collect(PQexec(conn_, sql.c_str()), sql);
}

absl::StatusOr<std::vector<Row>> PgConnection::QueryParams(
    const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  return Collect(PQexecParams(conn_, sql.c_str(), values.size(), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 sql);
}

absl::Status PgConnection::Exec(const std::string& sql) {
  return Query(sql).status();
}

std::string PgConnection::QuoteIdentifier(const std::string& name) {
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  std::string out = quoted ? quoted : "";
  PQfreemem(quoted);
  return out;
}

std::string PgConnection::QuoteLiteral(const std::string& value) {
  char* quoted = PQescapeLiteral(conn_, value.data(), value.size());
  std::string out = quoted ? quoted : "";
  PQfreemem(quoted);
  return out;
}

}  // namespace enrich::pg
