// The whole pipeline end to end against the real PostgreSQL and Kafka:
// `enrich-cdc` and `enrich-processor run` run as child processes; the test
// writes a seeded random workload to the source tables, waits until the
// pipeline has drained, and checks the contract's equality (EXCEPT ALL both
// ways) between enriched_support_conversations and the reference view.
//
// "Drained" is established without looking at the enriched table:
//   1. the replication slot is confirmed past the WAL position taken after
//      the workload (enrich-cdc confirms only what Kafka acknowledged; its
//      heartbeat moves an idle slot forward), so every change is in Kafka;
//   2. the offsets the processor stored in PostgreSQL reach every
//      partition's high watermark, so every record was applied.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor::testing {
namespace {

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::Services;

constexpr int kPartitions = 3;
const char* const kTables[] = {"raw_support_conversations",
                               "support_conversation_messages",
                               "subscribers_insights", "linear_issues"};

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// Runs chunks of the random workload on its own connection until Stop(),
// so rebalances and crashes happen under load.
class BackgroundWorkload {
 public:
  explicit BackgroundWorkload(uint64_t seed)
      : writer_([this, seed] {
          auto conn = PgTestConnection::Connect(Services().pg_dsn);
          if (!conn.ok()) {
            failed_ = true;
            return;
          }
          std::mt19937_64 rng(seed);
          while (!stop_) {
            if (!RunRandomWorkload(**conn, rng, 20).ok()) failed_ = true;
            ++chunks;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~BackgroundWorkload() { Stop(); }

  // Stops and joins; true when every chunk succeeded.
  bool Stop() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    return !failed_;
  }

  std::atomic<int> chunks{0};

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread writer_;
};

class ProcessorPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    sql_ = *std::move(conn);
    ASSERT_TRUE(PrepareTargetDatabase(*sql_).ok());
    ASSERT_TRUE(
        sql_->Exec("TRUNCATE raw_support_conversations, "
                   "support_conversation_messages, subscribers_insights, "
                   "linear_issues, enriched_support_conversations, "
                   "enrich_processor_offsets")
            .ok());
    for (const char* table : kTables) {
      ASSERT_TRUE(sql_->Exec(absl::StrCat("ALTER TABLE ", table,
                                          " REPLICA IDENTITY FULL"))
                      .ok());
    }
    name_ = absl::StrCat(
        "p_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : name_) c = std::tolower(c);
    group_ = name_;
  }

  void TearDown() override {
    for (auto& p : processors_) StopGracefully(p.get());
    if (cdc_ != nullptr) StopGracefully(cdc_.get());
    // The slot would hold WAL for every later test.
    WaitFor(
        [&] {
          return sql_
              ->Exec(absl::StrCat(
                  "SELECT pg_drop_replication_slot(slot_name) FROM "
                  "pg_replication_slots WHERE slot_name = '",
                  name_, "'"))
              .ok();
        },
        absl::Seconds(10));
    EXPECT_TRUE(
        sql_->Exec(absl::StrCat("DROP PUBLICATION IF EXISTS ", name_)).ok());
  }

  static void StopGracefully(ChildProcess* child) {
    if (child == nullptr || !child->running()) return;
    child->Signal(SIGTERM);
    EXPECT_EQ(child->Wait(absl::Seconds(60)), 0) << child->log();
  }

  std::string Log(const std::string& what) {
    return absl::StrCat(::testing::TempDir(), "/", name_, "-", what, "-",
                        ++starts_, ".log");
  }

  // Starts enrich-cdc without waiting for it.
  void LaunchCdc(const std::string& snapshot = "initial") {
    cdc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            BinaryPath("enrich-cdc"), "--slot=" + name_,
            "--publication=" + name_, "--topic-prefix=" + name_,
            "--metrics-addr=127.0.0.1:0", "--snapshot=" + snapshot,
            "--heartbeat-interval-ms=300",
            absl::StrCat("--topic-partitions=", kPartitions)},
        std::vector<std::string>{
            "ENRICH_PG_DSN=" + Services().pg_dsn,
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        Log("cdc"));
  }

  // Starts enrich-cdc and waits until it streams.
  void StartCdc(const std::string& snapshot = "initial") {
    LaunchCdc(snapshot);
    ASSERT_TRUE(WaitFor(
        [&] {
          return !cdc_->running() ||
                 absl::StrContains(cdc_->log(), "msg=streaming");
        },
        absl::Seconds(90)));
    ASSERT_TRUE(absl::StrContains(cdc_->log(), "msg=streaming")) << cdc_->log();
  }

  // Starts one more processor instance in the test's group and waits until
  // it is consuming.
  ChildProcess* StartProcessor(const std::string& group = "") {
    processors_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{
            BinaryPath("enrich-processor"), "run", "--topic-prefix=" + name_,
            "--group-id=" + (group.empty() ? group_ : group),
            "--metrics-addr=127.0.0.1:0", "--batch-max-wait-ms=100"},
        std::vector<std::string>{
            "ENRICH_PG_DSN=" + Services().pg_dsn,
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        Log("processor")));
    ChildProcess* p = processors_.back().get();
    EXPECT_TRUE(WaitFor(
        [&] {
          return !p->running() || absl::StrContains(p->log(), "msg=consuming");
        },
        absl::Seconds(60)));
    EXPECT_TRUE(p->running()) << p->log();
    return p;
  }

  std::string Topic(const std::string& table) const {
    return absl::StrCat(name_, ".public.", table);
  }

  // High watermark of every partition of the four topics.
  std::map<std::pair<std::string, int>, int64_t> HighWatermarks() {
    std::string error;
    std::unique_ptr<RdKafka::Conf> conf(
        RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", Services().kafka_brokers, error);
    std::unique_ptr<RdKafka::Producer> client(
        RdKafka::Producer::create(conf.get(), error));
    std::map<std::pair<std::string, int>, int64_t> out;
    for (const char* table : kTables) {
      for (int p = 0; p < kPartitions; ++p) {
        int64_t low = 0, high = 0;
        RdKafka::ErrorCode err = client->query_watermark_offsets(
            Topic(table), p, &low, &high, 10000);
        EXPECT_EQ(err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(err);
        out[{Topic(table), p}] = high;
      }
    }
    return out;
  }

  // Every change committed so far is in Kafka and applied by the group.
  ::testing::AssertionResult WaitUntilDrained(absl::Duration timeout) {
    auto lsn = sql_->QueryValue("SELECT pg_current_wal_lsn()");
    if (!lsn.ok()) return ::testing::AssertionFailure() << lsn.status();
    const bool published = WaitFor(
        [&] {
          auto done = sql_->QueryValue(absl::StrCat(
              "SELECT confirmed_flush_lsn >= '", *lsn,
              "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '", name_,
              "'"));
          return done.ok() && *done == "t";
        },
        timeout);
    if (!published) {
      return ::testing::AssertionFailure()
             << "slot not confirmed past " << *lsn << "\n"
             << cdc_->log();
    }
    const auto high = HighWatermarks();
    std::string missing;
    const bool applied = WaitFor(
        [&] {
          auto rows = sql_->Query(
              absl::StrCat("SELECT topic, partition, next_offset FROM "
                           "enrich_processor_offsets WHERE consumer_group = '",
                           group_, "'"));
          if (!rows.ok()) return false;
          std::map<std::pair<std::string, int>, int64_t> stored;
          for (const auto& r : *rows) {
            stored[{*r[0], std::stoi(*r[1])}] = std::stoll(*r[2]);
          }
          missing.clear();
          for (const auto& [tp, h] : high) {
            if (h > 0 && stored[tp] < h) {
              absl::StrAppend(&missing, tp.first, "/", tp.second, " ",
                              stored[tp], "<", h, " ");
            }
          }
          return missing.empty();
        },
        timeout);
    if (!applied) {
      std::string logs;
      for (auto& p : processors_) absl::StrAppend(&logs, p->log(), "\n---\n");
      return ::testing::AssertionFailure()
             << "offsets not applied: " << missing << "\n"
             << logs;
    }
    return ::testing::AssertionSuccess();
  }

  void ExpectEqualToReference() {
    auto difference = DifferenceFromReference(*sql_);
    ASSERT_TRUE(difference.ok()) << difference.status();
    EXPECT_EQ(*difference, 0) << DescribeDifference(*sql_);
    auto rows =
        sql_->QueryValue("SELECT count(*) FROM enriched_support_conversations");
    ASSERT_TRUE(rows.ok());
    // The check means something only when the workload left rows behind.
    EXPECT_GT(std::stoll(*rows), 10) << "too few rows";
  }

  std::unique_ptr<PgTestConnection> sql_;
  std::string name_;
  std::string group_;
  int starts_ = 0;
  std::unique_ptr<ChildProcess> cdc_;
  std::vector<std::unique_ptr<ChildProcess>> processors_;
};

TEST_F(ProcessorPipelineTest, RandomWorkloadDrainsToTheReference) {
  std::mt19937_64 rng(20240601);
  // Rows that exist before enrich-cdc starts reach Kafka as SNAPSHOT_READ.
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  StartCdc();
  StartProcessor();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 600).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  // Conversations without messages are part of it.
  auto empty = sql_->QueryValue(
      "SELECT count(*) FROM enriched_support_conversations WHERE "
      "message_count = 0 AND all_messages IS NULL");
  ASSERT_TRUE(empty.ok());
  EXPECT_GT(std::stoll(*empty), 0);
}

// The start-up of a pipeline beside a database that keeps changing: the
// table already holds rows (an earlier deployment, or migrate's backfill),
// conversations and messages keep being inserted, moved and deleted while
// enrich-cdc creates its slot and snapshots, and the processor starts after
// it. Rows of conversations deleted before the slot existed are named by no
// event; the snapshot's rebuild removes them.
TEST_F(ProcessorPipelineTest, WritesThroughoutStartUpConvergeToTheReference) {
  std::mt19937_64 rng(31337);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  // The table as a backfill leaves it: every row, as of now.
  ChildProcess reconcile({BinaryPath("enrich-processor"), "reconcile",
                          "--metrics-addr=127.0.0.1:0"},
                         {"ENRICH_PG_DSN=" + Services().pg_dsn},
                         Log("reconcile"));
  ASSERT_EQ(reconcile.Wait(absl::Seconds(120)), 0) << reconcile.log();
  ExpectEqualToReference();
  BackgroundWorkload workload(4242);
  std::atomic<int>& chunks = workload.chunks;
  // Changes no slot records: the rows they leave behind are stale.
  ASSERT_TRUE(WaitFor([&] { return chunks >= 5; }, absl::Seconds(60)));
  StartCdc();
  const int chunks_at_cdc = chunks;
  WaitFor([&] { return chunks >= chunks_at_cdc + 3; }, absl::Seconds(60));
  StartProcessor();
  const int chunks_at_processor = chunks;
  WaitFor([&] { return chunks >= chunks_at_processor + 5; }, absl::Seconds(60));
  ASSERT_TRUE(workload.Stop());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  EXPECT_TRUE(
      absl::StrContains(processors_.back()->log(), "msg=\"snapshot rebuilt\""))
      << processors_.back()->log();
}

// A slot lost underneath the pipeline (dropped by an operator, or
// invalidated): changes made while no slot exists are never streamed.
// enrich-cdc creates a new slot and snapshot; the processor's rebuild
// applies what no event reports, deletions included.
TEST_F(ProcessorPipelineTest, SlotDroppedAndRecreatedConvergesToTheReference) {
  std::mt19937_64 rng(2718);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  StartCdc();
  StartProcessor();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  StopGracefully(cdc_.get());
  ASSERT_TRUE(
      sql_->Exec(absl::StrCat("SELECT pg_drop_replication_slot('", name_, "')"))
          .ok());
  // Unrecorded: deletes of whole conversations, and more of everything.
  ASSERT_TRUE(sql_->Exec("DELETE FROM raw_support_conversations WHERE id IN "
                         "(SELECT id FROM raw_support_conversations ORDER BY "
                         "id LIMIT 10)")
                  .ok());
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 50).ok());
  StartCdc();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 100).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
}

// enrich-cdc killed while it publishes its initial snapshot, with writes
// going on: the restart redoes the snapshot from a new slot, and the
// processor has consumed part of the first one meanwhile.
TEST_F(ProcessorPipelineTest,
       CdcKilledDuringItsSnapshotConvergesToTheReference) {
  std::mt19937_64 rng(1618);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 100).ok());
  // Enough rows that the snapshot takes a while.
  ASSERT_TRUE(
      sql_->Exec("INSERT INTO raw_support_conversations (id, source, "
                 "external_id, title, created_at, updated_at) SELECT "
                 "gen_random_uuid(), 'zendesk', 'bulk-' || g, 'bulk', now(), "
                 "now() FROM generate_series(1, 50000) g; "
                 "INSERT INTO support_conversation_messages (id, "
                 "conversation_id, author_type, body, created_at) SELECT "
                 "gen_random_uuid(), c.id, 'user', repeat('x', 200), now() "
                 "FROM raw_support_conversations c, generate_series(1, 3)")
          .ok());
  StartProcessor();
  BackgroundWorkload workload(1414);
  LaunchCdc();
  // The topics exist once the slot is created.
  ASSERT_TRUE(WaitFor(
      [&] {
        return !cdc_->running() ||
               absl::StrContains(cdc_->log(),
                                 "msg=\"replication slot created\"");
      },
      absl::Seconds(90)))
      << cdc_->log();
  // Some of the snapshot is in Kafka.
  ASSERT_TRUE(WaitFor(
      [&] {
        int64_t published = 0;
        for (const auto& [tp, high] : HighWatermarks()) published += high;
        return !cdc_->running() || published > 0;
      },
      absl::Seconds(90)))
      << cdc_->log();
  cdc_->Signal(SIGKILL);
  EXPECT_EQ(cdc_->Wait(absl::Seconds(10)), 128 + SIGKILL);
  const bool snapshot_cut_short =
      !absl::StrContains(cdc_->log(), "msg=\"snapshot published\"");
  // Conversations the processor has rows for, from the cut-short snapshot,
  // deleted while no slot records anything.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto n = sql_->QueryValue(
            "SELECT count(*) FROM enriched_support_conversations WHERE title "
            "= 'bulk'");
        return n.ok() && std::stoll(*n) >= 100;
      },
      absl::Seconds(60)));
  ASSERT_TRUE(sql_->Exec("DELETE FROM raw_support_conversations WHERE id IN "
                         "(SELECT id FROM enriched_support_conversations "
                         "WHERE title = 'bulk' LIMIT 100)")
                  .ok());
  StartCdc();
  EXPECT_TRUE(absl::StrContains(cdc_->log(), "redoing it")) << cdc_->log();
  const int chunks_at_restart = workload.chunks;
  WaitFor([&] { return workload.chunks >= chunks_at_restart + 5; },
          absl::Seconds(60));
  ASSERT_TRUE(workload.Stop());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(240)));
  ExpectEqualToReference();
  // Only meaningful if the kill landed inside the snapshot.
  EXPECT_TRUE(snapshot_cut_short) << "the snapshot finished before the kill";
}

TEST_F(ProcessorPipelineTest, UndecodableRecordGoesToDeadLetterTopic) {
  StartCdc();
  ChildProcess* processor = StartProcessor();
  // A record that is not a ChangeEvent, and one naming an unknown table.
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", Services().kafka_brokers, error);
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(conf.get(), error));
  ASSERT_NE(producer, nullptr) << error;
  const std::string garbage = "\xff\xfe not protobuf";
  v1::ChangeEvent unknown;
  unknown.set_op(v1::INSERT);
  unknown.set_schema("public");
  unknown.set_table("no_such_table");
  const std::string unknown_bytes = unknown.SerializeAsString();
  for (const std::string* value : {&garbage, &unknown_bytes}) {
    ASSERT_EQ(producer->produce(Topic("linear_issues"), 0,
                                RdKafka::Producer::RK_MSG_COPY,
                                const_cast<char*>(value->data()), value->size(),
                                "bad-key", 7, 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  // The processor continues: later changes are applied.
  std::mt19937_64 rng(7);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(120)));
  ExpectEqualToReference();
  EXPECT_TRUE(processor->running());
  EXPECT_TRUE(absl::StrContains(processor->log(), "msg=\"dead letter\""))
      << processor->log();

  // Both records are on the dead-letter topic, bytes unchanged, with a
  // reason.
  std::unique_ptr<RdKafka::Conf> cconf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  cconf->set("bootstrap.servers", Services().kafka_brokers, error);
  cconf->set("group.id", name_ + "-reader", error);
  cconf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), error));
  ASSERT_NE(consumer, nullptr) << error;
  std::vector<RdKafka::TopicPartition*> partitions = {
      RdKafka::TopicPartition::create(name_ + ".dead_letter", 0,
                                      RdKafka::Topic::OFFSET_BEGINNING)};
  ASSERT_EQ(consumer->assign(partitions), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(partitions);
  std::map<std::string, std::string> reasons;  // value -> reason
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (reasons.size() < 2 && absl::Now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    std::string value(static_cast<const char*>(m->payload()), m->len());
    std::string reason;
    if (RdKafka::Headers* h = m->headers()) {
      for (const RdKafka::Headers::Header& header :
           h->get("enrich-dead-letter-reason")) {
        reason.assign(static_cast<const char*>(header.value()),
                      header.value_size());
      }
    }
    reasons[value] = reason;
  }
  consumer->close();
  ASSERT_EQ(reasons.count(garbage), 1u);
  EXPECT_TRUE(absl::StrContains(reasons[garbage], "not a serialized"))
      << reasons[garbage];
  ASSERT_EQ(reasons.count(unknown_bytes), 1u);
  EXPECT_TRUE(absl::StrContains(reasons[unknown_bytes], "no_such_table"))
      << reasons[unknown_bytes];
}

TEST_F(ProcessorPipelineTest, TwoProcessorsInOneGroupShareTheWork) {
  std::mt19937_64 rng(424242);
  StartCdc();
  ChildProcess* first = StartProcessor();
  // Writes continuously until told to stop, so the rebalance below happens
  // under load.
  BackgroundWorkload workload(99);
  std::atomic<int>& chunks = workload.chunks;
  ASSERT_TRUE(WaitFor([&] { return chunks >= 5; }, absl::Seconds(30)));
  // The second instance joins mid-workload.
  ChildProcess* second = StartProcessor();
  const bool both_assigned = WaitFor(
      [&] {
        return absl::StrContains(second->log(), "partitions assigned") &&
               absl::StrContains(first->log(), "partitions revoked");
      },
      absl::Seconds(90));
  const int chunks_at_rebalance = chunks;
  WaitFor([&] { return chunks >= chunks_at_rebalance + 10; },
          absl::Seconds(60));
  ASSERT_TRUE(workload.Stop());
  ASSERT_TRUE(both_assigned) << first->log() << "\n---\n" << second->log();
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  // Stopping one hands its partitions to the other, which keeps up.
  StopGracefully(second);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
}

TEST_F(ProcessorPipelineTest, KillNineMidRunThenRestartIsExact) {
  StartCdc();
  ChildProcess* processor = StartProcessor();
  // Writes continuously: before, during and after the crash.
  BackgroundWorkload workload(1234);
  std::atomic<int>& chunks = workload.chunks;
  // Kill once some batches were committed and more are coming.
  const bool progressed = WaitFor(
      [&] {
        auto n = sql_->QueryValue(
            absl::StrCat("SELECT coalesce(sum(next_offset), 0) FROM "
                         "enrich_processor_offsets WHERE consumer_group = '",
                         group_, "'"));
        return n.ok() && std::stoll(*n) > 200;
      },
      absl::Seconds(60));
  processor->Signal(SIGKILL);
  EXPECT_EQ(processor->Wait(absl::Seconds(10)), 128 + SIGKILL);
  const int chunks_at_kill = chunks;
  WaitFor([&] { return chunks >= chunks_at_kill + 10; }, absl::Seconds(60));
  StartProcessor();
  const int chunks_at_restart = chunks;
  WaitFor([&] { return chunks >= chunks_at_restart + 10; }, absl::Seconds(60));
  const bool workload_ok = workload.Stop();
  ASSERT_TRUE(progressed);
  ASSERT_TRUE(workload_ok);
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
}

TEST_F(ProcessorPipelineTest, NewGroupReplaysFromTheBeginningIntoEmptyTable) {
  std::mt19937_64 rng(5150);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 200).ok());
  StartCdc();
  StartProcessor();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 300).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  StopGracefully(processors_.back().get());
  // Empty the table; a new group has no stored offsets, so it starts from
  // each partition's beginning: the snapshot, then every change.
  ASSERT_TRUE(sql_->Exec("TRUNCATE enriched_support_conversations").ok());
  group_ = name_ + "_replay";
  StartProcessor(group_);
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
}

TEST_F(ProcessorPipelineTest, ReplayFromBeginningRebuildsAnEmptyTable) {
  std::mt19937_64 rng(8080);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 200).ok());
  StartCdc();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 300).ok());
  // Everything is in Kafka (no processor has run: the table is empty).
  auto lsn = sql_->QueryValue("SELECT pg_current_wal_lsn()");
  ASSERT_TRUE(lsn.ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto done = sql_->QueryValue(absl::StrCat(
            "SELECT confirmed_flush_lsn >= '", *lsn,
            "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '", name_,
            "'"));
        return done.ok() && *done == "t";
      },
      absl::Seconds(120)));
  ChildProcess replay({BinaryPath("enrich-processor"), "replay",
                       "--from-beginning", "--topic-prefix=" + name_,
                       "--group-id=" + name_, "--metrics-addr=127.0.0.1:0"},
                      {"ENRICH_PG_DSN=" + Services().pg_dsn,
                       "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
                      Log("replay"));
  ASSERT_EQ(replay.Wait(absl::Seconds(180)), 0) << replay.log();
  EXPECT_TRUE(absl::StrContains(replay.log(), "msg=\"replay finished\""))
      << replay.log();
  EXPECT_TRUE(absl::StrContains(replay.log(), "remaining=0")) << replay.log();
  ExpectEqualToReference();
  // The replay's progress is kept apart from run's offsets.
  auto run_offsets = sql_->QueryValue(absl::StrCat(
      "SELECT count(*) FROM enrich_processor_offsets WHERE consumer_group = '",
      name_, "'"));
  ASSERT_TRUE(run_offsets.ok());
  EXPECT_EQ(*run_offsets, "0");
}

}  // namespace
}  // namespace enrich::processor::testing
