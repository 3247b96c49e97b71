// WalsenderStream is the seam between a replication session and the
// walsender it talks to: what a logical replication client does with the
// server once START_REPLICATION has switched the connection to CopyBoth.
// pg::ReplicationStream (cdc/postgres/replication_stream.h) implements it
// over libpq; unit tests implement it with scripted messages.
//
//   ASSIGN_OR_RETURN(std::optional<absl::string_view> message,
//                    stream->Read(absl::Milliseconds(100)));
//   if (message) ... pgoutput::ParseCopyData(*message) ...
//   RETURN_IF_ERROR(stream->SendStatus(write_lsn, flush_lsn, false));
//   ...
//   RETURN_IF_ERROR(stream->Finish(absl::Seconds(10)));  // on the way out
//
// Not thread-safe: one caller at a time.
#ifndef ENRICH_CDC_PGOUTPUT_WALSENDER_STREAM_H_
#define ENRICH_CDC_PGOUTPUT_WALSENDER_STREAM_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdc/pgoutput/lsn.h"

namespace enrich::pgoutput {

class WalsenderStream {
 public:
  virtual ~WalsenderStream() = default;

  // The next CopyData message from the server (parse it with
  // ParseCopyData), or nullopt when none arrived within `timeout`. The view
  // stays valid until the next Read() or Finish(). Unavailable when the
  // connection breaks or the server ends the stream.
  virtual absl::StatusOr<std::optional<absl::string_view>> Read(
      absl::Duration timeout) = 0;

  // Sends a Standby Status Update: `write` is how far the client has
  // received, `flush` how far the slot may be confirmed. Unavailable when it
  // cannot be sent.
  virtual absl::Status SendStatus(Lsn write, Lsn flush,
                                  bool reply_requested) = 0;

  // Ends the stream cleanly (CopyDone, then drain until the server ends the
  // COPY), so the last status update is not lost. Waits at most `timeout`.
  virtual absl::Status Finish(absl::Duration timeout) = 0;
};

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_WALSENDER_STREAM_H_
