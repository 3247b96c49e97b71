// WritePlan: how EnrichedRowWriter::Apply (processor/adapters/
// enriched_row_writer.h; the step numbers are its) writes one planned batch,
// decided before any row is written. Pure: no libpq.
//
// The rules (why they are exact: processor/adapters/WRITER_DESIGN.md):
//   * Full rewrites: the plan's full_rewrites, and the ids a truncated
//     table reached (list_rebuild_ids). Fan-out ids (resolve_fan_out) the
//     plan names already are dropped on the way in.
//   * Joined-column rewrites (step 4c): the plan's column updates and the
//     resolved fan-out ids.
//   * Body edits and appends (steps 4a, 4b): the plan's, except that a
//     conversation rewritten in full anyway drops its message change, and
//     one with a message change that is also a joined-column rewrite is
//     rewritten in full instead (one kind of partial work per row).
//   * In full instead, all of them: in a replay
//     (WritePlanOptions::rewrite_each_id_once), in a truncate rebuild, and
//     when the full rewrites, joined-column rewrites, edits and appends
//     together number at least bulk_min_ids (0: never).
//   * A replay drops the ids an earlier batch of it committed (RewrittenIds).
//   * Transactions: one, or for a truncate rebuild key-ordered chunks of
//     max_rows_per_rebuild_transaction ids; the partial work and the offsets
//     go with the last. A transaction takes the bulk path (table lock,
//     set-based rewrite) when its full rewrites number at least
//     bulk_min_ids (0: never), the row-lock path otherwise. A snapshot
//     rebuild is one bulk transaction (SnapshotRebuildPlan).
//
//   WritePlanner planner(plan, options);
//   if (planner.resolves_fan_out()) for (id : resolve_fan_out rows)
//     planner.AddFanOutId(id);
//   if (planner.lists_rebuild_ids()) for (id : list_rebuild_ids rows)
//     planner.AddRebuildId(id);
//   WritePlan write = std::move(planner).Finish(&rewritten_ids);
//   for (const WriteTransaction& t : write.transactions) ... ChunkIds(t) ...
//
// Ids are conversation ids in PostgreSQL's uuid text (lower case), whose
// byte order is the uuid order the row locks follow. Not thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_WRITE_PLAN_H_
#define ENRICH_PROCESSOR_CORE_WRITE_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "processor/core/affected_conversations.h"
#include "processor/core/rewritten_ids.h"

namespace enrich::processor {

// The writer's options that shape a plan (EnrichedRowWriter::Options has
// their documentation).
struct WritePlanOptions {
  size_t max_rows_per_rebuild_transaction = 5000;
  size_t bulk_min_ids = 20000;
  bool rewrite_each_id_once = false;
};

// (conversation id, message id) pairs, in conversation id order.
using MessageChangeList = std::vector<std::pair<std::string, std::string>>;

// The partial work of a batch; each conversation is in at most one list, and
// in none of the full rewrites.
struct PartialWork {
  MessageChangeList edits;          // step 4a
  MessageChangeList appends;        // step 4b
  std::vector<std::string> joined;  // step 4c: conversation ids, sorted
  bool empty() const {
    return edits.empty() && appends.empty() && joined.empty();
  }
};

// One transaction of a plan: the full rewrites [begin, end).
struct WriteTransaction {
  size_t begin = 0;
  size_t end = 0;
  // The table lock and the set-based rewrite instead of placeholders, row
  // locks and per-conversation lookups.
  bool bulk = false;
  // The plan's last transaction: it also runs the partial work and stores
  // the offsets.
  bool last = false;
};

struct WritePlan {
  // Sorted, unique.
  std::vector<std::string> full_rewrites;
  PartialWork partial;
  // At least one, in order, covering full_rewrites.
  std::vector<WriteTransaction> transactions;

  // The conversations the plan writes (WriteResult::conversations).
  size_t conversations() const {
    return full_rewrites.size() + partial.edits.size() +
           partial.appends.size() + partial.joined.size();
  }
};

// Builds the WritePlan of one batch from its AffectedConversations and what
// step 1 read.
class WritePlanner {
 public:
  // `plan` must outlive the planner.
  WritePlanner(const AffectedConversations& plan, WritePlanOptions options);
  WritePlanner(const WritePlanner&) = delete;
  WritePlanner& operator=(const WritePlanner&) = delete;

  // Whether step 1 resolves fan-out keys (resolve_fan_out) and lists the
  // ids of a truncate rebuild (list_rebuild_ids).
  bool resolves_fan_out() const;
  bool lists_rebuild_ids() const;

  // One id resolve_fan_out or list_rebuild_ids returned, in any order,
  // duplicates allowed.
  void AddFanOutId(std::string id);
  void AddRebuildId(std::string id);

  // The plan. `rewritten`: the ids a replay committed so far, dropped from
  // the full rewrites (Options::rewrite_each_id_once); null otherwise.
  WritePlan Finish(const RewrittenIds* rewritten) &&;

 private:
  // Whether fan-out ids stay apart as joined-column rewrites (otherwise
  // they are full rewrites).
  bool KeepsFanOutApart() const;
  // Splits the message changes and the joined-column rewrites from the
  // full rewrites (the rules above).
  PartialWork SplitPartialWork();

  const AffectedConversations& plan_;
  WritePlanOptions options_;
  std::vector<std::string> ids_;
  std::vector<std::string> fan_out_;
};

// The plan of a snapshot rebuild: `ids` (every conversation and enriched
// row, any order, unique) in full, one bulk transaction.
WritePlan SnapshotRebuildPlan(std::vector<std::string> ids);

// The ids of `write`'s transaction `t`, in order.
std::vector<std::string> TransactionIds(const WritePlan& write,
                                        const WriteTransaction& t);

// A row-lock transaction's placeholders and locks (steps 2 and 3): its full
// rewrites `ids` (sorted) and the conversations of `partial`, sorted.
std::vector<std::string> LockIds(const std::vector<std::string>& ids,
                                 const PartialWork& partial);

// Step 4's ids: `ids` (sorted) and the conversations steps 4a-4c could not
// update (`fallbacks`), sorted.
std::vector<std::string> WithFallbacks(const std::vector<std::string>& ids,
                                       std::vector<std::string> fallbacks);

// `lsn` as pg_lsn text (pgoutput::FormatLsn, "16/B374D848").
std::string LsnText(uint64_t lsn);

// The plan's snapshots (snapshot_lsns) as pg_lsn text, in order.
std::vector<std::string> SnapshotLsnTexts(const AffectedConversations& plan);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_WRITE_PLAN_H_
