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
  return std::string(
      absl::StripTrailingAsciiWhitespace(message != nullptr ? message : ""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo, absl::string_view application_name,
    Mode mode) {
  // Named, so an operator finds the process in pg_stat_activity.
  std::vector<std::pair<std::string, std::string>> settings = {
      {"fallback_application_name", std::string(application_name)}};
  if (mode == Mode::kReplication)
    settings.push_back({"replication", "database"});
  ASSIGN_OR_RETURN(OpenedPgConnection opened,
                   OpenPgConnection(conninfo, settings));
  return std::unique_ptr<PgConnection>(
      new PgConnection(opened.conn, std::move(opened.describe)));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

absl::StatusOr<std::vector<Row>> PgConnection::Collect(PGresult* raw,
                                                       const std::string& sql,
                                                       absl::string_view what) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, &PQclear);
  // No result at all: out of memory or the connection is gone.
  const ExecStatusType status =
      result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK &&
      status != PGRES_EMPTY_QUERY) {
    const char* sqlstate =
        result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    const absl::StatusCode code = ClassifyPgError(
        sqlstate != nullptr ? sqlstate : "", PQstatus(conn_) == CONNECTION_OK
                                                 ? PgConnectionState::kOpen
                                                 : PgConnectionState::kLost);
    std::string message = absl::StrCat(
        what.empty() ? absl::StrCat("PostgreSQL ", describe_) : what, ": ",
        Trimmed(result ? PQresultErrorMessage(result.get())
                       : PQerrorMessage(conn_)));
    if (sqlstate != nullptr)
      absl::StrAppend(&message, " (SQLSTATE ", sqlstate, ")");
    if (const char* hint =
            result ? PQresultErrorField(result.get(), PG_DIAG_MESSAGE_HINT)
                   : nullptr) {
      absl::StrAppend(&message, " hint: ", hint);
    }
    if (what.empty())
      absl::StrAppend(&message, " (running: ", sql.substr(0, 120), ")");
    return absl::Status(code, message);
  }
  std::vector<Row> rows;
  const int columns = PQnfields(result.get());
  rows.reserve(PQntuples(result.get()));
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    Row row;
    row.reserve(columns);
    for (int c = 0; c < columns; ++c) {
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

absl::StatusOr<std::vector<Row>> PgConnection::Query(const std::string& sql,
                                                     absl::string_view what) {
  return Collect(PQexec(conn_, sql.c_str()), sql, what);
}

absl::StatusOr<std::vector<Row>> PgConnection::QueryParams(
    const std::string& sql, const std::vector<Param>& params,
    absl::string_view what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
  return Collect(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                   values.data(), nullptr, nullptr, 0),
      sql, what);
}

absl::Status PgConnection::Exec(const std::string& sql,
                                absl::string_view what) {
  return Query(sql, what).status();
}

absl::StatusOr<bool> PgConnection::ReconnectIfLost() {
  if (PQstatus(conn_) == CONNECTION_OK) return false;
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("reconnecting to PostgreSQL: ", PQerrorMessage(conn_)));
  }
  return true;
}

bool PgConnection::Idle() const {
  return PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

void PgConnection::RollBack() {
  if (PQstatus(conn_) == CONNECTION_OK &&
      PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
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

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace enrich::pg
