#include "cdc/pgoutput/pg_time.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace enrich::pgoutput {

absl::StatusOr<int64_t> PgTimestampToUnixMicros(int64_t pg_micros) {
  if (pg_micros > std::numeric_limits<int64_t>::max() - kPgEpochOffsetMicros) {
    return absl::DataLossError(
        absl::StrCat("timestamp out of range: ", pg_micros));
  }
  return pg_micros + kPgEpochOffsetMicros;
}

int64_t UnixMicrosToPgTimestamp(int64_t unix_micros) {
  if (unix_micros <
      std::numeric_limits<int64_t>::min() + kPgEpochOffsetMicros) {
    return std::numeric_limits<int64_t>::min();
  }
  return unix_micros - kPgEpochOffsetMicros;
}

}  // namespace enrich::pgoutput
