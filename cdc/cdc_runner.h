// CdcRunner is enrich-cdc's process loop: it prepares the source (checks,
// publication, slot), runs the initial snapshot when due, then streams the
// slot into the sink (ReplicationSession, cdc/core/replication_session.h),
// confirming the slot only to what the AckTracker allows.
//
// Failure handling is decided by the status code of the failed attempt
// (RunOnce), never by its text:
//  * Unavailable: wait standby_retry_ms and start again from the top. This
//    covers a source database that is down or unreachable, the slot held by
//    another enrich-cdc (its advisory lock taken, the slot active, or
//    START_REPLICATION answering "slot is active": wait as a standby and take
//    over when it is released), and a replication connection that broke
//    (what is in flight is flushed and confirmed first; streaming resumes
//    from the confirmed LSN, at-least-once: a transaction may be published
//    again with the same commit LSN and indexes).
//  * Aborted (a statement cancelled or timed out on the source): the same.
//  Meanwhile /readyz answers 503 with the error, until streaming resumes.
//  * Any other code (a producer error, a malformed stream, a missing
//    privilege or setting): Run returns it, without confirming anything not
//    delivered.
// Stop() (from a signal handler's thread) makes Run flush, confirm what is
// delivered and return OK (during the initial snapshot: Cancelled, and the
// snapshot is redone at the next start).
#ifndef ENRICH_CDC_CDC_RUNNER_H_
#define ENRICH_CDC_CDC_RUNNER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdc/cdc_config.h"
#include "cdc/common/http_endpoint.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/core/replication_session.h"
#include "cdc/kafka/event_sink.h"
#include "cdc/postgres/pg_connection.h"
#include "cdc/postgres/replication_stream.h"
#include "cdc/postgres/source_setup.h"
#include "cdc/source_preparation.h"

namespace enrich::cdc {

class CdcRunner {
 public:
  // Creates `topic` when missing; returns its partition count.
  using TopicEnsurer = cdc::TopicEnsurer;
  // All pointers must outlive the runner.
  CdcRunner(const CdcConfig& config, kafka::EventSink* sink,
            TopicEnsurer ensure_topic, Logger* log, MetricsRegistry* metrics,
            HealthState* health);
  absl::Status Run();
  void Stop() { stop_.store(true); }

 private:
  // One attempt: prepare the source, snapshot when due, stream. Returns OK
  // after Stop(); Unavailable when Run should wait standby_retry_ms and try
  // again; any other error ends Run.
  absl::Status RunOnce();
  // START_REPLICATION; "slot in use" comes back Unavailable (a standby).
  // Logs "streaming" and marks the process ready on success.
  absl::StatusOr<std::unique_ptr<pg::ReplicationStream>> StartStream(
      std::unique_ptr<pg::PgConnection> replication,
      const pg::StreamOptions& stream_options);
  // The session's settings and its hooks on the normal connection `conn`
  // (heartbeat, with a check that `tables` are still published; retained
  // WAL); `conn` and `tables` must outlive the session.
  ReplicationSessionOptions SessionOptions(
      pg::PgConnection& conn, uint64_t start_lsn, int protocol_version,
      const std::vector<pg::PublishedTable>& tables);

  const CdcConfig& config_;
  kafka::EventSink* sink_;
  TopicEnsurer ensure_topic_;
  Logger* log_;
  MetricsRegistry* metrics_;
  HealthState* health_;
  std::atomic<bool> stop_{false};
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CDC_RUNNER_H_
