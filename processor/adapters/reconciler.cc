#include "processor/adapters/reconciler.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "cdc/pgoutput/lsn.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/processor_session.h"
#include "processor/core/retry.h"

namespace enrich::processor {
namespace {

std::string RowOf(const ViewStatements& sql, absl::string_view alias) {
  // The key arrays too: body edits place bodies by them.
  std::vector<std::string> columns = sql.RewrittenColumns();
  return absl::StrCat(
      "(",
      absl::StrJoin(columns, ", ",
                    [&](std::string* out, const std::string& c) {
                      absl::StrAppend(out, alias, ".", c);
                    }),
      ")");
}

}  // namespace

std::string Reconciler::ChunkSql(const ViewStatements& sql, bool first) {
  const CompiledView& view = sql.view();
  const std::string& root = view.definition().root.table.name;
  const std::string& root_key = view.definition().root.key_column;
  const std::string& key = view.key_column();
  // The first chunk has no lower bound: $1 is NULL then (folded away, as
  // the statement is planned with its parameters' values).
  auto after = [&](const std::string& column) {
    return first ? std::string(" WHERE $1::text IS NULL")
                 : absl::StrCat(" WHERE ", column, " > $1::", view.key_type());
  };
  return absl::StrCat(
      // Each side reads at most $2 ids in key order through its primary key;
      // their union's first $2 ids are the chunk.
      "WITH ids AS MATERIALIZED (SELECT id FROM ("
      " (SELECT ",
      root_key, " AS id FROM ", root, after(root_key), "   ORDER BY ", root_key,
      " LIMIT $2::int)"
      " UNION"
      " (SELECT ",
      key, " AS id FROM ", view.table(), after(key), "   ORDER BY ", key,
      " LIMIT $2::int)) u ORDER BY id LIMIT $2::int), "
      "fresh AS MATERIALIZED (",
      sql.RecomputeSql(),
      "), "
      "stored AS MATERIALIZED (SELECT s.* FROM ids CROSS JOIN LATERAL"
      " (SELECT * FROM ",
      view.table(), " e WHERE e.", key,
      " = ids.id"
      "  OFFSET 0) s) "
      "SELECT ids.id::text, CASE WHEN s.",
      key, " IS NULL THEN 'missing' WHEN f.", key,
      " IS NULL THEN 'extra' ELSE 'different' END, NULL, NULL"
      " FROM ids LEFT JOIN fresh f ON f.",
      key, " = ids.id LEFT JOIN stored s ON s.", key,
      " = ids.id"
      " WHERE ",
      RowOf(sql, "f"), " IS DISTINCT FROM ", RowOf(sql, "s"),
      " UNION ALL "
      // The chunk's last id (NULL: no ids left), the WAL position and the
      // number of ids.
      "SELECT (SELECT id FROM ids ORDER BY id DESC LIMIT 1)::text, 'last',"
      " pg_current_wal_lsn()::text, (SELECT count(*) FROM ids)::text");
}

Reconciler::Reconciler(std::unique_ptr<pg::PgConnection> conn,
                       std::unique_ptr<EnrichedRowWriter> writer,
                       Options options)
    : conn_(std::move(conn)),
      writer_(std::move(writer)),
      options_(std::move(options)) {
  if (!options_.sleep)
    options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  if (!options_.now) options_.now = [] { return absl::Now(); };
  if (!options_.stop_requested) options_.stop_requested = [] { return false; };
  if (options_.chunk_size == 0) options_.chunk_size = 1;
}

Reconciler::~Reconciler() = default;

absl::StatusOr<std::unique_ptr<Reconciler>> Reconciler::Connect(
    const std::string& dsn, Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<EnrichedRowWriter> writer,
                   EnrichedRowWriter::Connect(dsn, options.writer));
  ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConnection> conn,
                   OpenProcessorSession(dsn));
  return std::unique_ptr<Reconciler>(
      new Reconciler(std::move(conn), std::move(writer), std::move(options)));
}

absl::StatusOr<ReconcileReport> Reconciler::Run() {
  ReconcileReport report;
  // The planner's estimate: cheap, and only used for the ETA.
  int64_t total_estimate = 0;
  {
    ASSIGN_OR_RETURN(
        std::vector<pg::Row> estimate,
        conn_->QueryParams(
            absl::StrCat("SELECT greatest(0, reltuples)::bigint FROM "
                         "pg_class WHERE oid = '",
                         sql().view().definition().root.table.name,
                         "'::regclass"),
            {}, "estimating the number of root rows"));
    if (estimate.size() == 1) {
      total_estimate =
          std::strtoll(pg::TextOrEmpty(estimate[0], 0).c_str(), nullptr, 10);
    }
  }
  const std::string first_sql = ChunkSql(sql(), /*first=*/true);
  const std::string next_sql = ChunkSql(sql(), /*first=*/false);
  const std::string chunk_size = absl::StrCat(options_.chunk_size);
  RetryPolicy policy;
  policy.max_backoff = absl::Seconds(5);
  const absl::Time start = options_.now();
  std::string last_id;
  bool first = true;
  while (!options_.stop_requested()) {
    std::vector<std::pair<RowDifference, std::string>> differences;
    std::string chunk_last;
    uint64_t wal_lsn = 0;
    int64_t ids_in_chunk = 0;
    absl::Status status = RetryWithBackoff(
        [&]() -> absl::Status {
          differences.clear();
          RETURN_IF_ERROR(conn_->ReconnectIfLost().status());
          ASSIGN_OR_RETURN(
              std::vector<pg::Row> rows,
              conn_->QueryParams(
                  first ? first_sql : next_sql,
                  {first ? std::optional<std::string>() : last_id, chunk_size},
                  "comparing a chunk with the reference"));
          for (const pg::Row& row : rows) {
            const std::string kind = pg::TextOrEmpty(row, 1);
            if (kind == "last") {
              chunk_last = pg::TextOrEmpty(row, 0);
              wal_lsn = pgoutput::ParseLsn(pg::TextOrEmpty(row, 2)).value_or(0);
              ids_in_chunk =
                  std::strtoll(pg::TextOrEmpty(row, 3).c_str(), nullptr, 10);
              continue;
            }
            RowDifference difference;
            if (!ParseRowDifference(kind, &difference)) {
              return absl::InternalError(
                  absl::StrCat("unexpected difference kind ", kind));
            }
            differences.emplace_back(difference, pg::TextOrEmpty(row, 0));
          }
          return absl::OkStatus();
        },
        policy, options_.sleep, options_.stop_requested, nullptr);
    if (!status.ok()) {
      if (options_.stop_requested()) break;
      return status;
    }
    if (chunk_last.empty()) break;  // no ids left
    AffectedConversations plan;
    for (const auto& [kind, id] : differences) {
      report.Add(kind, id);
      plan.full_rewrites.insert(id);
    }
    if (!options_.dry_run && !plan.empty()) {
      plan.max_commit_lsn = wal_lsn;
      WriteResult written;
      absl::Status repaired = RetryWithBackoff(
          [&]() -> absl::Status {
            ASSIGN_OR_RETURN(written, writer_->Apply(plan, {}));
            return absl::OkStatus();
          },
          policy, options_.sleep, options_.stop_requested, nullptr);
      if (!repaired.ok()) return repaired;
      report.rows_repaired +=
          static_cast<int64_t>(written.rows_upserted + written.rows_deleted);
    }
    ++report.chunks;
    report.ids_checked += ids_in_chunk;
    last_id = chunk_last;
    first = false;
    if (options_.on_chunk) options_.on_chunk(report, total_estimate);
    const absl::Duration wait =
        PaceDelay(report.ids_checked, options_.now() - start, options_.pacing);
    if (wait > absl::ZeroDuration()) options_.sleep(wait);
  }
  return report;
}

}  // namespace enrich::processor
