// EventBuilder turns decoded pgoutput row changes into the records enrich-cdc
// publishes: a serialized enrich.v1.ChangeEvent (without its transaction
// coordinates, which are known only at commit), the Kafka key and the routing
// value that picks the partition.
//
// Contracts:
//  * Key: the primary key's text value; for a composite key the values in key
//    order joined by the byte 0x1F. Stable across restarts and versions.
//  * Routing: the value of the table's routing column (by default the
//    conversation id for conversations and messages, so one conversation's
//    events share a partition), falling back to the key when that column is
//    absent (for example a DELETE under REPLICA IDENTITY DEFAULT).
//  * TOAST: an UPDATE's unchanged TOASTed columns are filled from the old row
//    when the server sent it in full (REPLICA IDENTITY FULL); otherwise they
//    stay marked UnchangedToast.
//  * An old row sent as key only ('K') carries just the key columns.
// Building writes into a caller-owned BuiltEvent, overwriting it and reusing
// its strings' capacity; the event is written in protobuf's wire format
// directly (proto/change_event_wire.h), and the per-table work (topic name, key
// columns) is cached per relation and redone when a Relation message changes
// the table.
// Not thread-safe; cheap to construct.
#ifndef ENRICH_CDC_CORE_EVENT_BUILDER_H_
#define ENRICH_CDC_CORE_EVENT_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cdc/pgoutput/messages.h"
#include "cdc/pgoutput/relation_cache.h"

namespace enrich::cdc {

// One record to publish, before transaction coordinates are appended.
struct BuiltEvent {
  std::string topic;
  std::string key;
  std::string routing_value;
  // Serialized enrich.v1.ChangeEvent without commit_lsn, end_lsn, xid,
  // commit_time_us, index_in_tx, last_in_tx (appended at commit: protobuf
  // merges concatenated messages field by field).
  std::string partial_event;
  // A DELETE is followed by a tombstone with the same key.
  bool tombstone_after = false;
  // TRUNCATE goes to every partition of the topic.
  bool all_partitions = false;
  // enrich.v1.Operation of the event (for metrics).
  int operation = 0;
};

struct TableRouting {
  // Primary-key column names in key order, as read from the catalog at start.
  std::vector<std::string> primary_key;
  // Column whose value picks the partition; empty means the key.
  std::string routing_column;
  // From the catalog too: the key columns' positions among the live columns,
  // their type OIDs, and the live column count. Used to find the key when a
  // Relation message names it differently (a renamed key column).
  std::vector<size_t> key_positions;
  std::vector<uint32_t> key_types;
  size_t column_count = 0;
};

class EventBuilder {
 public:
  // `tables` is keyed by "schema.table". Changes of other tables are errors.
  EventBuilder(std::string topic_prefix,
               absl::flat_hash_map<std::string, TableRouting> tables);
  ~EventBuilder();

  // Each fills *out entirely; on error *out is unspecified.
  absl::Status Insert(const pgoutput::Relation& relation,
                      const pgoutput::Tuple& new_tuple, BuiltEvent* out) const;
  absl::Status Update(const pgoutput::Relation& relation,
                      const pgoutput::Update& update, BuiltEvent* out) const;
  absl::Status Delete(const pgoutput::Relation& relation,
                      const pgoutput::Delete& del, BuiltEvent* out) const;
  // Snapshot reads: a row as text values in column order.
  absl::Status SnapshotRead(const pgoutput::Relation& relation,
                            const pgoutput::Tuple& row, BuiltEvent* out) const;
  // A snapshot published without rows: no key, no row, to every partition.
  absl::Status SnapshotBoundary(const pgoutput::Relation& relation,
                                BuiltEvent* out) const;
  absl::Status Truncate(const pgoutput::Relation& relation, bool cascade,
                        bool restart_identity, BuiltEvent* out) const;

  // kafka::TopicNameFor(prefix, schema, table), the one naming both
  // executables use.
  absl::StatusOr<std::string> TopicFor(
      const pgoutput::Relation& relation) const;

  struct RelationPlan;  // per-table work, cached (event_builder.cc)

 private:
  absl::StatusOr<const RelationPlan*> PlanFor(
      const pgoutput::Relation& relation) const;
  // Resets *out and writes what every operation carries.
  absl::StatusOr<const RelationPlan*> Start(const pgoutput::Relation& relation,
                                            int op, BuiltEvent* out) const;

  std::string topic_prefix_;
  absl::flat_hash_map<std::string, TableRouting> tables_;
  // By relation OID; an entry whose relation no longer matches is rebuilt.
  mutable absl::flat_hash_map<uint32_t, std::unique_ptr<RelationPlan>> plans_;
};

// The default routing of the four contract tables in schema `public`.
absl::flat_hash_map<std::string, std::string> DefaultRoutingColumns();

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_EVENT_BUILDER_H_
