#include "cdc/postgres/pg_connect.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdc/common/pg_error_class.h"

namespace enrich::pg {
namespace {

std::string Trimmed(const char* message) {
  return std::string(
      absl::StripTrailingAsciiWhitespace(message ? message : ""));
}

// connect_timeout as libpq reads it: seconds, at least 2; none when unset,
// zero or negative.
absl::Duration ConnectTimeout(PGconn* conn) {
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfo(conn), &PQconninfoFree);
  for (PQconninfoOption* o = options.get(); o && o->keyword; ++o) {
    if (std::string(o->keyword) != "connect_timeout" || o->val == nullptr) {
      continue;
    }
    int seconds = 0;
    if (!absl::SimpleAtoi(o->val, &seconds) || seconds <= 0) break;
    return absl::Seconds(seconds < 2 ? 2 : seconds);
  }
  return absl::InfiniteDuration();
}

// Drives PQconnectPoll to the end (libpq's documented non-blocking loop).
// False when connect_timeout expired first.
bool PollUntilDone(PGconn* conn) {
  const absl::Time deadline = absl::Now() + ConnectTimeout(conn);
  PostgresPollingStatusType polled = PGRES_POLLING_WRITING;
  while (polled != PGRES_POLLING_OK && polled != PGRES_POLLING_FAILED) {
    pollfd fd = {
        PQsocket(conn),
        static_cast<short>(polled == PGRES_POLLING_READING ? POLLIN : POLLOUT),
        0};
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(
          absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
      if (timeout_ms <= 0) return false;
    }
    const int ready = ::poll(&fd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return false;
    // ready < 0 (a bad socket): PQconnectPoll reports the failure.
    polled = PQconnectPoll(conn);
  }
  return true;
}

}  // namespace

absl::StatusOr<OpenedPgConnection> OpenPgConnection(
    const std::string& conninfo,
    const std::vector<std::pair<std::string, std::string>>& settings) {
  // Parse first so a malformed conninfo is reported without echoing it.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error ? Trimmed(parse_error) : "unparsable";
    PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        absl::StrCat("invalid PostgreSQL connection string: ", why));
  }
  PQconninfoFree(parsed);

  std::vector<const char*> keys = {"dbname"};
  std::vector<const char*> values = {conninfo.c_str()};
  for (const auto& [key, value] : settings) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectStartParams(keys.data(), values.data(),
                                      /*expand_dbname=*/1);
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(
        "cannot connect to PostgreSQL: out of memory");
  }
  // Verbose, so the server's SQLSTATE is in the error text (the error
  // result itself is not reachable); set back to default once connected.
  PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
  const bool in_time = PQstatus(conn) != CONNECTION_BAD && PollUntilDone(conn);
  std::string describe = absl::StrCat(PQhost(conn) ? PQhost(conn) : "?", ":",
                                      PQport(conn) ? PQport(conn) : "?", "/",
                                      PQdb(conn) ? PQdb(conn) : "?");
  if (in_time && PQstatus(conn) == CONNECTION_OK) {
    PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    return OpenedPgConnection{conn, std::move(describe)};
  }
  PgConnectError error = ParseVerboseConnectError(PQerrorMessage(conn));
  if (!in_time) error = {"", "timeout expired (connect_timeout)"};
  const PgConnectionState state = PQconnectionNeedsPassword(conn)
                                      ? PgConnectionState::kPasswordMissing
                                      : PgConnectionState::kConnecting;
  PQfinish(conn);
  std::string message = absl::StrCat("cannot connect to PostgreSQL at ",
                                     describe, ": ", error.text);
  if (!error.sqlstate.empty()) {
    absl::StrAppend(&message, " [", error.sqlstate, "]");
  }
  absl::Status status(ClassifyPgError(error.sqlstate, state), message);
  SetOperatorAction(&status, ConnectionFailureAction(error.sqlstate, state));
  return status;
}

}  // namespace enrich::pg
