// EnrichedRowWriter: applies one planned batch (AffectedConversations) to
// enriched_support_conversations, and stores the batch's consumed offsets,
// in ONE transaction on the target database (libpq; libpq-fe.h stays in the
// .cc).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EnrichedRowWriter> writer,
//                    EnrichedRowWriter::Connect(dsn, {.consumer_group = g}));
//   ASSIGN_OR_RETURN(WriteResult r, writer->Apply(batch.plan, batch.offsets));
//
// One transaction, READ COMMITTED, five statements (up to eight with body
// edits, appends and joined-column rewrites):
//   1. resolve the fan-out keys to conversation ids through the source
//      indexes on raw_support_conversations(user_id) and (linear_issue_id);
//      with the planned ids, sort and deduplicate (uuid order);
//   2. insert a bare (id) placeholder for every id that has no enriched row,
//      in id order (ON CONFLICT DO NOTHING);
//   3. lock every enriched row of those ids FOR UPDATE, one at a time in id
//      order;
//   4a. body edits (the plan's body_edits whose conversation is not rewritten
//      in full anyway; AffectedConversations): for each, read the edited
//      message by its primary key and replace its element of all_messages,
//      at the position of its id in the row's all_message_ids (a bookkeeping
//      column every full rewrite sets in the same order as all_messages). An
//      edit that cannot be placed (the message is gone, moved or has a NULL
//      body; its id is not in the row's all_message_ids, e.g. a placeholder;
//      the two arrays disagree) becomes a full rewrite in step 4. The locks
//      of step 3 cover these conversations too (one id-ordered set);
//   4b. appends (the plan's appends, likewise): read the inserted message
//      by its primary key; when it has a body and sorts after every message
//      the row counts (created_at strictly later than the row's
//      last_message_at, or the row counts none), is not listed yet and the
//      arrays agree, append its body and id to the arrays, add one to
//      message_count and set last_message_at to its created_at; otherwise
//      (a tie or an earlier created_at, a NULL body, the message gone or
//      moved, no row yet, the insert applied before) a full rewrite in
//      step 4;
//   4c. joined-column rewrites (the plan's column updates and the
//      conversations a subscriber or Linear fan-out reached, unless the
//      batch rewrites them in full or they also have a message change,
//      which then makes them full): read the
//      conversation, its subscriber and its Linear issue and set every
//      reference column but the message aggregate where they differ; a
//      conversation that is gone or has no complete row yet is rewritten in
//      full in step 4;
//   4. in one statement: recompute the rows from the source tables with a
//      per-conversation LATERAL aggregate driven by the ids, upsert those that
//      differ from the stored row, delete those whose conversation no longer
//      exists (this also removes the placeholders of deleted conversations);
//   5. store the offsets (never moving one backwards).
// A TRUNCATE in the plan widens the ids to every conversation the table
// reached (see TruncatedTables); such a rebuild runs in key-ordered chunks of
// Options::max_rows_per_rebuild_transaction, the offsets going with the last.
//
// Bulk path (a transaction with at least Options::bulk_min_ids ids, e.g. a
// replay's batch): steps 2 and 3 become one
// LOCK TABLE enriched_support_conversations IN SHARE ROW EXCLUSIVE MODE, and
// step 4 recomputes set-based (joins over the whole set of ids and one
// GROUP BY over their messages, read in conversation_id order from the
// messages index; the reference view's expressions) instead of per
// conversation. Per-row placeholders and locks would cost as
// much as the rows themselves at that size (an insert, a lock and a second
// row version each), and per-conversation lookups read every message at
// random. The table lock serializes the bulk transaction against every
// other writer exactly as the row locks do (below): it conflicts with
// itself and with the ROW EXCLUSIVE lock that another writer's step 2 takes
// and holds until its commit, and it is taken before step 4 reads anything.
// Readers (ACCESS SHARE) are not blocked; other writers wait for the bulk
// transaction's commit. The bulk transaction sets work_mem
// (Options::bulk_work_mem) and, when its ids are at least a quarter of the
// conversations, turns index and bitmap scans off for itself (SET LOCAL):
// a rebuild reads every message in heap order and sorts them, which the
// planner does not choose on its own and which is much faster than
// fetching them through the index.
//
// Snapshot rebuilds. A plan that holds snapshot rows (its snapshot_lsns,
// affected_conversations.h) is first checked against
// enrich_processor_snapshots (sql/006_snapshot_rebuilds.sql): when this
// consumer group has not rebuilt the table for one of its snapshots, the
// batch becomes one transaction that takes the bulk path's table lock,
// re-checks (a writer of the same group may have rebuilt meanwhile), lists
// the snapshots enrich-cdc recorded as finished (enrich_cdc_snapshots, when
// readable), rewrites every row: every conversation and every enriched row
// (the bulk statement, so rows whose conversation is gone are deleted), then
// records the batch's snapshots and the listed ones as rebuilt for the group
// and stores the batch's offsets. A covered snapshot's rows change nothing;
// the rest of the plan is applied as usual. A replay
// (Options::rewrite_each_id_once) ignores the table: its first snapshot
// rebuilds, and every later batch of the replay has nothing left to
// rewrite.
//   Why that is exact whatever the start-up order. Let S be a snapshot's
// consistent point: its rows show the source as of S, and every
// transaction that commits after S is streamed as events of its own. The
// rebuild is triggered by a row of S, which enrich-cdc published after it
// created the slot and read the source under the slot's snapshot, so the
// rebuild's statement, which starts later, sees every commit up to S; it
// writes every row as the source is at its start, T. A row is then wrong
// only if a transaction committed after T changed it, and such a
// transaction committed after S: its event follows and rewrites the row
// (the argument below). The snapshot's other rows, and events of
// transactions before T, only name rows again; skipping them loses
// nothing. A snapshot listed in enrich_cdc_snapshots before the rebuild's
// statement started was likewise taken before T, so its rows are covered
// too; that is why it is read first. A deletion no event reports (a
// conversation deleted before any slot existed, during a snapshot cut short
// by a crash, or while a slot was lost) is gone from the source at T, so
// the rebuild deletes its row. Each consumer group rebuilds once per
// snapshot it consumes: a new group on a table that holds rows (or none)
// starts from the topics' beginning, where the snapshot is.
//
// Why a later write can never install an older state. Let W1 and W2 be two
// transactions (any processes) that both rewrite conversation C. Both take
// C's row lock in step 3 (or the table lock of the bulk path, which
// conflicts with the other's step 2 or table lock) before step 4 reads
// anything, and hold it until they commit; so one of them, say W1, commits
// before W2's step 3 returns. Under READ COMMITTED every statement takes a new
// snapshot when it starts, so W2's step 4 sees everything committed before it
// started: W1's commit and every source commit W1 saw. W2 therefore writes a
// state at least as new as W1's, and the writes to C are ordered by lock
// acquisition with non-decreasing source states. The placeholder of step 2 is
// what makes this hold for a conversation that has no enriched row yet (there
// is nothing to lock otherwise; a concurrent insert of the same id waits for
// ours). Locks are taken in id order to keep concurrent writers from
// deadlocking; a deadlock or serialization failure that still happens is
// kAborted and the caller retries the whole batch. The placeholder never
// becomes visible: it is overwritten or deleted by step 4 of the same
// transaction. Why every change is eventually reflected: enrich-cdc publishes
// an event only after its source transaction committed, so the transaction that
// applies the event starts after that commit and (step 4's snapshot) sees it.
// A fan-out key is resolved in step 1 at apply time; a conversation that
// joined the key after step 1 had its own change event, which rewrites it.
// Events that arrive late, twice or out of order only cause an extra rewrite
// of a row from the current source state, which changes nothing.
//
// Why partial rewrites converge to the same rows. Split a row into
// its parts: the conversation, subscriber and Linear columns; the message
// order O (the set of messages with their created_at and which bodies are
// NULL, which all_message_ids, message_count and last_message_at are
// functions of); and each listed message's body. An edit changes one body
// (all_messages[p] where all_message_ids[p] is the message) to the message's
// body read after the lock, and nothing else. An append adds one message
// to O at the end, read after the lock, only if it sorts after every
// message the row counts and is not counted yet. A joined-column rewrite
// sets the conversation, subscriber and Linear columns from the state it
// reads, exactly as a full rewrite sets them, after an UPDATE of the
// conversation that kept its id or a subscriber or Linear change reaching
// it; those columns depend on nothing else, so the last such change's
// rewrite (a fan-out resolved at apply time, see above) or a later full
// rewrite leaves them final. Such an UPDATE cannot change O, which depends
// only on the messages with that conversation_id. Only full rewrites set O
// otherwise, each from the state it reads. The planner sends every other
// change (a delete, move, created_at change, NULL body, a second message
// change of the conversation in the batch, a conversation's insert, delete
// or id change) to a full rewrite.
//   O is final once drained: let E be the last change to O in processing
// order and R the last full rewrite of the row before E's application (any
// writer; locks order them), reading the state at time t. A message change
// committed before t but applied after R is already in R's O, so its append
// fails its guard and becomes a full rewrite after R, and deletes, moves and
// created_at changes are always full rewrites; so every change to O applied
// after R was committed after t and is an append that passed its guard, and
// those are exactly the changes to O committed after t (any other would be
// a full rewrite after R). The stored O is R's plus those appends, each at
// the end because it sorts after every message counted before it: the
// final O. If E itself is applied by a full rewrite, that rewrite reads E's
// change or a newer state and nothing changes O after it.
//   A body is final: message M's body is last set by a full rewrite, an
// edit or an append, each reading M after the event of M's last body change
// was committed, hence M's final body; edits and appends of other messages
// do not touch M's element (positions only move by full rewrites, which
// set every body). An edit or append applied to a stale row (a change to O
// not applied yet) lands in that stale order; the pending change's full
// rewrite replaces the whole row later. The locks and snapshots are those
// of the argument above, so two writers' changes to a row are ordered by
// lock acquisition as before.
//
// Session settings (every connection and reconnection): READ COMMITTED as
// the default isolation (the argument above needs it), and
// default_toast_compression = lz4 when the server has it, so the rewrite
// compresses all_messages with lz4 instead of pglz (cheaper upserts; the
// stored values, the statements and the locking order are unchanged).
//
// Errors, by what the caller should do (processor/core/database_errors.h):
// kAborted (retry the batch), kUnavailable (the connection is re-established
// on the next Apply; retry), kPermissionDenied / kFailedPrecondition /
// kInternal (stop without storing the offsets). Apply rolls back on any
// error, so a failed batch left nothing behind.
//
// Not thread-safe: one writer per thread. Non-copyable; owns its connection.
#ifndef ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_
#define ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/batch_writer.h"
#include "processor/core/consumed_batch.h"
#include "processor/core/rewritten_ids.h"

struct pg_conn;

namespace enrich::processor {

// One of the writer's statements, as sent (parameters $1...), for plans.
struct WriterStatement {
  std::string name;
  std::string sql;
};

class EnrichedRowWriter : public BatchWriter {
 public:
  struct Options {
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
    // HotStatements(), plus "begin" and "commit") and duration, e.g. for a
    // latency histogram. Empty: not called.
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

  // The offsets stored for this writer's consumer group and `topic`.
  absl::StatusOr<std::vector<PartitionOffset>> StoredOffsets(
      const std::string& topic);

  // A SELECT of the reference view's 33 columns (its names and order), then
  // all_message_ids, recomputed from the source tables for the ids of a
  // relation the caller names `ids` (a CTE with a uuid column `id`); the
  // computation Apply writes. Ids without a conversation yield no row.
  static const std::string& RecomputeSql();

  // The same columns, set-based (the bulk path's computation), for the ids
  // of the statement's parameter $1 (a uuid[], sorted): joins over the
  // whole set and one GROUP BY over their messages instead of per-id
  // lookups.
  static const std::string& RecomputeSetSql();

  // The reference view's 33 column names, in order ("id" first).
  static std::vector<std::string> ReferenceColumns();
  // What a full rewrite sets from the source: ReferenceColumns(), then
  // all_message_ids (what reconcile compares).
  static std::vector<std::string> RewrittenColumns();

  // The hot statements of Apply, for EXPLAIN in tests and operations.
  static std::vector<WriterStatement> HotStatements();
  // The bulk path's statements (lock_table, rewrite_rows_bulk), likewise.
  static std::vector<WriterStatement> BulkStatements();

 private:
  EnrichedRowWriter(pg_conn* conn, Options options);
  absl::Status EnsureConnected();
  // The plan's conversation ids with the rebuild ids, sorted and unique;
  // the fan-out ids too, or in `fan_out` (sorted, unique, none of the plan's
  // conversation ids) when it is not null.
  absl::StatusOr<std::vector<std::string>> ResolveIds(
      const AffectedConversations& plan, std::vector<std::string>* fan_out);
  // (conversation id, message id) pairs, in conversation id order.
  using MessageChangeList = std::vector<std::pair<std::string, std::string>>;
  // The partial work of a batch (each conversation in at most one list).
  struct MessageChanges {
    MessageChangeList edits;          // step 4a
    MessageChangeList appends;        // step 4b
    std::vector<std::string> joined;  // step 4c: conversation ids, sorted
    bool empty() const {
      return edits.empty() && appends.empty() && joined.empty();
    }
  };
  // The plan's body edits, appends and column updates and the resolved
  // `fan_out` ids (sorted) to apply as partial work (column updates and
  // fan-out ids both as joined-column rewrites); the others (covered by a
  // full rewrite of their conversation, reached by both a message change
  // and a fan-out, or in a replay, truncate or bulk batch) are merged into
  // `ids`, which stays sorted and unique.
  MessageChanges MessageChangesToApply(const AffectedConversations& plan,
                                       std::vector<std::string> fan_out,
                                       std::vector<std::string>* ids) const;
  // Runs one of steps 4a-4c (`statement` with `params`), adds the rows it
  // updated to `result` and the conversations it could not apply to
  // `fallbacks`.
  absl::Status RunPartialRewrite(
      absl::string_view name, const std::string& statement,
      const std::vector<std::optional<std::string>>& params,
      std::vector<std::string>* fallbacks, WriteResult* result);
  // Step 4a or 4b (`statement` with $1 conversations, $2 messages, $3 lsn,
  // $4 commit time) through RunPartialRewrite.
  absl::Status ApplyMessageChanges(absl::string_view name,
                                   const std::string& statement,
                                   const MessageChangeList& changes,
                                   const std::string& lsn,
                                   const std::string& commit_time,
                                   std::vector<std::string>* fallbacks,
                                   WriteResult* result);
  // Steps 2-5 for `ids` (sorted, unique) and `changes`, in the open
  // transaction; the bulk path when `force_bulk` or the ids are many.
  absl::Status RewriteInTransaction(const std::vector<std::string>& ids,
                                    const MessageChanges& changes,
                                    const AffectedConversations& plan,
                                    const std::vector<PartitionOffset>* offsets,
                                    WriteResult* result,
                                    bool force_bulk = false);
  // Snapshot rebuilds (file comment). Whether this writer's group (a replay:
  // this writer) rebuilt the table for every snapshot of `plan` already.
  absl::StatusOr<bool> SnapshotsCovered(const AffectedConversations& plan);
  // The consistent points (pg_lsn text) of the snapshots enrich-cdc recorded
  // as finished; none when its table is missing or not readable.
  absl::StatusOr<std::vector<std::string>> FinishedCdcSnapshots();
  // Rebuilds every row and stores `offsets` in its own transaction unless
  // the snapshots of `plan` are covered: true when it rebuilt (the batch is
  // then done), false when the caller applies the plan as usual.
  absl::StatusOr<bool> RebuildForSnapshots(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets, WriteResult* result);
  // RebuildForSnapshots' work inside its transaction: false (nothing
  // written) when another writer covered the snapshots meanwhile.
  absl::StatusOr<bool> RebuildInTransaction(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets, WriteResult* result);

  struct ConnDeleter {
    void operator()(pg_conn* conn) const;
  };
  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  Options options_;
  // Ids committed so far (Options::rewrite_each_id_once).
  RewrittenIds rewritten_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_ENRICHED_ROW_WRITER_H_
