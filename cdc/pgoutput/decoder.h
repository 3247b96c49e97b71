// Decodes pgoutput messages (logical replication protocol 1 and 2) and
// drives a Handler with them.
#ifndef ENRICH_CDC_PGOUTPUT_DECODER_H_
#define ENRICH_CDC_PGOUTPUT_DECODER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/pgoutput/messages.h"

namespace enrich::pgoutput {

// One decoder per replication session: it tracks whether it is inside a
// Stream Start .. Stream Stop block, because change messages there carry a
// leading transaction id. Feed it every XLogData payload in order.
//
// Decode() parses one whole message, checks it, then calls the handler once.
// It returns absl::DataLossError, naming the message kind and byte offset,
// for: an empty or unknown message, truncated or trailing bytes, a negative
// length, an unknown tuple marker ('n','u','t','b'), tuple action ('N','K',
// 'O'), replica identity or flag bit, a stream message under protocol 1, a
// Stream Start inside a block, a Stream Stop outside one, and Begin, Commit,
// Stream Commit or Stream Abort inside a block. Nothing about the bytes can
// make it crash or read out of bounds. It does not compare tuples with
// relation definitions (see RelationCache / CheckTupleShape).
//
// A message that fails to decode leaves the stream state unchanged and calls
// no handler. A handler error is returned unchanged; the stream state then
// already reflects that message. After any error the replication stream is
// unusable: reconnect and start a new decoder.
//
// Messages passed to the handler are valid only during the callback.
// Not thread-safe.
//
//   PgoutputDecoder decoder(/*protocol_version=*/2);
//   for (each XLogData x) RETURN_IF_ERROR(decoder.Decode(x.payload, &sink));
class PgoutputDecoder {
 public:
  // protocol_version is what START_REPLICATION asked for (proto_version).
  // Versions other than 1 and 2 make every Decode() fail with
  // InvalidArgument.
  explicit PgoutputDecoder(int protocol_version);

  absl::Status Decode(absl::string_view message, Handler* handler);

  // Between a Stream Start and its Stream Stop.
  bool in_stream() const { return in_stream_; }
  // The xid of the open stream block; 0 outside one.
  uint32_t stream_xid() const { return stream_xid_; }
  int protocol_version() const { return protocol_version_; }

 private:
  int protocol_version_;
  bool in_stream_ = false;
  uint32_t stream_xid_ = 0;
  // Row changes are decoded into these and handed to the handler by
  // reference; reusing them keeps the hot path free of allocations.
  Insert insert_;
  Update update_;
  Delete delete_;
  Tuple old_tuple_spare_;  // storage of update_.old_tuple between messages
};

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_DECODER_H_
