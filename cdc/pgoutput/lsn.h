// Log sequence numbers: positions in PostgreSQL's write-ahead log.
#ifndef ENRICH_CDC_PGOUTPUT_LSN_H_
#define ENRICH_CDC_PGOUTPUT_LSN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::pgoutput {

// A WAL position (PostgreSQL's XLogRecPtr). 0 is InvalidXLogRecPtr.
using Lsn = uint64_t;

// PostgreSQL's text form: the high and low 32 bits in upper-case hex without
// leading zeros, e.g. FormatLsn(0x16B374D848) == "16/B374D848", FormatLsn(0)
// == "0/0".
std::string FormatLsn(Lsn lsn);

// The inverse of FormatLsn, as pg_lsn_in accepts it: 1 to 8 hex digits
// (either case), '/', 1 to 8 hex digits, nothing else (no spaces, signs or
// prefixes). InvalidArgument otherwise.
//   ParseLsn("16/b374d848") => 0x16B374D848
absl::StatusOr<Lsn> ParseLsn(absl::string_view text);

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_LSN_H_
