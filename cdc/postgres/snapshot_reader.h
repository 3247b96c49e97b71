// SnapshotReader reads every row of the published tables under one exported
// snapshot (the slot's, so streaming resumes exactly where the snapshot
// ends), in batches through a cursor so memory stays bounded, and reports
// progress (rows, tables, rate, ETA from the planner's row estimate).
#ifndef ENRICH_CDC_POSTGRES_SNAPSHOT_READER_H_
#define ENRICH_CDC_POSTGRES_SNAPSHOT_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cdc/common/log.h"
#include "cdc/postgres/pg_connection.h"
#include "cdc/postgres/source_setup.h"

namespace enrich::pg {

struct SnapshotProgress {
  uint64_t rows = 0;
  uint64_t estimated_rows = 0;
  size_t tables_done = 0;
  size_t tables_total = 0;
};

class SnapshotReader {
 public:
  using RowVisitor = std::function<absl::Status(const PublishedTable& table,
                                                pgoutput::Tuple& row)>;
  // `conn` is a normal connection; `snapshot_name` the exported snapshot
  // (empty: a fresh REPEATABLE READ snapshot).
  SnapshotReader(PgConnection* conn, Logger* log, size_t batch_rows = 5000)
      : conn_(conn), log_(log), batch_rows_(batch_rows) {}

  absl::StatusOr<SnapshotProgress> Read(
      const std::vector<PublishedTable>& tables,
      const std::string& snapshot_name, const RowVisitor& visit);

 private:
  PgConnection* conn_;
  Logger* log_;
  size_t batch_rows_;
};

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_SNAPSHOT_READER_H_
