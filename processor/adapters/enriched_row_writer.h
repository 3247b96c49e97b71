// EnrichedRowWriter: applies one planned batch (AffectedConversations) to
// enriched_support_conversations, and stores the batch's consumed offsets,
// in ONE transaction on the target database (through pg::PgConnection,
// cdc/postgres/pg_connection.h).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EnrichedRowWriter> writer,
//                    EnrichedRowWriter::Connect(dsn, {.consumer_group = g}));
//   ASSIGN_OR_RETURN(WriteResult r, writer->Apply(batch.plan, batch.offsets));
//
// Why every rule below is exact (the row locks order the writers, partial
// rewrites converge, a snapshot rebuild covers its snapshot):
// WRITER_DESIGN.md, next to this file. What each batch does is decided by
// processor/core/write_plan.h; the SQL is processor/core/
// view_statements.h (the statement names below are its), built from the
// view Options::statements names (today's by default).
//
// One transaction, READ COMMITTED, five statements (up to eight with body
// edits, appends and joined-column rewrites):
//   1. resolve_fan_out: the fan-out keys to conversation ids through the
//      source indexes on raw_support_conversations(user_id) and
//      (linear_issue_id); with the planned ids, sorted and deduplicated
//      (uuid order);
//   2. insert_placeholders: a bare (id) row for every id that has no
//      enriched row, in id order (ON CONFLICT DO NOTHING);
//   3. lock_rows: every enriched row of those ids FOR UPDATE, one at a time
//      in id order (the full rewrites' and the partial work's, one set);
//   4a. edit_bodies (the plan's body edits whose conversation is not
//      rewritten in full anyway): read the edited message by its primary
//      key and replace its element of all_messages, at the position of its
//      id in the row's all_message_ids (a bookkeeping column every full
//      rewrite sets in the same order). An edit that cannot be placed (the
//      message is gone, moved or has a NULL body; its id is not in the
//      row's all_message_ids, e.g. a placeholder; the two arrays disagree)
//      becomes a full rewrite in step 4;
//   4b. append_messages (the plan's appends, likewise): append the inserted
//      message's body and id when it has a body, sorts after every message
//      the row counts (created_at strictly later than the row's
//      last_message_at, or the row counts none), is not listed yet and the
//      arrays agree; count it and move last_message_at; otherwise (a tie or
//      an earlier created_at, a NULL body, the message gone or moved, no row
//      yet, the insert applied before) a full rewrite in step 4;
//   4c. rewrite_joined_columns (the plan's column updates and the
//      conversations a subscriber or Linear fan-out reached): read the
//      conversation, its subscriber and its Linear issue and set every
//      reference column but the message aggregate where they differ; a
//      conversation that is gone or has no complete row yet is rewritten in
//      full in step 4;
//   4. rewrite_rows: recompute the rows from the source tables per
//      conversation, upsert those that differ from the stored row, delete
//      those whose conversation no longer exists (placeholders included);
//   5. store_offsets: never moving one backwards.
// A replay, a truncate rebuild or a bulk-sized batch does no partial work.
// A TRUNCATE in the plan widens the ids to every conversation the table
// reached (TruncatedTables); such a rebuild runs in key-ordered chunks of
// Options::max_rows_per_rebuild_transaction, the offsets going with the last.
//
// Bulk path (a transaction with at least Options::bulk_min_ids ids, e.g. a
// replay's batch): steps 2 and 3 become lock_table (SHARE ROW EXCLUSIVE,
// which blocks other writers until the commit but not readers), then
// bulk_settings (work_mem, and no index or bitmap scans when the ids are at
// least a quarter of the conversations), and step 4 is rewrite_rows_bulk,
// set-based over the whole set of ids.
//
// Snapshot rebuilds. A plan that holds snapshot rows (snapshot_lsns) is
// first checked against enrich_processor_snapshots
// (sql/006_snapshot_rebuilds.sql): when this consumer group has not rebuilt
// the table for one of its snapshots, the batch becomes one bulk transaction
// that re-checks under the table lock, rewrites every conversation and
// every enriched row, records the batch's snapshots and those enrich-cdc
// lists as finished (enrich_cdc_snapshots, when readable) as rebuilt for the
// group, and stores the offsets. A replay (Options::rewrite_each_id_once)
// ignores the table: its first snapshot rebuilds, and every later batch of
// it has nothing left to rewrite.
//
// Session settings (every connection and reconnection): READ COMMITTED as
// the default isolation, and default_toast_compression = lz4 when the
// server has it (cheaper upserts; the stored values are the same).
//
// Errors, by what the caller should do (processor/core/database_errors.h):
// kAborted (retry the batch: a deadlock or serialization failure),
// kUnavailable (the connection is re-established on the next Apply; retry),
// kPermissionDenied / kFailedPrecondition / kInternal (stop without storing
// the offsets). Apply rolls back on any error, so a failed batch left
// nothing behind (a truncate rebuild keeps the chunks it committed before:
// they are complete rewrites).
//
// Not thread-safe: one writer per thread. Non-copyable; owns its connection.
#ifndef ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_
#define ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "processor/adapters/declared_views.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/consumed_batch.h"
#include "processor/core/loop_seams.h"
#include "processor/core/rewritten_ids.h"
#include "processor/core/view_statements.h"
#include "processor/core/write_plan.h"

namespace enrich::pg {
class PgConnection;
}  // namespace enrich::pg

namespace enrich::processor {

class EnrichedRowWriter : public BatchWriter {
 public:
  struct Options {
    // The view whose table this writer maintains: its statement catalogue
    // (view_statements.h), which must outlive the writer.
    const ViewStatements* statements =
        &EnrichedSupportConversationsStatements();
    // The group whose offsets Apply stores and StoredOffsets reads.
    std::string consumer_group = "enrich-processor";
    // Chunk size of a TRUNCATE-driven rebuild.
    size_t max_rows_per_rebuild_transaction = 5000;
    // A transaction rewriting at least this many ids takes the bulk path
    // (file comment); 0: never.
    size_t bulk_min_ids = 20000;
    // work_mem of a bulk transaction (SET LOCAL).
    std::string bulk_work_mem = "64MB";
    // Replay only: rewrite each conversation at most once over this
    // writer's life, skipping ids an earlier Apply committed. Exact only
    // while every record applied was committed at the source before the
    // first Apply began (processor/core/rewritten_ids.h); `run` leaves it
    // off.
    bool rewrite_each_id_once = false;
    // Test seam: called inside the transaction after the row locks are held
    // and before the fresh state is read (step 3 -> 4). Empty in production.
    std::function<void()> after_locks_for_testing;
    // Called after each statement of Apply with its name (as in
    // ViewStatements::HotStatements(), plus "begin" and "commit") and
    // duration, e.g. for a latency histogram. Empty: not called.
    std::function<void(absl::string_view, absl::Duration)> statement_observer;
  };

  static absl::StatusOr<std::unique_ptr<EnrichedRowWriter>> Connect(
      const std::string& dsn, Options options);
  ~EnrichedRowWriter();
  EnrichedRowWriter(const EnrichedRowWriter&) = delete;
  EnrichedRowWriter& operator=(const EnrichedRowWriter&) = delete;

  // Rewrites the rows `plan` names and stores `offsets`, atomically (see the
  // file comment). An empty plan with offsets only stores the offsets.
  absl::StatusOr<WriteResult> Apply(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets) override;

  // Builds every row when the table is empty and raw_support_conversations
  // is not (a fresh install whose snapshot is no longer in the topics, or a
  // table emptied by hand): one transaction like a snapshot's rebuild
  // (WRITER_DESIGN.md), which also records the snapshots enrich-cdc had
  // recorded as rebuilt for the group. nullopt when there was nothing to
  // build. `run` calls it once at start; errors as Apply's.
  absl::StatusOr<std::optional<WriteResult>> BuildIfEmpty();

  // What `run` calls at start instead. When enrich-cdc has recorded a
  // snapshot, BuildIfEmpty now (`built`). When it has recorded none (it has
  // not started yet, or streams without snapshots), building now would be
  // repeated by the rebuild of the snapshot it takes next: the check waits
  // for the first Apply instead (`deferred`), where that snapshot's rebuild
  // builds the table once (its boundary or rows come first in every
  // partition), and a first batch without a snapshot to rebuild for runs
  // BuildIfEmpty before its own write.
  struct StartBuild {
    std::optional<WriteResult> built;
    bool deferred = false;
  };
  absl::StatusOr<StartBuild> BuildIfEmptyAtStart();

  // The offsets stored for this writer's consumer group and `topic`.
  absl::StatusOr<std::vector<PartitionOffset>> StoredOffsets(
      const std::string& topic);

 private:
  using Params = std::vector<std::optional<std::string>>;

  EnrichedRowWriter(std::unique_ptr<pg::PgConnection> conn, Options options);
  const ViewStatements& sql() const { return *options_.statements; }
  absl::Status EnsureConnected();
  // Ends an open transaction after an error (best effort).
  void RollBack();

  // Step 1 in the open transaction, and the batch's WritePlan.
  absl::StatusOr<WritePlan> PlanBatch(const AffectedConversations& plan);
  // Transaction `t` of `write`, in the open transaction (not committed).
  absl::Status RunTransaction(const WritePlan& write, const WriteTransaction& t,
                              const AffectedConversations& plan,
                              const std::vector<PartitionOffset>& offsets,
                              WriteResult* result);
  // Steps 2 and 3 for `ids` and `partial`, or the bulk path's lock and
  // settings.
  absl::Status LockRows(const std::vector<std::string>& ids,
                        const PartialWork& partial, bool bulk);
  // Steps 4a-4c: adds the rows they updated to `result` and the
  // conversations they could not apply to `fallbacks`.
  absl::Status RunPartialWork(const PartialWork& partial, const Params& commit,
                              std::vector<std::string>* fallbacks,
                              WriteResult* result);
  // Runs one of steps 4a-4c (`statement` with `params`), adds the rows it
  // updated to `result` and the conversations it could not apply to
  // `fallbacks`.
  absl::Status RunPartialRewrite(const WriterStatement& statement,
                                 const Params& params,
                                 std::vector<std::string>* fallbacks,
                                 WriteResult* result);
  // Step 4a or 4b (`statement` with $1 conversations, $2 messages, then
  // `commit`: the lsn and commit time) through RunPartialRewrite.
  absl::Status ApplyMessageChanges(const WriterStatement& statement,
                                   const MessageChangeList& changes,
                                   const Params& commit,
                                   std::vector<std::string>* fallbacks,
                                   WriteResult* result);
  // Step 4 for `ids` (sorted, not empty).
  absl::Status RewriteRows(const std::vector<std::string>& ids, bool bulk,
                           const Params& commit, WriteResult* result);
  // Step 5.
  absl::Status StoreOffsets(const std::vector<PartitionOffset>& offsets);

  // Snapshot rebuilds (file comment). Whether this writer's group (a replay:
  // this writer) rebuilt the table for every snapshot of `plan` already.
  absl::StatusOr<bool> SnapshotsCovered(const AffectedConversations& plan);
  // The consistent points (pg_lsn text) of the snapshots enrich-cdc
  // recorded (being published or finished); none when its table is missing
  // or not readable.
  absl::StatusOr<std::vector<std::string>> RecordedCdcSnapshots();
  // Rebuilds every row and stores `offsets` in its own transaction unless
  // the snapshots of `plan` are covered: true when it rebuilt (the batch is
  // then done), false when the caller applies the plan as usual.
  absl::StatusOr<bool> RebuildForSnapshots(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets, WriteResult* result);
  // Runs `work` in a transaction of its own: committed when it returns true
  // (it wrote), ended without writing when false, rolled back on error.
  // `what` names it in errors.
  absl::StatusOr<bool> WriteIfNeeded(
      absl::string_view what,
      const std::function<absl::StatusOr<bool>()>& work);
  // In an open transaction holding the table lock: lists the snapshots
  // enrich-cdc recorded, rewrites every row, stores `offsets` and records
  // those snapshots and `plan`'s as rebuilt for the group.
  absl::Status RebuildEveryRow(const AffectedConversations& plan,
                               const std::vector<PartitionOffset>& offsets,
                               WriteResult* result);
  // RebuildForSnapshots' work inside its transaction: false (nothing
  // written) when another writer covered the snapshots meanwhile.
  absl::StatusOr<bool> RebuildInTransaction(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets, WriteResult* result);

  std::unique_ptr<pg::PgConnection> conn_;
  Options options_;
  // Ids committed so far (Options::rewrite_each_id_once).
  RewrittenIds rewritten_;
  // Snapshots (pg_lsn text) this writer's group is known to have rebuilt
  // for: a group never un-covers one, so most of a snapshot's batches are
  // answered without a query.
  absl::flat_hash_set<std::string> covered_snapshots_;
  // BuildIfEmptyAtStart deferred its check to the next Apply.
  bool build_deferred_ = false;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_
