// The statement catalogue of one declared view's enriched table: the SQL
// text of every statement EnrichedRowWriter sends (processor/adapters/
// enriched_row_writer.h; the step numbers below are its), the view's
// computation the reconciler compares with, and the table's column lists.
// Built from the view as compiled (compiled_view.h). Pure string building:
// no libpq; nothing here runs a statement.
//
//   ViewStatements statements(*CompiledView::Compile(view, facts));
//   const WriterStatement& lock = statements.LockRows();
//   // lock.name == "lock_rows"; lock.sql takes $1, an array of root keys.
//   PREPARE lock_rows AS <lock.sql>; EXPLAIN EXECUTE lock_rows('{...}');
//
// Today's view's catalogue is EnrichedSupportConversationsStatements()
// (processor/adapters/declared_views.h). Every statement's name is the one
// the writer reports to its statement_observer. The texts are built by the
// constructor and never change, so a reference stays valid for the life of
// the object. Const methods are thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_VIEW_STATEMENTS_H_
#define ENRICH_PROCESSOR_CORE_VIEW_STATEMENTS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/compiled_view.h"
#include "processor/core/view_routes.h"

namespace enrich::processor {

// One of the writer's statements, as sent (parameters $1...).
struct WriterStatement {
  std::string name;
  std::string sql;
};

// Whether the in-place message paths (steps 4a and 4b) keep `view`'s rows
// exact. They are written for one aggregate shape, today's: the child keyed
// by `id` (uuid) with `body` and `created_at` columns, and over it exactly
// three aggregates: `message_count` = count of the child's key,
// `last_message_at` = max(created_at), `all_messages` =
// array_agg(body ORDER BY created_at, id) FILTER (WHERE body IS NOT NULL).
// Any other aggregate would be left stale by an append, so any other view
// gets its child changes as full rewrites (the planner is told so through
// ViewRoutes; deriving these paths from any view is VIEWS.md's next step).
bool MessagePathsApply(const CompiledView& view);

class ViewStatements;

// The affected-set rules (view_routes.h) of the view `statements` keep, its
// unqualified tables in `schema`: the root key's form from its type, and
// child changes planned in place exactly when the catalogue has the message
// paths, so the planner never plans work the writer cannot apply.
ViewRoutes RoutesFor(const ViewStatements& statements,
                     absl::string_view schema);

class ViewStatements {
 public:
  explicit ViewStatements(CompiledView view);

  const CompiledView& view() const { return view_; }
  // The enriched table (the view's name) and its key column.
  const std::string& table() const { return view_.table(); }

  // The view's output columns, in order (its key among them).
  std::vector<std::string> ReferenceColumns() const;
  // What a full rewrite sets from the source: ReferenceColumns(), then the
  // key arrays (what reconcile compares).
  std::vector<std::string> RewrittenColumns() const;

  // A SELECT of RewrittenColumns(), recomputed from the source tables for
  // the ids of a relation the caller names `ids` (a CTE with a column `id`
  // of the root key's type): the computation every full rewrite writes
  // (rewrite_rows), per root. Ids without a root row yield no row.
  const std::string& RecomputeSql() const { return recompute_; }

  // Step 1: fan-out keys ($1... one array per lookup, FROM order: today $1
  // subscriber distinct_ids, $2 Linear issue ids, text[]; the plan's
  // lookup_keys) to the root ids (text) they reach, through the source
  // indexes on the root's join columns. LookupCount() parameters.
  const WriterStatement& ResolveFanOut() const { return resolve_fan_out_; }
  size_t LookupCount() const { return view_.definition().lookups.size(); }
  // Step 2: a bare (key) row for every id of $1 (the key's array type, in
  // id order) that has none.
  const WriterStatement& InsertPlaceholders() const {
    return insert_placeholders_;
  }
  // Step 3: locks the rows of $1 FOR UPDATE, one at a time in the array's
  // order.
  const WriterStatement& LockRows() const { return lock_rows_; }
  // Steps 4a and 4b ($1 conversation ids, $2 one message id each, uuid[]; $3
  // the batch's commit LSN, pg_lsn text; $4 its commit time in microseconds
  // since the epoch, 0 unknown): one row, the number of rows updated and the
  // comma-separated conversations that could not be updated this way. Only
  // when has_message_paths(); otherwise they must not be called.
  bool has_message_paths() const { return has_message_paths_; }
  const WriterStatement& EditBodies() const;
  const WriterStatement& AppendMessages() const;
  // Step 4c ($1 root ids; $2 and $3 as $3 and $4 above): likewise.
  const WriterStatement& RewriteJoinedColumns() const {
    return rewrite_joined_columns_;
  }
  // Step 4 ($1 ids; $2 and $3 as above): recompute, upsert what differs,
  // delete what is gone; one row, rows upserted and rows deleted.
  const WriterStatement& RewriteRows() const { return rewrite_rows_; }
  // Step 5 ($1 consumer group, $2 topics text[], $3 partitions int[], $4 next
  // offsets bigint[]): stores offsets, never moving one backwards.
  const WriterStatement& StoreOffsets() const { return store_offsets_; }
  // The offsets stored ($1 consumer group, $2 topic): partition, next_offset
  // rows in partition order.
  const WriterStatement& StoredOffsets() const { return stored_offsets_; }

  // The bulk path: one table lock instead of steps 2 and 3 (no parameters);
  // the transaction's planner settings ($1 work_mem, $2 the number of ids);
  // step 4 set-based (parameters as RewriteRows).
  const WriterStatement& LockTable() const { return lock_table_; }
  const WriterStatement& BulkSettings() const { return bulk_settings_; }
  const WriterStatement& RewriteRowsBulk() const { return rewrite_rows_bulk_; }

  // The ids (text) of every root and enriched row that the tables
  // `truncated` names reached (TruncatedTables: by role, lookups by index in
  // the view's FROM order); named "list_rebuild_ids".
  // `truncated` must have a table set (any()), and only lookups of this view
  // (a plan of routes derived from its definition).
  WriterStatement ListRebuildIds(const TruncatedTables& truncated) const;

  // Snapshot rebuilds: how many of the snapshots $2 (pg_lsn[]) the group $1
  // rebuilt the table for; whether this role can read enrich-cdc's record of
  // snapshots (one boolean); their consistent points (pg_lsn text);
  // records the snapshots $2 as rebuilt for group $1.
  const WriterStatement& CoveredSnapshots() const { return covered_snapshots_; }
  // Whether the enriched table is empty while the root table is not (one
  // boolean): a table that was never built (a fresh install) or was
  // emptied.
  const WriterStatement& TableNeedsBuilding() const {
    return table_needs_building_;
  }
  const WriterStatement& CdcSnapshotsReadable() const {
    return cdc_snapshots_readable_;
  }
  const WriterStatement& CdcSnapshots() const { return cdc_snapshots_; }
  const WriterStatement& RecordSnapshots() const { return record_snapshots_; }

  // The writer's session settings, on every (re)connection: READ COMMITTED
  // as the default isolation; lz4 as the TOAST compression (a server without
  // lz4 rejects it).
  const WriterStatement& SetIsolation() const { return set_isolation_; }
  const WriterStatement& SetToastCompression() const {
    return set_toast_compression_;
  }

  // The hot statements of the row-lock path, in the order Apply runs them
  // (the message paths only when the view has them), for EXPLAIN in tests
  // and operations.
  std::vector<WriterStatement> HotStatements() const;
  // The bulk path's statements (lock_table, bulk_settings,
  // rewrite_rows_bulk), likewise.
  std::vector<WriterStatement> BulkStatements() const;

 private:
  CompiledView view_;
  bool has_message_paths_;
  std::string recompute_;
  WriterStatement resolve_fan_out_;
  WriterStatement insert_placeholders_;
  WriterStatement lock_rows_;
  WriterStatement edit_bodies_;
  WriterStatement append_messages_;
  WriterStatement rewrite_joined_columns_;
  WriterStatement rewrite_rows_;
  WriterStatement store_offsets_;
  WriterStatement stored_offsets_;
  WriterStatement lock_table_;
  WriterStatement bulk_settings_;
  WriterStatement rewrite_rows_bulk_;
  WriterStatement covered_snapshots_;
  WriterStatement table_needs_building_;
  WriterStatement cdc_snapshots_readable_;
  WriterStatement cdc_snapshots_;
  WriterStatement record_snapshots_;
  WriterStatement set_isolation_;
  WriterStatement set_toast_compression_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_VIEW_STATEMENTS_H_
