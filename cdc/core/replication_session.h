// ReplicationSession is enrich-cdc's streaming loop: it reads the walsender's
// messages, decodes them into the ReplicationPublisher, serves the sink's
// delivery reports, and tells the server how far the slot may be confirmed,
// never past a transaction Kafka has not acknowledged in full (the
// AckTracker decides). Pure: the server sits behind pgoutput::WalsenderStream,
// the clock and the SQL side (heartbeat, retained WAL) are injected.
//
//   ReplicationSession session(stream, &publisher, &acks, sink, &deliveries,
//                              start_lsn, &log, &metrics, errors, options);
//   absl::Status s = session.Run(stop);
//
// The loop, until `stop` is set or an error ends it:
//  * Read with a 5 ms timeout while records are in flight (their reports are
//    served promptly), 100 ms when idle.
//  * XLogData is decoded into the publisher; a keepalive advances the
//    received position, and the confirmable LSN to its WAL end when no
//    transaction is open and nothing is in flight
//    (AckTracker::AdvanceWhenIdle); a keepalive with reply_requested is
//    answered with a status update at once.
//  * Housekeeping after every read that found nothing and after every
//    kHousekeepingEvery messages: mark the loop alive, poll the sink, stop on
//    a delivery error or a terminal sink, advance past a heartbeat message
//    when idle, send a status update, emit a heartbeat, refresh the gauges.
//  * A status update carries write = max(received, confirmable) and flush =
//    confirmable. It is sent when forced (reply requested, exit), when the
//    confirmable LSN moved since the last one, or when status_interval has
//    passed since the last one; otherwise not.
//  * A heartbeat is emitted when more than heartbeat_interval has passed
//    since the last one (or since Run started); never when the interval is
//    zero or negative.
// Publishing a large transaction calls back every
// ReplicationPublisher::kProgressInterval records; the session then serves
// deliveries and sends a (non-forced) status update too, so the server does
// not cut the connection for wal_sender_timeout.
//
// On the way out, whatever ended the loop: flush the sink (30 s), send a
// forced status update with the confirmable LSN, and Finish the stream
// (10 s), logging "confirmed" or why the confirmation may be lost.
//
// Run's result decides what the caller does, by code:
//  * OK: stopped on request, everything flushed and confirmed.
//  * Unavailable: the connection to the server was lost (a failed read or
//    status update, a heartbeat that found the normal connection gone), or
//    the sink reported a retriable failure: reconnect and resume from the
//    confirmed LSN (at-least-once).
//  * Anything else (a malformed stream, a producer error, a bug): stop.
// An error that ended the loop is counted in `errors` and logged
// ("replication stream interrupted; reconnecting" when Unavailable,
// "stopping" otherwise). After a clean stop, a failed flush or delivery is
// returned as is.
//
// Not thread-safe: Run() on one thread; `stop` may be set from any thread.
// All pointers must outlive the session, which hooks the publisher's
// progress callback and the tracker's confirm callback until destroyed.
#ifndef ENRICH_CDC_CORE_REPLICATION_SESSION_H_
#define ENRICH_CDC_CORE_REPLICATION_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/core/delivery_reports.h"
#include "cdc/core/replication_publisher.h"
#include "cdc/kafka/event_sink.h"
#include "cdc/pgoutput/decoder.h"
#include "cdc/pgoutput/walsender_stream.h"

namespace enrich::cdc {

struct ReplicationSessionOptions {
  // pgoutput protocol the stream was started with (2: streamed transactions).
  int protocol_version = 1;
  // The slot's position when the stream started.
  uint64_t start_lsn = 0;
  absl::Duration status_interval = absl::Seconds(1);
  // Zero or negative: no heartbeats.
  absl::Duration heartbeat_interval = absl::Seconds(10);
  // Paces status updates, heartbeats and gauges; dates acknowledgements and
  // the sink's flush deadline.
  std::function<absl::Time()> clock = absl::Now;
  // Writes a heartbeat message into the WAL (a non-transactional logical
  // message with kHeartbeatPrefix), so an idle slot can be confirmed past
  // other tables' WAL. Unavailable ends the session (reconnect); other
  // errors are logged and streaming goes on. Empty: no heartbeats.
  std::function<absl::Status()> emit_heartbeat;
  // WAL the server retains for the slot, in bytes; nullopt when unknown.
  // Read every 5 s for a gauge. Empty: the gauge is not set.
  std::function<std::optional<double>()> retained_wal_bytes;
  // Called at every housekeeping (liveness). Empty: nothing.
  std::function<void()> mark_alive;
};

class ReplicationSession {
 public:
  // While data streams in, housekeeping runs this often (in messages).
  static constexpr int kHousekeepingEvery = 64;

  // Registers the commit-to-ack histogram and the streaming gauges in
  // `metrics`. `errors` counts errors that end a session.
  ReplicationSession(pgoutput::WalsenderStream* stream,
                     ReplicationPublisher* publisher, AckTracker* acks,
                     kafka::EventSink* sink, const DeliveryReports* deliveries,
                     Logger* log, MetricsRegistry* metrics, Counter* errors,
                     ReplicationSessionOptions options);
  ~ReplicationSession();
  ReplicationSession(const ReplicationSession&) = delete;
  ReplicationSession& operator=(const ReplicationSession&) = delete;

  // Streams until `stop` is set or an error; see the header comment.
  absl::Status Run(const std::atomic<bool>& stop);

  // The flush LSN of the last status update sent (0 before the first).
  uint64_t reported_lsn() const { return reported_lsn_; }

 private:
  absl::Status Stream(const std::atomic<bool>& stop);
  absl::Status HandleMessage(absl::string_view message);
  absl::Status Housekeep();
  absl::Status MaybeEmitHeartbeat(absl::Time now);
  void UpdateGauges(absl::Time now);
  // Sends a status update when forced or due (see the header comment).
  absl::Status SendStatus(bool force);
  // Flushes the sink and sends the last status update; returns the flush.
  absl::Status ConfirmOnExit();

  pgoutput::WalsenderStream* stream_;
  ReplicationPublisher* publisher_;
  AckTracker* acks_;
  kafka::EventSink* sink_;
  const DeliveryReports* deliveries_;
  Logger* log_;
  Counter* errors_;
  ReplicationSessionOptions options_;
  pgoutput::PgoutputDecoder decoder_;

  Histogram* commit_to_ack_;
  Gauge* confirmed_lsn_;
  Gauge* in_flight_;
  Gauge* retained_wal_;
  Gauge* confirmed_commit_age_;

  uint64_t received_lsn_;
  uint64_t reported_lsn_ = 0;
  uint64_t heartbeat_seen_ = 0;
  int64_t confirmed_commit_time_us_ = 0;
  absl::Time last_status_ = absl::InfinitePast();
  absl::Time last_heartbeat_ = absl::InfinitePast();
  absl::Time last_gauges_ = absl::InfinitePast();
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_REPLICATION_SESSION_H_
