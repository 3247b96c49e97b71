#include "processor/adapters/enriched_row_writer.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/processor_session.h"

namespace enrich::processor {
namespace {

using Rows = std::vector<pg::Row>;

// Transaction control, named for the statement observer.
const WriterStatement& Begin() {
  static const auto* statement = new WriterStatement{"begin", "BEGIN"};
  return *statement;
}
const WriterStatement& Commit() {
  static const auto* statement = new WriterStatement{"commit", "COMMIT"};
  return *statement;
}
// Ends a snapshot check that wrote nothing (reported as "commit").
const WriterStatement& EndCheck() {
  static const auto* statement = new WriterStatement{"commit", "ROLLBACK"};
  return *statement;
}

// `statement`, reporting its duration to the observer (if any).
absl::StatusOr<Rows> Exec(const EnrichedRowWriter::Options& options,
                          pg::PgConnection* conn,
                          const WriterStatement& statement,
                          absl::string_view what,
                          const std::vector<pg::Param>& params = {}) {
  const absl::Time start = absl::Now();
  absl::StatusOr<Rows> result = conn->QueryParams(statement.sql, params, what);
  if (options.statement_observer) {
    options.statement_observer(statement.name, absl::Now() - start);
  }
  return result;
}

uint64_t Count(const Rows& result, int column) {
  return std::strtoull(pg::TextOrEmpty(result[0], column).c_str(), nullptr, 10);
}

// The first column of every row.
std::vector<std::string> FirstColumn(const Rows& result) {
  std::vector<std::string> values;
  values.reserve(result.size());
  for (const pg::Row& row : result) values.push_back(pg::TextOrEmpty(row, 0));
  return values;
}

// The writer's session settings, on every (re)connection.
absl::Status SetSessionDefaults(const ViewStatements& sql,
                                pg::PgConnection* conn) {
  RETURN_IF_ERROR(conn->QueryParams(sql.SetIsolation().sql, {},
                                    "setting the isolation level")
                      .status());
  // Best effort: a server built without lz4 rejects the value and keeps
  // pglz.
  conn->QueryParams(sql.SetToastCompression().sql, {},
                    "setting the TOAST compression")
      .IgnoreError();
  return absl::OkStatus();
}

WritePlanOptions PlanOptions(const EnrichedRowWriter::Options& options) {
  WritePlanOptions plan_options;
  plan_options.max_rows_per_rebuild_transaction =
      options.max_rows_per_rebuild_transaction;
  plan_options.bulk_min_ids = options.bulk_min_ids;
  plan_options.rewrite_each_id_once = options.rewrite_each_id_once;
  return plan_options;
}

}  // namespace

EnrichedRowWriter::EnrichedRowWriter(std::unique_ptr<pg::PgConnection> conn,
                                     Options options)
    : conn_(std::move(conn)), options_(std::move(options)) {}

EnrichedRowWriter::~EnrichedRowWriter() = default;

absl::StatusOr<std::unique_ptr<EnrichedRowWriter>> EnrichedRowWriter::Connect(
    const std::string& dsn, Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::PgConnection> conn,
                   OpenProcessorSession(dsn));
  std::unique_ptr<EnrichedRowWriter> writer(
      new EnrichedRowWriter(std::move(conn), std::move(options)));
  RETURN_IF_ERROR(SetSessionDefaults(writer->sql(), writer->conn_.get()));
  return writer;
}

absl::Status EnrichedRowWriter::EnsureConnected() {
  ASSIGN_OR_RETURN(bool reconnected, conn_->ReconnectIfLost());
  if (!reconnected) return absl::OkStatus();
  return SetSessionDefaults(sql(), conn_.get());
}

void EnrichedRowWriter::RollBack() { conn_->RollBack(); }

absl::StatusOr<WriteResult> EnrichedRowWriter::Apply(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets) {
  RETURN_IF_ERROR(EnsureConnected());
  WriteResult result;
  if (!plan.snapshot_lsns.empty()) {
    // A rebuild reads the whole state after every event of the batch
    // committed: it covers the rest of the plan too.
    ASSIGN_OR_RETURN(bool rebuilt, RebuildForSnapshots(plan, offsets, &result));
    if (rebuilt) {
      build_deferred_ = false;
      return result;
    }
  }
  if (build_deferred_) {
    ASSIGN_OR_RETURN(std::optional<WriteResult> built, BuildIfEmpty());
    build_deferred_ = false;
    if (built.has_value()) {
      result.transactions += built->transactions;
      result.rows_upserted += built->rows_upserted;
      result.rebuilt_for_snapshot = true;
    }
  }
  RETURN_IF_ERROR(
      Exec(options_, conn_.get(), Begin(), "beginning the batch").status());
  absl::StatusOr<WritePlan> write = PlanBatch(plan);
  if (!write.ok()) {
    RollBack();
    return write.status();
  }
  result.conversations = write->conversations();
  // A truncate rebuild commits every chunk but the last on its own; all
  // other work, and the last chunk, goes in the transaction of the offsets.
  for (const WriteTransaction& t : write->transactions) {
    if (conn_->Idle()) {
      RETURN_IF_ERROR(
          Exec(options_, conn_.get(), Begin(), "beginning the batch").status());
    }
    absl::Status status = RunTransaction(*write, t, plan, offsets, &result);
    if (status.ok()) {
      status = Exec(options_, conn_.get(), Commit(), "committing the batch")
                   .status();
    }
    if (!status.ok()) {
      RollBack();
      return status;
    }
    ++result.transactions;
  }
  if (options_.rewrite_each_id_once) rewritten_.Add(write->full_rewrites);
  return result;
}

absl::StatusOr<WritePlan> EnrichedRowWriter::PlanBatch(
    const AffectedConversations& plan) {
  WritePlanner planner(plan, PlanOptions(options_));
  if (planner.resolves_fan_out()) {
    // $1, $2...: each lookup's keys, in FROM order (ResolveFanOut).
    std::vector<pg::Param> keys;
    for (size_t i = 0; i < sql().LookupCount(); ++i) {
      keys.push_back(i < plan.lookup_keys.size()
                         ? pg::ArrayLiteral({plan.lookup_keys[i].begin(),
                                             plan.lookup_keys[i].end()})
                         : pg::ArrayLiteral({}));
    }
    ASSIGN_OR_RETURN(Rows resolved,
                     Exec(options_, conn_.get(), sql().ResolveFanOut(),
                          "resolving fan-out keys", keys));
    for (const pg::Row& row : resolved)
      planner.AddFanOutId(pg::TextOrEmpty(row, 0));
  }
  if (planner.lists_rebuild_ids()) {
    ASSIGN_OR_RETURN(Rows listed, Exec(options_, conn_.get(),
                                       sql().ListRebuildIds(plan.truncated),
                                       "listing rows to rebuild"));
    for (const pg::Row& row : listed)
      planner.AddRebuildId(pg::TextOrEmpty(row, 0));
  }
  return std::move(planner).Finish(options_.rewrite_each_id_once ? &rewritten_
                                                                 : nullptr);
}

absl::Status EnrichedRowWriter::RunTransaction(
    const WritePlan& write, const WriteTransaction& t,
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  // A copy only for a chunk of a truncate rebuild.
  const bool whole = t.begin == 0 && t.end == write.full_rewrites.size();
  std::vector<std::string> chunk_ids;
  if (!whole) chunk_ids = TransactionIds(write, t);
  const std::vector<std::string>& ids = whole ? write.full_rewrites : chunk_ids;
  const PartialWork none;
  const PartialWork& partial = t.last ? write.partial : none;
  const Params commit = {LsnText(plan.max_commit_lsn),
                         absl::StrCat(plan.max_commit_time_us)};
  RETURN_IF_ERROR(LockRows(ids, partial, t.bulk));
  if (options_.after_locks_for_testing) options_.after_locks_for_testing();
  // What steps 4a-4c cannot apply joins the full rewrites.
  std::vector<std::string> fallbacks;
  RETURN_IF_ERROR(RunPartialWork(partial, commit, &fallbacks, result));
  if (!fallbacks.empty()) {
    RETURN_IF_ERROR(RewriteRows(WithFallbacks(ids, std::move(fallbacks)),
                                t.bulk, commit, result));
  } else if (!ids.empty()) {
    RETURN_IF_ERROR(RewriteRows(ids, t.bulk, commit, result));
  }
  if (t.last && !offsets.empty()) RETURN_IF_ERROR(StoreOffsets(offsets));
  return absl::OkStatus();
}

absl::Status EnrichedRowWriter::LockRows(const std::vector<std::string>& ids,
                                         const PartialWork& partial,
                                         bool bulk) {
  pg::PgConnection* conn = conn_.get();
  if (bulk) {
    // A bulk transaction never has partial work (write_plan.h).
    RETURN_IF_ERROR(
        Exec(options_, conn, sql().LockTable(), "locking the enriched table")
            .status());
    return Exec(options_, conn, sql().BulkSettings(),
                "setting the bulk path's planner settings",
                {options_.bulk_work_mem, absl::StrCat(ids.size())})
        .status();
  }
  if (ids.empty() && partial.empty()) return absl::OkStatus();
  const std::string lock_array =
      pg::ArrayLiteral(partial.empty() ? ids : LockIds(ids, partial));
  RETURN_IF_ERROR(Exec(options_, conn, sql().InsertPlaceholders(),
                       "inserting placeholders", {lock_array})
                      .status());
  return Exec(options_, conn, sql().LockRows(), "locking rows", {lock_array})
      .status();
}

absl::Status EnrichedRowWriter::RunPartialWork(
    const PartialWork& partial, const Params& commit,
    std::vector<std::string>* fallbacks, WriteResult* result) {
  if (sql().has_message_paths()) {
    RETURN_IF_ERROR(ApplyMessageChanges(sql().EditBodies(), partial.edits,
                                        commit, fallbacks, result));
    RETURN_IF_ERROR(ApplyMessageChanges(sql().AppendMessages(), partial.appends,
                                        commit, fallbacks, result));
  } else {
    // A plan built for another view's routes: its in-place child work is
    // rewritten in full instead (the planner is told not to plan it).
    for (const MessageChangeList* list : {&partial.edits, &partial.appends}) {
      for (const auto& change : *list) fallbacks->push_back(change.first);
    }
  }
  if (partial.joined.empty()) return absl::OkStatus();
  return RunPartialRewrite(
      sql().RewriteJoinedColumns(),
      {pg::ArrayLiteral(partial.joined), commit[0], commit[1]}, fallbacks,
      result);
}

absl::Status EnrichedRowWriter::RunPartialRewrite(
    const WriterStatement& statement, const Params& params,
    std::vector<std::string>* fallbacks, WriteResult* result) {
  ASSIGN_OR_RETURN(Rows applied,
                   Exec(options_, conn_.get(), statement,
                        absl::StrCat("applying ", statement.name), params));
  result->rows_upserted += Count(applied, 0);
  for (absl::string_view id :
       absl::StrSplit(pg::TextOrEmpty(applied[0], 1), ',', absl::SkipEmpty())) {
    fallbacks->emplace_back(id);
  }
  return absl::OkStatus();
}

absl::Status EnrichedRowWriter::ApplyMessageChanges(
    const WriterStatement& statement, const MessageChangeList& changes,
    const Params& commit, std::vector<std::string>* fallbacks,
    WriteResult* result) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::string> conversations, messages;
  conversations.reserve(changes.size());
  messages.reserve(changes.size());
  for (const auto& [conversation, message] : changes) {
    conversations.push_back(conversation);
    messages.push_back(message);
  }
  return RunPartialRewrite(statement,
                           {pg::ArrayLiteral(conversations),
                            pg::ArrayLiteral(messages), commit[0], commit[1]},
                           fallbacks, result);
}

absl::Status EnrichedRowWriter::RewriteRows(const std::vector<std::string>& ids,
                                            bool bulk, const Params& commit,
                                            WriteResult* result) {
  ASSIGN_OR_RETURN(
      Rows rewritten,
      Exec(options_, conn_.get(),
           bulk ? sql().RewriteRowsBulk() : sql().RewriteRows(),
           "rewriting rows", {pg::ArrayLiteral(ids), commit[0], commit[1]}));
  result->rows_upserted += Count(rewritten, 0);
  result->rows_deleted += Count(rewritten, 1);
  return absl::OkStatus();
}

absl::Status EnrichedRowWriter::StoreOffsets(
    const std::vector<PartitionOffset>& offsets) {
  std::vector<std::string> topics, partitions, next_offsets;
  for (const PartitionOffset& o : offsets) {
    topics.push_back(o.topic);
    partitions.push_back(absl::StrCat(o.partition));
    next_offsets.push_back(absl::StrCat(o.next_offset));
  }
  return Exec(options_, conn_.get(), sql().StoreOffsets(), "storing offsets",
              {options_.consumer_group, pg::ArrayLiteral(topics),
               pg::ArrayLiteral(partitions), pg::ArrayLiteral(next_offsets)})
      .status();
}

absl::StatusOr<bool> EnrichedRowWriter::SnapshotsCovered(
    const AffectedConversations& plan) {
  if (options_.rewrite_each_id_once) return rewritten_.all();
  const std::vector<std::string> lsns = SnapshotLsnTexts(plan);
  if (std::all_of(lsns.begin(), lsns.end(), [this](const std::string& lsn) {
        return covered_snapshots_.contains(lsn);
      })) {
    return true;
  }
  ASSIGN_OR_RETURN(Rows covered,
                   Exec(options_, conn_.get(), sql().CoveredSnapshots(),
                        "reading the snapshots rebuilt",
                        {options_.consumer_group, pg::ArrayLiteral(lsns)}));
  if (Count(covered, 0) != lsns.size()) return false;
  covered_snapshots_.insert(lsns.begin(), lsns.end());
  return true;
}

absl::StatusOr<std::vector<std::string>>
EnrichedRowWriter::RecordedCdcSnapshots() {
  ASSIGN_OR_RETURN(Rows readable,
                   Exec(options_, conn_.get(), sql().CdcSnapshotsReadable(),
                        "checking enrich_cdc_snapshots"));
  if (pg::TextOrEmpty(readable[0], 0) != "t") {
    return std::vector<std::string>();
  }
  ASSIGN_OR_RETURN(Rows listed,
                   Exec(options_, conn_.get(), sql().CdcSnapshots(),
                        "reading enrich_cdc_snapshots"));
  return FirstColumn(listed);
}

absl::StatusOr<bool> EnrichedRowWriter::RebuildInTransaction(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  // The lock first: a writer of the same group that rebuilt meanwhile has
  // committed its record before this returns.
  RETURN_IF_ERROR(Exec(options_, conn_.get(), sql().LockTable(),
                       "locking the enriched table")
                      .status());
  ASSIGN_OR_RETURN(bool covered, SnapshotsCovered(plan));
  if (covered) return false;
  RETURN_IF_ERROR(RebuildEveryRow(plan, offsets, result));
  return true;
}

absl::Status EnrichedRowWriter::RebuildEveryRow(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  // Read before the rebuild's statement, so every snapshot listed was taken
  // before the state the rebuild reads (WRITER_DESIGN.md).
  ASSIGN_OR_RETURN(std::vector<std::string> snapshots, RecordedCdcSnapshots());
  for (std::string& lsn : SnapshotLsnTexts(plan)) {
    snapshots.push_back(std::move(lsn));
  }
  TruncatedTables everything;
  everything.root = true;
  ASSIGN_OR_RETURN(Rows listed,
                   Exec(options_, conn_.get(), sql().ListRebuildIds(everything),
                        "listing rows to rebuild"));
  const WritePlan write = SnapshotRebuildPlan(FirstColumn(listed));
  for (const WriteTransaction& t : write.transactions) {
    RETURN_IF_ERROR(RunTransaction(write, t, plan, offsets, result));
  }
  RETURN_IF_ERROR(Exec(options_, conn_.get(), sql().RecordSnapshots(),
                       "recording the snapshots rebuilt",
                       {options_.consumer_group, pg::ArrayLiteral(snapshots)})
                      .status());
  result->conversations = write.conversations();
  return absl::OkStatus();
}

absl::StatusOr<bool> EnrichedRowWriter::WriteIfNeeded(
    absl::string_view what, const std::function<absl::StatusOr<bool>()>& work) {
  RETURN_IF_ERROR(
      Exec(options_, conn_.get(), Begin(), absl::StrCat("beginning the ", what))
          .status());
  absl::StatusOr<bool> wrote = work();
  absl::Status status = wrote.status();
  if (status.ok()) {
    // Nothing was written when the work found nothing to do.
    status = Exec(options_, conn_.get(), *wrote ? Commit() : EndCheck(),
                  absl::StrCat(*wrote ? "committing the "
                                      : "ending the check "
                                        "for the ",
                               what))
                 .status();
  }
  if (!status.ok()) {
    RollBack();
    return status;
  }
  return *wrote;
}

absl::StatusOr<std::optional<WriteResult>> EnrichedRowWriter::BuildIfEmpty() {
  RETURN_IF_ERROR(EnsureConnected());
  WriteResult result;
  ASSIGN_OR_RETURN(
      bool built, WriteIfNeeded("build", [&]() -> absl::StatusOr<bool> {
        // The lock first: another writer's rows committed before it are
        // seen.
        RETURN_IF_ERROR(Exec(options_, conn_.get(), sql().LockTable(),
                             "locking the enriched table")
                            .status());
        ASSIGN_OR_RETURN(Rows needed,
                         Exec(options_, conn_.get(), sql().TableNeedsBuilding(),
                              "checking whether the table is empty"));
        if (pg::TextOrEmpty(needed[0], 0) != "t") return false;
        RETURN_IF_ERROR(RebuildEveryRow(AffectedConversations(), {}, &result));
        return true;
      }));
  if (!built) return std::optional<WriteResult>();
  ++result.transactions;
  result.rebuilt_for_snapshot = true;
  return std::optional<WriteResult>(result);
}

absl::StatusOr<EnrichedRowWriter::StartBuild>
EnrichedRowWriter::BuildIfEmptyAtStart() {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(std::vector<std::string> recorded, RecordedCdcSnapshots());
  StartBuild start;
  if (recorded.empty()) {
    build_deferred_ = true;
    start.deferred = true;
    return start;
  }
  ASSIGN_OR_RETURN(start.built, BuildIfEmpty());
  return start;
}

absl::StatusOr<bool> EnrichedRowWriter::RebuildForSnapshots(
    const AffectedConversations& plan,
    const std::vector<PartitionOffset>& offsets, WriteResult* result) {
  // Most batches of a snapshot come after its rebuild: one read, no lock.
  ASSIGN_OR_RETURN(bool covered, SnapshotsCovered(plan));
  if (covered) return false;
  ASSIGN_OR_RETURN(bool rebuilt, WriteIfNeeded("rebuild", [&] {
                     return RebuildInTransaction(plan, offsets, result);
                   }));
  if (rebuilt) {
    ++result->transactions;
    result->rebuilt_for_snapshot = true;
    if (options_.rewrite_each_id_once) rewritten_.AddAll();
  }
  return rebuilt;
}

absl::StatusOr<std::vector<PartitionOffset>> EnrichedRowWriter::StoredOffsets(
    const std::string& topic) {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(Rows result,
                   conn_->QueryParams(sql().StoredOffsets().sql,
                                      {options_.consumer_group, topic},
                                      "reading stored offsets"));
  std::vector<PartitionOffset> offsets;
  for (const pg::Row& row : result) {
    offsets.push_back(
        {topic,
         static_cast<int32_t>(std::atoi(pg::TextOrEmpty(row, 0).c_str())),
         std::strtoll(pg::TextOrEmpty(row, 1).c_str(), nullptr, 10)});
  }
  return offsets;
}

}  // namespace enrich::processor
