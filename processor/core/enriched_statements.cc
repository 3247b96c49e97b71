#include "processor/core/enriched_statements.h"

#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "processor/adapters/declared_views.h"
#include "processor/core/compiled_view.h"

namespace enrich::processor::enriched_statements {
namespace {

// Today's view, compiled from its definition file
// (sql/views/enriched_support_conversations.sql).
const CompiledView& View() { return EnrichedSupportConversationsView(); }

// The columns a full rewrite sets from the source tables other than the
// key (RewrittenColumns() but id), each with `prefix`.
std::string Columns(absl::string_view prefix) {
  std::vector<std::string> columns;
  for (std::string& c : View().RewrittenColumns()) {
    if (c != View().key_column()) columns.push_back(std::move(c));
  }
  return absl::StrJoin(columns, ", ", [&](std::string* out, const auto& c) {
    absl::StrAppend(out, prefix, c);
  });
}

// The per-id recompute (VIEWS.md): a lookup per id, the child aggregate per
// conversation.
const std::string& RecomputeSelectSql() {
  static const std::string* sql =
      new std::string(View().RecomputePerIdSelect());
  return *sql;
}

// The bookkeeping columns every write sets, and their values from the
// statement's parameters $n (the batch's highest source commit LSN) and
// $n+1 (its latest commit time in microseconds since the epoch; 0: unknown).
constexpr char kBookkeepingColumns[] =
    "source_commit_lsn, source_commit_at, enriched_at";
std::string BookkeepingValues(int n) {
  return absl::StrCat("$", n, "::pg_lsn, CASE WHEN $", n + 1,
                      "::bigint > 0 THEN 'epoch'::timestamptz + $", n + 1,
                      "::bigint * interval '1 microsecond' END, "
                      "clock_timestamp()");
}

// Step 4: recompute (the compiled per-id or set-based SELECT), upsert what
// differs, delete what is gone; one statement, so one snapshot. `gone` is
// the condition, on ids.id, of the ids to delete (CompiledView::
// GoneCondition). The insert names every rewritten column in the
// recompute's order, so `f.*` matches it.
std::string RewriteSqlWith(const std::string& recompute, bool materialized,
                           const std::string& gone) {
  const CompiledView& view = View();
  const std::string& key = view.key_column();
  return absl::StrCat(
      "WITH ids AS (SELECT DISTINCT id FROM unnest($1::", view.key_type(),
      "[]) AS a(id)), fresh AS ", materialized ? "MATERIALIZED " : "", "(",
      recompute,
      "), "
      "upserted AS ("
      " INSERT INTO ",
      view.table(), " AS e (", absl::StrJoin(view.RewrittenColumns(), ", "),
      ", ", kBookkeepingColumns, ") SELECT f.*, ", BookkeepingValues(2),
      " FROM fresh f"
      " ON CONFLICT (",
      key, ") DO UPDATE SET (", Columns(""), ", ", kBookkeepingColumns, ") = (",
      Columns("EXCLUDED."),
      ", EXCLUDED.source_commit_lsn, EXCLUDED.source_commit_at,"
      " EXCLUDED.enriched_at)"
      " WHERE (",
      Columns("e."), ") IS DISTINCT FROM (", Columns("EXCLUDED."),
      ") RETURNING e.", key,
      "), "
      // The ids to delete as an array: an index condition whatever the
      // planner estimates (a join on the ids may become a sequential scan).
      "deleted AS ("
      " DELETE FROM ",
      view.table(), " e WHERE e.", key,
      " = ANY(ARRAY(SELECT ids.id FROM ids WHERE ", gone, ")) RETURNING e.",
      key,
      ") "
      "SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM "
      "deleted)");
}

// Steps 4a and 4b share one shape ($1 conversation ids, $2 one message id
// each, $3 and $4 as in step 4). `fresh` reads each message (only if it is
// still in that conversation) and, from the locked enriched row `e`, the
// message's `place` there (`place_sql`: NULL when the change cannot be
// applied to that row); `updated` applies `set_sql` where the message has a
// body and a place, and `also_sql` holds. The result: the number of rows
// updated, and the comma-separated conversations without a body or a
// place, which Apply rewrites in full (step 4).
std::string MessageChangeSql(absl::string_view place_sql,
                             absl::string_view set_sql,
                             absl::string_view also_sql) {
  return absl::StrCat(
      "WITH fresh AS MATERIALIZED ("
      " SELECT x.conversation_id, x.message_id, sm.body, sm.created_at,"
      "        p.place"
      "   FROM unnest($1::uuid[], $2::uuid[]) AS x(conversation_id, message_id)"
      "   LEFT JOIN LATERAL (SELECT m.body, m.created_at"
      "     FROM support_conversation_messages m"
      "     WHERE m.id = x.message_id"
      "       AND m.conversation_id = x.conversation_id OFFSET 0) sm ON true"
      "   LEFT JOIN LATERAL (SELECT ",
      place_sql,
      " AS place"
      "     FROM enriched_support_conversations e"
      "     WHERE e.id = x.conversation_id OFFSET 0) p ON true), "
      "updated AS ("
      " UPDATE enriched_support_conversations e SET ",
      set_sql, ", (", kBookkeepingColumns, ") = (", BookkeepingValues(3),
      ")"
      "   FROM fresh f"
      "  WHERE e.id = f.conversation_id AND f.place IS NOT NULL"
      "    AND f.body IS NOT NULL",
      also_sql,
      " RETURNING e.id) "
      "SELECT (SELECT count(*) FROM updated),"
      " array_to_string(ARRAY(SELECT conversation_id FROM fresh"
      "   WHERE place IS NULL OR body IS NULL ORDER BY conversation_id), ',')");
}

}  // namespace

// Step 1: fan-out keys to conversation ids, compiled: each key is looked
// up on its own (LATERAL ... OFFSET 0 keeps the planner from turning the
// lookups into a hash join over the whole table), through the contract's
// indexes on user_id and linear_issue_id; $1 and $2 in the view's lookup
// order (subscribers, then Linear issues).
const WriterStatement& ResolveFanOut() {
  static const auto* statement =
      new WriterStatement{"resolve_fan_out", View().ResolveFanOutSql()};
  return *statement;
}

size_t LookupCount() { return View().definition().lookups.size(); }

// Step 2: placeholders, inserted in the array's (id) order.
const WriterStatement& InsertPlaceholders() {
  static const auto* statement = new WriterStatement{
      "insert_placeholders",
      "INSERT INTO enriched_support_conversations (id) "
      "SELECT id FROM unnest($1::uuid[]) WITH ORDINALITY AS a(id, n) "
      "ORDER BY n ON CONFLICT (id) DO NOTHING"};
  return *statement;
}

// Step 3: row locks, taken one id at a time in the array's (id) order: a
// subquery with FOR UPDATE is never flattened, so it runs per outer row.
const WriterStatement& LockRows() {
  static const auto* statement = new WriterStatement{
      "lock_rows",
      "SELECT count(*) FROM unnest($1::uuid[]) WITH ORDINALITY AS a(id, n) "
      "CROSS JOIN LATERAL (SELECT e.id FROM enriched_support_conversations e "
      "WHERE e.id = a.id FOR UPDATE) l"};
  return *statement;
}

const WriterStatement& RewriteRows() {
  static const auto* statement = new WriterStatement{
      "rewrite_rows",
      RewriteSqlWith(RecomputeSelectSql(), /*materialized=*/true,
                     View().GoneCondition(/*set_based=*/false))};
  return *statement;
}

// Step 4a, body edits: the place is the message id's position in the row's
// all_message_ids (when the row's two arrays agree), where the body
// replaces the element if it differs. Not applicable: the message is gone,
// moved or has a NULL body, its id is not in the row's all_message_ids
// (e.g. a placeholder), or the arrays disagree.
const WriterStatement& EditBodies() {
  static const auto* statement = new WriterStatement{
      "edit_bodies",
      MessageChangeSql(
          "CASE WHEN cardinality(e.all_messages) = "
          "cardinality(e.all_message_ids)"
          " THEN array_position(e.all_message_ids, x.message_id) END",
          "all_messages[f.place] = f.body",
          " AND e.all_messages[f.place] IS DISTINCT FROM f.body")};
  return *statement;
}

// Step 4b, appends: the place is the end of the arrays, when the message
// sorts after every message the row counts (its created_at is later than
// the row's last_message_at, or the row counts none), is not in the row's
// all_message_ids yet and the arrays agree; body and id are appended, the
// message counted and its created_at becomes last_message_at. Not
// applicable: a tie on created_at, an earlier message, a NULL body, the
// message gone or moved, no row yet, the same insert applied twice.
const WriterStatement& AppendMessages() {
  static const auto* statement = new WriterStatement{
      "append_messages",
      MessageChangeSql(
          "CASE WHEN (e.message_count = 0 AND e.last_message_at IS NULL"
          "           OR e.last_message_at < sm.created_at)"
          "      AND coalesce(cardinality(e.all_messages), 0)"
          "          = coalesce(cardinality(e.all_message_ids), 0)"
          "      AND NOT coalesce(x.message_id = ANY(e.all_message_ids), false)"
          " THEN true END",
          "all_messages = array_append(e.all_messages, f.body),"
          " all_message_ids = array_append(e.all_message_ids, f.message_id),"
          " message_count = e.message_count + 1,"
          " last_message_at = f.created_at",
          "")};
  return *statement;
}

// Step 4c, joined-column rewrites ($1 conversation ids, $2 and $3 the lsn
// and commit time): for conversations a fan-out reached (a subscriber or
// Linear change, which can only change these columns), read the
// conversation, its subscriber and its Linear issue after the row lock and
// set the joined columns where they differ, keeping the message aggregate
// and all_message_ids. Returns the number of rows updated and the
// conversations it cannot rewrite this way (no conversation any more, or
// no complete row yet: a placeholder has a NULL message_count), which Apply
// rewrites in full.
const WriterStatement& RewriteJoinedColumns() {
  static const auto* statement =
      new WriterStatement{"rewrite_joined_columns",
                          View().RewriteJoinedColumnsSql(
                              absl::StrCat("(", kBookkeepingColumns, ") = (",
                                           BookkeepingValues(2), ")"),
                              "source_commit_lsn")};
  return *statement;
}

// Step 5: offsets, never moved backwards (a batch re-applied by a consumer
// that lost its partition must not undo its successor's progress).
const WriterStatement& StoreOffsets() {
  static const auto* statement = new WriterStatement{
      "store_offsets",
      "INSERT INTO enrich_processor_offsets AS o "
      "(consumer_group, topic, partition, next_offset) "
      "SELECT $1, t, p, n FROM unnest($2::text[], $3::int[], $4::bigint[]) "
      "AS x(t, p, n) "
      "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
      "next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), "
      "updated_at = now()"};
  return *statement;
}

// Bulk path, instead of steps 2 and 3: one table lock that conflicts with
// itself and with the ROW EXCLUSIVE lock every other writer's step 2 takes
// (and holds to its commit), but not with readers.
const WriterStatement& LockTable() {
  static const auto* statement = new WriterStatement{
      "lock_table",
      "LOCK TABLE enriched_support_conversations IN SHARE ROW EXCLUSIVE MODE"};
  return *statement;
}

// The bulk path's planner settings, for this transaction only: $1 the
// work_mem (sorts and hashes of a whole rebuild), and when the ids ($2 of
// them) are at least a quarter of the conversations, no index or bitmap
// scans: reading every message in heap order and sorting them beats
// fetching them through the conversation_id index in random heap order,
// which the planner otherwise prefers (tests/bench/RESULTS.md, section
// 4.1).
const WriterStatement& BulkSettings() {
  static const auto* statement = new WriterStatement{
      "bulk_settings",
      "SELECT set_config('work_mem', $1, true), "
      "CASE WHEN $2::float8 * 4 >= (SELECT greatest(reltuples, 0) "
      "  FROM pg_class WHERE oid = 'raw_support_conversations'::regclass) "
      "THEN set_config('enable_indexscan', 'off', true) || "
      "     set_config('enable_bitmapscan', 'off', true) END"};
  return *statement;
}

// The bulk path's step 4. `fresh` is read once, by the upsert, so it is not
// materialized (a rebuild's rows would be written to a temporary tuplestore
// and read back, gigabytes for a whole table); the deletions are the
// ids without a conversation in the statement's snapshot, which is exactly
// the complement of `fresh` (it has a row for every id with one).
const WriterStatement& RewriteRowsBulk() {
  static const auto* statement = new WriterStatement{
      "rewrite_rows_bulk",
      RewriteSqlWith(View().RecomputeSetSelect(1), /*materialized=*/false,
                     View().GoneCondition(/*set_based=*/true))};
  return *statement;
}

// Truncate-driven rebuilds: the ids a truncated table reached.
WriterStatement ListRebuildIds(const TruncatedTables& truncated) {
  RebuildScope scope;
  scope.root_or_child = truncated.root || truncated.child;
  scope.lookups.assign(truncated.lookups.begin(), truncated.lookups.end());
  return {"list_rebuild_ids", View().ListRebuildIdsSql(scope)};
}

// Snapshot rebuilds (header): how many of the snapshots $2 (pg_lsn[]) the
// group $1 has rebuilt the table for already.
const WriterStatement& CoveredSnapshots() {
  static const auto* statement = new WriterStatement{
      "covered_snapshots",
      "SELECT count(*) FROM enrich_processor_snapshots "
      "WHERE consumer_group = $1 AND snapshot_lsn = ANY($2::pg_lsn[])"};
  return *statement;
}

const WriterStatement& TableNeedsBuilding() {
  static const auto* statement = new WriterStatement{
      "table_needs_building",
      "SELECT NOT EXISTS (SELECT 1 FROM enriched_support_conversations) AND "
      "EXISTS (SELECT 1 FROM raw_support_conversations)"};
  return *statement;
}

// Whether this role can read enrich-cdc's record of snapshots
// (enrich-cdc creates it in the source database; it may not exist yet).
const WriterStatement& CdcSnapshotsReadable() {
  static const auto* statement = new WriterStatement{
      "cdc_snapshots_readable",
      "SELECT coalesce(has_table_privilege("
      "to_regclass('enrich_cdc_snapshots'), 'SELECT'), false)"};
  return *statement;
}

// The consistent points of the snapshots enrich-cdc recorded (being
// published, or finished).
const WriterStatement& CdcSnapshots() {
  static const auto* statement = new WriterStatement{
      "cdc_snapshots", "SELECT consistent_lsn::text FROM enrich_cdc_snapshots"};
  return *statement;
}

// Records the snapshots $2 (pg_lsn[]) as rebuilt for group $1.
const WriterStatement& RecordSnapshots() {
  static const auto* statement = new WriterStatement{
      "record_snapshots",
      "INSERT INTO enrich_processor_snapshots (consumer_group, snapshot_lsn) "
      "SELECT $1, unnest($2::pg_lsn[]) ON CONFLICT DO NOTHING"};
  return *statement;
}

const WriterStatement& StoredOffsets() {
  static const auto* statement = new WriterStatement{
      "stored_offsets",
      "SELECT partition, next_offset FROM enrich_processor_offsets "
      "WHERE consumer_group = $1 AND topic = $2 ORDER BY partition"};
  return *statement;
}

// The locking argument (processor/adapters/WRITER_DESIGN.md) needs READ
// COMMITTED, whatever the server's default is.
const WriterStatement& SetIsolation() {
  static const auto* statement =
      new WriterStatement{"set_isolation",
                          "SET default_transaction_isolation = "
                          "'read committed'"};
  return *statement;
}

// Values the rewrite stores compressed (all_messages, mostly) are
// compressed with lz4 instead of the default pglz: cheaper rewrites
// (tests/bench/RESULTS.md, section 4.1). Only columns without their own
// COMPRESSION setting follow this; readers decompress either method, and
// the stored values are the same.
const WriterStatement& SetToastCompression() {
  static const auto* statement = new WriterStatement{
      "set_toast_compression", "SET default_toast_compression = 'lz4'"};
  return *statement;
}

std::vector<std::string> ReferenceColumns() { return View().OutputColumns(); }

std::vector<std::string> RewrittenColumns() {
  return View().RewrittenColumns();
}

const std::string& RecomputeSql() { return RecomputeSelectSql(); }

std::vector<WriterStatement> HotStatements() {
  return {ResolveFanOut(), InsertPlaceholders(), LockRows(),
          EditBodies(),    AppendMessages(),     RewriteJoinedColumns(),
          RewriteRows(),   StoreOffsets()};
}

std::vector<WriterStatement> BulkStatements() {
  return {LockTable(), BulkSettings(), RewriteRowsBulk()};
}

}  // namespace enrich::processor::enriched_statements
