// EnrichedRowWriter and the sql/ migrations against a real PostgreSQL: the
// contract's equality after random workloads applied in shuffled, duplicated
// batches, by one writer and by several at once; the row-lock ordering; the
// offsets; least-privilege roles; and the plans of the hot statements at
// 100,000 conversations.
#include "processor/adapters/enriched_row_writer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <initializer_list>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cdc/common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/affected_conversations.h"
#include "processor/core/retry.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;
using ::testing::HasSubstr;

std::unique_ptr<PgTestConnection> Connect(const std::string& dsn) {
  auto conn = PgTestConnection::Connect(dsn);
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? *std::move(conn) : nullptr;
}

std::unique_ptr<EnrichedRowWriter> NewWriter(
    EnrichedRowWriter::Options options = {},
    const std::string& extra_dsn = "") {
  auto writer = EnrichedRowWriter::Connect(
      absl::StrCat(Services().pg_dsn, " ", extra_dsn), std::move(options));
  EXPECT_TRUE(writer.ok()) << writer.status();
  return writer.ok() ? *std::move(writer) : nullptr;
}

// Applies one batch, retrying deadlocks and serialization failures as the
// processor does.
absl::Status ApplyWithRetry(EnrichedRowWriter& writer,
                            const AffectedConversations& plan,
                            const std::vector<PartitionOffset>& offsets,
                            std::atomic<int>* retries = nullptr) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(5);
  policy.max_attempts = 50;
  return RetryWithBackoff([&] { return writer.Apply(plan, offsets).status(); },
                          policy, [](absl::Duration d) { absl::SleepFor(d); },
                          nullptr,
                          [&](const absl::Status&, absl::Duration) {
                            if (retries != nullptr) ++*retries;
                          });
}

// Delivers `events` the way a consumer group may: per-table order kept (one
// partition per table), tables interleaved at random, about one event in ten
// delivered a second time later, in batches of 1 to 64.
absl::Status DeliverShuffled(EnrichedRowWriter& writer,
                             std::vector<enrich::v1::ChangeEvent> events,
                             std::mt19937_64& rng) {
  std::map<std::string, std::deque<enrich::v1::ChangeEvent>> partitions;
  std::vector<enrich::v1::ChangeEvent> redeliveries;
  for (auto& event : events) {
    if (std::bernoulli_distribution(0.1)(rng)) redeliveries.push_back(event);
    partitions[event.table()].push_back(std::move(event));
  }
  std::vector<enrich::v1::ChangeEvent> order;
  while (!partitions.empty()) {
    auto it = partitions.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(
                         0, partitions.size() - 1)(rng));
    order.push_back(std::move(it->second.front()));
    it->second.pop_front();
    if (it->second.empty()) partitions.erase(it);
  }
  for (auto& event : redeliveries) order.push_back(std::move(event));

  size_t next = 0;
  while (next < order.size()) {
    const size_t size = std::uniform_int_distribution<size_t>(1, 64)(rng);
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    for (size_t i = 0; i < size && next < order.size(); ++i, ++next) {
      absl::Status planned = planner.Add(order[next]);
      if (!planned.ok()) return planned;
    }
    absl::Status applied = ApplyWithRetry(writer, planner.Take(), {});
    if (!applied.ok()) return applied;
  }
  return absl::OkStatus();
}

class EnrichedRowWriterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto conn = Connect(Services().pg_dsn);
    ASSERT_NE(conn, nullptr);
    absl::Status prepared = testing::PrepareDatabase(*conn);
    ASSERT_TRUE(prepared.ok()) << prepared;
  }

  void SetUp() override {
    conn_ = Connect(Services().pg_dsn);
    ASSERT_NE(conn_, nullptr);
    absl::Status reset = testing::ResetDatabase(*conn_);
    ASSERT_TRUE(reset.ok()) << reset;
  }

  void ExpectEqualsReference() {
    absl::StatusOr<int64_t> difference =
        testing::DifferenceFromReference(*conn_);
    ASSERT_TRUE(difference.ok()) << difference.status();
    EXPECT_EQ(*difference, 0) << testing::DescribeDifference(*conn_);
  }

  // Per seed, three rounds of a random workload whose events reach `writer`
  // in shuffled batches, each round checked equal to the reference.
  void RunShuffledRounds(EnrichedRowWriter& writer,
                         std::initializer_list<uint64_t> seeds) {
    for (uint64_t seed : seeds) {
      SCOPED_TRACE(absl::StrCat("seed ", seed));
      std::mt19937_64 rng(seed);
      for (int round = 0; round < 3; ++round) {
        absl::Status workload = testing::RunRandomWorkload(*conn_, rng, 120);
        ASSERT_TRUE(workload.ok()) << workload;
        auto events = testing::DrainChangeEvents(*conn_, &cursor_);
        ASSERT_TRUE(events.ok()) << events.status();
        absl::Status delivered = DeliverShuffled(writer, *events, rng);
        ASSERT_TRUE(delivered.ok()) << delivered;
        ExpectEqualsReference();
      }
    }
  }

  // A new database `name` with the contract's tables and reference view and
  // 150 transactions of the random workload (seed `seed`); its DSN. The
  // caller drops it.
  std::string NewSourceDatabase(const std::string& name, uint64_t seed) {
    EXPECT_TRUE(conn_->Exec("DROP DATABASE IF EXISTS " + name).ok());
    EXPECT_TRUE(conn_->Exec("CREATE DATABASE " + name).ok());
    const std::string dsn = absl::StrCat(Services().pg_dsn, " dbname=", name);
    auto db = Connect(dsn);
    if (db == nullptr) return dsn;
    EXPECT_TRUE(db->Exec(testing::ReadContractFile("source_schema.sql")).ok());
    EXPECT_TRUE(
        db->Exec(testing::ReadContractFile("enriched_reference.sql")).ok());
    std::mt19937_64 rng(seed);
    absl::Status workload = testing::RunRandomWorkload(*db, rng, 150);
    EXPECT_TRUE(workload.ok()) << workload;
    return dsn;
  }

  int64_t Count(const std::string& sql) {
    return std::stoll(conn_->QueryValue(sql).value_or("-1"));
  }

  // Body edits (enriched_row_writer.h): helpers.

  // The plan of every change captured since the last call, as one batch.
  AffectedConversations PlanCaptured() {
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    auto events = testing::DrainChangeEvents(*conn_, &cursor_);
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) return planner.Take();
    for (const auto& event : *events) {
      absl::Status planned = planner.Add(event);
      EXPECT_TRUE(planned.ok()) << planned;
    }
    return planner.Take();
  }

  // A writer that records the names of the statements it runs in
  // statements_.
  std::unique_ptr<EnrichedRowWriter> NewObservedWriter(
      EnrichedRowWriter::Options options = {}) {
    options.statement_observer = [this](absl::string_view name,
                                        absl::Duration) {
      statements_.emplace_back(name);
    };
    return NewWriter(std::move(options));
  }

  // Applies `plan` with no offsets; statements_ then holds its statements.
  absl::StatusOr<WriteResult> ApplyObserved(EnrichedRowWriter& writer,
                                            const AffectedConversations& plan) {
    statements_.clear();
    return writer.Apply(plan, {});
  }

  bool Ran(absl::string_view statement) const {
    return std::find(statements_.begin(), statements_.end(), statement) !=
           statements_.end();
  }

  // The rows of conversation `id` in the table and in the reference that
  // differ (EXCEPT ALL both ways); 0 when that row is equal.
  int64_t DifferenceForConversation(const std::string& id) {
    const std::string columns = absl::StrJoin(
        EnrichedSupportConversationsStatements().ReferenceColumns(), ", ");
    const std::string where = absl::StrCat(" WHERE id = '", id, "'");
    return Count(absl::StrCat(
        "SELECT (SELECT count(*) FROM (SELECT * FROM "
        "enriched_support_conversations_reference",
        where, " EXCEPT ALL SELECT ", columns,
        " FROM enriched_support_conversations", where,
        ") a) + (SELECT count(*) FROM (SELECT ", columns,
        " FROM enriched_support_conversations", where,
        " EXCEPT ALL SELECT * FROM enriched_support_conversations_reference",
        where, ") b)"));
  }

  // Equal to the reference, and every row's all_message_ids is the one a
  // full rewrite would set now (what later edits place bodies by).
  void ExpectConverged() {
    ExpectEqualsReference();
    EXPECT_EQ(
        Count(absl::StrCat(
            "WITH ids AS (SELECT id FROM enriched_support_conversations), "
            "r AS (",
            EnrichedSupportConversationsStatements().RecomputeSql(),
            ") SELECT count(*) FROM enriched_support_conversations e LEFT "
            "JOIN r ON r.id = e.id WHERE e.all_message_ids IS DISTINCT FROM "
            "r.all_message_ids")),
        0);
  }

  // Source rows with fixed ids (the capture triggers record them).
  void InsertConversation(const std::string& id,
                          const std::string& user_id = "u1") {
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat(
                        "INSERT INTO raw_support_conversations (id, source, "
                        "external_id, title, created_at, updated_at, user_id) "
                        "VALUES ('",
                        id, "', 'zendesk', '", id,
                        "', 'title', now(), now(), '", user_id, "')"))
                    .ok());
  }
  // `body_sql` is an SQL expression; `minute` orders the messages.
  void InsertMessage(const std::string& id, const std::string& conversation,
                     const std::string& body_sql, int minute) {
    ASSERT_TRUE(
        conn_
            ->Exec(absl::StrCat(
                "INSERT INTO support_conversation_messages (id, "
                "conversation_id, author_type, body, created_at) VALUES ('",
                id, "', '", conversation, "', 'agent', ", body_sql,
                ", timestamptz '2024-01-01 00:00:00+00' + ", minute,
                " * interval '1 minute')"))
            .ok());
  }
  void SetBody(const std::string& message, const std::string& body_sql) {
    ASSERT_TRUE(
        conn_
            ->Exec(absl::StrCat(
                "UPDATE support_conversation_messages SET body = ", body_sql,
                ", updated_at = now() WHERE id = '", message, "'"))
            .ok());
  }

  // Conversations A (messages 1-3) and B (message 4), both with user u1,
  // applied in full by `writer`.
  void SetUpTwoConversations(EnrichedRowWriter& writer);

  std::vector<std::string> statements_;

  void RunConcurrentWriters(
      const std::vector<EnrichedRowWriter::Options>& options);
  void ExpectLaterWriterWaitsThenReadsFresh(
      EnrichedRowWriter::Options slow_options,
      EnrichedRowWriter::Options fast_options);

  std::unique_ptr<PgTestConnection> conn_;
  int64_t cursor_ = 0;
};

TEST_F(EnrichedRowWriterTest, MigratedTableHasTheReferenceColumnsFirst) {
  EXPECT_EQ(Count("SELECT count(*) FROM ("
                  "SELECT attnum, attname, format_type(atttypid, atttypmod) "
                  "FROM pg_attribute WHERE attrelid = "
                  "'enriched_support_conversations_reference'::regclass AND "
                  "attnum > 0 EXCEPT SELECT attnum, attname, "
                  "format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                  "attrelid = 'enriched_support_conversations'::regclass AND "
                  "attnum > 0 AND NOT attisdropped) x"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_attribute WHERE attrelid = "
                  "'enriched_support_conversations_reference'::regclass AND "
                  "attnum > 0"),
            33);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = "
                  "'enriched_support_conversations' AND relkind = 'r'"),
            1);
  // Applying again changes nothing.
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  auto report = ApplyMigrations(Services().pg_dsn, *migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->applied.empty());
  EXPECT_EQ(report->already_applied.size(), migrations->size());
}

// What `run`, `replay` and `reconcile` check before writing.
TEST_F(EnrichedRowWriterTest, SchemaCheckRefusesAMissingOrUnknownMigration) {
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  EXPECT_TRUE(CheckSchemaIsCurrent(Services().pg_dsn, *migrations).ok());

  // A binary that knows one migration more than the database has.
  std::vector<Migration> ahead = *migrations;
  ahead.push_back({999, "999_future.sql", "SELECT 1"});
  absl::Status behind = CheckSchemaIsCurrent(Services().pg_dsn, ahead);
  EXPECT_EQ(behind.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(behind.message(), HasSubstr("999_future.sql"));

  // A binary older than the database's last migration.
  std::vector<Migration> older(migrations->begin(), migrations->end() - 1);
  absl::Status newer = CheckSchemaIsCurrent(Services().pg_dsn, older);
  EXPECT_EQ(newer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(newer.message(), HasSubstr(migrations->back().name));

  // A database that was never migrated.
  ASSERT_TRUE(conn_->Exec("DROP DATABASE IF EXISTS never_migrated").ok());
  ASSERT_TRUE(conn_->Exec("CREATE DATABASE never_migrated").ok());
  absl::Status never = CheckSchemaIsCurrent(
      absl::StrCat(Services().pg_dsn, " dbname=never_migrated"), *migrations);
  EXPECT_EQ(never.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(never.message(), HasSubstr("never migrated"));
  ASSERT_TRUE(conn_->Exec("DROP DATABASE never_migrated").ok());
}

TEST_F(EnrichedRowWriterTest, ChangedAppliedMigrationIsRefused) {
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  (*migrations)[0].sql += "\n-- edited after it was applied\n";
  auto report = ApplyMigrations(Services().pg_dsn, *migrations);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("never edit"));
}

// Snapshot rebuilds (enriched_row_writer.h): a batch with the rows of a
// snapshot its group has not rebuilt for rewrites every row, including rows
// no event names (a conversation deleted before the slot existed), once per
// group and snapshot.
AffectedConversations SnapshotPlan(uint64_t consistent_lsn) {
  AffectedConversations plan;
  plan.snapshot_lsns.insert(consistent_lsn);
  plan.max_commit_lsn = consistent_lsn;
  plan.event_count = 1;
  return plan;
}

// 002's earlier text (it also backfilled a fresh install's table) left the
// same schema: a database that recorded its checksum is current.
TEST_F(EnrichedRowWriterTest, EarlierTextOfAMigrationIsAccepted) {
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  ASSERT_EQ((*migrations)[1].version, 2);
  ASSERT_FALSE((*migrations)[1].earlier_checksums.empty());
  const std::string current =
      conn_
          ->QueryValue(
              "SELECT checksum FROM enrich_schema_migrations WHERE version = 2")
          .value_or("");
  ASSERT_TRUE(
      conn_
          ->Exec(absl::StrCat(
              "UPDATE enrich_schema_migrations SET checksum = '",
              (*migrations)[1].earlier_checksums[0], "' WHERE version = 2"))
          .ok());
  auto report = ApplyMigrations(Services().pg_dsn, *migrations);
  ASSERT_TRUE(conn_
                  ->Exec(absl::StrCat(
                      "UPDATE enrich_schema_migrations SET checksum = '",
                      current, "' WHERE version = 2"))
                  .ok());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->applied.empty());
}

// A fresh install's table is created empty; the processor's first snapshot
// rebuild builds every row.
TEST_F(EnrichedRowWriterTest, FreshInstallIsBuiltByTheFirstRebuild) {
  const std::string dsn = NewSourceDatabase("fresh_install", 9);
  auto db = Connect(dsn);
  ASSERT_NE(db, nullptr);
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  auto report = ApplyMigrations(dsn, *migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(db->QueryValue("SELECT count(*) FROM "
                           "enriched_support_conversations")
                .value_or(""),
            "0");
  {
    auto writer = EnrichedRowWriter::Connect(dsn, {});
    ASSERT_TRUE(writer.ok()) << writer.status();
    auto built = (*writer)->Apply(SnapshotPlan(0x10), {});
    ASSERT_TRUE(built.ok()) << built.status();
    EXPECT_TRUE(built->rebuilt_for_snapshot);
  }
  absl::StatusOr<int64_t> difference = testing::DifferenceFromReference(*db);
  ASSERT_TRUE(difference.ok()) << difference.status();
  EXPECT_EQ(*difference, 0) << testing::DescribeDifference(*db);
  EXPECT_GT(std::stoll(db->QueryValue("SELECT count(*) FROM "
                                      "enriched_support_conversations")
                           .value_or("0")),
            10);
  db.reset();
  ASSERT_TRUE(conn_->Exec("DROP DATABASE fresh_install").ok());
}

TEST_F(EnrichedRowWriterTest, MaterializedViewIsSwappedForBackfilledTable) {
  const std::string dsn = NewSourceDatabase("matview_migration", 7);
  auto db = Connect(dsn);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE MATERIALIZED VIEW "
                       "enriched_support_conversations AS SELECT * FROM "
                       "enriched_support_conversations_reference")
                  .ok());
  auto migrations = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(migrations.ok());
  auto report = ApplyMigrations(dsn, *migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied.size(), migrations->size());
  EXPECT_EQ(db->QueryValue("SELECT relkind::text FROM pg_class WHERE relname "
                           "= 'enriched_support_conversations'")
                .value_or(""),
            "r");
  EXPECT_FALSE(db->QueryValue("SELECT to_regclass("
                              "'enriched_support_conversations_next')::text")
                   .ok());
  absl::StatusOr<int64_t> difference = testing::DifferenceFromReference(*db);
  ASSERT_TRUE(difference.ok()) << difference.status();
  EXPECT_EQ(*difference, 0) << testing::DescribeDifference(*db);
  EXPECT_GT(std::stoll(db->QueryValue("SELECT count(*) FROM "
                                      "enriched_support_conversations")
                           .value_or("0")),
            0);
  db.reset();
  ASSERT_TRUE(conn_->Exec("DROP DATABASE matview_migration").ok());
}

TEST_F(EnrichedRowWriterTest, RandomWorkloadsInShuffledBatchesMatchReference) {
  auto writer = NewWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(RunShuffledRounds(*writer, {1, 2, 3, 4}));
  // The workload reached every case it is meant to.
  EXPECT_GT(Count("SELECT count(*) FROM enriched_support_conversations "
                  "WHERE message_count = 0 AND all_messages IS NULL"),
            0);
  EXPECT_GT(Count("SELECT count(*) FROM enriched_support_conversations e "
                  "WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                  "subscribers_insights s WHERE s.distinct_id = e.user_id)"),
            0);
  EXPECT_GT(Count("SELECT count(*) FROM support_conversation_messages "
                  "WHERE length(body) >= 20000"),
            0);
}

// The bulk path (table lock, set-based recompute) for every batch, however
// small: the same workloads, the same equality; then the emptied table is
// rebuilt from all ids in one bulk transaction.
TEST_F(EnrichedRowWriterTest, BulkPathMatchesReferenceInShuffledBatches) {
  EnrichedRowWriter::Options options;
  options.bulk_min_ids = 1;
  std::vector<std::string> statements;
  options.statement_observer = [&](absl::string_view name, absl::Duration) {
    statements.emplace_back(name);
  };
  auto writer = NewWriter(options);
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(RunShuffledRounds(*writer, {5, 6}));
  EXPECT_THAT(statements, ::testing::Contains("rewrite_rows_bulk"));
  EXPECT_THAT(statements, ::testing::Not(::testing::Contains("lock_rows")));
  EXPECT_GT(Count("SELECT count(*) FROM enriched_support_conversations "
                  "WHERE message_count = 0 AND all_messages IS NULL"),
            0);

  // A rebuild: the table emptied, every id (and a few without a
  // conversation) in one transaction with its offsets.
  ASSERT_TRUE(conn_->Exec("TRUNCATE enriched_support_conversations").ok());
  AffectedConversations all;
  auto ids = conn_->Query("SELECT id::text FROM raw_support_conversations");
  ASSERT_TRUE(ids.ok());
  for (const auto& row : *ids) all.full_rewrites.insert(*row[0]);
  all.full_rewrites.insert("00000000-0000-0000-0000-00000000dead");
  auto result = writer->Apply(all, {{"t", 0, 42}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->transactions, 1u);
  EXPECT_EQ(result->rows_upserted, ids->size());
  ExpectEqualsReference();
  EXPECT_EQ(Count("SELECT next_offset FROM enrich_processor_offsets"), 42);
}

TEST_F(EnrichedRowWriterTest, TruncateAndReloadInOneTransactionIsRebuilt) {
  EnrichedRowWriter::Options options;
  options.max_rows_per_rebuild_transaction = 7;
  auto writer = NewWriter(options);
  ASSERT_NE(writer, nullptr);
  std::mt19937_64 rng(11);
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 150).ok());
  auto events = testing::DrainChangeEvents(*conn_, &cursor_);
  ASSERT_TRUE(events.ok());
  ASSERT_TRUE(DeliverShuffled(*writer, *events, rng).ok());
  ExpectEqualsReference();

  ASSERT_TRUE(conn_
                  ->Exec("BEGIN; CREATE TEMP TABLE si ON COMMIT DROP AS "
                         "SELECT * FROM subscribers_insights; "
                         "TRUNCATE subscribers_insights; "
                         "INSERT INTO subscribers_insights SELECT distinct_id, "
                         "'reloaded', net_worth, investing_activity, 1, 2, 3, "
                         "now() FROM si WHERE distinct_id <> 'u3'; COMMIT")
                  .ok());
  ASSERT_TRUE(conn_
                  ->Exec("TRUNCATE support_conversation_messages; "
                         "TRUNCATE raw_support_conversations CASCADE")
                  .ok());
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 40).ok());
  events = testing::DrainChangeEvents(*conn_, &cursor_);
  ASSERT_TRUE(events.ok());
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  for (const auto& event : *events) ASSERT_TRUE(planner.Add(event).ok());
  ASSERT_TRUE(planner.plan().truncated.lookups.contains(0));
  ASSERT_TRUE(planner.plan().truncated.root);
  auto result = writer->Apply(planner.Take(), {{"t", 0, 10}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->transactions, 1u);  // chunked rebuild
  ExpectEqualsReference();
  EXPECT_EQ(Count("SELECT next_offset FROM enrich_processor_offsets"), 10);
}

// Writers with `options[i]` each, fed from one queue of events (with
// duplicates) while the workload runs; the table must equal the reference.
void EnrichedRowWriterTest::RunConcurrentWriters(
    const std::vector<EnrichedRowWriter::Options>& options) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<enrich::v1::ChangeEvent> queue;
  std::atomic<bool> producing{true};
  std::atomic<int> retries{0};
  std::atomic<int> batches{0};

  auto worker = [&](uint64_t seed,
                    EnrichedRowWriter::Options o) -> absl::Status {
    auto writer = NewWriter(std::move(o));
    if (writer == nullptr) return absl::InternalError("no writer");
    std::mt19937_64 rng(seed);
    while (true) {
      AffectedConversationsPlanner planner(
          EnrichedSupportConversationsRoutes("public"));
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(20),
                    [&] { return !queue.empty() || !producing; });
        if (queue.empty() && !producing) return absl::OkStatus();
        const size_t size = std::uniform_int_distribution<size_t>(1, 32)(rng);
        for (size_t i = 0; i < size && !queue.empty(); ++i) {
          RETURN_IF_ERROR(planner.Add(queue.front()));
          queue.pop_front();
        }
      }
      if (planner.plan().event_count == 0) continue;
      RETURN_IF_ERROR(ApplyWithRetry(*writer, planner.Take(), {}, &retries));
      ++batches;
    }
  };
  std::vector<std::future<absl::Status>> workers;
  for (size_t i = 0; i < options.size(); ++i) {
    workers.push_back(
        std::async(std::launch::async, worker, 100 + i, options[i]));
  }
  // The workload and the event feed run while the writers write.
  auto drain_conn = Connect(Services().pg_dsn);
  ASSERT_NE(drain_conn, nullptr);
  std::mt19937_64 rng(42);
  for (int round = 0; round < 40; ++round) {
    ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 10).ok());
    auto events = testing::DrainChangeEvents(*drain_conn, &cursor_);
    ASSERT_TRUE(events.ok());
    std::lock_guard<std::mutex> lock(mu);
    for (auto& event : *events) {
      // Duplicates, delivered to whichever writer comes first.
      if (std::bernoulli_distribution(0.2)(rng)) queue.push_back(event);
      queue.push_back(std::move(event));
    }
    cv.notify_all();
  }
  producing = false;
  cv.notify_all();
  for (auto& w : workers) {
    absl::Status status = w.get();
    EXPECT_TRUE(status.ok()) << status;
  }
  std::fprintf(stderr, "[concurrent] batches=%d retries=%d\n", batches.load(),
               retries.load());
  EXPECT_GT(batches.load(), 40);
  ExpectEqualsReference();
}

TEST_F(EnrichedRowWriterTest, SnapshotRebuildsEveryRowOncePerGroup) {
  EnrichedRowWriter::Options options;
  options.consumer_group = "snapshot-g1";
  auto writer = NewObservedWriter(options);
  ASSERT_NE(writer, nullptr);
  std::mt19937_64 rng(6060);
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 120).ok());
  ASSERT_TRUE(writer->Apply(PlanCaptured(), {}).ok());
  ExpectConverged();
  ASSERT_GT(Count("SELECT count(*) FROM enriched_support_conversations"), 3);
  // What a start-up can leave behind: the row of a conversation deleted
  // before the slot existed, a stale row, a missing row.
  const std::string stale =
      "UPDATE enriched_support_conversations SET title = 'stale' WHERE id = "
      "(SELECT id FROM enriched_support_conversations ORDER BY id LIMIT 1)";
  absl::Status damaged = conn_->Exec(absl::StrCat(
      "INSERT INTO enriched_support_conversations (id, title, "
      "message_count) VALUES ('00000000-0000-0000-0000-0000000000ee', "
      "'gone', 0); ",
      stale,
      "; DELETE FROM enriched_support_conversations WHERE id = "
      "(SELECT id FROM raw_support_conversations ORDER BY id DESC LIMIT 1)"));
  ASSERT_TRUE(damaged.ok()) << damaged;
  ASSERT_GT(*testing::DifferenceFromReference(*conn_), 0);
  // enrich-cdc's record of two other snapshots taken before the rebuild:
  // one finished, one still being published.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE enrich_cdc_snapshots (slot_name text "
                         "PRIMARY KEY, consistent_lsn pg_lsn NOT NULL, "
                         "completed_at timestamptz); "
                         "INSERT INTO enrich_cdc_snapshots VALUES ('other', "
                         "'0/200', now()), ('third', '0/300', NULL)")
                  .ok());

  statements_.clear();
  auto rebuilt = writer->Apply(SnapshotPlan(0x100), {{"t", 0, 42}});
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(Ran("rewrite_rows_bulk"));
  EXPECT_EQ(rebuilt->transactions, 1u);
  EXPECT_GE(rebuilt->rows_deleted, 1u);
  ExpectConverged();
  EXPECT_EQ(Count("SELECT next_offset FROM enrich_processor_offsets WHERE "
                  "consumer_group = 'snapshot-g1'"),
            42);
  EXPECT_EQ(Count("SELECT count(*) FROM enrich_processor_snapshots WHERE "
                  "consumer_group = 'snapshot-g1' AND snapshot_lsn IN "
                  "('0/100', '0/200', '0/300')"),
            3);

  // Rebuilt for both snapshots: their rows change nothing any more (a stale
  // row now waits for an event that names it).
  ASSERT_TRUE(conn_->Exec(stale).ok());
  const std::string stale_id =
      conn_
          ->QueryValue(
              "SELECT id FROM enriched_support_conversations ORDER BY id LIMIT "
              "1")
          .value_or("");
  for (uint64_t lsn : {0x100, 0x200, 0x300}) {
    auto covered = ApplyObserved(*writer, SnapshotPlan(lsn));
    ASSERT_TRUE(covered.ok()) << covered.status();
    EXPECT_FALSE(Ran("lock_table"));
    EXPECT_FALSE(Ran("rewrite_rows_bulk"));
    EXPECT_EQ(DifferenceForConversation(stale_id), 2);
  }
  // Another group has not rebuilt for it.
  options.consumer_group = "snapshot-g2";
  auto other = NewObservedWriter(options);
  ASSERT_NE(other, nullptr);
  auto again = other->Apply(SnapshotPlan(0x100), {});
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectConverged();
}

// `run` builds a table that is empty while the source is not (a fresh
// install whose snapshot left the topics, or an emptied table) before it
// consumes; otherwise BuildIfEmpty does nothing.
TEST_F(EnrichedRowWriterTest, EmptyTableIsBuiltAtStart) {
  EnrichedRowWriter::Options options;
  options.consumer_group = "build-if-empty";
  auto writer = NewObservedWriter(options);
  ASSERT_NE(writer, nullptr);
  statements_.clear();
  auto nothing = writer->BuildIfEmpty();  // no source rows: nothing to build
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(nothing->has_value());
  EXPECT_FALSE(Ran("rewrite_rows_bulk"));
  std::mt19937_64 rng(6262);
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 80).ok());
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE enrich_cdc_snapshots (slot_name text "
                         "PRIMARY KEY, consistent_lsn pg_lsn NOT NULL, "
                         "completed_at timestamptz); "
                         "INSERT INTO enrich_cdc_snapshots VALUES ('s', "
                         "'0/500', NULL)")
                  .ok());
  auto built = writer->BuildIfEmpty();
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_TRUE(built->has_value());
  EXPECT_GT((*built)->rows_upserted, 0u);
  ExpectConverged();
  // The snapshot enrich-cdc recorded before the build is covered by it.
  EXPECT_EQ(Count("SELECT count(*) FROM enrich_processor_snapshots WHERE "
                  "consumer_group = 'build-if-empty' AND snapshot_lsn = "
                  "'0/500'"),
            1);
  statements_.clear();
  auto again = writer->BuildIfEmpty();  // rows now: nothing to build
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->has_value());
  EXPECT_FALSE(Ran("rewrite_rows_bulk"));
}

// Before enrich-cdc recorded any snapshot, `run`'s start builds nothing: the
// rebuild of the snapshot enrich-cdc takes next builds the table, once. A
// first batch without a snapshot to rebuild for builds it before its write.
TEST_F(EnrichedRowWriterTest, StartBuildWaitsForTheFirstSnapshot) {
  std::mt19937_64 rng(6363);
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 80).ok());
  AffectedConversations captured = PlanCaptured();
  EnrichedRowWriter::Options options;
  options.consumer_group = "start-build";
  auto writer = NewObservedWriter(options);
  ASSERT_NE(writer, nullptr);
  statements_.clear();
  auto start = writer->BuildIfEmptyAtStart();
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_TRUE(start->deferred);
  EXPECT_FALSE(start->built.has_value());
  EXPECT_FALSE(Ran("rewrite_rows_bulk"));
  EXPECT_EQ(Count("SELECT count(*) FROM enriched_support_conversations"), 0);

  // enrich-cdc starts: its slot's snapshot is recorded, then consumed.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE enrich_cdc_snapshots (slot_name text "
                         "PRIMARY KEY, consistent_lsn pg_lsn NOT NULL, "
                         "completed_at timestamptz); "
                         "INSERT INTO enrich_cdc_snapshots VALUES ('s', "
                         "'0/700', NULL)")
                  .ok());
  auto rebuilt = ApplyObserved(*writer, SnapshotPlan(0x700));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(rebuilt->rebuilt_for_snapshot);
  EXPECT_EQ(
      std::count(statements_.begin(), statements_.end(), "rewrite_rows_bulk"),
      1);
  ExpectConverged();
  // The check is not repeated: the next batch writes only its own rows.
  auto next = ApplyObserved(*writer, captured);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->rebuilt_for_snapshot);
  EXPECT_FALSE(Ran("table_needs_building"));
  ExpectConverged();

  // Another process of a group whose first batch holds no snapshot: the
  // emptied table is built before that batch's write.
  ASSERT_TRUE(conn_->Exec("DELETE FROM enrich_cdc_snapshots").ok());
  ASSERT_TRUE(conn_->Exec("DELETE FROM enriched_support_conversations").ok());
  options.consumer_group = "start-build-2";
  auto second = NewObservedWriter(options);
  ASSERT_NE(second, nullptr);
  auto deferred = second->BuildIfEmptyAtStart();
  ASSERT_TRUE(deferred.ok()) << deferred.status();
  EXPECT_TRUE(deferred->deferred);
  auto first = ApplyObserved(*second, captured);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->rebuilt_for_snapshot);
  EXPECT_TRUE(Ran("rewrite_rows_bulk"));
  ExpectConverged();
}

// A replay rebuilds on its first snapshot whatever its group recorded, and
// then has nothing left to rewrite.
TEST_F(EnrichedRowWriterTest, ReplayRebuildsOnItsFirstSnapshotOnly) {
  EnrichedRowWriter::Options options;
  options.consumer_group = "snapshot-replay";
  options.rewrite_each_id_once = true;
  std::mt19937_64 rng(6161);
  ASSERT_TRUE(testing::RunRandomWorkload(*conn_, rng, 80).ok());
  AffectedConversations captured = PlanCaptured();
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO enrich_processor_snapshots "
                         "(consumer_group, snapshot_lsn) VALUES "
                         "('snapshot-replay', '0/100')")
                  .ok());
  auto replay = NewObservedWriter(options);
  ASSERT_NE(replay, nullptr);
  auto rebuilt = ApplyObserved(*replay, SnapshotPlan(0x100));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_TRUE(Ran("rewrite_rows_bulk"));
  ExpectConverged();
  auto later = ApplyObserved(*replay, captured);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->conversations, 0u);
  EXPECT_FALSE(Ran("rewrite_rows"));
  ExpectConverged();
}

TEST_F(EnrichedRowWriterTest, ConcurrentWritersNeverInstallAnOlderState) {
  RunConcurrentWriters(std::vector<EnrichedRowWriter::Options>(4));
}

// Bulk writers (table lock) and row-lock writers on the same rows at once.
TEST_F(EnrichedRowWriterTest, BulkAndRowLockWritersNeverInstallAnOlderState) {
  std::vector<EnrichedRowWriter::Options> options(4);
  options[0].bulk_min_ids = 1;
  options[1].bulk_min_ids = 8;
  RunConcurrentWriters(options);
}

// A slow writer holds its locks (row locks, or the bulk path's table lock)
// while a source change commits and a second writer starts on the same
// conversation: the second waits, then writes the newest state.
void EnrichedRowWriterTest::ExpectLaterWriterWaitsThenReadsFresh(
    EnrichedRowWriter::Options slow_options,
    EnrichedRowWriter::Options fast_options) {
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO raw_support_conversations (id, source, "
                         "external_id, title, created_at, updated_at) VALUES "
                         "('00000000-0000-0000-0000-0000000000c1', 'z', 'c1', "
                         "'first', now(), now())")
                  .ok());
  AffectedConversations plan;
  plan.full_rewrites.insert("00000000-0000-0000-0000-0000000000c1");

  std::promise<void> locked, release;
  std::shared_future<void> release_future = release.get_future().share();
  slow_options.after_locks_for_testing = [&] {
    locked.set_value();
    release_future.wait();
  };
  auto slow = NewWriter(slow_options, "application_name=slow_writer");
  auto fast = NewWriter(fast_options, "application_name=fast_writer");
  ASSERT_NE(slow, nullptr);
  ASSERT_NE(fast, nullptr);
  auto slow_done = std::async(std::launch::async,
                              [&] { return slow->Apply(plan, {}).status(); });
  locked.get_future().wait();
  // A source change commits while the slow writer holds the lock, and a
  // second writer starts rewriting the same conversation.
  ASSERT_TRUE(conn_
                  ->Exec("UPDATE raw_support_conversations SET title = "
                         "'second' WHERE external_id = 'c1'")
                  .ok());
  auto fast_done = std::async(std::launch::async,
                              [&] { return fast->Apply(plan, {}).status(); });
  // The second writer waits on the row lock...
  bool waited = false;
  for (int i = 0; i < 100 && !waited; ++i) {
    waited = conn_
                 ->QueryValue(
                     "SELECT count(*) FROM pg_stat_activity WHERE "
                     "application_name = 'fast_writer' AND "
                     "wait_event_type = 'Lock'")
                 .value_or("0") == "1";
    if (!waited) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(waited);
  EXPECT_EQ(fast_done.wait_for(std::chrono::milliseconds(0)),
            std::future_status::timeout);
  release.set_value();
  EXPECT_TRUE(slow_done.get().ok());
  EXPECT_TRUE(fast_done.get().ok());
  // ...and, whichever committed last, the row holds the newest title.
  EXPECT_EQ(conn_
                ->QueryValue("SELECT title FROM "
                             "enriched_support_conversations")
                .value_or(""),
            "second");
  ExpectEqualsReference();
}

TEST_F(EnrichedRowWriterTest, LaterWriterWaitsForTheRowLockThenReadsFresh) {
  ExpectLaterWriterWaitsThenReadsFresh({}, {});
}

TEST_F(EnrichedRowWriterTest, BulkAndRowLockWritersWaitForEachOther) {
  EnrichedRowWriter::Options bulk;
  bulk.bulk_min_ids = 1;
  {
    SCOPED_TRACE("bulk first, row locks second");
    ExpectLaterWriterWaitsThenReadsFresh(bulk, {});
  }
  ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
  {
    SCOPED_TRACE("row locks first, bulk second");
    ExpectLaterWriterWaitsThenReadsFresh({}, bulk);
  }
  ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
  {
    SCOPED_TRACE("bulk first, bulk second");
    ExpectLaterWriterWaitsThenReadsFresh(bulk, bulk);
  }
}

TEST_F(EnrichedRowWriterTest, OffsetsAreStoredWithTheRowsAndNeverMoveBack) {
  EnrichedRowWriter::Options options;
  options.consumer_group = "g1";
  auto writer = NewWriter(options);
  ASSERT_NE(writer, nullptr);
  AffectedConversations empty;
  ASSERT_TRUE(writer
                  ->Apply(empty, {{"support.public.linear_issues", 0, 5},
                                  {"support.public.linear_issues", 2, 9}})
                  .ok());
  ASSERT_TRUE(
      writer->Apply(empty, {{"support.public.linear_issues", 0, 3}}).ok());
  auto stored = writer->StoredOffsets("support.public.linear_issues");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored,
              ::testing::ElementsAre(
                  PartitionOffset{"support.public.linear_issues", 0, 5},
                  PartitionOffset{"support.public.linear_issues", 2, 9}));

  // A batch that fails leaves neither rows nor offsets behind.
  ASSERT_TRUE(conn_->Exec("CREATE TABLE IF NOT EXISTS spare AS SELECT 1").ok());
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO raw_support_conversations (id, source, "
                         "external_id, created_at, updated_at) VALUES "
                         "('00000000-0000-0000-0000-0000000000d1', 'z', 'd1', "
                         "now(), now())")
                  .ok());
  ASSERT_TRUE(conn_->Exec("ALTER TABLE linear_issues RENAME TO li_away").ok());
  AffectedConversations plan;
  plan.full_rewrites.insert("00000000-0000-0000-0000-0000000000d1");
  auto failed = writer->Apply(plan, {{"support.public.linear_issues", 0, 50}});
  ASSERT_TRUE(conn_->Exec("ALTER TABLE li_away RENAME TO linear_issues").ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition)
      << failed.status();
  EXPECT_EQ(Count("SELECT count(*) FROM enriched_support_conversations"), 0);
  EXPECT_EQ(Count("SELECT next_offset FROM enrich_processor_offsets WHERE "
                  "consumer_group = 'g1' AND partition = 0"),
            5);
  // The same writer recovers on the next batch.
  auto retried = writer->Apply(plan, {{"support.public.linear_issues", 0, 50}});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->rows_upserted, 1u);
  ExpectEqualsReference();
}

TEST_F(EnrichedRowWriterTest, ProcessorRoleSufficesAndMissingGrantIsPermanent) {
  ASSERT_TRUE(conn_
                  ->Exec("DROP ROLE IF EXISTS test_proc_login; "
                         "DROP ROLE IF EXISTS test_nobody; "
                         "CREATE ROLE test_proc_login LOGIN IN ROLE "
                         "enrich_processor; CREATE ROLE test_nobody LOGIN")
                  .ok());
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO raw_support_conversations (id, source, "
                         "external_id, created_at, updated_at) VALUES "
                         "('00000000-0000-0000-0000-0000000000e1', 'z', 'e1', "
                         "now(), now())")
                  .ok());
  AffectedConversations plan;
  plan.full_rewrites.insert("00000000-0000-0000-0000-0000000000e1");
  plan.lookup_keys = {{"u1"}, {}};
  {
    auto writer = NewWriter({}, "user=test_proc_login");
    ASSERT_NE(writer, nullptr);
    auto result = writer->Apply(plan, {{"t", 0, 1}});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->rows_upserted, 1u);
  }
  {
    auto writer = NewWriter({}, "user=test_nobody");
    ASSERT_NE(writer, nullptr);
    auto result = writer->Apply(plan, {{"t", 0, 2}});
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
        << result.status();
  }
  ExpectEqualsReference();
  ASSERT_TRUE(
      conn_->Exec("DROP ROLE test_proc_login; DROP ROLE test_nobody").ok());
}

// Body edits (enriched_row_writer.h, step 4a). Conversation A holds a
// NULL-body message 5 (first by created_at, in no array) and messages 1, 2
// (20 kB, TOASTed out of line) and 3 (empty); B holds message 4.
constexpr char kEditConvA[] = "00000000-0000-0000-0000-00000000ea01";
constexpr char kEditConvB[] = "00000000-0000-0000-0000-00000000ea02";
constexpr char kEditMsg0[] = "00000000-0000-0000-0000-00000000e000";
constexpr char kEditMsg1[] = "00000000-0000-0000-0000-00000000e001";
constexpr char kEditMsg2[] = "00000000-0000-0000-0000-00000000e002";
constexpr char kEditMsg3[] = "00000000-0000-0000-0000-00000000e003";
constexpr char kEditMsg4[] = "00000000-0000-0000-0000-00000000e004";
constexpr char kEditMsg5[] = "00000000-0000-0000-0000-00000000e005";
// 20 kB that does not compress.
constexpr char k20kBody[] =
    "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, "
    "625))";

// Appends (step 4b): C holds only messages without a body, D none.
constexpr char kAppendConvC[] = "00000000-0000-0000-0000-00000000ea03";
constexpr char kAppendConvD[] = "00000000-0000-0000-0000-00000000ea04";

// The id of appended message `n` (0-999). These ids sort before every
// message above, so an append placed at the end on a created_at tie breaks
// the reference's (created_at, id) order.
std::string AppendedId(int n) {
  return absl::StrCat("00000000-0000-0000-0000-00000000a",
                      absl::Dec(n, absl::kZeroPad3));
}

using BodyEditList = std::vector<std::pair<std::string, std::string>>;

BodyEditList BodyEditsOf(const AffectedConversations& plan) {
  return BodyEditList(plan.body_edits.begin(), plan.body_edits.end());
}

BodyEditList AppendsOf(const AffectedConversations& plan) {
  return BodyEditList(plan.appends.begin(), plan.appends.end());
}

void EnrichedRowWriterTest::SetUpTwoConversations(EnrichedRowWriter& writer) {
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO subscribers_insights (distinct_id, "
                         "income) VALUES ('u1', 'modest')")
                  .ok());
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kEditConvA));
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kEditConvB));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg5, kEditConvA, "NULL", 0));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg1, kEditConvA, "'one'", 1));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg2, kEditConvA, k20kBody, 2));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg3, kEditConvA, "''", 3));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg4, kEditConvB, "'four'", 1));
  AffectedConversations plan = PlanCaptured();
  ASSERT_THAT(plan.full_rewrites,
              ::testing::ElementsAre(kEditConvA, kEditConvB));
  auto applied = writer.Apply(plan, {});
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_NO_FATAL_FAILURE(ExpectConverged());
  ASSERT_EQ(Count(absl::StrCat("SELECT cardinality(all_messages) FROM "
                               "enriched_support_conversations WHERE id = '",
                               kEditConvA, "'")),
            3);
}

TEST_F(EnrichedRowWriterTest, BodyEditIsAppliedInPlaceByEditBodies) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  struct Edit {
    const char* message;
    std::string body_sql;
    int position;  // in all_messages
  };
  const std::vector<Edit> edits = {
      {kEditMsg1, "'one, edited'", 1},
      {kEditMsg2, k20kBody, 2},  // 20 kB -> another 20 kB
      {kEditMsg3, "'three, no longer empty'", 3},
      {kEditMsg1, "''", 1},
      {kEditMsg2, "'short now'", 2},
      {kEditMsg3, k20kBody, 3},
  };
  for (const Edit& edit : edits) {
    SCOPED_TRACE(absl::StrCat(edit.message, " <- ", edit.body_sql));
    ASSERT_NO_FATAL_FAILURE(SetBody(edit.message, edit.body_sql));
    AffectedConversations plan = PlanCaptured();
    ASSERT_EQ(BodyEditsOf(plan), (BodyEditList{{kEditConvA, edit.message}}));
    ASSERT_TRUE(plan.full_rewrites.empty());
    auto result = ApplyObserved(*writer, plan);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("edit_bodies"));
    EXPECT_FALSE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, 1u);
    EXPECT_EQ(result->conversations, 1u);
    ExpectConverged();
    // The element at the message's position holds its new body, and the row
    // carries the batch's commit position.
    EXPECT_EQ(conn_
                  ->QueryValue(absl::StrCat(
                      "SELECT (e.all_messages[", edit.position,
                      "] = m.body AND e.all_message_ids[", edit.position,
                      "] = m.id AND e.source_commit_lsn = '0/",
                      absl::Hex(plan.max_commit_lsn),
                      "'::pg_lsn)::text FROM enriched_support_conversations e "
                      "JOIN support_conversation_messages m ON m.id = '",
                      edit.message, "' WHERE e.id = '", kEditConvA, "'"))
                  .value_or(""),
              "true");
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT length(all_messages[3]) FROM "
                               "enriched_support_conversations WHERE id = '",
                               kEditConvA, "'")),
            20000);

  // An update that leaves the body as it was is an edit that writes nothing.
  ASSERT_TRUE(conn_
                  ->Exec(absl::StrCat("UPDATE support_conversation_messages "
                                      "SET updated_at = now() WHERE id = '",
                                      kEditMsg2, "'"))
                  .ok());
  AffectedConversations unchanged = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(unchanged), (BodyEditList{{kEditConvA, kEditMsg2}}));
  auto result = ApplyObserved(*writer, unchanged);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 0u);
  ExpectConverged();

  // An edit of A and a full rewrite of B (a message without a body: not an
  // append) in one batch: both statements.
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'one, edited again'"));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg0, kEditConvB, "NULL", 9));
  AffectedConversations mixed = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(mixed), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_THAT(mixed.full_rewrites, ::testing::ElementsAre(kEditConvB));
  ASSERT_TRUE(mixed.appends.empty());
  result = ApplyObserved(*writer, mixed);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("append_messages"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 2u);
  EXPECT_EQ(result->conversations, 2u);
  ExpectConverged();

  // An edit of A and an append to B in one batch: no full rewrite.
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg3, "'three, edited again'"));
  ASSERT_NO_FATAL_FAILURE(
      InsertMessage(AppendedId(1), kEditConvB, "'new'", 10));
  mixed = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(mixed), (BodyEditList{{kEditConvA, kEditMsg3}}));
  ASSERT_EQ(AppendsOf(mixed), (BodyEditList{{kEditConvB, AppendedId(1)}}));
  ASSERT_TRUE(mixed.full_rewrites.empty());
  result = ApplyObserved(*writer, mixed);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_TRUE(Ran("append_messages"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 2u);
  EXPECT_EQ(result->conversations, 2u);
  ExpectConverged();
}

// Each fallback: an edit planned from its event is applied after a change
// that keeps it from being placed; the writer rewrites the row in full
// (step 4), which also reflects that change. The change's own events are
// applied afterwards.
TEST_F(EnrichedRowWriterTest, EditThatCannotBePlacedBecomesAFullRewrite) {
  struct Case {
    const char* name;
    const char* message;       // the edited one, in conversation A
    std::string before_apply;  // run after the edit is planned
    bool b_waits;              // B differs until the change's own events
  };
  const std::vector<Case> cases = {
      {"message deleted", kEditMsg1,
       absl::StrCat("DELETE FROM support_conversation_messages WHERE id = '",
                    kEditMsg1, "'"),
       false},
      {"message moved to B", kEditMsg1,
       absl::StrCat("UPDATE support_conversation_messages SET "
                    "conversation_id = '",
                    kEditConvB, "' WHERE id = '", kEditMsg1, "'"),
       true},
      {"body set to NULL", kEditMsg2,
       absl::StrCat("UPDATE support_conversation_messages SET body = NULL, "
                    "updated_at = now() WHERE id = '",
                    kEditMsg2, "'"),
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    auto writer = NewObservedWriter();
    ASSERT_NE(writer, nullptr);
    ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
    ASSERT_NO_FATAL_FAILURE(SetBody(c.message, "'edited'"));
    AffectedConversations edit = PlanCaptured();
    ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, c.message}}));
    ASSERT_TRUE(conn_->Exec(c.before_apply).ok());
    AffectedConversations pending = PlanCaptured();
    ASSERT_TRUE(pending.body_edits.empty());

    auto result = ApplyObserved(*writer, edit);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("edit_bodies"));
    EXPECT_TRUE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, 1u);
    EXPECT_EQ(DifferenceForConversation(kEditConvA), 0);
    if (c.b_waits) {
      EXPECT_GT(DifferenceForConversation(kEditConvB), 0);
    }
    result = ApplyObserved(*writer, pending);
    ASSERT_TRUE(result.ok()) << result.status();
    ExpectConverged();
  }
}

TEST_F(EnrichedRowWriterTest,
       EditOfAConversationWithoutARowBecomesAFullRewrite) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kEditConvA));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg1, kEditConvA, "'one'", 1));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg2, kEditConvA, "'two'", 2));
  (void)PlanCaptured();  // the inserts' events: lost, say
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg2, "'edited'"));
  AffectedConversations edit = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, kEditMsg2}}));
  ASSERT_EQ(Count("SELECT count(*) FROM enriched_support_conversations"), 0);
  auto result = ApplyObserved(*writer, edit);
  ASSERT_TRUE(result.ok()) << result.status();
  // The placeholder has no all_message_ids to place the edit in.
  EXPECT_TRUE(Ran("insert_placeholders"));
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM enriched_support_conversations"), 1);
  ExpectConverged();
}

TEST_F(EnrichedRowWriterTest, EditOfADeletedConversationDeletesItsRow) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'edited'"));
  AffectedConversations edit = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_TRUE(conn_
                  ->Exec(absl::StrCat("DELETE FROM raw_support_conversations "
                                      "WHERE id = '",
                                      kEditConvA, "'"))
                  .ok());
  auto result = ApplyObserved(*writer, edit);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_deleted, 1u);
  ExpectConverged();
  // An edit for a conversation that is gone and never had a row leaves no
  // placeholder behind.
  ASSERT_TRUE(writer->Apply(edit, {}).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM enriched_support_conversations"), 1);
  ExpectConverged();
}

TEST_F(EnrichedRowWriterTest, EditOfARowWithBadMessageIdsBecomesAFullRewrite) {
  struct Corruption {
    const char* name;
    const char* set;
    const char* message;  // the edited one: listed in the corrupted array
  };
  const std::vector<Corruption> corruptions = {
      {"NULL", "NULL", kEditMsg1},
      {"shorter", "all_message_ids[1:2]", kEditMsg1},
      {"longer",
       "all_message_ids || '00000000-0000-0000-0000-00000000ffff'::uuid",
       kEditMsg3},
      {"empty", "'{}'::uuid[]", kEditMsg2},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    auto writer = NewObservedWriter();
    ASSERT_NE(writer, nullptr);
    ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
    ASSERT_TRUE(
        conn_
            ->Exec(absl::StrCat("UPDATE enriched_support_conversations SET "
                                "all_message_ids = ",
                                c.set, " WHERE id = '", kEditConvA, "'"))
            .ok());
    ASSERT_NO_FATAL_FAILURE(SetBody(c.message, "'edited'"));
    AffectedConversations edit = PlanCaptured();
    ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, c.message}}));
    auto result = ApplyObserved(*writer, edit);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("edit_bodies"));
    EXPECT_TRUE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, 1u);
    ExpectConverged();  // all_message_ids repaired too
  }
}

// The edit reads the message after its row locks are held: a body committed
// in between is the one written.
TEST_F(EnrichedRowWriterTest, EditWritesTheBodyCommittedBeforeItReads) {
  auto setup = NewWriter();
  ASSERT_NE(setup, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*setup));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg2, "'first'"));
  AffectedConversations edit = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, kEditMsg2}}));
  EnrichedRowWriter::Options options;
  options.after_locks_for_testing = [this] {
    EXPECT_TRUE(conn_
                    ->Exec(absl::StrCat("UPDATE support_conversation_messages "
                                        "SET body = 'second' WHERE id = '",
                                        kEditMsg2, "'"))
                    .ok());
  };
  auto writer = NewObservedWriter(options);
  ASSERT_NE(writer, nullptr);
  auto result = ApplyObserved(*writer, edit);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(conn_
                ->QueryValue(absl::StrCat("SELECT all_messages[2] FROM "
                                          "enriched_support_conversations "
                                          "WHERE id = '",
                                          kEditConvA, "'"))
                .value_or(""),
            "second");
  ExpectConverged();
}

// Convergence with a stale order: an edit applied while a change to the
// row's message order is still pending writes into the stale order; the
// pending change's full rewrite then makes the row equal.
TEST_F(EnrichedRowWriterTest, EditIntoAStaleOrderConvergesAfterTheRewrite) {
  struct Case {
    const char* name;
    std::string change;  // SQL changing the order of A's messages
    const char* edited;
    // The message the change inserts (planned as an append that the row,
    // by then newer, refuses), or nullptr (planned in full).
    const char* appended = nullptr;
  };
  const std::vector<Case> cases = {
      {"earlier message inserted",
       absl::StrCat("INSERT INTO support_conversation_messages (id, "
                    "conversation_id, body, created_at) VALUES ('",
                    kEditMsg0, "', '", kEditConvA,
                    "', 'zero', '2023-12-31 00:00:00+00')"),
       kEditMsg2, kEditMsg0},
      {"created_at moves another message last",
       absl::StrCat("UPDATE support_conversation_messages SET created_at = "
                    "'2024-02-01 00:00:00+00' WHERE id = '",
                    kEditMsg1, "'"),
       kEditMsg3},
      {"created_at moves the edited message last",
       absl::StrCat("UPDATE support_conversation_messages SET created_at = "
                    "'2024-02-01 00:00:00+00' WHERE id = '",
                    kEditMsg1, "'"),
       kEditMsg1},
      {"earlier message deleted",
       absl::StrCat("DELETE FROM support_conversation_messages WHERE id = '",
                    kEditMsg1, "'"),
       kEditMsg3},
      {"NULL body gets text",
       absl::StrCat("UPDATE support_conversation_messages SET body = 'five' "
                    "WHERE id = '",
                    kEditMsg5, "'"),
       kEditMsg2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    auto writer = NewObservedWriter();
    ASSERT_NE(writer, nullptr);
    ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
    ASSERT_TRUE(conn_->Exec(c.change).ok());
    AffectedConversations pending = PlanCaptured();
    if (c.appended != nullptr) {
      ASSERT_EQ(AppendsOf(pending), (BodyEditList{{kEditConvA, c.appended}}));
      ASSERT_TRUE(pending.full_rewrites.empty());
    } else {
      ASSERT_THAT(pending.full_rewrites, ::testing::ElementsAre(kEditConvA));
      ASSERT_TRUE(pending.appends.empty());
    }
    ASSERT_NO_FATAL_FAILURE(SetBody(c.edited, "'edited in a stale order'"));
    AffectedConversations edit = PlanCaptured();
    ASSERT_EQ(BodyEditsOf(edit), (BodyEditList{{kEditConvA, c.edited}}));

    auto result = ApplyObserved(*writer, edit);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("edit_bodies"));
    EXPECT_FALSE(Ran("rewrite_rows"));  // placed in the stale order
    EXPECT_EQ(result->rows_upserted, 1u);
    EXPECT_EQ(conn_
                  ->QueryValue(absl::StrCat(
                      "SELECT all_messages[array_position(all_message_ids, '",
                      c.edited,
                      "'::uuid)] FROM enriched_support_conversations WHERE "
                      "id = '",
                      kEditConvA, "'"))
                  .value_or(""),
              "edited in a stale order");
    EXPECT_GT(DifferenceForConversation(kEditConvA), 0);  // still stale

    result = ApplyObserved(*writer, pending);
    ASSERT_TRUE(result.ok()) << result.status();
    // An append sorting before the row's last message falls back to the
    // full rewrite in the same transaction.
    EXPECT_EQ(Ran("append_messages"), c.appended != nullptr);
    EXPECT_TRUE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, 1u);
    ExpectConverged();
  }
}

// Edits delivered late (after a newer full rewrite, or after a newer edit of
// the same message) read the message's current body and change nothing.
TEST_F(EnrichedRowWriterTest, LateEditsReadTheCurrentBody) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'v1'"));
  AffectedConversations edit1 = PlanCaptured();
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'v2'"));
  AffectedConversations edit2 = PlanCaptured();
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg3, "'w1'"));
  AffectedConversations edit3 = PlanCaptured();
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg0, kEditConvA, "'zero'", -1));
  AffectedConversations full = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(edit1), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_EQ(BodyEditsOf(edit2), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_EQ(BodyEditsOf(edit3), (BodyEditList{{kEditConvA, kEditMsg3}}));
  // An append of a message before all others: rewritten in full.
  ASSERT_EQ(AppendsOf(full), (BodyEditList{{kEditConvA, kEditMsg0}}));

  // The newest edit first, then the older one: both read v2.
  auto result = ApplyObserved(*writer, edit2);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rows_upserted, 1u);
  result = ApplyObserved(*writer, edit1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_EQ(result->rows_upserted, 0u);
  // The full rewrite, then the older edit of another message.
  result = ApplyObserved(*writer, full);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("rewrite_rows"));
  ExpectConverged();
  result = ApplyObserved(*writer, edit3);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 0u);
  ExpectConverged();
}

TEST_F(EnrichedRowWriterTest, TwoEditedMessagesOfAConversationAreOneRewrite) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'one, edited'"));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg3, "'three, edited'"));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg4, "'four, edited'"));
  AffectedConversations plan = PlanCaptured();
  EXPECT_EQ(BodyEditsOf(plan), (BodyEditList{{kEditConvB, kEditMsg4}}));
  EXPECT_THAT(plan.full_rewrites, ::testing::ElementsAre(kEditConvA));
  auto result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("edit_bodies"));   // B's
  EXPECT_TRUE(Ran("rewrite_rows"));  // A's
  EXPECT_EQ(result->rows_upserted, 2u);
  ExpectConverged();
}

// A fan-out reaching the edited conversation rewrites it in full; the edit
// is not applied on its own.
TEST_F(EnrichedRowWriterTest,
       EditAndFanOutToTheSameConversationMatchReference) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'one, edited'"));
  ASSERT_TRUE(conn_
                  ->Exec("UPDATE subscribers_insights SET income = 'rich' "
                         "WHERE distinct_id = 'u1'")
                  .ok());
  AffectedConversations plan = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(plan), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_THAT(plan.lookup_keys[0], ::testing::ElementsAre("u1"));
  auto result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("resolve_fan_out"));
  EXPECT_FALSE(Ran("edit_bodies"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->conversations, 2u);
  EXPECT_EQ(result->rows_upserted, 2u);
  ExpectConverged();
}

// The bulk path and a truncate rebuild rewrite edited and appended-to
// conversations in full.
TEST_F(EnrichedRowWriterTest, BulkAndRebuildBatchesRewriteEditsInFull) {
  EnrichedRowWriter::Options options;
  options.bulk_min_ids = 1;
  auto bulk = NewObservedWriter(options);
  ASSERT_NE(bulk, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*bulk));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'bulk edit'"));
  ASSERT_NO_FATAL_FAILURE(
      InsertMessage(AppendedId(1), kEditConvB, "'bulk append'", 10));
  AffectedConversations plan = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(plan), (BodyEditList{{kEditConvA, kEditMsg1}}));
  ASSERT_EQ(AppendsOf(plan), (BodyEditList{{kEditConvB, AppendedId(1)}}));
  auto result = ApplyObserved(*bulk, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("append_messages"));
  EXPECT_TRUE(Ran("rewrite_rows_bulk"));
  EXPECT_EQ(result->rows_upserted, 2u);
  ExpectConverged();

  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg2, "'rebuild edit'"));
  ASSERT_NO_FATAL_FAILURE(
      InsertMessage(AppendedId(2), kEditConvB, "'rebuild append'", 11));
  ASSERT_TRUE(conn_->Exec("TRUNCATE linear_issues").ok());
  plan = PlanCaptured();
  ASSERT_EQ(BodyEditsOf(plan), (BodyEditList{{kEditConvA, kEditMsg2}}));
  ASSERT_EQ(AppendsOf(plan), (BodyEditList{{kEditConvB, AppendedId(2)}}));
  ASSERT_TRUE(plan.truncated.lookups.contains(1));
  result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(Ran("edit_bodies"));
  EXPECT_FALSE(Ran("append_messages"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 2u);
  ExpectConverged();
}

// Random workloads with many body-only edits and inserts of messages later
// than every other (appends) mixed in, some tying with the previous insert or
// without a body, delivered in shuffled, duplicated batches: some batches
// apply edits and appends alone, some with other work.
TEST_F(EnrichedRowWriterTest,
       RandomBodyEditsAndAppendsInShuffledBatchesMatchReference) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  for (uint64_t seed : {21, 22, 23}) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 rng(seed);
    int minute = 0;  // after the workload's messages (2024-01-01, 0-9 min)
    for (int round = 0; round < 3; ++round) {
      for (int part = 0; part < 4; ++part) {
        absl::Status workload = testing::RunRandomWorkload(*conn_, rng, 20);
        ASSERT_TRUE(workload.ok()) << workload;
        for (int i = 0; i < 10; ++i) {
          if (std::bernoulli_distribution(0.8)(rng)) ++minute;
          const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
          const std::string body =
              kind == 0   ? "NULL"
              : kind == 1 ? std::string(k20kBody)
                          : absl::StrCat("'append ", rng() % 100000, "'");
          ASSERT_TRUE(
              conn_
                  ->Exec(absl::StrCat(
                      "INSERT INTO support_conversation_messages (id, "
                      "conversation_id, author_type, body, created_at) "
                      "SELECT gen_random_uuid(), id, 'agent', ",
                      body, ", timestamptz '2024-01-02 00:00:00+00' + ", minute,
                      " * interval '1 minute' FROM "
                      "raw_support_conversations ORDER BY random() "
                      "LIMIT 1"))
                  .ok());
        }
        for (int e = 0; e < 15; ++e) {
          const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
          const std::string body =
              kind == 0   ? "''"
              : kind == 1 ? std::string(k20kBody)
                          : absl::StrCat("'edit ", rng() % 100000, "'");
          ASSERT_TRUE(conn_
                          ->Exec(absl::StrCat(
                              "UPDATE support_conversation_messages SET body "
                              "= ",
                              body,
                              " WHERE id = (SELECT id FROM "
                              "support_conversation_messages WHERE body IS "
                              "NOT NULL ORDER BY random() LIMIT 1)"))
                          .ok());
        }
      }
      auto events = testing::DrainChangeEvents(*conn_, &cursor_);
      ASSERT_TRUE(events.ok()) << events.status();
      absl::Status delivered = DeliverShuffled(*writer, *events, rng);
      ASSERT_TRUE(delivered.ok()) << delivered;
      ExpectConverged();
    }
  }
  EXPECT_GT(std::count(statements_.begin(), statements_.end(), "edit_bodies"),
            10);
  EXPECT_GT(
      std::count(statements_.begin(), statements_.end(), "append_messages"),
      10);
}

// Appends (enriched_row_writer.h, step 4b).

// "true" when the row of `conversation` ends with `message`: its body and id
// last in the arrays, its created_at the row's last_message_at, and the row
// carries commit position `lsn`.
std::string EndsWithMessage(PgTestConnection& conn,
                            const std::string& conversation,
                            const std::string& message, uint64_t lsn) {
  return conn
      .QueryValue(absl::StrCat(
          "SELECT (e.all_messages[cardinality(e.all_messages)] = m.body AND "
          "e.all_message_ids[cardinality(e.all_message_ids)] = m.id AND "
          "e.last_message_at = m.created_at AND e.source_commit_lsn = '0/",
          absl::Hex(lsn),
          "'::pg_lsn)::text FROM enriched_support_conversations e JOIN "
          "support_conversation_messages m ON m.id = '",
          message, "' WHERE e.id = '", conversation, "'"))
      .value_or("");
}

TEST_F(EnrichedRowWriterTest, AppendIsAppliedInPlaceByAppendMessages) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kAppendConvC));
  ASSERT_NO_FATAL_FAILURE(
      InsertMessage(AppendedId(90), kAppendConvC, "NULL", 5));
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kAppendConvD));
  ASSERT_TRUE(writer->Apply(PlanCaptured(), {}).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectConverged());
  struct Append {
    const char* conversation;
    std::string body_sql;
    int minute;
    int message_count;  // after it
  };
  const std::vector<Append> appends = {
      {kEditConvA, "'four'", 4, 5},          // A's last message is at minute 3
      {kEditConvA, k20kBody, 5, 6},          // 20 kB, TOASTed out of line
      {kEditConvB, "''", 2, 2},              // B's is at minute 1
      {kAppendConvC, "'first body'", 6, 2},  // all_messages was NULL
      {kAppendConvD, "'first message'", 0, 1},
  };
  for (size_t i = 0; i < appends.size(); ++i) {
    const Append& append = appends[i];
    const std::string message = AppendedId(i);
    SCOPED_TRACE(absl::StrCat(append.conversation, " <- ", append.body_sql));
    ASSERT_NO_FATAL_FAILURE(InsertMessage(message, append.conversation,
                                          append.body_sql, append.minute));
    AffectedConversations plan = PlanCaptured();
    ASSERT_EQ(AppendsOf(plan), (BodyEditList{{append.conversation, message}}));
    ASSERT_TRUE(plan.full_rewrites.empty());
    ASSERT_TRUE(plan.body_edits.empty());
    auto result = ApplyObserved(*writer, plan);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("append_messages"));
    EXPECT_FALSE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, 1u);
    EXPECT_EQ(result->conversations, 1u);
    ExpectConverged();
    EXPECT_EQ(EndsWithMessage(*conn_, append.conversation, message,
                              plan.max_commit_lsn),
              "true");
    EXPECT_EQ(Count(absl::StrCat("SELECT message_count FROM "
                                 "enriched_support_conversations WHERE id = '",
                                 append.conversation, "'")),
              append.message_count);
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT length(all_messages[5]) FROM "
                               "enriched_support_conversations WHERE id = '",
                               kEditConvA, "'")),
            20000);
}

// Each fallback: an append planned from its insert event that the row does
// not fit when applied; the writer rewrites the row in full in the same
// transaction, and the events of the changes made before the apply then
// leave every row equal.
TEST_F(EnrichedRowWriterTest, AppendThatDoesNotFitBecomesAFullRewrite) {
  const std::string message = AppendedId(1);
  const std::string where_message = absl::StrCat(" WHERE id = '", message, "'");
  const std::string where_a = absl::StrCat(" WHERE id = '", kEditConvA, "'");
  struct Case {
    const char* name;
    const char* created_at;    // of the inserted message; A's last: 00:03
    std::string setup;         // applied in full before the insert, or ""
    std::string before_apply;  // run after the planning, or ""
  };
  const std::vector<Case> cases = {
      {"created_at ties with the last message", "00:03", "", ""},
      {"created_at before the last message", "00:02:30", "", ""},
      {"the last message has no body and is later", "00:05",
       absl::StrCat("INSERT INTO support_conversation_messages (id, "
                    "conversation_id, created_at) VALUES ('",
                    AppendedId(2), "', '", kEditConvA,
                    "', '2024-01-01 00:09:00+00')"),
       ""},
      {"message deleted", "00:10", "",
       absl::StrCat("DELETE FROM support_conversation_messages",
                    where_message)},
      {"message moved", "00:10", "",
       absl::StrCat("UPDATE support_conversation_messages SET "
                    "conversation_id = '",
                    kEditConvB, "'", where_message)},
      {"body set to NULL", "00:10", "",
       absl::StrCat("UPDATE support_conversation_messages SET body = NULL",
                    where_message)},
      {"no enriched row yet (a placeholder)", "00:10", "",
       absl::StrCat("DELETE FROM enriched_support_conversations", where_a)},
      {"all_message_ids NULL", "00:10", "",
       absl::StrCat("UPDATE enriched_support_conversations SET "
                    "all_message_ids = NULL",
                    where_a)},
      {"all_message_ids shorter", "00:10", "",
       absl::StrCat("UPDATE enriched_support_conversations SET "
                    "all_message_ids = all_message_ids[1:2]",
                    where_a)},
      {"message already listed", "00:10", "",
       absl::StrCat("UPDATE enriched_support_conversations SET "
                    "all_message_ids = all_message_ids || '",
                    message,
                    "'::uuid, all_messages = all_messages || 'x'::text",
                    where_a)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    auto writer = NewObservedWriter();
    ASSERT_NE(writer, nullptr);
    ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
    if (!c.setup.empty()) {
      ASSERT_TRUE(conn_->Exec(c.setup).ok());
      ASSERT_TRUE(writer->Apply(PlanCaptured(), {}).ok());
      ASSERT_NO_FATAL_FAILURE(ExpectConverged());
    }
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat(
                        "INSERT INTO support_conversation_messages (id, "
                        "conversation_id, body, created_at) VALUES ('",
                        message, "', '", kEditConvA,
                        "', 'appended', '2024-01-01 ", c.created_at, "+00')"))
                    .ok());
    AffectedConversations append = PlanCaptured();
    ASSERT_EQ(AppendsOf(append), (BodyEditList{{kEditConvA, message}}));
    ASSERT_TRUE(append.full_rewrites.empty());
    if (!c.before_apply.empty()) {
      ASSERT_TRUE(conn_->Exec(c.before_apply).ok());
    }
    AffectedConversations pending = PlanCaptured();

    auto result = ApplyObserved(*writer, append);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("append_messages"));
    EXPECT_TRUE(Ran("rewrite_rows"));
    EXPECT_EQ(result->conversations, 1u);
    EXPECT_EQ(DifferenceForConversation(kEditConvA), 0);
    result = ApplyObserved(*writer, pending);
    ASSERT_TRUE(result.ok()) << result.status();
    ExpectConverged();
  }
}

// The same insert delivered twice: the second application finds the message
// listed and last, and changes nothing through its full rewrite.
TEST_F(EnrichedRowWriterTest, AppendAppliedTwiceDoesNotDuplicateTheMessage) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  ASSERT_NO_FATAL_FAILURE(
      InsertMessage(AppendedId(1), kEditConvA, "'appended'", 10));
  AffectedConversations append = PlanCaptured();
  ASSERT_EQ(AppendsOf(append), (BodyEditList{{kEditConvA, AppendedId(1)}}));
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt == 0 ? "first" : "again");
    auto result = ApplyObserved(*writer, append);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("append_messages"));
    EXPECT_EQ(Ran("rewrite_rows"), attempt == 1);
    EXPECT_EQ(result->rows_upserted, attempt == 0 ? 1u : 0u);
    ExpectConverged();
    EXPECT_EQ(Count(absl::StrCat("SELECT cardinality(all_message_ids) FROM "
                                 "enriched_support_conversations WHERE id = '",
                                 kEditConvA, "'")),
              4);
  }
}

// Convergence: an append applied after a change it did not see. Two messages
// inserted in order whose appends arrive in the opposite order; a full
// rewrite (another message of the conversation deleted) that already saw
// the message applied before its append.
TEST_F(EnrichedRowWriterTest, LateAppendsConvergeThroughTheFallback) {
  for (const bool second_insert : {true, false}) {
    SCOPED_TRACE(second_insert ? "later insert first" : "full rewrite first");
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    auto writer = NewObservedWriter();
    ASSERT_NE(writer, nullptr);
    ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
    ASSERT_NO_FATAL_FAILURE(
        InsertMessage(AppendedId(1), kEditConvA, "'first'", 10));
    AffectedConversations late = PlanCaptured();
    ASSERT_EQ(AppendsOf(late), (BodyEditList{{kEditConvA, AppendedId(1)}}));
    if (second_insert) {
      ASSERT_NO_FATAL_FAILURE(
          InsertMessage(AppendedId(2), kEditConvA, "'second'", 11));
    } else {
      ASSERT_TRUE(conn_
                      ->Exec(absl::StrCat("DELETE FROM "
                                          "support_conversation_messages "
                                          "WHERE id = '",
                                          kEditMsg5, "'"))
                      .ok());
    }
    AffectedConversations early = PlanCaptured();
    auto result = ApplyObserved(*writer, early);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(Ran("append_messages"), second_insert);
    EXPECT_NE(Ran("rewrite_rows"), second_insert);
    EXPECT_EQ(result->rows_upserted, 1u);
    if (second_insert) {
      EXPECT_GT(DifferenceForConversation(kEditConvA), 0);  // first missing
    }

    result = ApplyObserved(*writer, late);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(Ran("append_messages"));
    EXPECT_TRUE(Ran("rewrite_rows"));
    EXPECT_EQ(result->rows_upserted, second_insert ? 1u : 0u);
    ExpectConverged();
  }
}

// The plans of every hot statement at 100,000 conversations, 500,000
// messages, 100,000 subscribers and 20,000 Linear issues, for a batch of 1,000
// conversations: no sequential scan of any of those tables.
// A subscriber change reaches its conversations through the fan-out; their
// subscriber columns are rewritten in step 4c without re-reading messages,
// and a conversation with no complete row yet falls back to a full rewrite.
TEST_F(EnrichedRowWriterTest, FanOutRewritesOnlyTheJoinedColumns) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  constexpr char kConvC[] = "00000000-0000-0000-0000-00000000ea03";
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kConvC));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg0, kConvC, "'c'", 1));
  (void)PlanCaptured();  // C's events: not applied yet, so C has no row
  auto income = [this](const char* value) {
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat("UPDATE subscribers_insights SET "
                                        "income = '",
                                        value, "' WHERE distinct_id = 'u1'"))
                    .ok());
  };
  ASSERT_NO_FATAL_FAILURE(income("rich"));
  AffectedConversations plan = PlanCaptured();
  ASSERT_THAT(plan.lookup_keys[0], ::testing::ElementsAre("u1"));
  auto result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("resolve_fan_out"));
  EXPECT_TRUE(Ran("rewrite_joined_columns"));
  EXPECT_TRUE(Ran("rewrite_rows"));  // C: no complete row yet
  EXPECT_EQ(result->conversations, 3u);
  EXPECT_EQ(result->rows_upserted, 3u);
  ExpectConverged();

  // Every row complete now: the fan-out is joined columns only.
  ASSERT_NO_FATAL_FAILURE(income("richer"));
  result = ApplyObserved(*writer, PlanCaptured());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("rewrite_joined_columns"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 3u);
  ExpectConverged();

  // C deleted after the fan-out was resolved and the rows locked (the
  // writer's test seam): step 4c finds no conversation, and the full
  // rewrite it falls back to deletes C's row.
  ASSERT_NO_FATAL_FAILURE(income("richest"));
  AffectedConversations fan_out = PlanCaptured();
  EnrichedRowWriter::Options options;
  options.after_locks_for_testing = [this, kConvC] {
    EXPECT_TRUE(conn_
                    ->Exec(absl::StrCat("DELETE FROM raw_support_conversations "
                                        "WHERE id = '",
                                        kConvC, "'"))
                    .ok());
  };
  auto deleting = NewObservedWriter(options);
  ASSERT_NE(deleting, nullptr);
  result = ApplyObserved(*deleting, fan_out);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("rewrite_joined_columns"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 2u);
  EXPECT_EQ(result->rows_deleted, 1u);
  ExpectConverged();
}

// An UPDATE of a conversation that keeps its id is a column update: step 4c
// rewrites its own and joined columns without reading messages. With a
// message change of the same conversation in the batch, or no complete row
// yet, the conversation is rewritten in full.
TEST_F(EnrichedRowWriterTest, ConversationUpdateRewritesOnlyTheJoinedColumns) {
  auto writer = NewObservedWriter();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpTwoConversations(*writer));
  auto update_a = [this](const std::string& set) {
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat("UPDATE raw_support_conversations SET ",
                                        set, " WHERE id = '", kEditConvA, "'"))
                    .ok());
  };
  // Twice in one batch, the second moving A to a user with no insights row.
  ASSERT_NO_FATAL_FAILURE(update_a("status = 'closed', synced_at = now()"));
  ASSERT_NO_FATAL_FAILURE(update_a("user_id = 'nobody', priority = 'high'"));
  AffectedConversations plan = PlanCaptured();
  ASSERT_THAT(plan.column_updates, ::testing::ElementsAre(kEditConvA));
  ASSERT_THAT(plan.full_rewrites, ::testing::IsEmpty());
  auto result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("rewrite_joined_columns"));
  EXPECT_FALSE(Ran("rewrite_rows"));
  EXPECT_EQ(result->conversations, 1u);
  EXPECT_EQ(result->rows_upserted, 1u);
  ExpectConverged();

  // With an edit of one of A's messages in the same batch: in full.
  ASSERT_NO_FATAL_FAILURE(update_a("user_id = 'u1'"));
  ASSERT_NO_FATAL_FAILURE(SetBody(kEditMsg1, "'one, edited'"));
  plan = PlanCaptured();
  ASSERT_THAT(plan.full_rewrites, ::testing::ElementsAre(kEditConvA));
  ASSERT_THAT(plan.column_updates, ::testing::IsEmpty());
  ASSERT_THAT(plan.body_edits, ::testing::IsEmpty());
  result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(Ran("rewrite_joined_columns"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  ExpectConverged();

  // A conversation whose insert was never applied (its events dropped
  // here), then updated: step 4c finds no complete row and falls back.
  constexpr char kConvC[] = "00000000-0000-0000-0000-00000000ea03";
  ASSERT_NO_FATAL_FAILURE(InsertConversation(kConvC));
  ASSERT_NO_FATAL_FAILURE(InsertMessage(kEditMsg0, kConvC, "'c'", 1));
  (void)PlanCaptured();
  ASSERT_TRUE(conn_
                  ->Exec(absl::StrCat("UPDATE raw_support_conversations SET "
                                      "title = 'renamed' WHERE id = '",
                                      kConvC, "'"))
                  .ok());
  plan = PlanCaptured();
  ASSERT_THAT(plan.column_updates, ::testing::ElementsAre(kConvC));
  result = ApplyObserved(*writer, plan);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(Ran("rewrite_joined_columns"));
  EXPECT_TRUE(Ran("rewrite_rows"));
  EXPECT_EQ(result->rows_upserted, 1u);
  ExpectConverged();
}

TEST_F(EnrichedRowWriterTest, HotStatementsUseIndexesAt100kConversations) {
  ASSERT_TRUE(conn_->Exec("SET session_replication_role = replica").ok());
  auto started = absl::Now();
  ASSERT_TRUE(
      conn_
          ->Exec(
              "INSERT INTO subscribers_insights (distinct_id, income, "
              "total_copies) SELECT 'u' || g, 'income ' || (g % 7), g % 50 "
              "FROM generate_series(0, 99999) g; "
              "INSERT INTO linear_issues (id, identifier, title) SELECT "
              "'lin-' || g, 'SUP-' || g, 'issue ' || g FROM "
              "generate_series(0, 19999) g; "
              "INSERT INTO raw_support_conversations (id, source, "
              "external_id, title, created_at, updated_at, user_id, "
              "linear_issue_id) SELECT gen_random_uuid(), 'zendesk', g::text, "
              "'conversation ' || g, now(), now(), 'u' || (g % 100000), "
              "CASE WHEN g % 5 = 0 THEN 'lin-' || (g % 20000) END FROM "
              "generate_series(1, 100000) g; "
              "INSERT INTO support_conversation_messages (id, "
              "conversation_id, body, created_at) SELECT gen_random_uuid(), "
              "c.id, 'message body ' || k, now() - k * interval '1 minute' "
              "FROM raw_support_conversations c, generate_series(1, 5) k; "
              "INSERT INTO enriched_support_conversations (id, source, "
              "external_id, user_id, linear_issue_id) SELECT id, source, "
              "external_id, user_id, linear_issue_id FROM "
              "raw_support_conversations; "
              "ANALYZE raw_support_conversations; ANALYZE "
              "support_conversation_messages; ANALYZE subscribers_insights; "
              "ANALYZE linear_issues; ANALYZE enriched_support_conversations")
          .ok());
  std::fprintf(stderr, "[explain] generated the data in %s\n",
               absl::FormatDuration(absl::Now() - started).c_str());
  ASSERT_TRUE(conn_->Exec("SET session_replication_role = origin").ok());

  const std::string ids =
      conn_
          ->QueryValue(
              "SELECT array_agg(id)::text FROM (SELECT id FROM "
              "raw_support_conversations ORDER BY md5(id::text) "
              "LIMIT 1000) s")
          .value_or("{}");
  const std::string users = conn_
                                ->QueryValue(
                                    "SELECT array_agg('u' || g)::text FROM "
                                    "generate_series(1, 200) g")
                                .value_or("{}");
  const std::string issues = conn_
                                 ->QueryValue(
                                     "SELECT array_agg('lin-' || g)::text FROM "
                                     "generate_series(1, 100) g")
                                 .value_or("{}");
  // Body edits: one message of each of 1,000 conversations, pairwise.
  auto edited = conn_->Query(
      "SELECT array_agg(c.id ORDER BY c.id)::text, array_agg(m.id ORDER BY "
      "c.id)::text FROM (SELECT id FROM raw_support_conversations ORDER BY "
      "md5(id::text) LIMIT 1000) c CROSS JOIN LATERAL (SELECT id FROM "
      "support_conversation_messages WHERE conversation_id = c.id LIMIT 1) m");
  ASSERT_TRUE(edited.ok()) << edited.status();
  ASSERT_EQ(edited->size(), 1u);
  ASSERT_TRUE((*edited)[0][0] && (*edited)[0][1]);
  const std::string edited_conversations = *(*edited)[0][0];
  const std::string edited_messages = *(*edited)[0][1];
  auto literal = [](const std::string& s) { return absl::StrCat("'", s, "'"); };
  const std::map<std::string, std::string> arguments = {
      {"resolve_fan_out", absl::StrCat(literal(users), ", ", literal(issues))},
      {"insert_placeholders", literal(ids)},
      {"lock_rows", literal(ids)},
      {"edit_bodies", absl::StrCat(literal(edited_conversations), ", ",
                                   literal(edited_messages), ", '0/1', 1")},
      {"append_messages", absl::StrCat(literal(edited_conversations), ", ",
                                       literal(edited_messages), ", '0/1', 1")},
      {"rewrite_joined_columns", absl::StrCat(literal(ids), ", '0/1', 1")},
      {"rewrite_rows", absl::StrCat(literal(ids), ", '0/1', 1")},
      {"store_offsets", "'g', '{t}', '{0}', '{1}'"},
  };
  for (const WriterStatement& statement :
       EnrichedSupportConversationsStatements().HotStatements()) {
    SCOPED_TRACE(statement.name);
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat("PREPARE ", statement.name, " AS ",
                                        statement.sql))
                    .ok());
    auto plan =
        conn_->Query(absl::StrCat("EXPLAIN EXECUTE ", statement.name, "(",
                                  arguments.at(statement.name), ")"));
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text, scans;
    for (const auto& row : *plan) {
      absl::StrAppend(&text, *row[0], "\n");
      if (absl::StrContains(*row[0], "Scan"))
        absl::StrAppend(&scans, *row[0], "\n");
    }
    for (const char* table :
         {"raw_support_conversations", "support_conversation_messages",
          "subscribers_insights", "linear_issues",
          "enriched_support_conversations", "enrich_processor_offsets"}) {
      EXPECT_FALSE(absl::StrContains(text, absl::StrCat("Seq Scan on ", table)))
          << scans;
    }
    ASSERT_TRUE(conn_->Exec(absl::StrCat("DEALLOCATE ", statement.name)).ok());
  }

  // The bulk path's rewrite for every id: the messages read in one scan and
  // aggregated by one GROUP BY (in index order, or sorted, whichever the
  // planner finds cheaper), never looked up per conversation.
  const std::string all_ids =
      conn_
          ->QueryValue(
              "SELECT array_agg(id ORDER BY id)::text FROM "
              "raw_support_conversations")
          .value_or("{}");
  ASSERT_TRUE(conn_->Exec("BEGIN").ok());
  for (const WriterStatement& statement :
       EnrichedSupportConversationsStatements().BulkStatements()) {
    if (statement.name == "bulk_settings") {
      // As the writer sets them for a rebuild of every id.
      ASSERT_TRUE(conn_
                      ->Exec(absl::StrReplaceAll(
                          statement.sql,
                          {{"$1", "'64MB'"}, {"$2::float8", "100000::float8"}}))
                      .ok());
    }
    if (statement.name != "rewrite_rows_bulk") continue;
    auto plan = conn_->Query(absl::StrCat(
        "EXPLAIN ",
        absl::StrReplaceAll(
            statement.sql,
            {{"$1::uuid[]", absl::StrCat(literal(all_ids), "::uuid[]")},
             {"$2::pg_lsn", "'0/1'::pg_lsn"},
             {"$3::bigint", "1::bigint"}})));
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (const auto& row : *plan) absl::StrAppend(&text, *row[0], "\n");
    EXPECT_TRUE(absl::StrContains(text, "Group Key: sm.conversation_id"))
        << text;
    size_t scans = 0;
    for (size_t at = text.find("on support_conversation_messages");
         at != std::string::npos;
         at = text.find("on support_conversation_messages", at + 1)) {
      ++scans;
    }
    EXPECT_EQ(scans, 1u) << text;
    EXPECT_FALSE(absl::StrContains(text, "Nested Loop")) << text;
  }
  ASSERT_TRUE(conn_->Exec("ROLLBACK").ok());
  {
    EnrichedRowWriter::Options bulk_options;
    bulk_options.bulk_min_ids = 1;
    auto bulk = NewWriter(bulk_options);
    ASSERT_NE(bulk, nullptr);
    AffectedConversations all;
    auto all_rows =
        conn_->Query("SELECT id::text FROM raw_support_conversations");
    ASSERT_TRUE(all_rows.ok());
    for (const auto& row : *all_rows) all.full_rewrites.insert(*row[0]);
    ASSERT_TRUE(conn_->Exec("TRUNCATE enriched_support_conversations").ok());
    started = absl::Now();
    auto rebuilt = bulk->Apply(all, {});
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    std::fprintf(stderr,
                 "[explain] bulk rebuild of all 100,000 conversations "
                 "(500,000 messages) into the emptied table in %s\n",
                 absl::FormatDuration(absl::Now() - started).c_str());
    EXPECT_EQ(rebuilt->rows_upserted, 100000u);
    ExpectEqualsReference();
  }

  // And the measured cost of one such batch (reported, not asserted).
  auto writer = NewWriter();
  ASSERT_NE(writer, nullptr);
  AffectedConversations plan;
  auto id_rows = conn_->Query(
      "SELECT id::text FROM raw_support_conversations ORDER BY md5(id::text) "
      "LIMIT 1000");
  ASSERT_TRUE(id_rows.ok());
  for (const auto& row : *id_rows) plan.full_rewrites.insert(*row[0]);
  for (int attempt = 0; attempt < 2; ++attempt) {
    started = absl::Now();
    auto result = writer->Apply(plan, {});
    ASSERT_TRUE(result.ok()) << result.status();
    std::fprintf(stderr,
                 "[explain] 1,000 conversations (of 100,000; 500,000 "
                 "messages) rewritten in %s, %zu rows changed\n",
                 absl::FormatDuration(absl::Now() - started).c_str(),
                 result->rows_upserted);
  }
  AffectedConversations fan_out;
  fan_out.lookup_keys = {{"u77"}, {"lin-5"}};
  auto result = writer->Apply(fan_out, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->conversations, 6u);  // u77: 1; lin-5: 5
}

}  // namespace
}  // namespace enrich::processor
