// The walsender's CopyBoth framing around logical replication output
// (PostgreSQL's "Streaming Replication Protocol"): what the server sends in
// each CopyData, and the status update the client sends back.
#ifndef ENRICH_CDC_PGOUTPUT_WALSENDER_PROTOCOL_H_
#define ENRICH_CDC_PGOUTPUT_WALSENDER_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cdc/pgoutput/lsn.h"

namespace enrich::pgoutput {

// 'w': one pgoutput message. payload views the buffer given to
// ParseCopyData, which must outlive it. wal_start is 0/0 for messages that
// do not correspond to a WAL record (Relation, Type).
struct XLogData {
  Lsn wal_start = 0;
  Lsn wal_end = 0;           // the server's current end of WAL
  int64_t send_time_us = 0;  // UNIX epoch microseconds
  absl::string_view payload;
};

// 'k': the server's heartbeat. Answer with a standby status update at once
// when reply_requested, or the server drops the connection after
// wal_sender_timeout.
struct PrimaryKeepalive {
  Lsn wal_end = 0;
  int64_t send_time_us = 0;  // UNIX epoch microseconds
  bool reply_requested = false;
};

// Parses one CopyData message from the server. absl::DataLossError with the
// offset for an empty message, a kind other than 'w' or 'k', a header that
// is cut short, a keepalive with trailing bytes or a reply flag other than 0
// or 1, and a timestamp that does not fit UNIX microseconds.
absl::StatusOr<std::variant<XLogData, PrimaryKeepalive>> ParseCopyData(
    absl::string_view message);

// The 34-byte 'r' Standby Status Update: positions written, flushed
// (durably handled: the server may recycle WAL and advance the slot's
// confirmed_flush_lsn up to it) and applied, the client's clock (UNIX epoch
// microseconds, sent in PostgreSQL's 2000 epoch) and whether the client
// wants an immediate keepalive back.
std::string EncodeStandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply,
                                      int64_t now_unix_us,
                                      bool reply_requested);

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_WALSENDER_PROTOCOL_H_
