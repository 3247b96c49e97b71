// Reconciler (`enrich-processor reconcile`) against a real PostgreSQL: an
// enriched table built from scratch, then corrupted on purpose (a changed
// column, a deleted row, bogus rows at both ends of the uuid order, a NULLed
// array, a changed jsonb), is reported with exact counts and repaired to the
// contract's equality (EXCEPT ALL both ways); the rate limit paces the walk;
// the executable does the same and prints its summary line.
#include "processor/adapters/reconciler.h"

#include <cstdio>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;
using ::testing::HasSubstr;

constexpr char kNilUuid[] = "00000000-0000-0000-0000-000000000000";
constexpr char kMaxUuid[] = "ffffffff-ffff-ffff-ffff-ffffffffffff";

class ReconcilerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    absl::Status prepared = testing::PrepareDatabase(**conn);
    ASSERT_TRUE(prepared.ok()) << prepared;
  }

  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
    ASSERT_TRUE(testing::ResetDatabase(*conn_).ok());
    std::mt19937_64 rng(20240704);
    absl::Status workload = testing::RunRandomWorkload(*conn_, rng, 300);
    ASSERT_TRUE(workload.ok()) << workload;
    conversations_ = Count("SELECT count(*) FROM raw_support_conversations");
    ASSERT_GT(conversations_, 50);
  }

  int64_t Count(const std::string& sql) {
    return std::stoll(conn_->QueryValue(sql).value_or("-1"));
  }

  int64_t Difference() {
    absl::StatusOr<int64_t> difference =
        testing::DifferenceFromReference(*conn_);
    EXPECT_TRUE(difference.ok()) << difference.status();
    return difference.value_or(-1);
  }

  absl::StatusOr<ReconcileReport> Reconcile(Reconciler::Options options) {
    auto reconciler = Reconciler::Connect(Services().pg_dsn, options);
    if (!reconciler.ok()) return reconciler.status();
    return (*reconciler)->Run();
  }

  // Builds the table correct, then corrupts six rows: 1 missing, 2 extra,
  // 3 different (changed_, nulled_, json_; deleted_ is the missing one).
  void BuildAndCorrupt() {
    Reconciler::Options options;
    auto built = Reconcile(options);
    ASSERT_TRUE(built.ok()) << built.status();
    ASSERT_EQ(Difference(), 0) << testing::DescribeDifference(*conn_);
    const std::string pick =
        "SELECT id::text FROM enriched_support_conversations WHERE "
        "all_messages IS NOT NULL AND custom_fields IS NOT NULL ORDER BY id "
        "OFFSET ";
    changed_ = conn_->QueryValue(pick + "0 LIMIT 1").value_or("");
    deleted_ = conn_->QueryValue(pick + "1 LIMIT 1").value_or("");
    nulled_ = conn_->QueryValue(pick + "2 LIMIT 1").value_or("");
    json_ = conn_->QueryValue(pick + "3 LIMIT 1").value_or("");
    ASSERT_FALSE(json_.empty()) << "the workload left too few rows to corrupt";
    ASSERT_TRUE(
        conn_
            ->Exec(absl::StrCat(
                "UPDATE enriched_support_conversations SET title = "
                "coalesce(title, '') || ' (corrupted)' WHERE id = '",
                changed_,
                "'; DELETE FROM enriched_support_conversations "
                "WHERE id = '",
                deleted_,
                "'; UPDATE enriched_support_conversations SET all_messages = "
                "NULL WHERE id = '",
                nulled_,
                "'; UPDATE enriched_support_conversations SET custom_fields "
                "= custom_fields || '{\"bogus\": 1}' WHERE id = '",
                json_,
                "'; INSERT INTO enriched_support_conversations (id, title, "
                "message_count) VALUES ('",
                kNilUuid, "', 'bogus', 3), ('", kMaxUuid, "', 'bogus', 0)"))
            .ok());
    // Each of the 3 changed rows counts in both directions, the deleted and
    // the 2 bogus rows in one.
    ASSERT_EQ(Difference(), 3 * 2 + 1 + 2);
  }

  std::unique_ptr<PgTestConnection> conn_;
  int64_t conversations_ = 0;
  std::string changed_, deleted_, nulled_, json_;
};

TEST_F(ReconcilerTest, EmptyTableIsReportedMissingAndRebuilt) {
  Reconciler::Options options;
  options.chunk_size = 17;
  auto report = Reconcile(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->ids_checked, conversations_);
  EXPECT_EQ(report->missing, conversations_);
  EXPECT_EQ(report->extra, 0);
  EXPECT_EQ(report->different, 0);
  EXPECT_EQ(report->rows_repaired, conversations_);
  EXPECT_EQ(report->chunks, (conversations_ + 16) / 17);
  EXPECT_EQ(report->sample_missing.size(), ReconcileReport::kSampleSize);
  EXPECT_EQ(Difference(), 0) << testing::DescribeDifference(*conn_);
}

TEST_F(ReconcilerTest, CorruptedRowsAreCountedAndRepaired) {
  ASSERT_NO_FATAL_FAILURE(BuildAndCorrupt());

  // A dry run reports and changes nothing.
  Reconciler::Options options;
  options.chunk_size = 7;  // many chunks: every boundary is crossed
  options.dry_run = true;
  auto dry = Reconcile(options);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->missing, 1);
  EXPECT_EQ(dry->extra, 2);
  EXPECT_EQ(dry->different, 3);
  EXPECT_EQ(dry->rows_repaired, 0);
  EXPECT_GT(Difference(), 0);

  options.dry_run = false;
  auto report = Reconcile(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->ids_checked, conversations_ + 2);  // + the bogus rows
  EXPECT_EQ(report->missing, 1);
  EXPECT_EQ(report->extra, 2);
  EXPECT_EQ(report->different, 3);
  EXPECT_EQ(report->rows_repaired, 6);
  EXPECT_THAT(report->sample_missing, ::testing::ElementsAre(deleted_));
  EXPECT_THAT(report->sample_extra, ::testing::ElementsAre(kNilUuid, kMaxUuid));
  EXPECT_THAT(report->sample_different,
              ::testing::UnorderedElementsAre(changed_, nulled_, json_));
  EXPECT_EQ(Difference(), 0) << testing::DescribeDifference(*conn_);

  // Nothing left to do.
  auto again = Reconcile(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->differences(), 0);
  EXPECT_EQ(again->rows_repaired, 0);
  EXPECT_EQ(again->ids_checked, conversations_);
}

TEST_F(ReconcilerTest, RateLimitPacesTheWalk) {
  Reconciler::Options options;
  options.chunk_size = 10;
  options.pacing.max_ids_per_second = 100;
  // A clock that moves only when the reconciler sleeps: the pauses alone
  // must spread the ids at the limit.
  absl::Duration slept;
  int progress_calls = 0;
  options.now = [&] { return absl::UnixEpoch() + slept; };
  options.sleep = [&](absl::Duration d) { slept += d; };
  options.on_chunk = [&](const ReconcileReport&, int64_t) { ++progress_calls; };
  auto report = Reconcile(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(progress_calls, report->chunks);
  EXPECT_EQ(slept, absl::Seconds(static_cast<double>(conversations_) / 100));
}

TEST_F(ReconcilerTest, ExecutableRepairsAndPrintsItsSummary) {
  ASSERT_NO_FATAL_FAILURE(BuildAndCorrupt());
  ChildProcess child({BinaryPath("enrich-processor"), "reconcile",
                      "--chunk-size=50", "--chunk-pause-ms=1"},
                     {"ENRICH_PG_DSN=" + Services().pg_dsn},
                     absl::StrCat(::testing::TempDir(), "/reconcile-cli.log"));
  ASSERT_EQ(child.Wait(absl::Seconds(120)), 0) << child.log();
  const std::string log = child.log();
  EXPECT_THAT(log, HasSubstr("msg=\"reconcile finished\"")) << log;
  EXPECT_THAT(log, HasSubstr(absl::StrCat("sample_missing=", deleted_)));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("reconcile: checked ",
                                          conversations_ + 2, " ids in ")));
  EXPECT_THAT(log, HasSubstr("missing=1 extra=2 different=3 rows_repaired=6"));
  EXPECT_EQ(Difference(), 0) << testing::DescribeDifference(*conn_);
}

TEST_F(ReconcilerTest, ChunkStatementUsesIndexesAt50kConversations) {
  ASSERT_TRUE(
      conn_
          ->Exec(
              "INSERT INTO subscribers_insights (distinct_id, income) SELECT "
              "'su' || g, 'income ' || (g % 7) FROM generate_series(0, 9999) "
              "g; INSERT INTO raw_support_conversations (id, source, "
              "external_id, title, created_at, updated_at, user_id) SELECT "
              "gen_random_uuid(), 'zendesk', 's' || g, 'conversation ' || g, "
              "now(), now(), 'su' || (g % 10000) FROM generate_series(1, "
              "50000) g; INSERT INTO support_conversation_messages (id, "
              "conversation_id, body, created_at) SELECT gen_random_uuid(), "
              "c.id, 'message body ' || k, now() - k * interval '1 minute' "
              "FROM raw_support_conversations c, generate_series(1, 4) k; "
              "ANALYZE raw_support_conversations; ANALYZE "
              "support_conversation_messages; ANALYZE subscribers_insights")
          .ok());
  const int64_t total = Count("SELECT count(*) FROM raw_support_conversations");
  absl::Time started = absl::Now();
  auto built = Reconcile({});
  ASSERT_TRUE(built.ok()) << built.status();
  const absl::Duration build_time = absl::Now() - started;
  EXPECT_EQ(built->missing, total);
  ASSERT_TRUE(conn_->Exec("ANALYZE enriched_support_conversations").ok());
  Reconciler::Options dry;
  dry.dry_run = true;
  started = absl::Now();
  auto checked = Reconcile(dry);
  ASSERT_TRUE(checked.ok()) << checked.status();
  std::fprintf(stderr,
               "[reconcile] %lld conversations: rebuilt from empty in %s, "
               "checked clean in %s (1000 ids per chunk)\n",
               static_cast<long long>(total),
               absl::FormatDuration(build_time).c_str(),
               absl::FormatDuration(absl::Now() - started).c_str());
  EXPECT_EQ(checked->differences(), 0);
  EXPECT_EQ(checked->ids_checked, total);

  const std::string middle =
      conn_
          ->QueryValue(
              "SELECT id::text FROM raw_support_conversations ORDER BY id "
              "OFFSET 25000 LIMIT 1")
          .value_or("");
  ASSERT_TRUE(
      conn_
          ->Exec(absl::StrCat(
              "PREPARE reconcile_chunk AS ",
              Reconciler::ChunkSql(EnrichedSupportConversationsStatements(),
                                   /*first=*/false)))
          .ok());
  auto plan = conn_->Query(
      absl::StrCat("EXPLAIN EXECUTE reconcile_chunk('", middle, "', 1000)"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::string text;
  for (const auto& row : *plan) absl::StrAppend(&text, *row[0], "\n");
  // What matters is that no large table is read whole: a chunk costs its
  // ids, not the table. The small joined tables (linear_issues,
  // subscribers_insights) may be read whole when the planner finds that
  // cheaper; that choice rests on their size and statistics (autovacuum
  // timing on a fresh machine), so it is not asserted. "Seq Scan on" also
  // matches "Parallel Seq Scan on".
  for (const char* large :
       {"raw_support_conversations", "support_conversation_messages",
        "enriched_support_conversations"}) {
    EXPECT_THAT(text,
                ::testing::Not(HasSubstr(absl::StrCat("Seq Scan on ", large))))
        << text;
  }
  EXPECT_THAT(text, HasSubstr("raw_support_conversations_pkey")) << text;
  EXPECT_THAT(text, HasSubstr("enriched_support_conversations_pkey")) << text;
  EXPECT_THAT(text,
              HasSubstr("support_conversation_messages_conversation_id_idx"))
      << text;
  ASSERT_TRUE(conn_->Exec("DEALLOCATE reconcile_chunk").ok());
}

}  // namespace
}  // namespace enrich::processor
