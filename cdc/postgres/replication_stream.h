// ReplicationStream runs START_REPLICATION on a replication connection and
// exchanges CopyData with the walsender: it hands out raw server messages
// (parse them with pgoutput::ParseCopyData) and sends Standby Status Updates.
// It is the libpq implementation of pgoutput::WalsenderStream, the seam the
// replication session is written against. Not thread-safe; owns its
// connection.
#ifndef ENRICH_CDC_POSTGRES_REPLICATION_STREAM_H_
#define ENRICH_CDC_POSTGRES_REPLICATION_STREAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdc/pgoutput/walsender_stream.h"
#include "cdc/postgres/pg_connection.h"

namespace enrich::pg {

struct StreamOptions {
  std::string slot;
  std::string publication;
  uint64_t start_lsn = 0;
  int protocol_version = 1;  // 2 enables streaming of large transactions
  bool streaming = false;
  bool messages = true;  // logical decoding messages (heartbeats)
};

class ReplicationStream : public pgoutput::WalsenderStream {
 public:
  // FailedPrecondition when the slot is in use by another process (a
  // standby should wait and retry) or missing.
  static absl::StatusOr<std::unique_ptr<ReplicationStream>> Start(
      std::unique_ptr<PgConnection> conn, const StreamOptions& options);

  // The next CopyData message, or nullopt when none arrived within
  // `timeout`. The view is libpq's buffer, not a copy: it stays valid until
  // the next Read() or Finish() or the stream's end. Unavailable when the
  // connection breaks or the server ends the stream.
  absl::StatusOr<std::optional<absl::string_view>> Read(
      absl::Duration timeout) override;

  // Reports positions to the server; `flush` is what the slot may confirm.
  absl::Status SendStatus(uint64_t write, uint64_t flush,
                          bool reply_requested) override;

  // Ends the stream the way pg_recvlogical does: CopyDone, then reads what
  // the server still sends until it ends the COPY. Closing the socket with
  // unread data instead makes the kernel reset the connection, and the
  // server may drop the last status update (the slot then lags behind what
  // was confirmed). Waits at most `timeout`.
  absl::Status Finish(absl::Duration timeout) override;

 private:
  explicit ReplicationStream(std::unique_ptr<PgConnection> conn)
      : conn_(std::move(conn)) {}
  struct CopyBufferFree {  // PQfreemem
    void operator()(char* buffer) const;
  };
  std::unique_ptr<PgConnection> conn_;
  // The message Read() last handed out.
  std::unique_ptr<char, CopyBufferFree> message_;
};

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_REPLICATION_STREAM_H_
