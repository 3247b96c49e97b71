#include "processor/core/database_errors.h"

#include "absl/strings/match.h"

namespace enrich::processor {

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate) {
  // Exact codes first, then whole classes (the first two characters).
  if (sqlstate == "40001" ||  // serialization_failure
      sqlstate == "40P01" ||  // deadlock_detected
      sqlstate == "55P03" ||  // lock_not_available (lock_timeout)
      sqlstate == "57014") {  // query_canceled (statement_timeout)
    return absl::StatusCode::kAborted;
  }
  if (sqlstate == "57P01" ||  // admin_shutdown
      sqlstate == "57P02" ||  // crash_shutdown
      sqlstate == "57P03" ||  // cannot_connect_now
      sqlstate == "57P04" ||  // database_dropped (the server may come back)
      sqlstate == "25006" ||  // read_only_sql_transaction (standby)
      sqlstate == "40003") {  // statement_completion_unknown
    return absl::StatusCode::kUnavailable;
  }
  if (sqlstate == "42501") return absl::StatusCode::kPermissionDenied;
  if (sqlstate == "42P01" ||  // undefined_table
      sqlstate == "42703" ||  // undefined_column
      sqlstate == "42883" ||  // undefined_function
      sqlstate == "42704" ||  // undefined_object
      sqlstate == "3F000" ||  // invalid_schema_name
      sqlstate == "3D000") {  // invalid_catalog_name
    return absl::StatusCode::kFailedPrecondition;
  }
  if (absl::StartsWith(sqlstate, "08") ||  // connection_exception
      absl::StartsWith(sqlstate, "53") ||  // insufficient_resources
      absl::StartsWith(sqlstate, "58")) {  // system_error (I/O)
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(sqlstate, "28")) {  // invalid_authorization
    return absl::StatusCode::kPermissionDenied;
  }
  return absl::StatusCode::kInternal;
}

bool IsRetriable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted ||
         status.code() == absl::StatusCode::kUnavailable;
}

}  // namespace enrich::processor
