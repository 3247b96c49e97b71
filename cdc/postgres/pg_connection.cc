#include "cdc/postgres/pg_connection.h"

#include <libpq-fe.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace enrich::pg {
namespace {

std::string Trimmed(const char* message) {
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

}  // namespace

absl::StatusCode CodeForSqlState(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return absl::StatusCode::kUnavailable;
  const std::string cls = sqlstate.substr(0, 2);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return absl::StatusCode::kAborted;
  }
  if (cls == "08" || cls == "53" || cls == "57") {
    // connection exception, insufficient resources, operator intervention
    return absl::StatusCode::kUnavailable;
  }
  if (cls == "42" || cls == "28" || cls == "3D" || cls == "3F" || cls == "55" ||
      cls == "0A") {
    // privilege/undefined object, auth, missing db/schema, object state
    // (e.g. slot in use), feature not supported: an operator must act.
    return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kInternal;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo, Mode mode) {
  // Parse first so a malformed conninfo is reported without echoing it.
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (options == nullptr) {
    std::string why = parse_error ? Trimmed(parse_error) : "unparsable";
    PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        absl::StrCat("invalid PostgreSQL connection string: ", why));
  }
  PQconninfoFree(options);

  std::vector<const char*> keys = {"dbname", "fallback_application_name"};
  std::vector<const char*> values = {conninfo.c_str(), "enrich-cdc"};
  if (mode == Mode::kReplication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(),
                                   /*expand_dbname=*/1);
  std::string describe = absl::StrCat(PQhost(conn) ? PQhost(conn) : "?", ":",
                                      PQport(conn) ? PQport(conn) : "?", "/",
                                      PQdb(conn) ? PQdb(conn) : "?");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    absl::StatusCode code = absl::StrContains(why, "authentication") ||
                                    absl::StrContains(why, "does not exist") ||
                                    absl::StrContains(why, "no pg_hba.conf")
                                ? absl::StatusCode::kFailedPrecondition
                                : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("cannot connect to PostgreSQL at ",
                                           describe, ": ", why));
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn, describe));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

absl::StatusOr<std::vector<Row>> PgConnection::Collect(PGresult* raw,
                                                       const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, &PQclear);
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    if (PQstatus(conn_) != CONNECTION_OK) sqlstate = "08006";
    return absl::Status(
        CodeForSqlState(sqlstate),
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
