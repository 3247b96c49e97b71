#include "cdc/cdc_runner.h"

#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/core/delivery_reports.h"
#include "cdc/core/event_builder.h"
#include "cdc/core/partitioned_sink.h"
#include "cdc/core/replication_publisher.h"
#include "cdc/core/replication_session.h"
#include "cdc/postgres/pg_connection.h"
#include "cdc/postgres/replication_stream.h"
#include "cdc/postgres/source_setup.h"
#include "cdc/snapshot_publisher.h"
#include "cdc/source_preparation.h"

namespace enrich::cdc {
namespace {

using pg::PgConnection;

// Both sessions' name in pg_stat_activity.
constexpr char kApplicationName[] = "enrich-cdc";

// WAL the server retains for `slot` (pg_current_wal_lsn - restart_lsn), in
// bytes; nullopt when it cannot be read.
std::optional<double> RetainedWalBytes(PgConnection& conn,
                                       const std::string& slot) {
  auto retained = conn.QueryParams(
      "SELECT pg_current_wal_lsn() - restart_lsn FROM "
      "pg_replication_slots WHERE slot_name = $1",
      {slot});
  if (!retained.ok() || retained->empty() || !(*retained)[0][0]) {
    return std::nullopt;
  }
  double bytes = 0;
  if (!absl::SimpleAtod(*(*retained)[0][0], &bytes)) return std::nullopt;
  return bytes;
}

// Protocol 2 (large transactions streamed before their commit) and logical
// decoding messages (heartbeats) need PostgreSQL 14.
pg::StreamOptions StreamOptionsFor(const CdcConfig& config, uint64_t start_lsn,
                                   int server_version_num) {
  pg::StreamOptions options;
  options.slot = config.slot;
  options.publication = config.publication;
  options.start_lsn = start_lsn;
  const bool streaming = config.streaming && server_version_num >= 140000;
  options.protocol_version = streaming ? 2 : 1;
  options.streaming = streaming;
  options.messages = server_version_num >= 140000;
  return options;
}

}  // namespace

CdcRunner::CdcRunner(const CdcConfig& config, kafka::EventSink* sink,
                     TopicEnsurer ensure_topic, Logger* log,
                     MetricsRegistry* metrics, HealthState* health)
    : config_(config),
      sink_(sink),
      ensure_topic_(std::move(ensure_topic)),
      log_(log),
      metrics_(metrics),
      health_(health) {}

absl::Status CdcRunner::Run() {
  absl::Duration backoff = absl::Milliseconds(config_.standby_retry_ms);
  while (!stop_.load()) {
    absl::Status status = RunOnce();
    if (status.ok()) return status;
    // Unavailable (a server down or unreachable, the slot held by another
    // process, the replication connection lost) is worth waiting out, and
    // Aborted (a statement cancelled or timed out) worth trying again; any
    // other error needs an operator.
    if (!absl::IsUnavailable(status) && !absl::IsAborted(status)) {
      return status;
    }
    // Not streaming until the next attempt gets there: /readyz says why.
    health_->SetNotReady(
        absl::StrCat("not streaming, retrying: ", status.message()));
    health_->MarkLoopAlive();
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
  }
  return absl::OkStatus();
}

absl::Status CdcRunner::RunOnce() {
  auto conn_or = PgConnection::Connect(config_.pg_dsn, kApplicationName);
  if (!conn_or.ok()) {
    // A permanent failure (wrong password, missing database...) is logged
    // once, by the caller that stops.
    if (absl::IsUnavailable(conn_or.status())) {
      log_->Warn("source database unavailable",
                 {{"error", std::string(conn_or.status().message())}});
    }
    return conn_or.status();
  }
  std::unique_ptr<PgConnection> conn = *std::move(conn_or);
  ASSIGN_OR_RETURN(PreparedSource prepared,
                   PrepareSource(*conn, config_, ensure_topic_, log_));
  PartitionedSink partitioned(sink_);
  for (const auto& [topic, partitions] : prepared.topics) {
    partitioned.SetPartitionCount(topic, partitions);
  }
  EventBuilder builder(config_.topic_prefix, std::move(prepared.routing));

  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> replication,
                   PgConnection::Connect(config_.pg_dsn, kApplicationName,
                                         PgConnection::Mode::kReplication));
  AckTracker acks(prepared.slot.confirmed_flush_lsn);
  ReplicationPublisher::Options publisher_options;
  publisher_options.spill_dir = config_.spill_dir;
  publisher_options.transaction_memory_budget =
      static_cast<size_t>(config_.transaction_memory_mb) << 20;
  publisher_options.metrics = metrics_;
  auto publisher = std::make_unique<ReplicationPublisher>(
      &builder, &partitioned, &acks, publisher_options);

  Counter* delivered =
      metrics_->AddCounter("enrich_cdc_records_delivered_total",
                           "Kafka records acknowledged by the broker.");
  Counter* errors = metrics_->AddCounter(
      "enrich_cdc_errors_total", "Errors that stopped or restarted the loop.");
  DeliveryReports deliveries(sink_, &acks, delivered);

  uint64_t start_lsn = prepared.slot.confirmed_flush_lsn;
  if (!prepared.slot.exists) {
    ASSIGN_OR_RETURN(
        pg::CreatedSlot created,
        pg::CreateSlot(*replication, config_.slot, prepared.take_snapshot));
    log_->Info(
        "replication slot created",
        {{"slot", config_.slot},
         {"consistent_lsn", pgoutput::FormatLsn(created.consistent_lsn)}});
    start_lsn = created.consistent_lsn;
    acks = AckTracker(start_lsn);
    if (prepared.take_snapshot) {
      SnapshotPublisher snapshot(conn.get(), publisher.get(), &acks, sink_,
                                 &deliveries, log_,
                                 [this] { health_->MarkLoopAlive(); });
      RETURN_IF_ERROR(snapshot.Publish(
          prepared.source.tables, created, config_.slot,
          config_.snapshot_content == "rows" ? SnapshotContent::kRows
                                             : SnapshotContent::kBoundary,
          stop_));
    }
  }

  const pg::StreamOptions stream_options =
      StreamOptionsFor(config_, start_lsn, prepared.source.server_version_num);
  ASSIGN_OR_RETURN(std::unique_ptr<pg::ReplicationStream> stream,
                   StartStream(std::move(replication), stream_options));
  ReplicationSession session(
      stream.get(), publisher.get(), &acks, sink_, &deliveries, log_, metrics_,
      errors,
      SessionOptions(*conn, start_lsn, stream_options.protocol_version,
                     prepared.source.tables));
  return session.Run(stop_);
}

absl::StatusOr<std::unique_ptr<pg::ReplicationStream>> CdcRunner::StartStream(
    std::unique_ptr<pg::PgConnection> replication,
    const pg::StreamOptions& stream_options) {
  auto stream_or =
      pg::ReplicationStream::Start(std::move(replication), stream_options);
  if (!stream_or.ok()) {
    // 55006 (the slot is active for another PID) is Unavailable
    // (cdc/common/pg_error_class.h): wait as a standby.
    const absl::Status& status = stream_or.status();
    if (absl::IsUnavailable(status)) {
      log_->Info("standby: the slot is in use by another process; waiting",
                 {{"slot", config_.slot}});
    }
    return status;
  }
  log_->Info("streaming",
             {{"slot", config_.slot},
              {"from", pgoutput::FormatLsn(stream_options.start_lsn)},
              {"protocol", absl::StrCat(stream_options.protocol_version)}});
  health_->SetReady();
  return *std::move(stream_or);
}

ReplicationSessionOptions CdcRunner::SessionOptions(
    pg::PgConnection& conn, uint64_t start_lsn, int protocol_version,
    const std::vector<pg::PublishedTable>& tables) {
  ReplicationSessionOptions options;
  options.protocol_version = protocol_version;
  options.start_lsn = start_lsn;
  options.status_interval = absl::Milliseconds(config_.status_interval_ms);
  options.heartbeat_interval =
      absl::Milliseconds(config_.heartbeat_interval_ms);
  // A non-transactional message moves through the slot even when the
  // published tables are idle, so the slot can be confirmed past other
  // tables' WAL.
  //
  // With every heartbeat, the publication is checked: pgoutput silently
  // stops sending the changes of a table dropped from it. Unavailable ends
  // the session; the next attempt (PrepareSource) restores the publication
  // and, since the slot missed those changes, takes a new snapshot.
  options.emit_heartbeat = [this, &conn, &tables]() -> absl::Status {
    RETURN_IF_ERROR(
        conn.QueryParams("SELECT pg_logical_emit_message(false, $1, '')",
                         {kHeartbeatPrefix})
            .status());
    auto missing =
        pg::MissingFromPublication(conn, config_.publication, tables);
    if (!missing.ok() || missing->empty()) return missing.status();
    log_->Warn("tables left the publication; reconnecting to restore it",
               {{"publication", config_.publication},
                {"tables", absl::StrJoin(*missing, ",")}});
    return absl::UnavailableError(absl::StrCat("tables left publication ",
                                               config_.publication, ": ",
                                               absl::StrJoin(*missing, ",")));
  };
  options.retained_wal_bytes = [this, &conn]() -> std::optional<double> {
    return RetainedWalBytes(conn, config_.slot);
  };
  options.mark_alive = [this] { health_->MarkLoopAlive(); };
  return options;
}

}  // namespace enrich::cdc
