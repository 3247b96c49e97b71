#include "cdc/pgoutput/walsender_protocol.h"

#include "absl/strings/str_format.h"
#include "cdc/common/status_macros.h"
#include "cdc/pgoutput/byte_reader.h"
#include "cdc/pgoutput/pg_time.h"

namespace enrich::pgoutput {
namespace {

absl::StatusOr<int64_t> ReadSendTime(ByteReader& reader) {
  ASSIGN_OR_RETURN(int64_t pg_micros, reader.ReadI64("send time"));
  absl::StatusOr<int64_t> unix_micros = PgTimestampToUnixMicros(pg_micros);
  if (!unix_micros.ok()) {
    return reader.Corrupt(
        absl::StrFormat("send time %d out of range", pg_micros));
  }
  return *unix_micros;
}

void PutU64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

}  // namespace

absl::StatusOr<std::variant<XLogData, PrimaryKeepalive>> ParseCopyData(
    absl::string_view message) {
  ByteReader reader(message, "walsender CopyData");
  ASSIGN_OR_RETURN(uint8_t kind, reader.ReadU8("message kind"));
  switch (kind) {
    case 'w': {
      reader.set_context("walsender XLogData ('w')");
      XLogData data;
      ASSIGN_OR_RETURN(data.wal_start, reader.ReadU64("WAL start"));
      ASSIGN_OR_RETURN(data.wal_end, reader.ReadU64("WAL end"));
      ASSIGN_OR_RETURN(data.send_time_us, ReadSendTime(reader));
      ASSIGN_OR_RETURN(data.payload,
                       reader.ReadBytes(reader.remaining(), "payload"));
      return data;
    }
    case 'k': {
      reader.set_context("walsender Primary keepalive ('k')");
      PrimaryKeepalive keepalive;
      ASSIGN_OR_RETURN(keepalive.wal_end, reader.ReadU64("WAL end"));
      ASSIGN_OR_RETURN(keepalive.send_time_us, ReadSendTime(reader));
      ASSIGN_OR_RETURN(uint8_t reply, reader.ReadU8("reply requested flag"));
      if (reply > 1) {
        return reader.Corrupt(
            absl::StrFormat("reply requested flag 0x%02x, not 0 or 1", reply));
      }
      keepalive.reply_requested = reply == 1;
      RETURN_IF_ERROR(reader.ExpectEnd());
      return keepalive;
    }
    default:
      return absl::DataLossError(absl::StrFormat(
          "walsender CopyData: unknown message kind 0x%02x at offset 0", kind));
  }
}

std::string EncodeStandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply,
                                      int64_t now_unix_us,
                                      bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  PutU64(&out, write);
  PutU64(&out, flush);
  PutU64(&out, apply);
  PutU64(&out, static_cast<uint64_t>(UnixMicrosToPgTimestamp(now_unix_us)));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

}  // namespace enrich::pgoutput
