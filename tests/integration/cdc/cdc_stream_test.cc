// enrich-cdc end to end against the real PostgreSQL and Kafka: the binary
// runs as a child process; the test writes to the source tables and reads the
// topics back with a consumer.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdc/kafka/partitioner.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"
#include "tests/support/topic_reader.h"

namespace enrich::testing {
namespace {

constexpr int kPartitions = 3;  // --topic-partitions below

// Reads `topic` from the beginning until `done` holds or the timeout passes.
std::vector<Record> ReadTopic(
    const std::string& topic,
    const std::function<bool(const std::vector<Record>&)>& done,
    absl::Duration timeout = absl::Seconds(60)) {
  TopicReader reader(kPartitions, topic);
  reader.ReadUntil([&] { return done(reader.records()); }, timeout);
  return reader.records();
}

class CdcStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    sql_ = *std::move(conn);
    absl::Status full = SetContractTablesReplicaIdentityFull(*sql_);
    ASSERT_TRUE(full.ok()) << full;
    name_ = absl::StrCat(
        "t_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : name_) c = std::tolower(c);
  }

  std::unique_ptr<ChildProcess> StartCdc(
      const std::string& snapshot,
      const std::string& snapshot_content = "boundary") {
    auto cdc = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            BinaryPath("enrich-cdc"), "--slot=" + name_,
            "--publication=" + name_, "--topic-prefix=" + name_,
            "--metrics-addr=127.0.0.1:0", "--snapshot=" + snapshot,
            "--snapshot-content=" + snapshot_content,
            "--heartbeat-interval-ms=500",
            absl::StrCat("--topic-partitions=", kPartitions)},
        std::vector<std::string>{
            "ENRICH_PG_DSN=" + Services().pg_dsn,
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        absl::StrCat(::testing::TempDir(), "/", name_, "-", ++starts_, ".log"));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && cdc->running() &&
           !absl::StrContains(cdc->log(), "msg=streaming")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(absl::StrContains(cdc->log(), "msg=streaming")) << cdc->log();
    return cdc;
  }

  std::string Topic(const std::string& table) {
    return absl::StrCat(name_, ".public.", table);
  }

  std::unique_ptr<PgTestConnection> sql_;
  std::string name_;
  int starts_ = 0;
};

TEST_F(CdcStreamTest, EveryOperationReachesKafkaWithKeyPartitionAndContent) {
  auto cdc = StartCdc("never");
  const std::string conv = "11111111-0000-0000-0000-000000000001";
  const std::string conv2 = "11111111-0000-0000-0000-000000000002";
  ASSERT_TRUE(
      sql_
          ->Exec(absl::StrCat(
              "INSERT INTO linear_issues (id, identifier, title) VALUES "
              "('lin-e2e', 'SUP-9', 'Broken export');"
              "INSERT INTO subscribers_insights (distinct_id, income) VALUES "
              "('user-e2e', 'high');"
              "INSERT INTO raw_support_conversations (id, source, external_id, "
              "created_at, updated_at, user_id, linear_issue_id) VALUES ('",
              conv,
              "', 'zendesk', 'e2e-1', now(), now(), 'user-e2e', 'lin-e2e'), ('",
              conv2,
              "', 'zendesk', 'e2e-2', now(), now(), NULL, NULL);"
              "INSERT INTO support_conversation_messages (id, conversation_id, "
              "body, "
              "created_at) VALUES ('22222222-0000-0000-0000-000000000001', '",
              conv,
              "', 'first', now()), ('22222222-0000-0000-0000-000000000002', '",
              conv, "', NULL, now());"))
          .ok());
  ASSERT_TRUE(
      sql_
          ->Exec(absl::StrCat(
              "UPDATE support_conversation_messages SET body = 'edited', "
              "conversation_id = '",
              conv2,
              "' WHERE id = "
              "'22222222-0000-0000-0000-000000000001';"
              "DELETE FROM support_conversation_messages WHERE id = "
              "'22222222-0000-0000-0000-000000000002';"
              "UPDATE linear_issues SET id = 'lin-e2e-2' WHERE id = "
              "'lin-e2e';"))
          .ok());
  // Separate calls: inside one multi-statement string, ROLLBACK would also
  // undo the statements before it.
  ASSERT_TRUE(sql_->Exec("BEGIN").ok());
  ASSERT_TRUE(sql_->Exec("INSERT INTO subscribers_insights (distinct_id) "
                         "VALUES ('rolled-back')")
                  .ok());
  ASSERT_TRUE(sql_->Exec("ROLLBACK").ok());

  auto messages = ReadTopic(Topic("support_conversation_messages"),
                            [](const auto& r) { return r.size() >= 5; });
  // insert, insert, update, delete + tombstone
  ASSERT_EQ(messages.size(), 5u);
  std::map<std::string, std::vector<const Record*>> by_key;
  for (const Record& r : messages) by_key[r.key].push_back(&r);
  // The moved message changed partition with its conversation, so its two
  // events are ordered by (commit_lsn, index_in_tx), not by reading order.
  auto moved = by_key["22222222-0000-0000-0000-000000000001"];
  ASSERT_EQ(moved.size(), 2u);
  std::sort(moved.begin(), moved.end(), [](const Record* a, const Record* b) {
    return std::make_pair(a->event.commit_lsn(), a->event.index_in_tx()) <
           std::make_pair(b->event.commit_lsn(), b->event.index_in_tx());
  });
  EXPECT_EQ(moved[0]->event.op(), v1::INSERT);
  EXPECT_EQ(moved[1]->event.op(), v1::UPDATE);
  EXPECT_EQ(ColumnText(moved[1]->event.new_row(), "body"), "edited");
  EXPECT_EQ(ColumnText(moved[1]->event.old_row(), "conversation_id"), conv);
  EXPECT_EQ(ColumnText(moved[1]->event.new_row(), "conversation_id"), conv2);
  // Routed by conversation id, as another Kafka client would.
  EXPECT_EQ(moved[0]->partition, *kafka::PartitionFor(conv, 3));
  EXPECT_EQ(moved[1]->partition, *kafka::PartitionFor(conv2, 3));
  const auto& deleted = by_key["22222222-0000-0000-0000-000000000002"];
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_TRUE(deleted[0]->event.new_row().columns(3).has_null());
  EXPECT_EQ(deleted[1]->event.op(), v1::DELETE);
  EXPECT_EQ(ColumnText(deleted[1]->event.old_row(), "conversation_id"), conv);
  EXPECT_TRUE(deleted[2]->tombstone);
  for (const Record& r : messages) {
    if (r.tombstone) continue;
    EXPECT_GT(r.event.commit_lsn(), 0u);
    EXPECT_GT(r.event.end_lsn(), r.event.commit_lsn());
    EXPECT_GT(r.event.commit_time_us(), 1700000000000000);
  }

  auto issues = ReadTopic(Topic("linear_issues"),
                          [](const auto& r) { return r.size() >= 2; });
  ASSERT_EQ(issues.size(), 2u);
  // A primary-key change moves the row to the new key's partition: order by
  // commit LSN, not by reading order.
  if (issues[0].event.commit_lsn() > issues[1].event.commit_lsn()) {
    std::swap(issues[0], issues[1]);
  }
  EXPECT_EQ(issues[0].key, "lin-e2e");
  EXPECT_EQ(issues[1].event.op(), v1::UPDATE);
  EXPECT_EQ(issues[1].key, "lin-e2e-2");
  EXPECT_EQ(ColumnText(issues[1].event.old_row(), "id"), "lin-e2e");

  auto insights = ReadTopic(
      Topic("subscribers_insights"),
      [](const auto& r) { return r.size() >= 2; }, absl::Seconds(5));
  ASSERT_EQ(insights.size(), 1u);  // the rolled-back insert never appears
  EXPECT_EQ(insights[0].key, "user-e2e");

  auto conversations = ReadTopic(Topic("raw_support_conversations"),
                                 [](const auto& r) { return r.size() >= 2; });
  ASSERT_EQ(conversations.size(), 2u);
  // Two partitions: find the conversation by key, not by position.
  for (const Record& r : conversations) {
    EXPECT_EQ(ColumnText(r.event.new_row(), "user_id"),
              r.key == conv ? "user-e2e" : "<null>");
  }

  cdc->Signal(SIGTERM);
  EXPECT_EQ(cdc->Wait(absl::Seconds(30)), 0) << cdc->log();
}

TEST_F(CdcStreamTest, UnchangedToastBodyIsFilledUnderReplicaIdentityFull) {
  auto cdc = StartCdc("never");
  const std::string conv = "33333333-0000-0000-0000-000000000001";
  ASSERT_TRUE(
      sql_
          ->Exec(absl::StrCat(
              "INSERT INTO raw_support_conversations (id, source, external_id, "
              "created_at, updated_at) VALUES ('",
              conv,
              "', 'zendesk', 'toast-1', now(), now());"
              "INSERT INTO support_conversation_messages (id, conversation_id, "
              "body, "
              "created_at) SELECT '44444444-0000-0000-0000-000000000001', '",
              conv,
              "', string_agg(md5(i::text), ''), now() FROM generate_series(1, "
              "640) "
              "i;"))
          .ok());
  ASSERT_TRUE(sql_->Exec("UPDATE support_conversation_messages SET "
                         "author_type = 'agent' WHERE id = "
                         "'44444444-0000-0000-0000-000000000001'")
                  .ok());
  auto body = sql_->QueryValue(
      "SELECT body FROM support_conversation_messages WHERE id = "
      "'44444444-0000-0000-0000-000000000001'");
  ASSERT_TRUE(body.ok());
  ASSERT_EQ(body->size(), 20480u);
  auto records = ReadTopic(Topic("support_conversation_messages"),
                           [](const auto& r) { return r.size() >= 2; });
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].event.op(), v1::UPDATE);
  EXPECT_EQ(ColumnText(records[1].event.new_row(), "author_type"), "agent");
  EXPECT_EQ(ColumnText(records[1].event.new_row(), "body"), *body);
  cdc->Signal(SIGTERM);
  EXPECT_EQ(cdc->Wait(absl::Seconds(30)), 0);
}

TEST_F(CdcStreamTest, InitialSnapshotThenStreamSeesEveryRowOnce) {
  ASSERT_TRUE(
      sql_->Exec("INSERT INTO linear_issues (id, identifier) SELECT "
                 "'snap-' || i, 'S-' || i FROM generate_series(1, 500) i")
          .ok());
  auto cdc = StartCdc("initial", "rows");
  ASSERT_TRUE(sql_->Exec("INSERT INTO linear_issues (id, identifier) VALUES "
                         "('after-snap', 'S-X')")
                  .ok());
  std::set<std::string> wanted;
  for (int i = 1; i <= 500; ++i) wanted.insert(absl::StrCat("snap-", i));
  // Partitions are read in no particular order: wait for every key.
  auto records = ReadTopic(Topic("linear_issues"), [&](const auto& r) {
    std::set<std::string> keys;
    for (const Record& rec : r) keys.insert(rec.key);
    for (const std::string& key : wanted) {
      if (keys.count(key) == 0) return false;
    }
    return keys.count("after-snap") > 0;
  });
  std::map<std::string, int> seen;
  int snapshot_reads = 0;
  for (const Record& r : records) {
    ++seen[r.key];
    if (r.event.op() == v1::SNAPSHOT_READ) ++snapshot_reads;
  }
  for (const std::string& key : wanted) EXPECT_EQ(seen[key], 1) << key;
  EXPECT_EQ(seen["after-snap"], 1);
  EXPECT_GE(snapshot_reads, 500);
  cdc->Signal(SIGTERM);
  EXPECT_EQ(cdc->Wait(absl::Seconds(30)), 0);
}

// The default snapshot publishes no rows: one boundary per partition, at
// the slot's consistent point, before every change streamed after it.
TEST_F(CdcStreamTest, InitialSnapshotAsBoundaryPrecedesTheStream) {
  ASSERT_TRUE(
      sql_->Exec("INSERT INTO linear_issues (id, identifier) SELECT "
                 "'bnd-' || i, 'B-' || i FROM generate_series(1, 200) i")
          .ok());
  auto cdc = StartCdc("initial");
  ASSERT_TRUE(sql_->Exec("INSERT INTO linear_issues (id, identifier) VALUES "
                         "('after-bnd', 'B-X')")
                  .ok());
  auto records = ReadTopic(Topic("linear_issues"), [&](const auto& r) {
    int boundaries = 0;
    bool after = false;
    for (const Record& rec : r) {
      boundaries += rec.event.op() == v1::SNAPSHOT_BOUNDARY;
      after = after || rec.key == "after-bnd";
    }
    return after && boundaries == kPartitions;
  });
  std::set<int32_t> partitions;
  uint64_t boundary_lsn = 0;
  std::map<int32_t, int64_t> boundary_offset;
  for (const Record& r : records) {
    EXPECT_NE(r.event.op(), v1::SNAPSHOT_READ) << r.key;
    if (r.event.op() != v1::SNAPSHOT_BOUNDARY) continue;
    EXPECT_TRUE(r.key.empty());
    EXPECT_FALSE(r.event.has_new_row());
    EXPECT_EQ(r.event.table(), "linear_issues");
    partitions.insert(r.partition);
    boundary_offset[r.partition] = r.offset;
    if (boundary_lsn == 0) boundary_lsn = r.event.commit_lsn();
    EXPECT_EQ(r.event.commit_lsn(), boundary_lsn);
  }
  EXPECT_EQ(partitions.size(), static_cast<size_t>(kPartitions));
  EXPECT_NE(boundary_lsn, 0u);
  for (const Record& r : records) {
    if (r.key != "after-bnd") continue;
    EXPECT_GT(r.event.commit_lsn(), boundary_lsn);
    EXPECT_GT(r.offset, boundary_offset[r.partition]);
  }
  EXPECT_TRUE(absl::StrContains(cdc->log(), "content=boundary")) << cdc->log();
  cdc->Signal(SIGTERM);
  EXPECT_EQ(cdc->Wait(absl::Seconds(30)), 0);
}

TEST_F(CdcStreamTest, KillNineAndRestartLosesNoCommittedRow) {
  auto cdc = StartCdc("never");
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok());
    for (int tx = 0; tx < 40; ++tx) {
      ASSERT_TRUE(
          (*conn)
              ->Exec(absl::StrCat(
                  "INSERT INTO subscribers_insights (distinct_id) SELECT 'k9-",
                  tx, "-' || i FROM generate_series(1, 50) i"))
              .ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    writing = false;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  cdc->Signal(SIGKILL);
  EXPECT_EQ(cdc->Wait(absl::Seconds(10)), 128 + SIGKILL);
  writer.join();
  cdc = StartCdc("never");
  auto records = ReadTopic(Topic("subscribers_insights"), [](const auto& r) {
    std::set<std::string> keys;
    for (const Record& rec : r) keys.insert(rec.key);
    return keys.size() >= 2000;  // each key once, however often delivered
  });
  std::set<std::string> keys;
  for (const Record& r : records) keys.insert(r.key);
  EXPECT_EQ(keys.size(), 2000u);
  cdc->Signal(SIGTERM);
  EXPECT_EQ(cdc->Wait(absl::Seconds(30)), 0);
}

TEST_F(CdcStreamTest, RefusesWithActionableMessages) {
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        BinaryPath("enrich-cdc"), "--metrics-addr=127.0.0.1:0",
        "--slot=" + name_, "--publication=" + name_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ChildProcess cdc(
        argv,
        {"ENRICH_PG_DSN=" + Services().pg_dsn,
         "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        absl::StrCat(::testing::TempDir(), "/", name_,
                     extra.empty() ? "" : extra[0].substr(2, 6), ".log"));
    EXPECT_EQ(cdc.Wait(absl::Seconds(30)), 1);
    return cdc.log();
  };
  ASSERT_TRUE(sql_->Exec("CREATE TABLE IF NOT EXISTS no_pk (a int)").ok());
  EXPECT_TRUE(absl::StrContains(run({"--tables=no_pk"}), "has no primary key"));
  EXPECT_TRUE(
      absl::StrContains(run({"--tables=missing_table"}), "does not exist"));
  ASSERT_TRUE(sql_->Exec("SELECT pg_create_logical_replication_slot("
                         "'wrong_plugin', 'test_decoding')")
                  .ok());
  EXPECT_TRUE(absl::StrContains(run({"--slot=wrong_plugin"}),
                                "uses plugin 'test_decoding'"));
}

}  // namespace
}  // namespace enrich::testing
