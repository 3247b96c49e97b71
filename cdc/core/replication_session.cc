#include "cdc/core/replication_session.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include "cdc/common/status_macros.h"
#include "cdc/pgoutput/lsn.h"
#include "cdc/pgoutput/walsender_protocol.h"

namespace enrich::cdc {
namespace {

// Whatever the stream says, a failed read or status update is a lost
// connection: the caller reconnects and resumes from the confirmed LSN.
absl::Status LostConnection(absl::Status status) {
  if (status.ok() || absl::IsUnavailable(status)) return status;
  return absl::UnavailableError(status.message());
}

}  // namespace

ReplicationSession::ReplicationSession(pgoutput::WalsenderStream* stream,
                                       ReplicationPublisher* publisher,
                                       AckTracker* acks, kafka::EventSink* sink,
                                       const DeliveryReports* deliveries,
                                       Logger* log, MetricsRegistry* metrics,
                                       Counter* errors,
                                       ReplicationSessionOptions options)
    : stream_(stream),
      publisher_(publisher),
      acks_(acks),
      sink_(sink),
      deliveries_(deliveries),
      log_(log),
      errors_(errors),
      options_(std::move(options)),
      decoder_(options_.protocol_version),
      received_lsn_(options_.start_lsn) {
  commit_to_ack_ = metrics->AddHistogram(
      "enrich_cdc_commit_to_ack_seconds",
      "From a transaction's commit on the source to Kafka acknowledging all "
      "of its events.",
      LatencyBucketsSeconds());
  confirmed_lsn_ = metrics->AddGauge("enrich_cdc_confirmed_lsn",
                                     "LSN the slot is confirmed to.");
  in_flight_ = metrics->AddGauge("enrich_cdc_in_flight_records",
                                 "Records produced, not yet acknowledged.");
  retained_wal_ = metrics->AddGauge(
      "enrich_cdc_retained_wal_bytes",
      "WAL the server keeps for the slot (pg_current_wal_lsn - restart_lsn).");
  confirmed_commit_age_ = metrics->AddGauge(
      "enrich_cdc_last_confirmed_commit_age_seconds",
      "Age of the newest source commit the slot is confirmed past (grows "
      "while the published tables are idle).");

  acks_->SetConfirmCallback([this](uint64_t, int64_t commit_time_us) {
    if (commit_time_us <= 0) return;
    confirmed_commit_time_us_ = commit_time_us;
    commit_to_ack_->Observe(
        (absl::ToUnixMicros(options_.clock()) - commit_time_us) / 1e6);
  });
  // Publishing a large transaction takes a while: keep serving deliveries
  // and tell the server we are alive, or wal_sender_timeout would cut us off.
  publisher_->SetProgressCallback([this]() -> absl::Status {
    if (options_.mark_alive) options_.mark_alive();
    sink_->Poll(absl::ZeroDuration());
    RETURN_IF_ERROR(deliveries_->first_error());
    return SendStatus(/*force=*/false);
  });
}

ReplicationSession::~ReplicationSession() {
  publisher_->SetProgressCallback(nullptr);
  acks_->SetConfirmCallback(nullptr);
}

absl::Status ReplicationSession::Run(const std::atomic<bool>& stop) {
  last_heartbeat_ = options_.clock();
  absl::Status loop_status = Stream(stop);
  absl::Status flushed = ConfirmOnExit();
  if (!loop_status.ok()) {
    errors_->Increment();
    log_->Error(absl::IsUnavailable(loop_status)
                    ? "replication stream interrupted; reconnecting"
                    : "stopping",
                {{"error", std::string(loop_status.message())}});
    return loop_status;
  }
  if (!flushed.ok()) return flushed;
  return deliveries_->first_error();
}

absl::Status ReplicationSession::Stream(const std::atomic<bool>& stop) {
  int since_housekeeping = 0;
  while (!stop.load()) {
    // With records in flight, a quiet stream is left every few milliseconds
    // so their delivery reports are served and the slot confirmed promptly
    // (one 100 ms wait per confirmation otherwise); idle, it waits longer.
    absl::StatusOr<std::optional<absl::string_view>> message =
        stream_->Read(acks_->in_flight() > 0 ? absl::Milliseconds(5)
                                             : absl::Milliseconds(100));
    if (!message.ok()) return LostConnection(message.status());
    if (message->has_value()) {
      RETURN_IF_ERROR(HandleMessage(**message));
      // While data streams in, the rest (deliveries, status, heartbeat,
      // gauges) runs every kHousekeepingEvery messages, keeping the hot path
      // to a read and a decode; when the stream is idle, after every read.
      if (++since_housekeeping < kHousekeepingEvery) continue;
    }
    since_housekeeping = 0;
    RETURN_IF_ERROR(Housekeep());
  }
  return absl::OkStatus();
}

absl::Status ReplicationSession::HandleMessage(absl::string_view message) {
  ASSIGN_OR_RETURN(auto parsed, pgoutput::ParseCopyData(message));
  if (auto* data = std::get_if<pgoutput::XLogData>(&parsed)) {
    received_lsn_ = std::max(received_lsn_, data->wal_end);
    return decoder_.Decode(data->payload, publisher_);
  }
  const auto& keepalive = std::get<pgoutput::PrimaryKeepalive>(parsed);
  received_lsn_ = std::max(received_lsn_, keepalive.wal_end);
  // Nothing open or in flight: everything before the server's position is
  // published, so the slot may move (pg_recvlogical does the same).
  if (!publisher_->in_transaction()) acks_->AdvanceWhenIdle(keepalive.wal_end);
  if (keepalive.reply_requested) return SendStatus(/*force=*/true);
  return absl::OkStatus();
}

absl::Status ReplicationSession::Housekeep() {
  if (options_.mark_alive) options_.mark_alive();
  sink_->Poll(absl::ZeroDuration());
  in_flight_->Set(static_cast<double>(acks_->in_flight()));
  RETURN_IF_ERROR(deliveries_->first_error());
  RETURN_IF_ERROR(sink_->fatal_error());
  if (publisher_->heartbeat_lsn() > heartbeat_seen_) {
    heartbeat_seen_ = publisher_->heartbeat_lsn();
    if (!publisher_->in_transaction()) acks_->AdvanceWhenIdle(heartbeat_seen_);
  }
  RETURN_IF_ERROR(SendStatus(/*force=*/false));
  const absl::Time now = options_.clock();
  RETURN_IF_ERROR(MaybeEmitHeartbeat(now));
  UpdateGauges(now);
  return absl::OkStatus();
}

absl::Status ReplicationSession::MaybeEmitHeartbeat(absl::Time now) {
  if (!options_.emit_heartbeat ||
      options_.heartbeat_interval <= absl::ZeroDuration() ||
      now - last_heartbeat_ <= options_.heartbeat_interval) {
    return absl::OkStatus();
  }
  last_heartbeat_ = now;
  absl::Status beat = options_.emit_heartbeat();
  // Unavailable: the normal connection is gone; reconnect everything.
  if (absl::IsUnavailable(beat)) return beat;
  if (!beat.ok()) {
    log_->Warn("heartbeat failed", {{"error", std::string(beat.message())}});
  }
  return absl::OkStatus();
}

void ReplicationSession::UpdateGauges(absl::Time now) {
  if (now - last_gauges_ <= absl::Seconds(5)) return;
  last_gauges_ = now;
  if (confirmed_commit_time_us_ > 0) {
    confirmed_commit_age_->Set(
        (absl::ToUnixMicros(now) - confirmed_commit_time_us_) / 1e6);
  }
  if (!options_.retained_wal_bytes) return;
  if (std::optional<double> bytes = options_.retained_wal_bytes()) {
    retained_wal_->Set(*bytes);
  }
}

absl::Status ReplicationSession::SendStatus(bool force) {
  const uint64_t flush = acks_->confirmable_lsn();
  const absl::Time now = options_.clock();
  if (!force && flush == reported_lsn_ &&
      now - last_status_ < options_.status_interval) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(LostConnection(stream_->SendStatus(
      std::max(received_lsn_, flush), flush, /*reply_requested=*/false)));
  reported_lsn_ = flush;
  last_status_ = now;
  confirmed_lsn_->Set(static_cast<double>(flush));
  return absl::OkStatus();
}

absl::Status ReplicationSession::ConfirmOnExit() {
  // Shutdown or failure: deliver what is queued, confirm what is delivered.
  absl::Status flushed = sink_->Flush(options_.clock() + absl::Seconds(30));
  sink_->Poll(absl::ZeroDuration());
  // Confirm what was delivered whatever stopped the loop: the tracker only
  // allows LSNs whose transactions Kafka acknowledged in full.
  absl::Status final_status = SendStatus(/*force=*/true);
  if (final_status.ok()) final_status = stream_->Finish(absl::Seconds(10));
  if (final_status.ok()) {
    log_->Info("confirmed", {{"lsn", pgoutput::FormatLsn(reported_lsn_)}});
  } else {
    log_->Warn(
        "final confirmation not acknowledged; the next start may "
        "publish the last transactions again",
        {{"error", std::string(final_status.message())}});
  }
  return flushed;
}

}  // namespace enrich::cdc
