#include "processor/adapters/enriched_row_writer.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "processor/adapters/pg_statement.h"

namespace enrich::processor {
namespace {

// The reference view's columns after id, in its order.
constexpr const char* kValueColumns[] = {
    "source",
    "external_id",
    "title",
    "description",
    "status",
    "priority",
    "created_at",
    "updated_at",
    "resolved_at",
    "user_uuid",
    "user_id",
    "assignee_id",
    "tags",
    "custom_fields",
    "raw_data",
    "synced_at",
    "has_linear_ticket",
    "linear_issue_id",
    "linear_custom_field_id",
    "income",
    "net_worth",
    "investing_activity",
    "total_copies",
    "total_subscriptions",
    "app_sessions",
    "message_count",
    "last_message_at",
    "all_messages",
    "linear_identifier",
    "linear_title",
    "linear_state_name",
    "linear_url",
};

// The bookkeeping column every full rewrite sets with the reference's
// columns (sql/005_message_ids.sql): the ids behind all_messages, in order.
constexpr char kMessageIdsColumn[] = "all_message_ids";

// The columns a full rewrite sets from the source tables, after id: the
// reference view's, then all_message_ids.
std::string Columns(absl::string_view prefix) {
  return absl::StrCat(
      absl::StrJoin(std::begin(kValueColumns), std::end(kValueColumns), ", ",
                    [&](std::string* out, const char* c) {
                      absl::StrAppend(out, prefix, c);
                    }),
      ", ", prefix, kMessageIdsColumn);
}

// Step 1: fan-out keys to conversation ids. Each key is looked up on its own
// (LATERAL ... OFFSET 0 keeps the planner from turning the lookups into a
// hash join over the whole table), through the contract's indexes.
const std::string& ResolveSql() {
  static const std::string* sql = new std::string(
      "SELECT c.id::text FROM unnest($1::text[]) AS k(user_id) "
      "CROSS JOIN LATERAL (SELECT id FROM raw_support_conversations "
      "WHERE user_id = k.user_id OFFSET 0) c "
      "UNION "
      "SELECT c.id::text FROM unnest($2::text[]) AS k(linear_issue_id) "
      "CROSS JOIN LATERAL (SELECT id FROM raw_support_conversations "
      "WHERE linear_issue_id = k.linear_issue_id OFFSET 0) c");
  return *sql;
}

// Step 2: placeholders, inserted in the array's (id) order.
const std::string& PlaceholderSql() {
  static const std::string* sql = new std::string(
      "INSERT INTO enriched_support_conversations (id) "
      "SELECT id FROM unnest($1::uuid[]) WITH ORDINALITY AS a(id, n) "
      "ORDER BY n ON CONFLICT (id) DO NOTHING");
  return *sql;
}

// Step 3: row locks, taken one id at a time in the array's (id) order: a
// subquery with FOR UPDATE is never flattened, so it runs per outer row.
const std::string& LockSql() {
  static const std::string* sql = new std::string(
      "SELECT count(*) FROM unnest($1::uuid[]) WITH ORDINALITY AS a(id, n) "
      "CROSS JOIN LATERAL (SELECT e.id FROM enriched_support_conversations e "
      "WHERE e.id = a.id FOR UPDATE) l");
  return *sql;
}

// The reference's columns between id and the message aggregate, and after
// it, over the aliases c (conversation), u (subscriber) and li (Linear
// issue): with them the joined columns.
constexpr char kConversationColumns[] =
    " c.source, c.external_id, c.title, c.description,"
    " c.status, c.priority, c.created_at, c.updated_at, c.resolved_at,"
    " c.user_uuid, c.user_id, c.assignee_id, c.tags, c.custom_fields,"
    " c.raw_data, c.synced_at, c.has_linear_ticket, c.linear_issue_id,"
    " c.linear_custom_field_id,"
    " u.income, u.net_worth, u.investing_activity,"
    " u.total_copies, u.total_subscriptions, u.app_sessions,";
constexpr char kLinearColumns[] =
    " li.identifier AS linear_identifier, li.title AS linear_title,"
    " li.state_name AS linear_state_name, li.url AS linear_url";
// The messages aggregate over sm (support_conversation_messages): the
// reference's three columns and all_message_ids, in the same order as
// all_messages.
constexpr char kMessageAggregates[] =
    " count(sm.id)::integer AS message_count,"
    " max(sm.created_at) AS last_message_at,"
    " array_agg(sm.body ORDER BY sm.created_at, sm.id)"
    "   FILTER (WHERE sm.body IS NOT NULL) AS all_messages,"
    " array_agg(sm.id ORDER BY sm.created_at, sm.id)"
    "   FILTER (WHERE sm.body IS NOT NULL) AS all_message_ids";

// The reference's 33 columns and all_message_ids for the ids of a relation
// named `ids`. Every
// join is a per-conversation lookup (OFFSET 0 fences keep them nested loops
// over indexes); the messages aggregate is the reference view's, per
// conversation.
const std::string& RecomputeSelectSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      " SELECT c.id,", kConversationColumns,
      " m.message_count, m.last_message_at, m.all_messages,", kLinearColumns,
      ", m.all_message_ids"
      " FROM ids"
      " CROSS JOIN LATERAL (SELECT * FROM raw_support_conversations rc"
      "   WHERE rc.id = ids.id OFFSET 0) c"
      " LEFT JOIN LATERAL (SELECT * FROM subscribers_insights si"
      "   WHERE si.distinct_id = c.user_id OFFSET 0) u ON true"
      " LEFT JOIN LATERAL (SELECT * FROM linear_issues l"
      "   WHERE l.id = c.linear_issue_id OFFSET 0) li ON true"
      " CROSS JOIN LATERAL (SELECT",
      kMessageAggregates,
      "     FROM support_conversation_messages sm"
      "    WHERE sm.conversation_id = c.id) m"));
  return *sql;
}

// The same 33 columns for a large set of ids ($1, a sorted uuid[]),
// set-based: the conversations, subscribers and issues by hash joins, and
// the messages aggregated in one pass over their conversation_id index (an
// index scan with = ANY returns them in conversation_id order, so the
// GROUP BY needs no sort), instead of one lookup and one small aggregate per
// conversation. The reference view's expressions; a conversation without
// messages gets count 0 and NULL max and array, as COUNT, MAX and
// ARRAY_AGG ... FILTER give over the view's LEFT JOIN.
const std::string& RecomputeSetSelectSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      " SELECT c.id,", kConversationColumns,
      " coalesce(m.message_count, 0) AS message_count, m.last_message_at,"
      " m.all_messages,",
      kLinearColumns,
      ", m.all_message_ids"
      " FROM raw_support_conversations c"
      " LEFT JOIN subscribers_insights u ON u.distinct_id = c.user_id"
      " LEFT JOIN linear_issues li ON li.id = c.linear_issue_id"
      " LEFT JOIN (SELECT sm.conversation_id,",
      kMessageAggregates,
      "     FROM support_conversation_messages sm"
      "    WHERE sm.conversation_id = ANY($1::uuid[])"
      "    GROUP BY sm.conversation_id) m ON m.conversation_id = c.id"
      " WHERE c.id = ANY($1::uuid[])"));
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

// Step 4: recompute (RecomputeSelectSql, or RecomputeSetSelectSql for the
// bulk path), upsert what differs, delete what is gone; one statement, so
// one snapshot.
// `gone` is the condition, on ids.id, of the ids to delete (no
// conversation).
std::string RewriteSqlWith(const std::string& recompute, bool materialized,
                           const std::string& gone) {
  return absl::StrCat(
      "WITH ids AS (SELECT DISTINCT id FROM unnest($1::uuid[]) AS a(id)), "
      "fresh AS ",
      materialized ? "MATERIALIZED " : "", "(", recompute,
      "), "
      "upserted AS ("
      " INSERT INTO enriched_support_conversations AS e (id, ",
      Columns(""), ", ", kBookkeepingColumns, ") SELECT f.*, ",
      BookkeepingValues(2),
      " FROM fresh f"
      " ON CONFLICT (id) DO UPDATE SET (",
      Columns(""), ", ", kBookkeepingColumns, ") = (", Columns("EXCLUDED."),
      ", EXCLUDED.source_commit_lsn, EXCLUDED.source_commit_at,"
      " EXCLUDED.enriched_at)"
      " WHERE (",
      Columns("e."), ") IS DISTINCT FROM (", Columns("EXCLUDED."),
      ") RETURNING e.id), "
      // The ids to delete as an array: an index condition whatever the
      // planner estimates (a join on the ids may become a sequential scan).
      "deleted AS ("
      " DELETE FROM enriched_support_conversations e"
      " WHERE e.id = ANY(ARRAY(SELECT ids.id FROM ids WHERE ",
      gone,
      "))"
      " RETURNING e.id) "
      "SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM "
      "deleted)");
}

const std::string& RewriteSql() {
  static const std::string* sql = new std::string(
      RewriteSqlWith(RecomputeSelectSql(), /*materialized=*/true,
                     "NOT EXISTS (SELECT 1 FROM fresh f WHERE f.id = ids.id)"));
  return *sql;
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

// The reference's columns that come from the conversation, subscriber and
// Linear rows: all but id and the message aggregate, in the view's order.
std::vector<std::string> JoinedColumns() {
  std::vector<std::string> columns;
  for (const char* c : kValueColumns) {
    const absl::string_view name(c);
    if (name != "message_count" && name != "last_message_at" &&
        name != "all_messages") {
      columns.emplace_back(name);
    }
  }
  return columns;
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
const std::string& JoinedColumnsSql() {
  static const std::string* sql = [] {
    const std::vector<std::string> columns = JoinedColumns();
    auto list = [&columns](absl::string_view prefix) {
      return absl::StrJoin(columns, ", ",
                           [prefix](std::string* out, const std::string& c) {
                             absl::StrAppend(out, prefix, c);
                           });
    };
    return new std::string(absl::StrCat(
        "WITH fresh AS MATERIALIZED ("
        " SELECT x.id AS conversation_id, c.id IS NOT NULL AS found,"
        "        p.complete,",
        kConversationColumns, kLinearColumns,
        "   FROM unnest($1::uuid[]) AS x(id)"
        "   LEFT JOIN LATERAL (SELECT * FROM raw_support_conversations rc"
        "     WHERE rc.id = x.id OFFSET 0) c ON true"
        "   LEFT JOIN LATERAL (SELECT * FROM subscribers_insights si"
        "     WHERE si.distinct_id = c.user_id OFFSET 0) u ON true"
        "   LEFT JOIN LATERAL (SELECT * FROM linear_issues l"
        "     WHERE l.id = c.linear_issue_id OFFSET 0) li ON true"
        "   LEFT JOIN LATERAL (SELECT e.message_count IS NOT NULL AS complete"
        "     FROM enriched_support_conversations e"
        "     WHERE e.id = x.id OFFSET 0) p ON true), "
        "updated AS ("
        " UPDATE enriched_support_conversations e SET (",
        list(""), ") = (", list("f."), "), (", kBookkeepingColumns, ") = (",
        BookkeepingValues(2),
        ")"
        "   FROM fresh f"
        "  WHERE e.id = f.conversation_id AND f.found AND f.complete"
        "    AND (",
        list("e."), ") IS DISTINCT FROM (", list("f."),
        ") RETURNING e.id) "
        "SELECT (SELECT count(*) FROM updated),"
        " array_to_string(ARRAY(SELECT conversation_id FROM fresh"
        "   WHERE NOT found OR complete IS NOT TRUE ORDER BY conversation_id),"
        " ',')"));
  }();
  return *sql;
}

// Step 4a, body edits: the place is the message id's position in the row's
// all_message_ids (when the row's two arrays agree), where the body
// replaces the element if it differs. Not applicable: the message is gone,
// moved or has a NULL body, its id is not in the row's all_message_ids
// (e.g. a placeholder), or the arrays disagree.
const std::string& BodyEditSql() {
  static const std::string* sql = new std::string(MessageChangeSql(
      "CASE WHEN cardinality(e.all_messages) = cardinality(e.all_message_ids)"
      " THEN array_position(e.all_message_ids, x.message_id) END",
      "all_messages[f.place] = f.body",
      " AND e.all_messages[f.place] IS DISTINCT FROM f.body"));
  return *sql;
}

// Step 4b, appends: the place is the end of the arrays, when the message
// sorts after every message the row counts (its created_at is later than
// the row's last_message_at, or the row counts none), is not in the row's
// all_message_ids yet and the arrays agree; body and id are appended, the
// message counted and its created_at becomes last_message_at. Not
// applicable: a tie on created_at, an earlier message, a NULL body, the
// message gone or moved, no row yet, the same insert applied twice.
const std::string& AppendSql() {
  static const std::string* sql = new std::string(MessageChangeSql(
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
      ""));
  return *sql;
}

// The bulk path's step 4. `fresh` is read once, by the upsert, so it is not
// materialized (a rebuild's rows would be written to a temporary tuplestore
// and read back: 1.4 GB at 200,000 conversations); the deletions are the
// ids without a conversation in the statement's snapshot, which is exactly
// the complement of `fresh` (it has a row for every id with one).
const std::string& RewriteSetSql() {
  static const std::string* sql = new std::string(
      RewriteSqlWith(RecomputeSetSelectSql(), /*materialized=*/false,
                     "NOT EXISTS (SELECT 1 FROM raw_support_conversations rc "
                     "WHERE rc.id = ids.id)"));
  return *sql;
}

// The bulk path's planner settings, for this transaction only: $1 the
// work_mem (sorts and hashes of a whole rebuild), and when the ids ($2 of
// them) are at least a quarter of the conversations, no index or bitmap
// scans: reading every message in heap order and sorting them beats
// fetching them through the conversation_id index in random heap order
// (200,000 conversations, 2,000,000 messages, 2 cores: 16.7 s -> 9.6 s for
// the whole statement), which the planner otherwise prefers.
const std::string& BulkSettingsSql() {
  static const std::string* sql = new std::string(
      "SELECT set_config('work_mem', $1, true), "
      "CASE WHEN $2::float8 * 4 >= (SELECT greatest(reltuples, 0) "
      "  FROM pg_class WHERE oid = 'raw_support_conversations'::regclass) "
      "THEN set_config('enable_indexscan', 'off', true) || "
      "     set_config('enable_bitmapscan', 'off', true) END");
  return *sql;
}

// Bulk path, instead of steps 2 and 3: one table lock that conflicts with
// itself and with the ROW EXCLUSIVE lock every other writer's step 2 takes
// (and holds to its commit), but not with readers.
const std::string& LockTableSql() {
  static const std::string* sql = new std::string(
      "LOCK TABLE enriched_support_conversations IN SHARE ROW EXCLUSIVE MODE");
  return *sql;
}

// Step 5: offsets, never moved backwards (a batch re-applied by a consumer
// that lost its partition must not undo its successor's progress).
const std::string& OffsetsSql() {
  static const std::string* sql = new std::string(
      "INSERT INTO enrich_processor_offsets AS o "
      "(consumer_group, topic, partition, next_offset) "
      "SELECT $1, t, p, n FROM unnest($2::text[], $3::int[], $4::bigint[]) "
      "AS x(t, p, n) "
      "ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
      "next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), "
      "updated_at = now()");
  return *sql;
}

// Truncate-driven rebuilds: the ids a truncated table reached.
std::string RebuildIdsSql(const TruncatedTables& truncated) {
  if (truncated.conversations || truncated.messages) {
    return "SELECT id::text FROM raw_support_conversations UNION "
           "SELECT id::text FROM enriched_support_conversations";
  }
  std::vector<std::string> parts;
  if (truncated.subscribers_insights) {
    parts.push_back(
        "SELECT id::text FROM raw_support_conversations "
        "WHERE user_id IS NOT NULL");
  }
  if (truncated.linear_issues) {
    parts.push_back(
        "SELECT id::text FROM raw_support_conversations "
        "WHERE linear_issue_id IS NOT NULL");
  }
  return absl::StrJoin(parts, " UNION ");
}

// Snapshot rebuilds (header): how many of the snapshots $2 (pg_lsn[]) the
// group $1 has rebuilt the table for already.
const std::string& CoveredSnapshotsSql() {
  static const std::string* sql = new std::string(
      "SELECT count(*) FROM enrich_processor_snapshots "
      "WHERE consumer_group = $1 AND snapshot_lsn = ANY($2::pg_lsn[])");
  return *sql;
}

// Whether this role can read enrich-cdc's record of finished snapshots
// (enrich-cdc creates it in the source database; it may not exist yet).
const std::string& CdcSnapshotsReadableSql() {
  static const std::string* sql = new std::string(
      "SELECT coalesce(has_table_privilege("
      "to_regclass('enrich_cdc_snapshots'), 'SELECT'), false)");
  return *sql;
}

// The consistent points of the snapshots enrich-cdc finished so far.
const std::string& CdcSnapshotsSql() {
  static const std::string* sql =
      new std::string("SELECT consistent_lsn::text FROM enrich_cdc_snapshots");
  return *sql;
}

// Records the snapshots $2 (pg_lsn[]) as rebuilt for group $1.
const std::string& RecordSnapshotsSql() {
  static const std::string* sql = new std::string(
      "INSERT INTO enrich_processor_snapshots (consumer_group, snapshot_lsn) "
      "SELECT $1, unnest($2::pg_lsn[]) ON CONFLICT DO NOTHING");
  return *sql;
}

std::string LsnText(uint64_t lsn) {
  return absl::StrCat(absl::Hex(lsn >> 32), "/", absl::Hex(lsn & 0xffffffffu));
}

}  // namespace

void EnrichedRowWriter::ConnDeleter::operator()(pg_conn* conn) const {
  PQfinish(conn);
}

namespace {

// PgExec, reporting the statement's duration to the observer (if any).
absl::StatusOr<PgResult> TimedExec(const EnrichedRowWriter::Options& options,
                                   absl::string_view name, PGconn* conn,
                                   absl::string_view what,
                                   const std::string& sql,
                                   const std::vector<PgParam>& params = {}) {
  const absl::Time start = absl::Now();
  absl::StatusOr<PgResult> result = PgExec(conn, what, sql, params);
  if (options.statement_observer) {
    options.statement_observer(name, absl::Now() - start);
  }
  return result;
}

// The writer's session settings, on every (re)connection.
absl::Status SetSessionDefaults(PGconn* conn) {
  // The locking argument in the header needs READ COMMITTED, whatever the
  // server's default is.
  ASSIGN_OR_RETURN(PgResult ignored,
                   PgExec(conn, "setting the isolation level",
                          "SET default_transaction_isolation = "
                          "'read committed'"));
  // Values the rewrite stores compressed (all_messages, mostly) are
  // compressed with lz4 instead of the default pglz: measured on 2 cores
  // (EXPLAIN ANALYZE of rewrite_rows, 20,000 conversations with 10 messages
  // of ~300 B each, every row changed, mean of 6 interleaved runs), 1,000
  // ids 126 -> 96 ms, 5,000 ids 522 -> 452 ms. Only columns without their own
  // COMPRESSION setting follow this; readers decompress either method, and
  // the stored values are the same. Best effort: a server built without lz4
  // rejects the value and keeps pglz.
  absl::StatusOr<PgResult> lz4 =
      PgExec(conn, "setting the TOAST compression",
             "SET default_toast_compression = 'lz4'");
  (void)lz4;
  return absl::OkStatus();
}

}  // namespace

EnrichedRowWriter::EnrichedRowWriter(pg_conn* conn, Options options)
    : conn_(conn), options_(std::move(options)) {}

EnrichedRowWriter::~EnrichedRowWriter() = default;

absl::StatusOr<std::unique_ptr<EnrichedRowWriter>> EnrichedRowWriter::Connect(
    const std::string& dsn, Options options) {
  ASSIGN_OR_RETURN(PGconn * conn, PgConnect(dsn));
  std::unique_ptr<EnrichedRowWriter> writer(
      new EnrichedRowWriter(conn, std::move(options)));
  RETURN_IF_ERROR(SetSessionDefaults(conn));
  return writer;
}

absl::Status EnrichedRowWriter::EnsureConnected() {
  if (PQstatus(conn_.get()) == CONNECTION_OK) return absl::OkStatus();
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("reconnecting to PostgreSQL: ",
                                               PQerrorMessage(conn_.get())));
  }
  return SetSessionDefaults(conn_.get());
}

const std::string& EnrichedRowWriter::RecomputeSql() {
  return RecomputeSelectSql();
}

std::vector<std::string> EnrichedRowWriter::ReferenceColumns() {
  std::vector<std::string> columns = {"id"};
  for (const char* c : kValueColumns) columns.push_back(c);
  return columns;
}

std::vector<std::string> EnrichedRowWriter::RewrittenColumns() {
  std::vector<std::string> columns = ReferenceColumns();
  columns.push_back(kMessageIdsColumn);
  return columns;
}

const std::string& EnrichedRowWriter::RecomputeSetSql() {
  return RecomputeSetSelectSql();
}

std::vector<WriterStatement> EnrichedRowWriter::HotStatements() {
  return {{"resolve_fan_out", ResolveSql()},
          {"insert_placeholders", PlaceholderSql()},
          {"lock_rows", LockSql()},
          {"edit_bodies", BodyEditSql()},
          {"append_messages", AppendSql()},
          {"rewrite_joined_columns", JoinedColumnsSql()},
          {"rewrite_rows", RewriteSql()},
          {"store_offsets", OffsetsSql()}};
}

std::vector<WriterStatement> EnrichedRowWriter::BulkStatements() {
  return {{"lock_table", LockTableSql()},
          {"bulk_settings", BulkSettingsSql()},
          {"rewrite_rows_bulk", RewriteSetSql()}};
}

absl::StatusOr<std::vector<std::string>> EnrichedRowWriter::ResolveIds(
    const AffectedConversations& plan, std::vector<std::string>* fan_out) {
  std::vector<std::string> ids(plan.conversation_ids.begin(),
                               plan.conversation_ids.end());
  // Fan-out and rebuild rows the plan names already are skipped here rather
  // than by the dedup below: a replay's fan-out names every conversation
  // again, and holding each twice costs tens of MB.
  auto add_rows = [&plan](const PgResult& result,
                          std::vector<std::string>* to) {
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      std::string id = PQgetvalue(result.get(), r, 0);
      if (!plan.conversation_ids.contains(id)) to->push_back(std::move(id));
    }
  };
  if (!plan.user_ids.empty() || !plan.linear_issue_ids.empty()) {
    ASSIGN_OR_RETURN(
        PgResult result,
        TimedExec(options_, "resolve_fan_out", conn_.get(),
                  "resolving fan-out keys", ResolveSql(),
                  {PgArrayLiteral({plan.user_ids.begin(), plan.user_ids.end()}),
                   PgArrayLiteral({plan.linear_issue_ids.begin(),
                                   plan.linear_issue_ids.end()})}));
    add_rows(result, fan_out != nullptr ? fan_out : &ids);
    if (fan_out != nullptr) {
      std::sort(fan_out->begin(), fan_out->end());
      fan_out->erase(std::unique(fan_out->begin(), fan_out->end()),
                     fan_out->end());
    }
  }
  if (plan.truncated.any()) {
    ASSIGN_OR_RETURN(
        PgResult result,
        TimedExec(options_, "list_rebuild_ids", conn_.get(),
                  "listing rows to rebuild", RebuildIdsSql(plan.truncated)));
    add_rows(result, &ids);
  }
  // PostgreSQL prints uuids in lower-case hex, whose byte order is the uuid
  // order the locks follow.
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

absl::Status EnrichedRowWriter::RunPartialRewrite(
    absl::string_view name, const std::string& statement,
    const std::vector<PgParam>& params, std::vector<std::string>* fallbacks,
    WriteResult* result) {
  ASSIGN_OR_RETURN(PgResult applied, TimedExec(options_, name, conn_.get(),
                                               absl::StrCat("applying ", name),
                                               statement, params));
  result->rows_upserted +=
      std::strtoull(PQgetvalue(applied.get(), 0, 0), nullptr, 10);
  for (absl::string_view id : absl::StrSplit(PQgetvalue(applied.get(), 0, 1),
                                             ',', absl::SkipEmpty())) {
    fallbacks->emplace_back(id);
  }
  return absl::OkStatus();
}

absl::Status EnrichedRowWriter::ApplyMessageChanges(
    absl::string_view name, const std::string& statement,
    const MessageChangeList& changes, const std::string& lsn,
    const std::string& commit_time, std::vector<std::string>* fallbacks,
    WriteResult* result) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::string> conversations, messages;
  conversations.reserve(changes.size());
  messages.reserve(changes.size());
  for (const auto& [conversation, message] : changes) {
    conversations.push_back(conversation);
    messages.push_back(message);
  }
  return RunPartialRewrite(name, statement,
                           {PgArrayLiteral(conversations),
                            PgArrayLiteral(messages), lsn, commit_time},
                           fallbacks, result);
}

absl::Status EnrichedRowWriter::RewriteInTransaction(
    const std::vector<std::string>& ids, const MessageChanges& changes,
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>* offsets, WriteResult* result,
    bool force_bulk) {
  PGconn* conn = conn_.get();
  const std::string lsn = LsnText(plan.max_commit_lsn);
  const std::string commit_time = absl::StrCat(plan.max_commit_time_us);
  const bool bulk = force_bulk || (options_.bulk_min_ids > 0 &&
                                   ids.size() >= options_.bulk_min_ids);
  if (bulk) {
    // Apply() never passes message changes with a bulk-sized set of ids.
    ASSIGN_OR_RETURN(PgResult locked,
                     TimedExec(options_, "lock_table", conn,
                               "locking the enriched table", LockTableSql()));
    ASSIGN_OR_RETURN(
        PgResult settings,
        TimedExec(options_, "bulk_settings", conn,
                  "setting the bulk path's planner settings", BulkSettingsSql(),
                  {options_.bulk_work_mem, absl::StrCat(ids.size())}));
  } else if (!ids.empty() || !changes.empty()) {
    // One set of locks, in id order, over the full rewrites, the edits and
    // the appends (three disjoint sets).
    std::vector<std::string> merged;
    if (!changes.empty()) {
      merged = ids;
      for (const MessageChangeList* list : {&changes.edits, &changes.appends}) {
        for (const auto& change : *list) merged.push_back(change.first);
      }
      merged.insert(merged.end(), changes.joined.begin(), changes.joined.end());
      std::sort(merged.begin(), merged.end());
    }
    const std::string lock_array =
        PgArrayLiteral(changes.empty() ? ids : merged);
    ASSIGN_OR_RETURN(
        PgResult placeholders,
        TimedExec(options_, "insert_placeholders", conn,
                  "inserting placeholders", PlaceholderSql(), {lock_array}));
    ASSIGN_OR_RETURN(PgResult locked,
                     TimedExec(options_, "lock_rows", conn, "locking rows",
                               LockSql(), {lock_array}));
  }
  if (options_.after_locks_for_testing) options_.after_locks_for_testing();
  // Steps 4a, 4b and 4c; what they cannot apply joins the full rewrites.
  std::vector<std::string> fallbacks;
  RETURN_IF_ERROR(ApplyMessageChanges("edit_bodies", BodyEditSql(),
                                      changes.edits, lsn, commit_time,
                                      &fallbacks, result));
  RETURN_IF_ERROR(ApplyMessageChanges("append_messages", AppendSql(),
                                      changes.appends, lsn, commit_time,
                                      &fallbacks, result));
  if (!changes.joined.empty()) {
    RETURN_IF_ERROR(
        RunPartialRewrite("rewrite_joined_columns", JoinedColumnsSql(),
                          {PgArrayLiteral(changes.joined), lsn, commit_time},
                          &fallbacks, result));
  }
  std::vector<std::string> with_fallbacks;
  if (!fallbacks.empty()) {
    with_fallbacks.reserve(ids.size() + fallbacks.size());
    with_fallbacks = ids;
    with_fallbacks.insert(with_fallbacks.end(), fallbacks.begin(),
                          fallbacks.end());
    std::sort(with_fallbacks.begin(), with_fallbacks.end());
  }
  const std::vector<std::string>& full =
      with_fallbacks.empty() ? ids : with_fallbacks;
  if (!full.empty()) {
    ASSIGN_OR_RETURN(
        PgResult rewritten,
        TimedExec(options_, bulk ? "rewrite_rows_bulk" : "rewrite_rows", conn,
                  "rewriting rows", bulk ? RewriteSetSql() : RewriteSql(),
                  {PgArrayLiteral(full), lsn, commit_time}));
    result->rows_upserted +=
        std::strtoull(PQgetvalue(rewritten.get(), 0, 0), nullptr, 10);
    result->rows_deleted +=
        std::strtoull(PQgetvalue(rewritten.get(), 0, 1), nullptr, 10);
  }
  if (offsets != nullptr && !offsets->empty()) {
    std::vector<std::string> topics, partitions, next_offsets;
    for (const PartitionOffset& o : *offsets) {
      topics.push_back(o.topic);
      partitions.push_back(absl::StrCat(o.partition));
      next_offsets.push_back(absl::StrCat(o.next_offset));
    }
    ASSIGN_OR_RETURN(
        PgResult stored,
        TimedExec(options_, "store_offsets", conn, "storing offsets",
                  OffsetsSql(),
                  {options_.consumer_group, PgArrayLiteral(topics),
                   PgArrayLiteral(partitions), PgArrayLiteral(next_offsets)}));
  }
  return absl::OkStatus();
}

EnrichedRowWriter::MessageChanges EnrichedRowWriter::MessageChangesToApply(
    const AffectedConversations& plan, std::vector<std::string> fan_out,
    std::vector<std::string>* ids) const {
  MessageChanges changes;
  // Column updates get the joined-column rewrite like the fan-out (the
  // planner keeps them out of the plan's other sets; a fan-out may reach
  // them too).
  if (!plan.column_updates.empty()) {
    fan_out.insert(fan_out.end(), plan.column_updates.begin(),
                   plan.column_updates.end());
    std::sort(fan_out.begin(), fan_out.end());
    fan_out.erase(std::unique(fan_out.begin(), fan_out.end()), fan_out.end());
  }
  // A replay (each id once), a truncate rebuild (chunked) or a bulk-sized
  // batch rewrites these conversations in full instead.
  const bool in_full = options_.rewrite_each_id_once || plan.truncated.any() ||
                       (options_.bulk_min_ids > 0 &&
                        ids->size() + fan_out.size() + plan.body_edits.size() +
                                plan.appends.size() >=
                            options_.bulk_min_ids);
  if (in_full) {
    for (const auto* map : {&plan.body_edits, &plan.appends}) {
      for (const auto& change : *map) ids->push_back(change.first);
    }
    ids->insert(ids->end(), fan_out.begin(), fan_out.end());
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
    return changes;
  }
  // A conversation with a message change that a fan-out also reached is
  // rewritten in full (one kind of partial work per row and batch); a full
  // rewrite covers everything.
  std::vector<std::string> both;
  auto keep = [&](const absl::btree_map<std::string, std::string>& from,
                  MessageChangeList* to) {
    for (const auto& change : from) {
      if (std::binary_search(ids->begin(), ids->end(), change.first)) continue;
      if (std::binary_search(fan_out.begin(), fan_out.end(), change.first)) {
        both.push_back(change.first);
        continue;
      }
      to->push_back(change);
    }
  };
  keep(plan.body_edits, &changes.edits);
  keep(plan.appends, &changes.appends);
  std::sort(both.begin(), both.end());
  for (std::string& id : fan_out) {
    if (std::binary_search(both.begin(), both.end(), id)) {
      ids->push_back(std::move(id));
    } else {
      changes.joined.push_back(std::move(id));
    }
  }
  if (!both.empty()) std::sort(ids->begin(), ids->end());
  return changes;
}

absl::StatusOr<bool> EnrichedRowWriter::SnapshotsCovered(
    const AffectedConversations& plan) {
  if (options_.rewrite_each_id_once) return rewritten_.all();
  std::vector<std::string> lsns;
  for (uint64_t lsn : plan.snapshot_lsns) lsns.push_back(LsnText(lsn));
  ASSIGN_OR_RETURN(
      PgResult covered,
      TimedExec(options_, "covered_snapshots", conn_.get(),
                "reading the snapshots rebuilt", CoveredSnapshotsSql(),
                {options_.consumer_group, PgArrayLiteral(lsns)}));
  return std::strtoull(PQgetvalue(covered.get(), 0, 0), nullptr, 10) ==
         lsns.size();
}

absl::StatusOr<std::vector<std::string>>
EnrichedRowWriter::FinishedCdcSnapshots() {
  PGconn* conn = conn_.get();
  ASSIGN_OR_RETURN(
      PgResult readable,
      TimedExec(options_, "cdc_snapshots_readable", conn,
                "checking enrich_cdc_snapshots", CdcSnapshotsReadableSql()));
  std::vector<std::string> lsns;
  if (std::string(PQgetvalue(readable.get(), 0, 0)) != "t") return lsns;
  ASSIGN_OR_RETURN(PgResult listed, TimedExec(options_, "cdc_snapshots", conn,
                                              "reading enrich_cdc_snapshots",
                                              CdcSnapshotsSql()));
  for (int r = 0; r < PQntuples(listed.get()); ++r) {
    lsns.emplace_back(PQgetvalue(listed.get(), r, 0));
  }
  return lsns;
}

absl::StatusOr<bool> EnrichedRowWriter::RebuildInTransaction(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  PGconn* conn = conn_.get();
  // The lock first: a writer of the same group that rebuilt meanwhile has
  // committed its record before this returns.
  ASSIGN_OR_RETURN(PgResult locked,
                   TimedExec(options_, "lock_table", conn,
                             "locking the enriched table", LockTableSql()));
  ASSIGN_OR_RETURN(bool covered, SnapshotsCovered(plan));
  if (covered) return false;
  // Read before the rebuild's statement, so every snapshot listed was taken
  // before the state the rebuild reads (header).
  ASSIGN_OR_RETURN(std::vector<std::string> snapshots, FinishedCdcSnapshots());
  for (uint64_t lsn : plan.snapshot_lsns) snapshots.push_back(LsnText(lsn));
  TruncatedTables everything;
  everything.conversations = true;
  ASSIGN_OR_RETURN(PgResult listed, TimedExec(options_, "list_rebuild_ids",
                                              conn, "listing rows to rebuild",
                                              RebuildIdsSql(everything)));
  std::vector<std::string> ids;
  ids.reserve(PQntuples(listed.get()));
  for (int r = 0; r < PQntuples(listed.get()); ++r) {
    ids.emplace_back(PQgetvalue(listed.get(), r, 0));
  }
  std::sort(ids.begin(), ids.end());
  RETURN_IF_ERROR(RewriteInTransaction(ids, MessageChanges(), plan, &offsets,
                                       result, /*force_bulk=*/true));
  ASSIGN_OR_RETURN(
      PgResult recorded,
      TimedExec(options_, "record_snapshots", conn,
                "recording the snapshots rebuilt", RecordSnapshotsSql(),
                {options_.consumer_group, PgArrayLiteral(snapshots)}));
  result->conversations = ids.size();
  return true;
}

absl::StatusOr<bool> EnrichedRowWriter::RebuildForSnapshots(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  // Most batches of a snapshot come after its rebuild: one read, no lock.
  ASSIGN_OR_RETURN(bool covered, SnapshotsCovered(plan));
  if (covered) return false;
  PGconn* conn = conn_.get();
  ASSIGN_OR_RETURN(PgResult begin, TimedExec(options_, "begin", conn,
                                             "beginning the batch", "BEGIN"));
  absl::StatusOr<bool> rebuilt = RebuildInTransaction(plan, offsets, result);
  absl::Status status = rebuilt.status();
  if (status.ok()) {
    // Nothing was written when the snapshots turned out covered.
    status = TimedExec(options_, "commit", conn,
                       *rebuilt ? "committing the rebuild" : "ending the check",
                       *rebuilt ? "COMMIT" : "ROLLBACK")
                 .status();
  }
  if (!status.ok()) {
    if (PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) != PQTRANS_IDLE) {
      PgResult ignored(PQexec(conn, "ROLLBACK"));
    }
    return status;
  }
  if (*rebuilt) {
    ++result->transactions;
    result->rebuilt_for_snapshot = true;
    if (options_.rewrite_each_id_once) rewritten_.AddAll();
  }
  return *rebuilt;
}

absl::StatusOr<WriteResult> EnrichedRowWriter::Apply(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets) {
  RETURN_IF_ERROR(EnsureConnected());
  PGconn* conn = conn_.get();
  auto rollback = [conn] {
    if (PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) != PQTRANS_IDLE) {
      PgResult ignored(PQexec(conn, "ROLLBACK"));
    }
  };
  WriteResult result;
  if (!plan.snapshot_lsns.empty()) {
    // A rebuild reads the whole state after every event of the batch
    // committed: it covers the rest of the plan too.
    ASSIGN_OR_RETURN(bool rebuilt, RebuildForSnapshots(plan, offsets, &result));
    if (rebuilt) return result;
  }
  // A truncate rebuild commits every chunk but the last on its own; all
  // other work, and the last chunk, goes in the transaction of the offsets.
  std::vector<std::string> ids, fan_out;
  {
    ASSIGN_OR_RETURN(PgResult begin, TimedExec(options_, "begin", conn,
                                               "beginning the batch", "BEGIN"));
    // Fan-out ids go to the joined-column rewrite (step 4c) unless the
    // batch rewrites everything in full anyway.
    absl::StatusOr<std::vector<std::string>> resolved = ResolveIds(
        plan, options_.rewrite_each_id_once || plan.truncated.any() ? nullptr
                                                                    : &fan_out);
    if (!resolved.ok()) {
      rollback();
      return resolved.status();
    }
    ids = *std::move(resolved);
  }
  const MessageChanges changes =
      MessageChangesToApply(plan, std::move(fan_out), &ids);
  if (options_.rewrite_each_id_once) rewritten_.RemoveFrom(&ids);
  result.conversations = ids.size() + changes.edits.size() +
                         changes.appends.size() + changes.joined.size();
  const size_t chunk =
      plan.truncated.any()
          ? std::max<size_t>(1, options_.max_rows_per_rebuild_transaction)
          : std::max<size_t>(1, ids.size());
  size_t start = 0;
  do {
    const size_t end = std::min(ids.size(), start + chunk);
    const bool last = end == ids.size();
    // A copy only for a chunk of a truncate rebuild.
    const bool whole = start == 0 && last;
    std::vector<std::string> chunk_ids;
    if (!whole) chunk_ids.assign(ids.begin() + start, ids.begin() + end);
    const std::vector<std::string>& part = whole ? ids : chunk_ids;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE) {
      absl::StatusOr<PgResult> begin =
          TimedExec(options_, "begin", conn, "beginning the batch", "BEGIN");
      if (!begin.ok()) return begin.status();
    }
    absl::Status status =
        RewriteInTransaction(part, last ? changes : MessageChanges(), plan,
                             last ? &offsets : nullptr, &result);
    if (status.ok()) {
      absl::StatusOr<PgResult> commit =
          TimedExec(options_, "commit", conn, "committing the batch", "COMMIT");
      status = commit.status();
    }
    if (!status.ok()) {
      rollback();
      return status;
    }
    ++result.transactions;
    start = end;
  } while (start < ids.size());
  if (options_.rewrite_each_id_once) rewritten_.Add(ids);
  return result;
}

absl::StatusOr<std::vector<PartitionOffset>> EnrichedRowWriter::StoredOffsets(
    const std::string& topic) {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(
      PgResult result,
      PgExec(conn_.get(), "reading stored offsets",
             "SELECT partition, next_offset FROM enrich_processor_offsets "
             "WHERE consumer_group = $1 AND topic = $2 ORDER BY partition",
             {options_.consumer_group, topic}));
  std::vector<PartitionOffset> offsets;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    offsets.push_back(
        {topic, static_cast<int32_t>(std::atoi(PQgetvalue(result.get(), r, 0))),
         std::strtoll(PQgetvalue(result.get(), r, 1), nullptr, 10)});
  }
  return offsets;
}

}  // namespace enrich::processor
