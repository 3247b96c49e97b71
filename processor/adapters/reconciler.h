// Reconciler: compares a declared view's enriched table (today's,
// enriched_support_conversations, unless Options::writer.statements names
// another) with the view's own computation and repairs the differences through
// EnrichedRowWriter
// (`enrich-processor reconcile`). libpq stays in the .cc.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Reconciler> r,
//                    Reconciler::Connect(dsn, options));
//   ASSIGN_OR_RETURN(ReconcileReport report, r->Run());
//
// The ids are walked in key order in chunks of Options::chunk_size by keyset
// pagination: the next chunk is the first chunk_size ids greater than the
// last one seen, taken from the root table (raw_support_conversations)
// UNION the enriched table (both through their primary keys, so every chunk
// costs the same wherever it is). For each chunk ONE read-only statement
// (one snapshot) recomputes the chunk's rows with the writer's per-root
// LATERAL aggregate (ViewStatements::RecomputeSql, the view's computation)
// and compares them with the stored rows as whole rows of the view's
// columns and its key arrays (IS DISTINCT FROM, the equality EXCEPT ALL
// uses; the key arrays because body edits place bodies by them):
//   missing    the conversation exists, its enriched row does not
//   extra      an enriched row whose conversation does not exist
//   different  both exist and differ in any of those columns
// The differing ids are then rewritten by EnrichedRowWriter::Apply (its own
// transaction, row locks, recompute from the current source state), exactly
// as a change event would have them; no offsets are stored. Repaired rows
// carry source_commit_lsn = the WAL position read with the comparison and
// source_commit_at NULL (no source commit caused the write).
//
// Running next to `enrich-processor run` is safe (both recompute under row
// locks), but rows `run` has not caught up with yet count as differences and
// are rewritten early; reconcile a drained pipeline for meaningful counts.
//
// Not thread-safe. Non-copyable; owns its connection and its writer.
#ifndef ENRICH_PROCESSOR_ADAPTERS_RECONCILER_H_
#define ENRICH_PROCESSOR_ADAPTERS_RECONCILER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "processor/adapters/enriched_row_writer.h"
#include "processor/core/reconcile_report.h"

namespace enrich::pg {
class PgConnection;
}  // namespace enrich::pg

namespace enrich::processor {

class Reconciler {
 public:
  struct Options {
    size_t chunk_size = 1000;
    ReconcilePacing pacing;
    // Report only; rewrite nothing.
    bool dry_run = false;
    EnrichedRowWriter::Options writer;
    // Called after every chunk with the report so far and the estimated
    // total number of ids (for progress lines). Empty: not called.
    std::function<void(const ReconcileReport&, int64_t total_estimate)>
        on_chunk;
    // Injected for tests; defaults: absl::SleepFor, absl::Now, never stop.
    std::function<void(absl::Duration)> sleep;
    std::function<absl::Time()> now;
    std::function<bool()> stop_requested;
  };

  static absl::StatusOr<std::unique_ptr<Reconciler>> Connect(
      const std::string& dsn, Options options);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Walks every id once. Errors: as EnrichedRowWriter's (database_errors.h);
  // retriable ones (kAborted, kUnavailable) are retried per chunk with
  // backoff until stop_requested(). A stop request ends the walk early with
  // the report so far (OK).
  absl::StatusOr<ReconcileReport> Run();

  // The comparison statement of one chunk of the view `sql` ($1 the lower
  // bound, excluded, text; NULL and ignored for the first chunk; $2 the
  // chunk size), for EXPLAIN.
  static std::string ChunkSql(const ViewStatements& sql, bool first);

 private:
  Reconciler(std::unique_ptr<pg::PgConnection> conn,
             std::unique_ptr<EnrichedRowWriter> writer, Options options);

  const ViewStatements& sql() const { return *options_.writer.statements; }

  std::unique_ptr<pg::PgConnection> conn_;
  std::unique_ptr<EnrichedRowWriter> writer_;
  Options options_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_RECONCILER_H_
