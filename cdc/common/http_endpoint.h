// The operations HTTP endpoint of enrich-cdc / enrich-processor:
//
//   GET /metrics   200, the registry in Prometheus text format 0.0.4
//   GET /healthz   200 "ok" while the liveness check passes, else 503 + reason
//   GET /readyz    200 "ready" while the readiness check passes, else 503 +
//                  reason
//
//   MetricsRegistry registry;
//   HealthState health(/*max_loop_silence=*/absl::Seconds(30));
//   HttpEndpoint endpoint(&registry, health.LivenessCheck(),
//                         health.ReadinessCheck());
//   RETURN_IF_ERROR(endpoint.Start("0.0.0.0", 0));
//   logger.Info("metrics listening", {{"port",
//   absl::StrCat(endpoint.port())}});
//   ...  // main loop: health.MarkLoopAlive(); health.SetReady(); ...
//   endpoint.Stop();
//
// cpp-httplib stays inside http_endpoint.cc; this header does not include it.
#ifndef ENRICH_CDC_COMMON_HTTP_ENDPOINT_H_
#define ENRICH_CDC_COMMON_HTTP_ENDPOINT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdc/common/metrics.h"

namespace enrich {

// OK when healthy/ready; otherwise the status message is the reason served
// with the 503 (keep it free of secrets).
using HealthCheck = std::function<absl::Status()>;

// Liveness and readiness signals written by the process loop and read by the
// endpoint. Thread-safe.
//
// Liveness: the loop calls MarkLoopAlive() on every iteration; the process is
// live while the last call (or construction, so start-up gets the same grace)
// is at most `max_loop_silence` old; after MarkLoopStopped() it is not.
// Readiness: not ready ("starting") until SetReady().
class HealthState {
 public:
  explicit HealthState(absl::Duration max_loop_silence,
                       std::function<absl::Time()> clock = absl::Now);
  HealthState(const HealthState&) = delete;
  HealthState& operator=(const HealthState&) = delete;

  void MarkLoopAlive();
  void MarkLoopStopped(std::string reason);
  void SetReady();
  void SetNotReady(std::string reason);

  absl::Status Liveness() const;
  absl::Status Readiness() const;

  // Callbacks for HttpEndpoint; they refer to *this, which must outlive them.
  HealthCheck LivenessCheck() const;
  HealthCheck ReadinessCheck() const;

 private:
  const absl::Duration max_loop_silence_;
  const std::function<absl::Time()> clock_;
  mutable absl::Mutex mu_;
  absl::Time last_beat_ ABSL_GUARDED_BY(mu_);
  std::string stopped_reason_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  std::string not_ready_reason_ ABSL_GUARDED_BY(mu_) = "starting";
};

// An HTTP server on its own thread. Start() once, Stop() once (the destructor
// stops it too). `registry` and the checks must outlive the endpoint; the
// checks are called from server threads, so they must be thread-safe.
// Start/Stop/port are not meant to race with each other (call them from the
// owning thread).
class HttpEndpoint {
 public:
  HttpEndpoint(const MetricsRegistry* registry, HealthCheck liveness,
               HealthCheck readiness);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Binds host:port (port 0 picks a free port) and starts serving. Returns
  // once the server accepts connections. Unavailable when the address cannot
  // be bound (in use, bad host), FailedPrecondition when already started.
  absl::Status Start(const std::string& host, int port);

  // The bound port (useful after Start with port 0); 0 before Start.
  int port() const { return port_; }

  // Stops accepting, waits for the server thread. Idempotent.
  void Stop();

 private:
  struct Server;  // wraps httplib::Server
  const MetricsRegistry* registry_;
  HealthCheck liveness_;
  HealthCheck readiness_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
};

// Splits "host:port" (also "[::1]:port" and ":port", which means 0.0.0.0)
// for a --metrics-addr flag. InvalidArgument naming the text on error.
absl::Status ParseHostPort(absl::string_view address, std::string* host,
                           int* port);

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_HTTP_ENDPOINT_H_
