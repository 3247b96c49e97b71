// CdcRunner is enrich-cdc's process loop: it prepares the source (checks,
// publication, slot), runs the initial snapshot when due, then streams the
// slot into the sink, confirming the slot only to what the AckTracker allows.
//
// Failure handling:
//  * The slot is active elsewhere: wait as a standby, retrying every
//    standby_retry_ms, and take over when it is released.
//  * The replication connection breaks: flush what is in flight, reconnect,
//    resume from the confirmed LSN (at-least-once: a transaction may be
//    published again with the same commit LSN and indexes).
//  * A producer error or a malformed stream: stop without confirming
//    anything not delivered; Run returns the error.
// Stop() (from a signal handler's thread) makes Run flush, confirm what is
// delivered and return OK.
#ifndef ENRICH_CDC_CDC_RUNNER_H_
#define ENRICH_CDC_CDC_RUNNER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdc/cdc_config.h"
#include "cdc/common/http_endpoint.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/event_sink.h"

namespace enrich::cdc {

class CdcRunner {
 public:
  // Creates `topic` when missing; returns its partition count.
  using TopicEnsurer =
      std::function<absl::StatusOr<int32_t>(const std::string& topic)>;
  // All pointers must outlive the runner.
  CdcRunner(const CdcConfig& config, kafka::EventSink* sink,
            TopicEnsurer ensure_topic, Logger* log, MetricsRegistry* metrics,
            HealthState* health);
  absl::Status Run();
  void Stop() { stop_.store(true); }

 private:
  struct Session;
  absl::Status RunOnce(bool* retry);

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
