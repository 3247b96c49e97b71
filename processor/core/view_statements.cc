#include "processor/core/view_statements.h"

#include <cassert>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace enrich::processor {
namespace {

// The columns a full rewrite sets from the source tables other than the
// key (RewrittenColumns() but the key), each with `prefix`.
std::string Columns(const CompiledView& view, absl::string_view prefix) {
  std::vector<std::string> columns;
  for (std::string& c : view.RewrittenColumns()) {
    if (c != view.key_column()) columns.push_back(std::move(c));
  }
  return absl::StrJoin(columns, ", ", [&](std::string* out, const auto& c) {
    absl::StrAppend(out, prefix, c);
  });
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
std::string RewriteSqlWith(const CompiledView& view,
                           const std::string& recompute, bool materialized,
                           const std::string& gone) {
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
      key, ") DO UPDATE SET (", Columns(view, ""), ", ", kBookkeepingColumns,
      ") = (", Columns(view, "EXCLUDED."),
      ", EXCLUDED.source_commit_lsn, EXCLUDED.source_commit_at,"
      " EXCLUDED.enriched_at)"
      " WHERE (",
      Columns(view, "e."), ") IS DISTINCT FROM (", Columns(view, "EXCLUDED."),
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
// place, which Apply rewrites in full (step 4). Only for a view
// MessagePathsApply accepts: the message columns are named here.
std::string MessageChangeSql(const CompiledView& view,
                             absl::string_view place_sql,
                             absl::string_view set_sql,
                             absl::string_view also_sql) {
  const ChildJoin& child = *view.definition().child;
  const std::string& key = view.key_column();
  return absl::StrCat(
      "WITH fresh AS MATERIALIZED ("
      " SELECT x.conversation_id, x.message_id, sm.body, sm.created_at,"
      "        p.place"
      "   FROM unnest($1::",
      view.key_type(),
      "[], $2::uuid[]) AS x(conversation_id, message_id)"
      "   LEFT JOIN LATERAL (SELECT m.body, m.created_at"
      "     FROM ",
      child.table.name,
      " m"
      "     WHERE m.id = x.message_id"
      "       AND m.",
      child.foreign_key_column,
      " = x.conversation_id OFFSET 0) sm ON true"
      "   LEFT JOIN LATERAL (SELECT ",
      place_sql,
      " AS place"
      "     FROM ",
      view.table(), " e WHERE e.", key,
      " = x.conversation_id OFFSET 0) p ON true), "
      "updated AS ("
      " UPDATE ",
      view.table(), " e SET ", set_sql, ", (", kBookkeepingColumns, ") = (",
      BookkeepingValues(3),
      ")"
      "   FROM fresh f"
      "  WHERE e.",
      key,
      " = f.conversation_id AND f.place IS NOT NULL"
      "    AND f.body IS NOT NULL",
      also_sql, " RETURNING e.", key,
      ") "
      "SELECT (SELECT count(*) FROM updated),"
      " array_to_string(ARRAY(SELECT conversation_id FROM fresh"
      "   WHERE place IS NULL OR body IS NULL ORDER BY conversation_id), ',')");
}

// Step 4a, body edits: the place is the message id's position in the row's
// all_message_ids (when the row's two arrays agree), where the body
// replaces the element if it differs. Not applicable: the message is gone,
// moved or has a NULL body, its id is not in the row's all_message_ids
// (e.g. a placeholder), or the arrays disagree.
std::string EditBodiesSql(const CompiledView& view) {
  return MessageChangeSql(
      view,
      "CASE WHEN cardinality(e.all_messages) = "
      "cardinality(e.all_message_ids)"
      " THEN array_position(e.all_message_ids, x.message_id) END",
      "all_messages[f.place] = f.body",
      " AND e.all_messages[f.place] IS DISTINCT FROM f.body");
}

// Step 4b, appends: the place is the end of the arrays, when the message
// sorts after every message the row counts (its created_at is later than
// the row's last_message_at, or the row counts none), is not in the row's
// all_message_ids yet and the arrays agree; body and id are appended, the
// message counted and its created_at becomes last_message_at. Not
// applicable: a tie on created_at, an earlier message, a NULL body, the
// message gone or moved, no row yet, the same insert applied twice.
std::string AppendMessagesSql(const CompiledView& view) {
  return MessageChangeSql(
      view,
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
      "");
}

// Whether `ref` is the child's column `column`.
bool IsChildColumn(const CompiledView& view, const ViewColumnRef& ref,
                   absl::string_view column) {
  return ref.table_alias == view.definition().child->table.alias &&
         ref.column == column;
}

bool IsAscendingKey(const CompiledView& view, const AggregateOrderKey& key,
                    absl::string_view column) {
  return IsChildColumn(view, key.column, column) && !key.descending &&
         !key.nulls_first.has_value();
}

// The aggregate column `c` is one the message paths maintain.
bool IsMessageAggregate(const CompiledView& view, const ViewOutputColumn& c,
                        const ViewAggregate& a) {
  if (!a.argument_cast.empty()) return false;
  if (c.name == "message_count") {
    // Counted up by one on an append: any integer type works, text not.
    const bool integer_cast = c.cast_type.empty() ||
                              c.cast_type == "pg_catalog.int4" ||
                              c.cast_type == "pg_catalog.int8";
    return a.kind == AggregateKind::kCount && !a.filter && integer_cast &&
           IsChildColumn(view, *a.argument, "id");
  }
  if (c.name == "last_message_at") {
    return a.kind == AggregateKind::kMax && !a.filter && c.cast_type.empty() &&
           IsChildColumn(view, *a.argument, "created_at");
  }
  if (c.name == "all_messages") {
    return a.kind == AggregateKind::kArrayAgg && c.cast_type.empty() &&
           IsChildColumn(view, *a.argument, "body") && a.order_by.size() == 2 &&
           IsAscendingKey(view, a.order_by[0], "created_at") &&
           IsAscendingKey(view, a.order_by[1], "id") && a.filter &&
           a.filter->op == AggregateFilter::Op::kIsNotNull &&
           a.filter->column_cast.empty() &&
           IsChildColumn(view, a.filter->column, "body");
  }
  return false;
}

}  // namespace

bool MessagePathsApply(const CompiledView& view) {
  if (!view.definition().child || view.key_type() != "uuid") return false;
  int maintained = 0;
  for (const ViewOutputColumn& c : view.definition().columns) {
    const auto* aggregate = std::get_if<ViewAggregate>(&c.value);
    if (aggregate == nullptr) continue;
    if (!IsMessageAggregate(view, c, *aggregate)) return false;
    ++maintained;
  }
  // Each of the three names once (a view names a column once).
  return maintained == 3;
}

ViewRoutes RoutesFor(const ViewStatements& statements,
                     absl::string_view schema) {
  return ViewRoutes::FromView(statements.view().definition(), schema,
                              RootKeyFormOf(statements.view().key_type()),
                              statements.has_message_paths()
                                  ? ChildEdits::kInPlace
                                  : ChildEdits::kFullRewrite);
}

ViewStatements::ViewStatements(CompiledView view)
    : view_(std::move(view)), has_message_paths_(MessagePathsApply(view_)) {
  const std::string& table = view_.table();
  const std::string& key = view_.key_column();
  const std::string& key_type = view_.key_type();
  recompute_ = view_.RecomputePerIdSelect();
  // Step 1: fan-out keys to root ids, compiled: each key is looked up on
  // its own (LATERAL ... OFFSET 0 keeps the planner from turning the
  // lookups into a hash join over the whole table), through the indexes on
  // the root's join columns; $1, $2... in the view's lookup order.
  resolve_fan_out_ = {"resolve_fan_out", view_.ResolveFanOutSql()};
  // Step 2: placeholders, inserted in the array's (id) order.
  insert_placeholders_ = {
      "insert_placeholders",
      absl::StrCat("INSERT INTO ", table, " (", key,
                   ") SELECT id FROM unnest($1::", key_type,
                   "[]) WITH ORDINALITY AS a(id, n) ORDER BY n ON CONFLICT (",
                   key, ") DO NOTHING")};
  // Step 3: row locks, taken one id at a time in the array's (id) order: a
  // subquery with FOR UPDATE is never flattened, so it runs per outer row.
  lock_rows_ = {
      "lock_rows",
      absl::StrCat("SELECT count(*) FROM unnest($1::", key_type,
                   "[]) WITH ORDINALITY AS a(id, n) CROSS JOIN LATERAL (SELECT "
                   "e.",
                   key, " FROM ", table, " e WHERE e.", key,
                   " = a.id FOR UPDATE) l")};
  if (has_message_paths_) {
    edit_bodies_ = {"edit_bodies", EditBodiesSql(view_)};
    append_messages_ = {"append_messages", AppendMessagesSql(view_)};
  }
  // Step 4c, joined-column rewrites ($1 root ids, $2 and $3 the lsn and
  // commit time): for roots a fan-out or a root column update reached, read
  // the root and its lookups after the row lock and set the joined columns
  // where they differ, keeping the child aggregates and the key arrays.
  // Returns the number of rows updated and the ids it cannot rewrite this
  // way (no root any more, or no complete row yet: a placeholder), which
  // Apply rewrites in full.
  rewrite_joined_columns_ = {"rewrite_joined_columns",
                             view_.RewriteJoinedColumnsSql(
                                 absl::StrCat("(", kBookkeepingColumns, ") = (",
                                              BookkeepingValues(2), ")"),
                                 "source_commit_lsn")};
  rewrite_rows_ = {"rewrite_rows",
                   RewriteSqlWith(view_, recompute_, /*materialized=*/true,
                                  view_.GoneCondition(/*set_based=*/false))};
  // Step 5: offsets, never moved backwards (a batch re-applied by a
  // consumer that lost its partition must not undo its successor's
  // progress).
  store_offsets_ = {
      "store_offsets",
      "INSERT INTO enrich_processor_offsets AS o "
      "(consumer_group, topic, partition, next_offset) "
      "SELECT $1, t, p, n FROM unnest($2::text[], $3::int[], $4::bigint[]) "
      "AS x(t, p, n) "
      "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
      "next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), "
      "updated_at = now()"};
  stored_offsets_ = {
      "stored_offsets",
      "SELECT partition, next_offset FROM enrich_processor_offsets "
      "WHERE consumer_group = $1 AND topic = $2 ORDER BY partition"};
  // Bulk path, instead of steps 2 and 3: one table lock that conflicts with
  // itself and with the ROW EXCLUSIVE lock every other writer's step 2
  // takes (and holds to its commit), but not with readers.
  lock_table_ = {"lock_table", absl::StrCat("LOCK TABLE ", table,
                                            " IN SHARE ROW EXCLUSIVE MODE")};
  // The bulk path's planner settings, for this transaction only: $1 the
  // work_mem (sorts and hashes of a whole rebuild), and when the ids ($2 of
  // them) are at least a quarter of the roots, no index or bitmap scans:
  // reading every child row in heap order and sorting them beats fetching
  // them through the foreign key's index in random heap order, which the
  // planner otherwise prefers (tests/bench/RESULTS.md, section 4.1).
  bulk_settings_ = {
      "bulk_settings",
      absl::StrCat("SELECT set_config('work_mem', $1, true), "
                   "CASE WHEN $2::float8 * 4 >= (SELECT greatest(reltuples, 0) "
                   "  FROM pg_class WHERE oid = '",
                   view_.definition().root.table.name,
                   "'::regclass) "
                   "THEN set_config('enable_indexscan', 'off', true) || "
                   "     set_config('enable_bitmapscan', 'off', true) END")};
  // The bulk path's step 4. `fresh` is read once, by the upsert, so it is
  // not materialized (a rebuild's rows would be written to a temporary
  // tuplestore and read back, gigabytes for a whole table); the deletions
  // are the ids without a root in the statement's snapshot, which is
  // exactly the complement of `fresh` (it has a row for every id with one).
  rewrite_rows_bulk_ = {
      "rewrite_rows_bulk",
      RewriteSqlWith(view_, view_.RecomputeSetSelect(1),
                     /*materialized=*/false,
                     view_.GoneCondition(/*set_based=*/true))};
  // Snapshot rebuilds (header): how many of the snapshots $2 (pg_lsn[])
  // the group $1 has rebuilt the table for already.
  covered_snapshots_ = {
      "covered_snapshots",
      "SELECT count(*) FROM enrich_processor_snapshots "
      "WHERE consumer_group = $1 AND snapshot_lsn = ANY($2::pg_lsn[])"};
  table_needs_building_ = {
      "table_needs_building",
      absl::StrCat("SELECT NOT EXISTS (SELECT 1 FROM ", table,
                   ") AND EXISTS (SELECT 1 FROM ",
                   view_.definition().root.table.name, ")")};
  // Whether this role can read enrich-cdc's record of snapshots
  // (enrich-cdc creates it in the source database; it may not exist yet).
  cdc_snapshots_readable_ = {
      "cdc_snapshots_readable",
      "SELECT coalesce(has_table_privilege("
      "to_regclass('enrich_cdc_snapshots'), 'SELECT'), false)"};
  // The consistent points of the snapshots enrich-cdc recorded (being
  // published, or finished).
  cdc_snapshots_ = {"cdc_snapshots",
                    "SELECT consistent_lsn::text FROM enrich_cdc_snapshots"};
  record_snapshots_ = {
      "record_snapshots",
      "INSERT INTO enrich_processor_snapshots (consumer_group, snapshot_lsn) "
      "SELECT $1, unnest($2::pg_lsn[]) ON CONFLICT DO NOTHING"};
  // The locking argument (processor/adapters/WRITER_DESIGN.md) needs READ
  // COMMITTED, whatever the server's default is.
  set_isolation_ = {"set_isolation",
                    "SET default_transaction_isolation = 'read committed'"};
  // Values the rewrite stores compressed (arrays, mostly) are compressed
  // with lz4 instead of the default pglz: cheaper rewrites
  // (tests/bench/RESULTS.md, section 4.1). Only columns without their own
  // COMPRESSION setting follow this; readers decompress either method, and
  // the stored values are the same.
  set_toast_compression_ = {"set_toast_compression",
                            "SET default_toast_compression = 'lz4'"};
}

const WriterStatement& ViewStatements::EditBodies() const {
  assert(has_message_paths_);
  return edit_bodies_;
}

const WriterStatement& ViewStatements::AppendMessages() const {
  assert(has_message_paths_);
  return append_messages_;
}

// Truncate-driven rebuilds: the ids a truncated table reached.
WriterStatement ViewStatements::ListRebuildIds(
    const TruncatedTables& truncated) const {
  RebuildScope scope;
  scope.root_or_child = truncated.root || truncated.child;
  scope.lookups.assign(truncated.lookups.begin(), truncated.lookups.end());
  return {"list_rebuild_ids", view_.ListRebuildIdsSql(scope)};
}

std::vector<std::string> ViewStatements::ReferenceColumns() const {
  return view_.OutputColumns();
}

std::vector<std::string> ViewStatements::RewrittenColumns() const {
  return view_.RewrittenColumns();
}

std::vector<WriterStatement> ViewStatements::HotStatements() const {
  std::vector<WriterStatement> hot = {ResolveFanOut(), InsertPlaceholders(),
                                      LockRows()};
  if (has_message_paths_) {
    hot.push_back(EditBodies());
    hot.push_back(AppendMessages());
  }
  hot.push_back(RewriteJoinedColumns());
  hot.push_back(RewriteRows());
  hot.push_back(StoreOffsets());
  return hot;
}

std::vector<WriterStatement> ViewStatements::BulkStatements() const {
  return {LockTable(), BulkSettings(), RewriteRowsBulk()};
}

}  // namespace enrich::processor
