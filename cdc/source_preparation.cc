#include "cdc/source_preparation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/status_macros.h"
#include "cdc/kafka/topic_naming.h"
#include "cdc/snapshot_publisher.h"

namespace enrich::cdc {
namespace {

void WarnWithoutReplicaIdentityFull(const pg::SourceInfo& source, Logger* log) {
  for (const pg::PublishedTable& t : source.tables) {
    if (!t.replica_identity_full) {
      log->Warn(
          "table is not REPLICA IDENTITY FULL: updates carry unchanged TOAST "
          "columns as 'unchanged' and deletes carry only the key, so "
          "consumers cannot see old values (ALTER TABLE ... REPLICA IDENTITY "
          "FULL)",
          {{"table", absl::StrCat(t.schema, ".", t.table)}});
    }
  }
}

// One active process per slot: the holder of this session lock snapshots
// and streams; others wait as standbys. It goes away with the connection,
// so a killed process releases it at once. (The slot's own "active" flag
// is not enough: it is false while the active process snapshots.)
absl::Status LockSlot(pg::PgConnection& conn, const std::string& slot,
                      Logger* log) {
  ASSIGN_OR_RETURN(std::vector<pg::Row> locked,
                   conn.QueryParams("SELECT pg_try_advisory_lock(hashtext($1))",
                                    {absl::StrCat("enrich_cdc:", slot)}));
  if (locked.empty() || locked[0][0].value_or("") != "t") {
    log->Info("standby: another enrich-cdc holds the slot; waiting",
              {{"slot", slot}});
    return absl::UnavailableError("slot held by another process");
  }
  return absl::OkStatus();
}

TableRouting RoutingFor(
    const pg::PublishedTable& t,
    const absl::flat_hash_map<std::string, std::string>& default_routing) {
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
  return r;
}

// Reads the slot and decides whether to snapshot; drops a slot that must be
// recreated for the snapshot.
// `unpublished`: tables missing from the publication. With an existing
// slot, their changes since they left it (an ALTER PUBLICATION ... DROP
// TABLE, a dropped publication) were never streamed, and restoring the
// publication does not bring them back: only a new snapshot does.
absl::Status DecideSlot(pg::PgConnection& conn, const CdcConfig& config,
                        const std::vector<std::string>& unpublished,
                        Logger* log, PreparedSource* prepared) {
  ASSIGN_OR_RETURN(prepared->slot, pg::ReadSlot(conn, config.slot));
  pg::SlotState& slot = prepared->slot;
  ASSIGN_OR_RETURN(const bool snapshot_done,
                   SnapshotCompleted(conn, config.slot));
  const bool unstreamed = slot.exists && !unpublished.empty();
  if (config.snapshot == "always") {
    prepared->take_snapshot = true;
  } else if (config.snapshot == "initial") {
    prepared->take_snapshot = !slot.exists || !snapshot_done || unstreamed;
  }
  if (slot.exists && slot.active) {
    log->Info("standby: the slot is in use by another process; waiting",
              {{"slot", config.slot}});
    return absl::UnavailableError("slot active elsewhere");
  }
  if (unstreamed && !prepared->take_snapshot) {
    log->Warn(
        "tables were missing from the publication: their changes since then "
        "were not streamed, and --snapshot=never takes no new snapshot",
        {{"publication", config.publication},
         {"tables", absl::StrJoin(unpublished, ",")},
         {"action",
          "restart once with --snapshot=always, or run enrich-processor "
          "reconcile"}});
  }
  if (prepared->take_snapshot && slot.exists) {
    log->Info(unstreamed && config.snapshot != "always"
                  ? "tables were missing from the publication: their changes "
                    "since then were not streamed; restoring it, recreating "
                    "the slot and snapshotting"
              : snapshot_done ? "snapshot=always: recreating the slot"
                              : "earlier snapshot did not complete; redoing it",
              {{"slot", config.slot},
               {"publication", config.publication},
               {"unpublished", absl::StrJoin(unpublished, ",")}});
    RETURN_IF_ERROR(
        conn.QueryParams("SELECT pg_drop_replication_slot($1)", {config.slot})
            .status());
    slot.exists = false;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PreparedSource> PrepareSource(pg::PgConnection& conn,
                                             const CdcConfig& config,
                                             const TopicEnsurer& ensure_topic,
                                             Logger* log) {
  PreparedSource prepared;
  ASSIGN_OR_RETURN(prepared.source, pg::InspectSource(conn, config.tables));
  WarnWithoutReplicaIdentityFull(prepared.source, log);
  RETURN_IF_ERROR(LockSlot(conn, config.slot, log));
  // Read before the publication is restored, which happens only once the
  // slot is decided: a restored publication would hide the gap from the
  // next attempt.
  ASSIGN_OR_RETURN(const std::vector<std::string> unpublished,
                   pg::MissingFromPublication(conn, config.publication,
                                              prepared.source.tables));
  RETURN_IF_ERROR(EnsureSnapshotRecordTable(conn));

  const auto default_routing = DefaultRoutingColumns();
  for (const pg::PublishedTable& t : prepared.source.tables) {
    ASSIGN_OR_RETURN(std::string topic, kafka::TopicNameFor(config.topic_prefix,
                                                            t.schema, t.table));
    prepared.topics.emplace_back(std::move(topic), 0);
    prepared.routing[absl::StrCat(t.schema, ".", t.table)] =
        RoutingFor(t, default_routing);
  }
  for (auto& [topic, partitions] : prepared.topics) {
    ASSIGN_OR_RETURN(partitions, ensure_topic(topic));
  }
  RETURN_IF_ERROR(DecideSlot(conn, config, unpublished, log, &prepared));
  RETURN_IF_ERROR(
      pg::EnsurePublication(conn, config.publication, prepared.source.tables));
  return prepared;
}

}  // namespace enrich::cdc
