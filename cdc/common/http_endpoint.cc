#include "cdc/common/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace enrich {

HealthState::HealthState(absl::Duration max_loop_silence,
                         std::function<absl::Time()> clock)
    : max_loop_silence_(max_loop_silence), clock_(std::move(clock)) {
  last_beat_ = clock_();
}

void HealthState::MarkLoopAlive() {
  absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  last_beat_ = now;
}

void HealthState::MarkLoopStopped(std::string reason) {
  absl::MutexLock lock(&mu_);
  stopped_reason_ = reason.empty() ? "loop stopped" : std::move(reason);
}

void HealthState::SetReady() {
  absl::MutexLock lock(&mu_);
  ready_ = true;
  not_ready_reason_.clear();
}

void HealthState::SetNotReady(std::string reason) {
  absl::MutexLock lock(&mu_);
  ready_ = false;
  not_ready_reason_ = reason.empty() ? "not ready" : std::move(reason);
}

absl::Status HealthState::Liveness() const {
  absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  if (!stopped_reason_.empty()) return absl::UnavailableError(stopped_reason_);
  absl::Duration silence = now - last_beat_;
  if (silence > max_loop_silence_) {
    return absl::UnavailableError(
        absl::StrCat("process loop silent for ", absl::FormatDuration(silence),
                     " (limit ", absl::FormatDuration(max_loop_silence_), ")"));
  }
  return absl::OkStatus();
}

absl::Status HealthState::Readiness() const {
  absl::MutexLock lock(&mu_);
  if (ready_) return absl::OkStatus();
  return absl::UnavailableError(not_ready_reason_);
}

HealthCheck HealthState::LivenessCheck() const {
  return [this] { return Liveness(); };
}

HealthCheck HealthState::ReadinessCheck() const {
  return [this] { return Readiness(); };
}

struct HttpEndpoint::Server {
  httplib::Server http;
};

namespace {

void ServeCheck(const HealthCheck& check, absl::string_view ok_body,
                httplib::Response& response) {
  absl::Status status = check ? check() : absl::OkStatus();
  if (status.ok()) {
    response.status = 200;
    response.set_content(std::string(ok_body) + "\n", "text/plain");
  } else {
    response.status = 503;
    response.set_content(std::string(status.message()) + "\n", "text/plain");
  }
}

}  // namespace

HttpEndpoint::HttpEndpoint(const MetricsRegistry* registry,
                           HealthCheck liveness, HealthCheck readiness)
    : registry_(registry),
      liveness_(std::move(liveness)),
      readiness_(std::move(readiness)) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

absl::Status HttpEndpoint::Start(const std::string& host, int port) {
  if (server_ != nullptr) {
    return absl::FailedPreconditionError("HTTP endpoint already started");
  }
  auto server = std::make_unique<Server>();
  httplib::Server& http = server->http;
  // Scrapes and probes are small and rare: two workers are plenty, and short
  // keep-alive/read timeouts keep Stop() prompt.
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  http.set_keep_alive_timeout(1);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // process silently share (and split) our port; SO_REUSEADDR alone keeps
  // fast restarts working while a busy port is an error.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  const MetricsRegistry* registry = registry_;
  http.Get("/metrics", [registry](const httplib::Request&,
                                  httplib::Response& response) {
    response.set_content(registry->Render(),
                         std::string(MetricsRegistry::kContentType).c_str());
  });
  HealthCheck liveness = liveness_;
  http.Get("/healthz",
           [liveness](const httplib::Request&, httplib::Response& response) {
             ServeCheck(liveness, "ok", response);
           });
  HealthCheck readiness = readiness_;
  http.Get("/readyz",
           [readiness](const httplib::Request&, httplib::Response& response) {
             ServeCheck(readiness, "ready", response);
           });

  int bound = port;
  if (port == 0) {
    bound = http.bind_to_any_port(host);
    if (bound < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind HTTP endpoint on ", host, ":0"));
    }
  } else if (!http.bind_to_port(host, port)) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind HTTP endpoint on ", host, ":", port,
                     " (address in use, or not a local address?)"));
  }

  server_ = std::move(server);
  port_ = bound;
  listen_returned_ = false;
  thread_ = std::thread([this] {
    server_->http.listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() is a no-op until the accept loop has started, so wait
  // for it here; afterwards Stop() always takes effect.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->http.is_running() && !listen_returned_) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->http.is_running()) {
    Stop();
    return absl::UnavailableError(
        absl::StrCat("HTTP endpoint on ", host, ":", bound, " did not start"));
  }
  return absl::OkStatus();
}

void HttpEndpoint::Stop() {
  if (server_ == nullptr) return;
  // httplib's stop() is a no-op before the accept loop runs, and must be
  // called only once while it runs: wait until it runs (or has failed).
  while (!server_->http.is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!listen_returned_) server_->http.stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

absl::Status ParseHostPort(absl::string_view address, std::string* host,
                           int* port) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid address \"", address,
                     "\": want host:port, e.g. 0.0.0.0:9187"));
  };
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return invalid();
  absl::string_view host_part = address.substr(0, colon);
  absl::string_view port_part = address.substr(colon + 1);
  if (host_part.size() >= 2 && host_part.front() == '[' &&
      host_part.back() == ']') {
    host_part = host_part.substr(1, host_part.size() - 2);
  } else if (host_part.find(':') != absl::string_view::npos) {
    return invalid();  // a bare IPv6 address needs brackets
  }
  int value = 0;
  if (!absl::SimpleAtoi(port_part, &value) || value < 0 || value > 65535) {
    return invalid();
  }
  *host = host_part.empty() ? "0.0.0.0" : std::string(host_part);
  *port = value;
  return absl::OkStatus();
}

}  // namespace enrich
