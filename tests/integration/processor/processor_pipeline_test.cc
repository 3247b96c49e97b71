// The whole pipeline end to end against the real PostgreSQL and Kafka:
// `enrich-cdc` and `enrich-processor run` run as child processes; the test
// writes a seeded random workload to the source tables, waits until the
// pipeline has drained, and checks the contract's equality (EXCEPT ALL both
// ways) between enriched_support_conversations and the reference view. What
// "drained" means is in pipeline_fixture.h.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/pipeline_fixture.h"

namespace enrich::processor::testing {
namespace {

using ProcessorPipelineTest = PipelineTest;

TEST_F(ProcessorPipelineTest, RandomWorkloadDrainsToTheReference) {
  std::mt19937_64 rng(20240601);
  // Rows that exist before enrich-cdc starts reach Kafka as SNAPSHOT_READ
  // (the other tests take the default: the snapshot as a boundary only).
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 150).ok());
  StartCdc("initial", "rows");
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
  // Row by row, so the snapshot lasts long enough to be cut short; the
  // restart redoes it as a boundary (the default).
  LaunchCdc("initial", "rows");
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
