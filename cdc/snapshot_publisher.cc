#include "cdc/snapshot_publisher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/status_macros.h"
#include "cdc/pgoutput/lsn.h"
#include "cdc/postgres/snapshot_reader.h"

namespace enrich::cdc {

absl::Status EnsureSnapshotRecordTable(pg::PgConnection& conn) {
  // Under the least-privilege role enrich_cdc (sql/007_cdc_role.sql) the
  // table exists and this role may not run DDL: touch it only when it is
  // missing or still has the shape of earlier releases (completed_at NOT
  // NULL with a default; NULL now means "being published").
  ASSIGN_OR_RETURN(
      std::vector<pg::Row> current,
      conn.Query("SELECT NOT (attnotnull OR atthasdef) FROM pg_attribute "
                 "WHERE attrelid = to_regclass('enrich_cdc_snapshots') "
                 "AND attname = 'completed_at' AND NOT attisdropped"));
  if (!current.empty() && current[0][0].value_or("") == "t") {
    return absl::OkStatus();
  }
  absl::Status created = conn.Exec(
      "CREATE TABLE IF NOT EXISTS enrich_cdc_snapshots ("
      " slot_name text PRIMARY KEY, consistent_lsn pg_lsn NOT NULL,"
      " completed_at timestamptz);"
      " ALTER TABLE enrich_cdc_snapshots ALTER COLUMN completed_at"
      " DROP NOT NULL, ALTER COLUMN completed_at DROP DEFAULT");
  if (created.code() == absl::StatusCode::kPermissionDenied) {
    SetOperatorAction(&created,
                      "run enrich-processor migrate (sql/007_cdc_role.sql "
                      "creates enrich_cdc_snapshots for role enrich_cdc), or "
                      "create it as its owner");
  }
  return created;
}

absl::StatusOr<bool> SnapshotCompleted(pg::PgConnection& conn,
                                       const std::string& slot) {
  ASSIGN_OR_RETURN(
      std::vector<pg::Row> done,
      conn.QueryParams(
          "SELECT 1 FROM enrich_cdc_snapshots WHERE slot_name = $1 AND "
          "completed_at IS NOT NULL",
          {slot}));
  return !done.empty();
}

SnapshotPublisher::SnapshotPublisher(pg::PgConnection* conn,
                                     ReplicationPublisher* publisher,
                                     AckTracker* acks, kafka::EventSink* sink,
                                     const DeliveryReports* deliveries,
                                     Logger* log,
                                     std::function<void()> mark_alive)
    : conn_(conn),
      publisher_(publisher),
      acks_(acks),
      sink_(sink),
      deliveries_(deliveries),
      log_(log),
      mark_alive_(std::move(mark_alive)) {}

absl::Status SnapshotPublisher::Publish(
    const std::vector<pg::PublishedTable>& tables,
    const pg::CreatedSlot& created, const std::string& slot,
    SnapshotContent content, const std::atomic<bool>& stop) {
  const std::string lsn = pgoutput::FormatLsn(created.consistent_lsn);
  // Recorded as started before any row is read: a consumer that rebuilds its
  // table from the source after this commit sees every commit up to the
  // consistent point, so this snapshot's rows are redundant for it
  // (processor/adapters/WRITER_DESIGN.md, "Snapshot rebuilds").
  RETURN_IF_ERROR(
      conn_
          ->QueryParams("INSERT INTO enrich_cdc_snapshots (slot_name, "
                        "consistent_lsn, completed_at) VALUES ($1, "
                        "$2::pg_lsn, NULL) ON CONFLICT (slot_name) DO UPDATE "
                        "SET consistent_lsn = EXCLUDED.consistent_lsn, "
                        "completed_at = NULL",
                        {slot, lsn})
          .status());
  uint64_t rows = 0;
  if (content == SnapshotContent::kRows) {
    ASSIGN_OR_RETURN(rows, PublishRows(tables, created, stop));
  } else {
    RETURN_IF_ERROR(PublishBoundaries(tables, created.consistent_lsn));
  }
  acks_->SealTransaction(created.consistent_lsn);
  RETURN_IF_ERROR(sink_->Flush(absl::Now() + absl::Minutes(5)));
  sink_->Poll(absl::ZeroDuration());
  RETURN_IF_ERROR(deliveries_->first_error());
  if (acks_->in_flight() != 0) {
    return absl::UnavailableError("snapshot records not all delivered");
  }
  RETURN_IF_ERROR(
      conn_
          ->QueryParams("UPDATE enrich_cdc_snapshots SET completed_at = "
                        "now() WHERE slot_name = $1 AND consistent_lsn = "
                        "$2::pg_lsn",
                        {slot, lsn})
          .status());
  log_->Info(
      "snapshot published",
      {{"content", content == SnapshotContent::kRows ? "rows" : "boundary"},
       {"consistent_lsn", lsn},
       {"rows", absl::StrCat(rows)},
       {"tables", absl::StrCat(tables.size())}});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SnapshotPublisher::PublishRows(
    const std::vector<pg::PublishedTable>& tables,
    const pg::CreatedSlot& created, const std::atomic<bool>& stop) {
  pg::SnapshotReader reader(conn_, log_);
  uint64_t index = 0;
  // One row is held back so the snapshot's last event can say so.
  const pg::PublishedTable* held_table = nullptr;
  pgoutput::Tuple held_row;
  auto publish_held = [&](bool last) -> absl::Status {
    if (held_table == nullptr) return absl::OkStatus();
    return publisher_->PublishSnapshotRow(
        held_table->relation, held_row, created.consistent_lsn, index++, last);
  };
  ASSIGN_OR_RETURN(
      pg::SnapshotProgress progress,
      reader.Read(tables, created.snapshot_name,
                  [&](const pg::PublishedTable& t,
                      pgoutput::Tuple& row) -> absl::Status {
                    if (stop.load()) {
                      return absl::CancelledError("stopped in snapshot");
                    }
                    if (mark_alive_) mark_alive_();
                    sink_->Poll(absl::ZeroDuration());
                    RETURN_IF_ERROR(publish_held(/*last=*/false));
                    held_table = &t;
                    held_row = std::move(row);
                    return absl::OkStatus();
                  }));
  RETURN_IF_ERROR(publish_held(/*last=*/true));
  return progress.rows;
}

absl::Status SnapshotPublisher::PublishBoundaries(
    const std::vector<pg::PublishedTable>& tables, uint64_t consistent_lsn) {
  for (size_t i = 0; i < tables.size(); ++i) {
    RETURN_IF_ERROR(publisher_->PublishSnapshotBoundary(
        tables[i].relation, consistent_lsn, i,
        /*last=*/i + 1 == tables.size()));
  }
  return absl::OkStatus();
}

}  // namespace enrich::cdc
