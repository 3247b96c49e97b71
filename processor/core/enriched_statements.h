// The statement catalogue of enriched_support_conversations: the SQL text of
// every statement EnrichedRowWriter sends (processor/adapters/
// enriched_row_writer.h; the step numbers below are its), the reference
// view's computation the reconciler compares with, and the table's column
// lists. Pure string building: no libpq; nothing here runs a statement.
//
//   const WriterStatement& lock = enriched_statements::LockRows();
//   // lock.name == "lock_rows"; lock.sql takes $1, a uuid[] in id order.
//   PREPARE lock_rows AS <lock.sql>; EXPLAIN EXECUTE lock_rows('{...}');
//
// Every statement's name is the one the writer reports to its
// statement_observer. The texts are built once and never change, so a
// reference stays valid for the life of the program. Thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_ENRICHED_STATEMENTS_H_
#define ENRICH_PROCESSOR_CORE_ENRICHED_STATEMENTS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "processor/core/affected_conversations.h"

namespace enrich::processor {

// One of the writer's statements, as sent (parameters $1...).
struct WriterStatement {
  std::string name;
  std::string sql;
};

namespace enriched_statements {

// The reference view's 33 column names, in order ("id" first).
std::vector<std::string> ReferenceColumns();
// What a full rewrite sets from the source: ReferenceColumns(), then
// all_message_ids (what reconcile compares).
std::vector<std::string> RewrittenColumns();

// A SELECT of ReferenceColumns() then all_message_ids, recomputed from the
// source tables for the ids of a relation the caller names `ids` (a CTE
// with a uuid column `id`): the computation every full rewrite writes
// (rewrite_rows), per conversation. Ids without a conversation yield no
// row.
const std::string& RecomputeSql();

// Step 1: fan-out keys ($1... one array per lookup, FROM order: today $1
// subscriber distinct_ids, $2 Linear issue ids, text[]; the plan's
// lookup_keys) to the conversation ids (text) they reach, through the
// source indexes on user_id and linear_issue_id. LookupCount() parameters.
const WriterStatement& ResolveFanOut();
size_t LookupCount();
// Step 2: a bare (id) row for every id of $1 (uuid[], in id order) that has
// none.
const WriterStatement& InsertPlaceholders();
// Step 3: locks the rows of $1 (uuid[]) FOR UPDATE, one at a time in the
// array's order.
const WriterStatement& LockRows();
// Steps 4a and 4b ($1 conversation ids, $2 one message id each, uuid[]; $3
// the batch's commit LSN, pg_lsn text; $4 its commit time in microseconds
// since the epoch, 0 unknown): one row, the number of rows updated and the
// comma-separated conversations that could not be updated this way.
const WriterStatement& EditBodies();
const WriterStatement& AppendMessages();
// Step 4c ($1 conversation ids, uuid[]; $2 and $3 as $3 and $4 above):
// likewise.
const WriterStatement& RewriteJoinedColumns();
// Step 4 ($1 ids, uuid[]; $2 and $3 as above): recompute, upsert what
// differs, delete what is gone; one row, rows upserted and rows deleted.
const WriterStatement& RewriteRows();
// Step 5 ($1 consumer group, $2 topics text[], $3 partitions int[], $4 next
// offsets bigint[]): stores offsets, never moving one backwards.
const WriterStatement& StoreOffsets();
// The offsets stored ($1 consumer group, $2 topic): partition, next_offset
// rows in partition order.
const WriterStatement& StoredOffsets();

// The bulk path: one table lock instead of steps 2 and 3 (no parameters);
// the transaction's planner settings ($1 work_mem, $2 the number of ids);
// step 4 set-based (parameters as RewriteRows).
const WriterStatement& LockTable();
const WriterStatement& BulkSettings();
const WriterStatement& RewriteRowsBulk();

// The ids (text) of every conversation and enriched row that the tables
// `truncated` names reached (TruncatedTables: by role, lookups by index in
// the view's FROM order); named "list_rebuild_ids".
// `truncated` must have a table set (any()), and only lookups of this view
// (a plan of routes derived from its definition).
WriterStatement ListRebuildIds(const TruncatedTables& truncated);

// Snapshot rebuilds: how many of the snapshots $2 (pg_lsn[]) the group $1
// rebuilt the table for; whether this role can read enrich-cdc's record of
// snapshots (one boolean); their consistent points (pg_lsn text);
// records the snapshots $2 as rebuilt for group $1.
const WriterStatement& CoveredSnapshots();
// Whether the enriched table is empty while raw_support_conversations is
// not (one boolean): a table that was never built (a fresh install) or was
// emptied.
const WriterStatement& TableNeedsBuilding();
const WriterStatement& CdcSnapshotsReadable();
const WriterStatement& CdcSnapshots();
const WriterStatement& RecordSnapshots();

// The writer's session settings, on every (re)connection: READ COMMITTED
// as the default isolation; lz4 as the TOAST compression (a server without
// lz4 rejects it).
const WriterStatement& SetIsolation();
const WriterStatement& SetToastCompression();

// The hot statements of the row-lock path, in the order Apply runs them,
// for EXPLAIN in tests and operations.
std::vector<WriterStatement> HotStatements();
// The bulk path's statements (lock_table, bulk_settings,
// rewrite_rows_bulk), likewise.
std::vector<WriterStatement> BulkStatements();

}  // namespace enriched_statements
}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_ENRICHED_STATEMENTS_H_
