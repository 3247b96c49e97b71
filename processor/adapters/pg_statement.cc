#include "processor/adapters/pg_statement.h"

#include "absl/strings/str_cat.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/status_macros.h"
#include "cdc/postgres/pg_connect.h"

namespace enrich::processor {
namespace {

std::string Trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

absl::StatusOr<PgResult> PgExec(PGconn* conn, absl::string_view what,
                                const std::string& sql,
                                const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResult result(PQexecParams(conn, sql.c_str(),
                               static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  const ExecStatusType status =
      result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;

  const char* sqlstate =
      result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  const absl::StatusCode code = ClassifyPgError(
      sqlstate != nullptr ? sqlstate : "", PQstatus(conn) == CONNECTION_OK
                                               ? PgConnectionState::kOpen
                                               : PgConnectionState::kLost);
  std::string message =
      absl::StrCat(what, ": ",
                   Trimmed(result ? PQresultErrorMessage(result.get())
                                  : PQerrorMessage(conn)));
  if (sqlstate != nullptr)
    absl::StrAppend(&message, " (SQLSTATE ", sqlstate, ")");
  if (result) {
    if (const char* hint =
            PQresultErrorField(result.get(), PG_DIAG_MESSAGE_HINT)) {
      absl::StrAppend(&message, " hint: ", hint);
    }
  }
  return absl::Status(code, message);
}

std::string PgArrayLiteral(const std::vector<std::string>& values) {
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

absl::StatusOr<PGconn*> PgConnect(const std::string& dsn) {
  // Named, so an operator finds the processor in pg_stat_activity.
  ASSIGN_OR_RETURN(pg::OpenedPgConnection opened,
                   pg::OpenPgConnection(dsn, {{"fallback_application_name",
                                               "enrich-processor"}}));
  return opened.conn;
}

}  // namespace enrich::processor
