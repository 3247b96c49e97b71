#include "cdc/cdc_runner.h"

#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
#include "cdc/postgres/snapshot_reader.h"
#include "cdc/postgres/source_setup.h"

namespace enrich::cdc {
namespace {

using pg::PgConnection;

// Records which slot finished its initial snapshot, so a snapshot cut short
// by a crash is redone instead of silently skipped.
constexpr char kSnapshotTableDdl[] =
    "CREATE TABLE IF NOT EXISTS enrich_cdc_snapshots ("
    " slot_name text PRIMARY KEY, consistent_lsn pg_lsn NOT NULL,"
    " completed_at timestamptz NOT NULL DEFAULT now())";

// START_REPLICATION on a slot another process streams from fails with
// SQLSTATE 55006 (object_in_use), which CodeForSqlState classifies with its
// class 55 as FailedPrecondition. Here it means "wait as a standby", so it
// becomes Unavailable; every other status is returned as it is.
//
// The status carries no SQLSTATE field yet, only its text:
// ReplicationStream::Start appends " [55006]" to the server's "replication
// slot ... is active for PID ..." message, so this one function still reads
// the text. Once pg_connection's classification returns 55006 as
// Unavailable itself, this function can go.
absl::Status SlotInUseIsUnavailable(absl::Status status) {
  if (status.ok() || absl::IsUnavailable(status)) return status;
  if (absl::StrContains(status.message(), "is active for PID") ||
      absl::StrContains(status.message(), "[55006]")) {
    return absl::UnavailableError(status.message());
  }
  return status;
}

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
    // process, the replication connection lost) is worth waiting out; any
    // other error needs an operator.
    if (!absl::IsUnavailable(status)) return status;
    health_->MarkLoopAlive();
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
  }
  return absl::OkStatus();
}

absl::Status CdcRunner::RunOnce() {
  auto conn_or =
      PgConnection::Connect(config_.pg_dsn, PgConnection::Mode::kNormal);
  if (!conn_or.ok()) {
    log_->Warn("source database unavailable",
               {{"error", std::string(conn_or.status().message())}});
    return conn_or.status();
  }
  std::unique_ptr<PgConnection> conn = *std::move(conn_or);
  ASSIGN_OR_RETURN(pg::SourceInfo source,
                   pg::InspectSource(*conn, config_.tables));
  for (const pg::PublishedTable& t : source.tables) {
    if (!t.replica_identity_full) {
      log_->Warn(
          "table is not REPLICA IDENTITY FULL: updates carry unchanged TOAST "
          "columns as 'unchanged' and deletes carry only the key, so "
          "consumers cannot see old values (ALTER TABLE ... REPLICA IDENTITY "
          "FULL)",
          {{"table", absl::StrCat(t.schema, ".", t.table)}});
    }
  }
  // One active process per slot: the holder of this session lock snapshots
  // and streams; others wait as standbys. It goes away with the connection,
  // so a killed process releases it at once. (The slot's own "active" flag
  // is not enough: it is false while the active process snapshots.)
  ASSIGN_OR_RETURN(
      std::vector<pg::Row> locked,
      conn->QueryParams("SELECT pg_try_advisory_lock(hashtext($1))",
                        {absl::StrCat("enrich_cdc:", config_.slot)}));
  if (locked.empty() || locked[0][0].value_or("") != "t") {
    log_->Info("standby: another enrich-cdc holds the slot; waiting",
               {{"slot", config_.slot}});
    return absl::UnavailableError("slot held by another process");
  }
  RETURN_IF_ERROR(
      pg::EnsurePublication(*conn, config_.publication, source.tables));
  RETURN_IF_ERROR(conn->Exec(kSnapshotTableDdl));

  std::vector<std::string> topics;
  absl::flat_hash_map<std::string, TableRouting> routing;
  const auto default_routing = DefaultRoutingColumns();
  for (const pg::PublishedTable& t : source.tables) {
    topics.push_back(
        absl::StrCat(config_.topic_prefix, ".", t.schema, ".", t.table));
    TableRouting r;
    r.primary_key = t.primary_key;
    r.column_count = t.relation.columns.size();
    for (const std::string& key : t.primary_key) {
      for (size_t i = 0; i < t.relation.columns.size(); ++i) {
        if (t.relation.columns[i].name != key) continue;
        r.key_positions.push_back(i);
        r.key_types.push_back(t.relation.columns[i].type_oid);
      }
    }
    auto it = default_routing.find(absl::StrCat(t.schema, ".", t.table));
    if (it != default_routing.end()) r.routing_column = it->second;
    routing[absl::StrCat(t.schema, ".", t.table)] = std::move(r);
  }
  PartitionedSink partitioned(sink_);
  for (const std::string& topic : topics) {
    ASSIGN_OR_RETURN(int32_t partitions, ensure_topic_(topic));
    partitioned.SetPartitionCount(topic, partitions);
  }
  EventBuilder builder(config_.topic_prefix, std::move(routing));

  ASSIGN_OR_RETURN(pg::SlotState slot, pg::ReadSlot(*conn, config_.slot));
  ASSIGN_OR_RETURN(
      std::vector<pg::Row> done,
      conn->QueryParams(
          "SELECT 1 FROM enrich_cdc_snapshots WHERE slot_name = $1",
          {config_.slot}));
  const bool snapshot_done = !done.empty();
  bool take_snapshot = false;
  if (config_.snapshot == "always") {
    take_snapshot = true;
  } else if (config_.snapshot == "initial") {
    take_snapshot = !slot.exists || !snapshot_done;
  }
  if (slot.exists && slot.active) {
    log_->Info("standby: the slot is in use by another process; waiting",
               {{"slot", config_.slot}});
    return absl::UnavailableError("slot active elsewhere");
  }
  if (take_snapshot && slot.exists) {
    log_->Info(snapshot_done ? "snapshot=always: recreating the slot"
                             : "earlier snapshot did not complete; redoing it",
               {{"slot", config_.slot}});
    RETURN_IF_ERROR(
        conn->QueryParams("SELECT pg_drop_replication_slot($1)", {config_.slot})
            .status());
    slot.exists = false;
  }

  ASSIGN_OR_RETURN(
      std::unique_ptr<PgConnection> replication,
      PgConnection::Connect(config_.pg_dsn, PgConnection::Mode::kReplication));
  AckTracker acks(slot.confirmed_flush_lsn);
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

  uint64_t start_lsn = slot.confirmed_flush_lsn;
  if (!slot.exists) {
    ASSIGN_OR_RETURN(pg::CreatedSlot created,
                     pg::CreateSlot(*replication, config_.slot, take_snapshot));
    log_->Info(
        "replication slot created",
        {{"slot", config_.slot},
         {"consistent_lsn", pgoutput::FormatLsn(created.consistent_lsn)}});
    start_lsn = created.consistent_lsn;
    acks = AckTracker(start_lsn);
    if (take_snapshot) {
      RETURN_IF_ERROR(
          conn->QueryParams("DELETE FROM enrich_cdc_snapshots WHERE "
                            "slot_name = $1",
                            {config_.slot})
              .status());
      pg::SnapshotReader reader(conn.get(), log_);
      uint64_t index = 0;
      // One row is held back so the snapshot's last event can say so.
      const pg::PublishedTable* held_table = nullptr;
      pgoutput::Tuple held_row;
      auto publish_held = [&](bool last) -> absl::Status {
        if (held_table == nullptr) return absl::OkStatus();
        return publisher->PublishSnapshotRow(held_table->relation, held_row,
                                             created.consistent_lsn, index++,
                                             last);
      };
      ASSIGN_OR_RETURN(
          pg::SnapshotProgress progress,
          reader.Read(source.tables, created.snapshot_name,
                      [&](const pg::PublishedTable& t,
                          pgoutput::Tuple& row) -> absl::Status {
                        if (stop_.load()) {
                          return absl::CancelledError("stopped in snapshot");
                        }
                        health_->MarkLoopAlive();
                        sink_->Poll(absl::ZeroDuration());
                        RETURN_IF_ERROR(publish_held(/*last=*/false));
                        held_table = &t;
                        held_row = std::move(row);
                        return absl::OkStatus();
                      }));
      RETURN_IF_ERROR(publish_held(/*last=*/true));
      acks.SealTransaction(created.consistent_lsn);
      RETURN_IF_ERROR(sink_->Flush(absl::Now() + absl::Minutes(5)));
      sink_->Poll(absl::ZeroDuration());
      RETURN_IF_ERROR(deliveries.first_error());
      if (acks.in_flight() != 0) {
        return absl::UnavailableError("snapshot records not all delivered");
      }
      RETURN_IF_ERROR(
          conn->QueryParams(
                  "INSERT INTO enrich_cdc_snapshots (slot_name, "
                  "consistent_lsn) VALUES ($1, $2::pg_lsn)",
                  {config_.slot, pgoutput::FormatLsn(created.consistent_lsn)})
              .status());
      log_->Info("snapshot published",
                 {{"rows", absl::StrCat(progress.rows)},
                  {"tables", absl::StrCat(progress.tables_done)}});
    }
  }

  pg::StreamOptions stream_options;
  stream_options.slot = config_.slot;
  stream_options.publication = config_.publication;
  stream_options.start_lsn = start_lsn;
  const bool streaming =
      config_.streaming && source.server_version_num >= 140000;
  stream_options.protocol_version = streaming ? 2 : 1;
  stream_options.streaming = streaming;
  stream_options.messages = source.server_version_num >= 140000;
  auto stream_or =
      pg::ReplicationStream::Start(std::move(replication), stream_options);
  if (!stream_or.ok()) {
    absl::Status status = SlotInUseIsUnavailable(stream_or.status());
    if (absl::IsUnavailable(status)) {
      log_->Info("standby: the slot is in use by another process; waiting",
                 {{"slot", config_.slot}});
    }
    return status;
  }
  std::unique_ptr<pg::ReplicationStream> stream = *std::move(stream_or);
  log_->Info("streaming",
             {{"slot", config_.slot},
              {"from", pgoutput::FormatLsn(start_lsn)},
              {"protocol", absl::StrCat(stream_options.protocol_version)}});
  health_->SetReady();

  ReplicationSessionOptions session_options;
  session_options.protocol_version = stream_options.protocol_version;
  session_options.start_lsn = start_lsn;
  session_options.status_interval =
      absl::Milliseconds(config_.status_interval_ms);
  session_options.heartbeat_interval =
      absl::Milliseconds(config_.heartbeat_interval_ms);
  // A non-transactional message moves through the slot even when the
  // published tables are idle, so the slot can be confirmed past other
  // tables' WAL.
  session_options.emit_heartbeat = [&conn]() {
    return conn
        ->QueryParams("SELECT pg_logical_emit_message(false, $1, '')",
                      {kHeartbeatPrefix})
        .status();
  };
  session_options.retained_wal_bytes = [this,
                                        &conn]() -> std::optional<double> {
    return RetainedWalBytes(*conn, config_.slot);
  };
  session_options.mark_alive = [this] { health_->MarkLoopAlive(); };
  ReplicationSession session(stream.get(), publisher.get(), &acks, sink_,
                             &deliveries, log_, metrics_, errors,
                             std::move(session_options));
  return session.Run(stop_);
}

}  // namespace enrich::cdc
