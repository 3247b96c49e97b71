// The initial snapshot of enrich-cdc, taken when its slot is created, at the
// slot's consistent LSN, so streaming from that LSN continues exactly where
// the snapshot ends. Published one of two ways (--snapshot-content):
//  * boundary (default): one SNAPSHOT_BOUNDARY event per partition of each
//    table's topic, no rows. enrich-processor never needed the rows: it
//    rebuilds its table from the source at a snapshot it has not covered
//    (processor/adapters/WRITER_DESIGN.md, "Snapshot rebuilds"), so a first
//    start costs that one build and no publication of every row.
//  * rows: every row of the published tables, read under the snapshot the
//    slot exported, as SNAPSHOT_READ events (the last says it is the last),
//    for consumers that want the initial state in Kafka.
//
// The table enrich_cdc_snapshots records each slot's snapshot: its
// consistent LSN as soon as the slot exists (completed_at NULL), and its
// completion only once Kafka acknowledged every snapshot event, so a
// snapshot cut short by a crash is redone at the next start (see
// source_preparation.h) instead of silently skipped. enrich-processor reads
// the table: a rebuild of its table that starts after a row is committed
// covers that snapshot.
//
//   SnapshotPublisher snapshot(conn, &publisher, &acks, sink, &deliveries,
//                              log, mark_alive);
//   RETURN_IF_ERROR(snapshot.Publish(tables, created, slot,
//                                    SnapshotContent::kBoundary, stop));
#ifndef ENRICH_CDC_SNAPSHOT_PUBLISHER_H_
#define ENRICH_CDC_SNAPSHOT_PUBLISHER_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdc/common/log.h"
#include "cdc/core/ack_tracker.h"
#include "cdc/core/delivery_reports.h"
#include "cdc/core/replication_publisher.h"
#include "cdc/kafka/event_sink.h"
#include "cdc/postgres/pg_connection.h"
#include "cdc/postgres/source_setup.h"

namespace enrich::cdc {

// Creates enrich_cdc_snapshots when missing, or brings an earlier
// release's table to the current shape; runs no DDL when it is current
// (sql/007_cdc_role.sql creates it for the role enrich_cdc, which may not).
// PermissionDenied, with an operator action, when it must and may not.
absl::Status EnsureSnapshotRecordTable(pg::PgConnection& conn);

// Whether `slot`'s snapshot was recorded as completed.
absl::StatusOr<bool> SnapshotCompleted(pg::PgConnection& conn,
                                       const std::string& slot);

enum class SnapshotContent { kBoundary, kRows };

// Not thread-safe; all pointers must outlive it. `conn` is a normal
// connection (the snapshot is read through it and recorded on it).
class SnapshotPublisher {
 public:
  SnapshotPublisher(pg::PgConnection* conn, ReplicationPublisher* publisher,
                    AckTracker* acks, kafka::EventSink* sink,
                    const DeliveryReports* deliveries, Logger* log,
                    std::function<void()> mark_alive);

  // Records `slot`'s snapshot as started (its consistent LSN, no
  // completion), publishes it as `content` says (rows are read under
  // `created`'s exported snapshot), seals it as one transaction at the
  // consistent LSN, waits up to 5 minutes for Kafka to acknowledge every
  // event, then records the snapshot as completed and logs "snapshot
  // published". Cancelled when `stop` is set during the read; Unavailable
  // when records are left unacknowledged; a delivery's or a statement's
  // error otherwise.
  absl::Status Publish(const std::vector<pg::PublishedTable>& tables,
                       const pg::CreatedSlot& created, const std::string& slot,
                       SnapshotContent content, const std::atomic<bool>& stop);

 private:
  // Every row as SNAPSHOT_READ; the number of rows.
  absl::StatusOr<uint64_t> PublishRows(
      const std::vector<pg::PublishedTable>& tables,
      const pg::CreatedSlot& created, const std::atomic<bool>& stop);
  // One SNAPSHOT_BOUNDARY per table (to every partition of its topic).
  absl::Status PublishBoundaries(const std::vector<pg::PublishedTable>& tables,
                                 uint64_t consistent_lsn);

  pg::PgConnection* conn_;
  ReplicationPublisher* publisher_;
  AckTracker* acks_;
  kafka::EventSink* sink_;
  const DeliveryReports* deliveries_;
  Logger* log_;
  std::function<void()> mark_alive_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_SNAPSHOT_PUBLISHER_H_
