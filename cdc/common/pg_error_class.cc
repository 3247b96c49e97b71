#include "cdc/common/pg_error_class.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace enrich {
namespace {

using Code = absl::StatusCode;

// Exact SQLSTATEs whose answer differs from their class's.
Code ForExactState(absl::string_view s, Code for_class) {
  if (s == "40002") return Code::kInternal;  // integrity violation at commit
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014") {
    return Code::kAborted;  // serialization, deadlock, lock/statement timeout
  }
  if (s == "40003" ||  // statement_completion_unknown
      s == "55006" ||  // object_in_use (e.g. a slot another process streams)
      s == "25006" ||  // read_only_sql_transaction (a standby after failover)
      s == "25P03") {  // idle_in_transaction_session_timeout (session ended)
    return Code::kUnavailable;
  }
  if (s == "53400" ||  // configuration_limit_exceeded (e.g. no free slot)
      s == "58P01" ||  // undefined_file (e.g. a missing plugin library)
      s == "58P02") {  // duplicate_file
    return Code::kFailedPrecondition;
  }
  if (s == "42501") return Code::kPermissionDenied;
  if (s == "42P01" ||  // undefined_table
      s == "42703" ||  // undefined_column
      s == "42883" ||  // undefined_function
      s == "42704" ||  // undefined_object (e.g. a missing slot)
      s == "42P07" ||  // duplicate_table
      s == "42710") {  // duplicate_object (e.g. a publication)
    return Code::kFailedPrecondition;
  }
  return for_class;
}

Code ForClass(absl::string_view cls) {
  if (cls == "08" ||  // connection_exception
      cls == "53" ||  // insufficient_resources (disk, memory, connections)
      cls == "57" ||  // operator_intervention (shutdown, starting, dropped)
      cls == "58") {  // system_error (I/O)
    return Code::kUnavailable;
  }
  if (cls == "40") return Code::kAborted;           // transaction_rollback
  if (cls == "28") return Code::kPermissionDenied;  // invalid_authorization
  if (cls == "3D" ||  // invalid_catalog_name (no such database)
      cls == "3F" ||  // invalid_schema_name
      cls == "55" ||  // object_not_in_prerequisite_state (wal_level, in use)
      cls == "0A") {  // feature_not_supported
    return Code::kFailedPrecondition;
  }
  return Code::kInternal;  // data, integrity, syntax, internal errors
}

}  // namespace

absl::StatusCode ClassifyPgError(absl::string_view sqlstate,
                                 PgConnectionState state) {
  switch (state) {
    case PgConnectionState::kLost:
      // Whatever the server said last, the session is gone: reconnect. A
      // permanent cause shows again, classified, when connecting.
      return Code::kUnavailable;
    case PgConnectionState::kPasswordMissing:
      return Code::kPermissionDenied;
    case PgConnectionState::kOpen:
    case PgConnectionState::kConnecting:
      break;
  }
  // No SQLSTATE: libpq's own failure (refused, unreachable, timeout, a
  // broken socket), not a server's verdict.
  if (sqlstate.size() != 5) return Code::kUnavailable;
  return ForExactState(sqlstate, ForClass(sqlstate.substr(0, 2)));
}

std::string ConnectionFailureAction(absl::string_view sqlstate,
                                    PgConnectionState state) {
  constexpr absl::string_view kDsn =
      "the connection string (--pg-dsn / ENRICH_PG_DSN)";
  if (state == PgConnectionState::kPasswordMissing) {
    return absl::StrCat("the server requires a password: add password=... to ",
                        kDsn, " or a ~/.pgpass entry, then restart");
  }
  if (state != PgConnectionState::kConnecting) return "";
  if (sqlstate == "28P01") {
    return absl::StrCat("check the user and password in ", kDsn,
                        ", then restart");
  }
  if (absl::StartsWith(sqlstate, "28")) {
    return absl::StrCat(
        "check the user in ", kDsn,
        ": the role must exist, may log in, and pg_hba.conf must let it "
        "connect to this database from this host; then restart");
  }
  if (sqlstate == "3D000") {
    return absl::StrCat("check the database name in ", kDsn,
                        " (or create the database), then restart");
  }
  if (sqlstate == "42501") {
    return "grant CONNECT on the database to the role, then restart";
  }
  return "";
}

PgConnectError ParseVerboseConnectError(absl::string_view message) {
  PgConnectError out;
  std::vector<std::string> kept;
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    if (absl::StartsWith(line, "LOCATION:  ")) continue;
    // "<severity>:  XXXXX: <message>": the first ":  " of a line follows the
    // severity (after libpq's "connection to server at ... failed: " prefix,
    // which has one space).
    const size_t at = line.find(":  ");
    if (at != absl::string_view::npos) {
      absl::string_view rest = line.substr(at + 3);
      bool is_code = rest.size() > 7 && rest[5] == ':' && rest[6] == ' ';
      for (size_t i = 0; is_code && i < 5; ++i) {
        is_code = absl::ascii_isdigit(rest[i]) || absl::ascii_isupper(rest[i]);
      }
      if (is_code) {
        out.sqlstate = std::string(rest.substr(0, 5));
        kept.push_back(absl::StrCat(line.substr(0, at + 3), rest.substr(7)));
        continue;
      }
    }
    kept.emplace_back(line);
  }
  out.text = std::string(
      absl::StripTrailingAsciiWhitespace(absl::StrJoin(kept, "\n")));
  return out;
}

namespace {
constexpr char kActionPayload[] = "type.enrich/operator-action";
}  // namespace

void SetOperatorAction(absl::Status* status, absl::string_view action) {
  if (status->ok() || action.empty()) return;
  status->SetPayload(kActionPayload, absl::Cord(action));
}

std::string StatusText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

std::string OperatorAction(const absl::Status& status) {
  auto action = status.GetPayload(kActionPayload);
  return action ? std::string(*action) : std::string();
}

}  // namespace enrich
