// A declared view (sql/views/support_user_rollup.sql, processor/core/
// VIEWS.md) kept by `enrich-processor run --view` beside today's view, from
// the same topics, each in its own consumer group: after the pipeline
// drains, each table equals its own SQL, EXCEPT ALL both ways. Writes flow
// before anything starts and while a view is added to the running
// pipeline; drop-view then removes what the processor kept for it and
// leaves today's view alone.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "tests/integration/processor/pipeline_fixture.h"

namespace enrich::processor::testing {
namespace {

constexpr char kRollup[] = "support_user_rollup";
const std::vector<std::string> kRollupTables = {"subscribers_insights",
                                                "raw_support_conversations"};

std::string RollupFile() {
  return std::string(ENRICH_SOURCE_DIR) + "/sql/views/support_user_rollup.sql";
}

class DeclaredViewPipelineTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    if (HasFatalFailure()) return;
    rollup_group_ = name_ + "_rollup";
    // What an earlier test left: the table, its registration, its group.
    ASSERT_TRUE(sql_->Exec("DROP TABLE IF EXISTS support_user_rollup").ok());
    ASSERT_TRUE(sql_->Exec("DELETE FROM enrich_processor_views").ok());
    ASSERT_TRUE(
        sql_->Exec("DROP VIEW IF EXISTS support_user_rollup_reference").ok());
    // The view's own SQL, under another name, as the oracle.
    std::ifstream in(RollupFile());
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_FALSE(text.str().empty()) << RollupFile();
    const std::string reference = absl::StrReplaceAll(
        text.str(), {{"CREATE MATERIALIZED VIEW support_user_rollup AS",
                      "CREATE VIEW support_user_rollup_reference AS"}});
    ASSERT_NE(reference, text.str());
    ASSERT_TRUE(sql_->Exec(reference).ok());
  }

  // Runs `enrich-processor <args>` to its end; its exit code.
  int RunProcessorCommand(const std::vector<std::string>& args,
                          std::string* log) {
    std::vector<std::string> argv = {BinaryPath("enrich-processor")};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess command(argv, ChildEnvironment(), Log(args.front()));
    const int code = command.Wait(absl::Seconds(120));
    *log = command.log();
    return code;
  }

  void MigrateRollup() {
    std::string log;
    ASSERT_EQ(RunProcessorCommand({"migrate", "--view=" + RollupFile(),
                                   "--group-id=" + rollup_group_},
                                  &log),
              0)
        << log;
    EXPECT_TRUE(absl::StrContains(log, "created the view's table")) << log;
  }

  ChildProcess* StartRollupProcessor() {
    return StartProcessor(rollup_group_, {"--view=" + RollupFile()});
  }

  // The rollup table equals its view, and the check means something: the
  // workload left subscribers with conversations, open ones, and without.
  void ExpectRollupEqualToItsView() {
    const std::string columns =
        "distinct_id, conversations, open_conversations, last_activity_at, "
        "latest_titles";
    auto differing = sql_->QueryValue(absl::StrCat(
        "SELECT (SELECT count(*) FROM (SELECT ", columns,
        " FROM support_user_rollup_reference EXCEPT ALL SELECT ", columns,
        " FROM support_user_rollup) a) + (SELECT count(*) FROM (SELECT ",
        columns, " FROM support_user_rollup EXCEPT ALL SELECT ", columns,
        " FROM support_user_rollup_reference) b)"));
    ASSERT_TRUE(differing.ok()) << differing.status();
    EXPECT_EQ(*differing, "0") << *sql_->QueryValue(absl::StrCat(
        "SELECT string_agg(x::text, E'\\n') FROM (SELECT ", columns,
        " FROM support_user_rollup EXCEPT ALL SELECT ", columns,
        " FROM support_user_rollup_reference LIMIT 5) x"));
    // Each title has its conversation id (the key array).
    auto misaligned = sql_->QueryValue(
        "SELECT count(*) FROM support_user_rollup WHERE "
        "cardinality(latest_titles) IS DISTINCT FROM "
        "cardinality(latest_title_ids)");
    ASSERT_TRUE(misaligned.ok());
    EXPECT_EQ(*misaligned, "0");
    auto coverage = sql_->Query(
        "SELECT count(*) FILTER (WHERE conversations > 1), "
        "count(*) FILTER (WHERE open_conversations > 0), "
        "count(*) FILTER (WHERE conversations = 0) FROM support_user_rollup");
    ASSERT_TRUE(coverage.ok());
    for (int i = 0; i < 3; ++i) {
      EXPECT_GT(std::stoll(*(*coverage)[0][i]), 0) << "coverage column " << i;
    }
  }

  // Rows the random workload never makes (its statuses are random text,
  // each of its subscribers ends up with conversations, and its
  // truncate-and-reload of subscribers_insights would take rows written
  // beside it): a subscriber without conversations, one with four (three
  // open), then two of those moved, one to another subscriber and one to a
  // user without a subscriber row. Written after the workload, while the
  // pipeline streams; a move names its old and new parent.
  void WriteCoverageRows(const std::string& suffix) {
    const std::string busy = "busy-" + suffix;
    ASSERT_TRUE(
        sql_->Exec(absl::StrCat(
                       "INSERT INTO subscribers_insights (distinct_id) "
                       "VALUES ('lonely-",
                       suffix, "'), ('", busy, "'), ('mover-", suffix, "')"))
            .ok());
    for (const char* status : {"open", "open", "open", "closed"}) {
      ASSERT_TRUE(
          sql_
              ->Exec(absl::StrCat(
                  "INSERT INTO raw_support_conversations (id, source, "
                  "external_id, title, status, created_at, updated_at, "
                  "user_id) VALUES (gen_random_uuid(), 'test', "
                  "gen_random_uuid()::text, 'about ",
                  status, "', '", status,
                  "', clock_timestamp(), clock_timestamp(), '", busy, "')"))
              .ok());
    }
    // The moves in batches of their own: once the rollup counts the four,
    // so a move's old parent is a row already written, not one the same
    // batch rewrites anyway.
    ASSERT_TRUE(WaitFor(
        [&] {
          auto counted = sql_->QueryValue(absl::StrCat(
              "SELECT conversations FROM support_user_rollup WHERE "
              "distinct_id = '",
              busy, "'"));
          return counted.ok() && *counted == "4";
        },
        absl::Minutes(2)));
    for (const std::string& to : {"mover-" + suffix, "ghost-" + suffix}) {
      ASSERT_TRUE(
          sql_->Exec(absl::StrCat("UPDATE raw_support_conversations SET "
                                  "user_id = '",
                                  to,
                                  "' WHERE id = (SELECT id FROM "
                                  "raw_support_conversations WHERE user_id = '",
                                  busy, "' AND status = 'open' LIMIT 1)"))
              .ok());
    }
  }

  ::testing::AssertionResult WaitUntilRollupDrained() {
    return WaitUntilDrained(absl::Minutes(3), rollup_group_, kRollupTables);
  }

  std::string rollup_group_;
};

TEST_F(DeclaredViewPipelineTest, KeptBesideTodaysViewFromWritesBeforeStart) {
  BackgroundWorkload workload(/*seed=*/16001);
  ASSERT_TRUE(
      WaitFor([&] { return workload.chunks.load() >= 3; }, absl::Seconds(60)));
  MigrateRollup();
  StartCdc();
  StartProcessor();
  StartRollupProcessor();
  ASSERT_TRUE(
      WaitFor([&] { return workload.chunks.load() >= 25; }, absl::Minutes(3)));
  ASSERT_TRUE(workload.Stop());
  WriteCoverageRows("a");
  ASSERT_TRUE(WaitUntilDrained(absl::Minutes(3)));
  ASSERT_TRUE(WaitUntilRollupDrained());
  ExpectEqualToReference();
  ExpectRollupEqualToItsView();
  // The rollup has no message paths: its processor says so.
  EXPECT_TRUE(
      absl::StrContains(processors_.back()->log(), "message_paths=false"))
      << processors_.back()->log();

  // reconcile --view walks the rollup by its text keys: a drained table has
  // nothing to repair; a corrupted row, a deleted one and a stray one are
  // found and repaired.
  std::string log;
  ASSERT_EQ(RunProcessorCommand({"reconcile", "--view=" + RollupFile(),
                                 "--dry-run", "--chunk-size=7"},
                                &log),
            0)
      << log;
  EXPECT_TRUE(absl::StrContains(log, "missing=0 extra=0 different=0")) << log;
  ASSERT_TRUE(sql_->Exec("UPDATE support_user_rollup SET conversations = 999 "
                         "WHERE distinct_id = 'busy-a'")
                  .ok());
  ASSERT_TRUE(
      sql_->Exec(
              "DELETE FROM support_user_rollup WHERE distinct_id = 'lonely-a'")
          .ok());
  ASSERT_TRUE(sql_->Exec("INSERT INTO support_user_rollup (distinct_id) "
                         "VALUES ('nobody''s')")
                  .ok());
  ASSERT_EQ(
      RunProcessorCommand(
          {"reconcile", "--view=" + RollupFile(), "--chunk-size=7"}, &log),
      0)
      << log;
  EXPECT_TRUE(absl::StrContains(log, "missing=1 extra=1 different=1")) << log;
  ExpectRollupEqualToItsView();
}

TEST_F(DeclaredViewPipelineTest, AddedToARunningPipelineThenDropped) {
  BackgroundWorkload workload(/*seed=*/16002);
  StartCdc();
  StartProcessor();
  ASSERT_TRUE(
      WaitFor([&] { return workload.chunks.load() >= 5; }, absl::Seconds(90)));
  // Not migrated yet: refused, with what to run.
  std::string log;
  EXPECT_EQ(RunProcessorCommand(
                {"run", "--view=" + RollupFile(), "--group-id=" + rollup_group_,
                 "--topic-prefix=" + name_, "--metrics-addr=127.0.0.1:0"},
                &log),
            1);
  EXPECT_TRUE(absl::StrContains(log, "migrate --view")) << log;
  // Added while writes flow and today's view is being kept.
  MigrateRollup();
  StartRollupProcessor();
  ASSERT_TRUE(
      WaitFor([&] { return workload.chunks.load() >= 25; }, absl::Minutes(3)));
  ASSERT_TRUE(workload.Stop());
  WriteCoverageRows("b");
  ASSERT_TRUE(WaitUntilDrained(absl::Minutes(3)));
  ASSERT_TRUE(WaitUntilRollupDrained());
  ExpectEqualToReference();
  ExpectRollupEqualToItsView();

  // Removed: its processor stops, drop-view cleans up after it.
  StopGracefully(processors_.back().get());
  ASSERT_EQ(RunProcessorCommand({"drop-view", kRollup}, &log), 0) << log;
  EXPECT_EQ(*sql_->QueryValue("SELECT to_regclass('support_user_rollup') IS "
                              "NULL"),
            "t");
  EXPECT_EQ(*sql_->QueryValue("SELECT count(*) FROM enrich_processor_views"),
            "0");
  EXPECT_EQ(*sql_->QueryValue(absl::StrCat(
                "SELECT count(*) FROM enrich_processor_offsets WHERE "
                "consumer_group = '",
                rollup_group_, "'")),
            "0");
  EXPECT_NE(*sql_->QueryValue(absl::StrCat(
                "SELECT count(*) FROM enrich_processor_offsets WHERE "
                "consumer_group = '",
                group_, "'")),
            "0");
  // A second drop finds nothing.
  EXPECT_EQ(RunProcessorCommand({"drop-view", kRollup}, &log), 1) << log;
  // Today's view is still kept.
  BackgroundWorkload after(/*seed=*/16003);
  ASSERT_TRUE(
      WaitFor([&] { return after.chunks.load() >= 5; }, absl::Seconds(90)));
  ASSERT_TRUE(after.Stop());
  ASSERT_TRUE(WaitUntilDrained(absl::Minutes(3)));
  ExpectEqualToReference();
}

}  // namespace
}  // namespace enrich::processor::testing
