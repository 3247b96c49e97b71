// PostgreSQL timestamps on the wire: microseconds since 2000-01-01 00:00 UTC.
#ifndef ENRICH_CDC_PGOUTPUT_PG_TIME_H_
#define ENRICH_CDC_PGOUTPUT_PG_TIME_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace enrich::pgoutput {

// Microseconds from the UNIX epoch to the PostgreSQL epoch (2000-01-01).
inline constexpr int64_t kPgEpochOffsetMicros = 946684800LL * 1000000LL;

// A wire timestamp as UNIX epoch microseconds. DataLoss when the result does
// not fit in int64 (only corrupt input or +infinity gets there).
absl::StatusOr<int64_t> PgTimestampToUnixMicros(int64_t pg_micros);

// UNIX epoch microseconds as a wire timestamp, saturating at the int64
// limits (never fails: a client clock cannot be that wrong in practice).
int64_t UnixMicrosToPgTimestamp(int64_t unix_micros);

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_PG_TIME_H_
