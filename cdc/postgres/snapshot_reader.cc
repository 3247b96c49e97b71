#include "cdc/postgres/snapshot_reader.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cdc/common/progress_estimate.h"
#include "cdc/common/status_macros.h"

namespace enrich::pg {

absl::StatusOr<SnapshotProgress> SnapshotReader::Read(
    const std::vector<PublishedTable>& tables, const std::string& snapshot_name,
    const RowVisitor& visit) {
  SnapshotProgress progress;
  progress.tables_total = tables.size();
  RETURN_IF_ERROR(
      conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  if (!snapshot_name.empty()) {
    RETURN_IF_ERROR(conn_->Exec(absl::StrCat(
        "SET TRANSACTION SNAPSHOT ", conn_->QuoteLiteral(snapshot_name))));
  }
  for (const PublishedTable& t : tables) {
    ASSIGN_OR_RETURN(
        std::vector<Row> estimate,
        conn_->QueryParams("SELECT greatest(reltuples, 0)::bigint FROM "
                           "pg_class WHERE oid = $1::oid",
                           {absl::StrCat(t.relation.oid)}));
    uint64_t rows = 0;
    if (!estimate.empty() && estimate[0][0].has_value() &&
        absl::SimpleAtoi(*estimate[0][0], &rows)) {
      progress.estimated_rows += rows;
    }
  }
  const absl::Time started = absl::Now();
  absl::Time last_report = started;
  auto report = [&](absl::string_view msg) {
    const ProgressEstimate estimate = EstimateProgress(
        static_cast<int64_t>(progress.rows),
        static_cast<int64_t>(progress.estimated_rows), absl::Now() - started);
    // No rate yet: the time left is unknown, not zero.
    const bool known = estimate.ids_per_second > 0;
    log_->Info(
        msg, {{"rows", absl::StrCat(progress.rows)},
              {"estimated_rows", absl::StrCat(progress.estimated_rows)},
              {"tables",
               absl::StrCat(progress.tables_done, "/", progress.tables_total)},
              {"rows_per_s", absl::StrFormat("%.0f", estimate.ids_per_second)},
              {"eta_s", known ? absl::StrFormat(
                                    "%.0f", absl::ToDoubleSeconds(estimate.eta))
                              : std::string("?")}});
  };
  for (const PublishedTable& t : tables) {
    std::vector<std::string> columns;
    for (const pgoutput::ColumnDef& c : t.relation.columns) {
      columns.push_back(conn_->QuoteIdentifier(c.name));
    }
    RETURN_IF_ERROR(conn_->Exec(
        absl::StrCat("DECLARE enrich_snapshot NO SCROLL CURSOR FOR SELECT ",
                     absl::StrJoin(columns, ", "), " FROM ",
                     conn_->QuoteIdentifier(t.schema), ".",
                     conn_->QuoteIdentifier(t.table))));
    const std::string fetch =
        absl::StrCat("FETCH FORWARD ", batch_rows_, " FROM enrich_snapshot");
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<Row> batch, conn_->Query(fetch));
      if (batch.empty()) break;
      for (Row& row : batch) {
        pgoutput::Tuple tuple;
        tuple.reserve(row.size());
        for (std::optional<std::string>& value : row) {
          if (value.has_value()) {
            tuple.push_back({pgoutput::ValueKind::kText, std::move(*value)});
          } else {
            tuple.push_back({pgoutput::ValueKind::kNull, std::string()});
          }
        }
        RETURN_IF_ERROR(visit(t, tuple));
        ++progress.rows;
      }
      if (absl::Now() - last_report > absl::Seconds(2)) {
        report("snapshot in progress");
        last_report = absl::Now();
      }
    }
    RETURN_IF_ERROR(conn_->Exec("CLOSE enrich_snapshot"));
    ++progress.tables_done;
  }
  RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  report("snapshot complete");
  return progress;
}

}  // namespace enrich::pg
