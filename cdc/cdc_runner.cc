#include "cdc/cdc_runner.h"

#include <algorithm>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/core/event_builder.h"
#include "cdc/core/partitioned_sink.h"
#include "cdc/core/replication_publisher.h"
#include "cdc/pgoutput/decoder.h"
#include "cdc/pgoutput/walsender_protocol.h"
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

bool SlotBusy(const absl::Status& status) {
  return absl::StrContains(status.message(), "is active for PID") ||
         absl::StrContains(status.message(), "[55006]");
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
    bool retry = false;
    absl::Status status = RunOnce(&retry);
    if (status.ok()) return status;
    // Unavailable (a server down or unreachable) is worth waiting out; any
    // other error needs an operator.
    if (!retry && !absl::IsUnavailable(status)) return status;
    health_->MarkLoopAlive();
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
  }
  return absl::OkStatus();
}

absl::Status CdcRunner::RunOnce(bool* retry) {
  *retry = false;
  auto conn_or =
      PgConnection::Connect(config_.pg_dsn, PgConnection::Mode::kNormal);
  if (!conn_or.ok()) {
    *retry = absl::IsUnavailable(conn_or.status());
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
    *retry = true;
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
    *retry = true;
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

  absl::Status delivery_error;
  Counter* delivered =
      metrics_->AddCounter("enrich_cdc_records_delivered_total",
                           "Kafka records acknowledged by the broker.");
  Counter* errors = metrics_->AddCounter(
      "enrich_cdc_errors_total", "Errors that stopped or restarted the loop.");
  // The callback refers to this frame's tracker: unhook it on every exit.
  absl::Cleanup unhook = [this] { sink_->SetDeliveryCallback(nullptr); };
  sink_->SetDeliveryCallback([&](uint64_t sequence, absl::Status s) {
    if (!s.ok()) {
      if (delivery_error.ok()) delivery_error = s;
      return;
    }
    absl::Status tracked = acks.OnDelivered(sequence);
    if (!tracked.ok() && delivery_error.ok()) delivery_error = tracked;
    delivered->Increment();
  });

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
      RETURN_IF_ERROR(delivery_error);
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

  Histogram* commit_to_ack = metrics_->AddHistogram(
      "enrich_cdc_commit_to_ack_seconds",
      "From a transaction's commit on the source to Kafka acknowledging all "
      "of its events.",
      LatencyBucketsSeconds());
  int64_t confirmed_commit_time_us = 0;
  acks.SetConfirmCallback([&](uint64_t, int64_t commit_time_us) {
    if (commit_time_us <= 0) return;
    confirmed_commit_time_us = commit_time_us;
    commit_to_ack->Observe((absl::ToUnixMicros(absl::Now()) - commit_time_us) /
                           1e6);
  });

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
    if (SlotBusy(stream_or.status())) {
      *retry = true;
      log_->Info("standby: the slot is in use by another process; waiting",
                 {{"slot", config_.slot}});
    }
    return stream_or.status();
  }
  std::unique_ptr<pg::ReplicationStream> stream = *std::move(stream_or);
  log_->Info("streaming",
             {{"slot", config_.slot},
              {"from", pgoutput::FormatLsn(start_lsn)},
              {"protocol", absl::StrCat(stream_options.protocol_version)}});
  health_->SetReady();

  Gauge* confirmed_gauge = metrics_->AddGauge("enrich_cdc_confirmed_lsn",
                                              "LSN the slot is confirmed to.");
  Gauge* in_flight_gauge =
      metrics_->AddGauge("enrich_cdc_in_flight_records",
                         "Records produced, not yet acknowledged.");
  Gauge* retained_gauge = metrics_->AddGauge(
      "enrich_cdc_retained_wal_bytes",
      "WAL the server keeps for the slot (pg_current_wal_lsn - restart_lsn).");
  Gauge* confirmed_age = metrics_->AddGauge(
      "enrich_cdc_last_confirmed_commit_age_seconds",
      "Age of the newest source commit the slot is confirmed past (grows "
      "while the published tables are idle).");

  pgoutput::PgoutputDecoder decoder(stream_options.protocol_version);
  uint64_t received_lsn = start_lsn;
  uint64_t reported_lsn = 0;
  uint64_t heartbeat_seen = 0;
  absl::Time last_status = absl::InfinitePast();
  absl::Time last_heartbeat = absl::Now();
  absl::Time last_gauges = absl::InfinitePast();

  auto send_status = [&](bool force) -> absl::Status {
    const uint64_t flush = acks.confirmable_lsn();
    if (!force && flush == reported_lsn &&
        absl::Now() - last_status <
            absl::Milliseconds(config_.status_interval_ms)) {
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(
        stream->SendStatus(std::max(received_lsn, flush), flush, false));
    reported_lsn = flush;
    last_status = absl::Now();
    confirmed_gauge->Set(static_cast<double>(flush));
    return absl::OkStatus();
  };

  // Publishing a large transaction takes a while: keep serving deliveries
  // and tell the server we are alive, or wal_sender_timeout would cut us off.
  publisher->SetProgressCallback([&]() -> absl::Status {
    health_->MarkLoopAlive();
    sink_->Poll(absl::ZeroDuration());
    RETURN_IF_ERROR(delivery_error);
    return send_status(/*force=*/false);
  });
  absl::Status loop_status;
  constexpr int kHousekeepingEvery = 64;
  int since_housekeeping = 0;
  while (!stop_.load()) {
    // With records in flight, a quiet stream is left every few milliseconds
    // so their delivery reports are served and the slot confirmed promptly
    // (one 100 ms wait per confirmation otherwise); idle, it waits longer.
    auto message = stream->Read(acks.in_flight() > 0 ? absl::Milliseconds(5)
                                                     : absl::Milliseconds(100));
    if (!message.ok()) {
      loop_status = message.status();
      *retry = true;  // reconnect and resume from the confirmed LSN
      break;
    }
    if (message->has_value()) {
      auto parsed = pgoutput::ParseCopyData(**message);
      if (!parsed.ok()) {
        loop_status = parsed.status();
        break;
      }
      if (auto* data = std::get_if<pgoutput::XLogData>(&*parsed)) {
        received_lsn = std::max(received_lsn, data->wal_end);
        absl::Status decoded = decoder.Decode(data->payload, publisher.get());
        if (!decoded.ok()) {
          loop_status = decoded;
          break;
        }
      } else {
        const auto& keepalive = std::get<pgoutput::PrimaryKeepalive>(*parsed);
        received_lsn = std::max(received_lsn, keepalive.wal_end);
        // Nothing open or in flight: everything before the server's position
        // is published, so the slot may move (pg_recvlogical does the same).
        if (!publisher->in_transaction())
          acks.AdvanceWhenIdle(keepalive.wal_end);
        if (keepalive.reply_requested) {
          loop_status = send_status(/*force=*/true);
          if (!loop_status.ok()) break;
        }
      }
      // While data streams in, the rest (deliveries, status, heartbeat,
      // gauges) runs every kHousekeepingEvery messages, keeping the hot path
      // to a read and a decode; when the stream is idle, after every read.
      if (++since_housekeeping < kHousekeepingEvery) continue;
    }
    since_housekeeping = 0;
    health_->MarkLoopAlive();
    sink_->Poll(absl::ZeroDuration());
    in_flight_gauge->Set(static_cast<double>(acks.in_flight()));
    if (!delivery_error.ok()) {
      loop_status = delivery_error;
      break;
    }
    if (!sink_->fatal_error().ok()) {
      loop_status = sink_->fatal_error();
      break;
    }
    if (publisher->heartbeat_lsn() > heartbeat_seen) {
      heartbeat_seen = publisher->heartbeat_lsn();
      if (!publisher->in_transaction()) acks.AdvanceWhenIdle(heartbeat_seen);
    }
    loop_status = send_status(/*force=*/false);
    if (!loop_status.ok()) {
      *retry = true;
      break;
    }
    const absl::Time now = absl::Now();
    if (config_.heartbeat_interval_ms > 0 &&
        now - last_heartbeat >
            absl::Milliseconds(config_.heartbeat_interval_ms)) {
      last_heartbeat = now;
      // A non-transactional message moves through the slot even when the
      // published tables are idle, so the slot can be confirmed past other
      // tables' WAL.
      absl::Status beat = conn->QueryParams(
                                  "SELECT pg_logical_emit_message(false, $1, "
                                  "'')",
                                  {kHeartbeatPrefix})
                              .status();
      if (absl::IsUnavailable(beat)) {
        // The normal connection is gone: reconnect everything.
        loop_status = beat;
        *retry = true;
        break;
      }
      if (!beat.ok()) {
        log_->Warn("heartbeat failed",
                   {{"error", std::string(beat.message())}});
      }
    }
    if (now - last_gauges > absl::Seconds(5)) {
      last_gauges = now;
      if (confirmed_commit_time_us > 0) {
        confirmed_age->Set(
            (absl::ToUnixMicros(now) - confirmed_commit_time_us) / 1e6);
      }
      auto retained = conn->QueryParams(
          "SELECT pg_current_wal_lsn() - restart_lsn FROM "
          "pg_replication_slots WHERE slot_name = $1",
          {config_.slot});
      if (retained.ok() && !retained->empty() && (*retained)[0][0]) {
        double bytes = 0;
        if (absl::SimpleAtod(*(*retained)[0][0], &bytes)) {
          retained_gauge->Set(bytes);
        }
      }
    }
  }

  // Shutdown or failure: deliver what is queued, confirm what is delivered.
  absl::Status flushed = sink_->Flush(absl::Now() + absl::Seconds(30));
  sink_->Poll(absl::ZeroDuration());
  // Confirm what was delivered whatever stopped the loop: the tracker only
  // allows LSNs whose transactions Kafka acknowledged in full.
  {
    absl::Status final_status = send_status(/*force=*/true);
    if (final_status.ok()) {
      final_status = stream->Finish(absl::Seconds(10));
    }
    if (final_status.ok()) {
      log_->Info("confirmed", {{"lsn", pgoutput::FormatLsn(reported_lsn)}});
    } else {
      log_->Warn(
          "final confirmation not acknowledged; the next start may "
          "publish the last transactions again",
          {{"error", std::string(final_status.message())}});
    }
  }
  if (!loop_status.ok()) {
    errors->Increment();
    log_->Error(
        *retry ? "replication stream interrupted; reconnecting" : "stopping",
        {{"error", std::string(loop_status.message())}});
    return loop_status;
  }
  if (!flushed.ok()) return flushed;
  return delivery_error;
}

}  // namespace enrich::cdc
