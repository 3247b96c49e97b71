// The fixture of the end-to-end tests: `enrich-cdc` and `enrich-processor
// run` as child processes against the harness's PostgreSQL and Kafka, a
// seeded random workload written to the source tables, and the checks that
// the pipeline drained and equals the contract's reference.
//
// "Drained" is established without looking at the enriched table:
//   1. the replication slot is confirmed past the WAL position taken after
//      the workload (enrich-cdc confirms only what Kafka acknowledged; its
//      heartbeat moves an idle slot forward), so every change is in Kafka;
//   2. the offsets the processor stored in PostgreSQL reach every
//      partition's high watermark, so every record was applied.
//
// Each test gets its own slot, publication, topic prefix and consumer group
// (named after the test); header-only, for one test binary each.
#ifndef ENRICH_TESTS_INTEGRATION_PROCESSOR_PIPELINE_FIXTURE_H_
#define ENRICH_TESTS_INTEGRATION_PROCESSOR_PIPELINE_FIXTURE_H_

#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
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

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::Services;

inline constexpr int kPartitions = 3;
inline const char* const kTables[] = {"raw_support_conversations",
                                      "support_conversation_messages",
                                      "subscribers_insights", "linear_issues"};

inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// Runs chunks of the random workload on its own connection until Stop(),
// so rebalances, crashes and faults happen under load. By default any failed
// chunk fails Stop(). With kSurviveFaults a failed chunk (the server
// restarted, the connection terminated: its open transaction rolls back)
// counts in `failed_chunks` and the writer reconnects, as an application
// would; `chunks` then counts only chunks that succeeded. kAdversarial runs
// RunAdversarialWorkload instead of RunRandomWorkload (stats() after Stop()).
class BackgroundWorkload {
 public:
  enum Faults { kFailOnError, kSurviveFaults };
  enum Mix { kRandom, kAdversarial };

  explicit BackgroundWorkload(uint64_t seed, Faults faults = kFailOnError,
                              Mix mix = kRandom)
      : writer_([this, seed, faults, mix] {
          auto conn = PgTestConnection::Connect(Services().pg_dsn);
          if (!conn.ok()) {
            failed_ = true;
            return;
          }
          std::mt19937_64 rng(seed);
          while (!stop_) {
            const absl::Status chunk =
                mix == kRandom
                    ? RunRandomWorkload(**conn, rng, 20)
                    : RunAdversarialWorkload(**conn, rng, 20, &stats_);
            if (chunk.ok()) {
              ++chunks;
            } else if (faults == kFailOnError) {
              failed_ = true;
              ++chunks;
            } else {
              ++failed_chunks;
              while (!stop_) {
                auto again = PgTestConnection::Connect(Services().pg_dsn);
                if (again.ok()) {
                  conn = std::move(again);
                  break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
              }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~BackgroundWorkload() { Stop(); }

  // Stops and joins; true when every chunk succeeded (kSurviveFaults: when
  // the writer could connect at all).
  bool Stop() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    return !failed_;
  }

  // Waits until `n` more chunks succeeded than when called.
  bool WaitForChunks(int n, absl::Duration timeout) {
    const int target = chunks + n;
    const absl::Time deadline = absl::Now() + timeout;
    while (chunks < target && absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return chunks >= target;
  }

  // What the kAdversarial writer did; read after Stop().
  const WorkloadStats& stats() const { return stats_; }

  std::atomic<int> chunks{0};
  std::atomic<int> failed_chunks{0};

 private:
  WorkloadStats stats_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread writer_;
};

class PipelineTest : public ::testing::Test {
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
    kafka_brokers_ = Services().kafka_brokers;
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

  // The environment of enrich-cdc and enrich-processor: the harness's
  // PostgreSQL, kafka_brokers_, and child_env_.
  std::vector<std::string> ChildEnvironment() const {
    std::vector<std::string> env = {"ENRICH_PG_DSN=" + Services().pg_dsn,
                                    "ENRICH_KAFKA_BROKERS=" + kafka_brokers_};
    env.insert(env.end(), child_env_.begin(), child_env_.end());
    return env;
  }

  // Starts enrich-cdc without waiting for it. `content`: its
  // --snapshot-content (boundary, rows).
  void LaunchCdc(const std::string& snapshot = "initial",
                 const std::string& content = "boundary") {
    cdc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            BinaryPath("enrich-cdc"), "--slot=" + name_,
            "--publication=" + name_, "--topic-prefix=" + name_,
            "--metrics-addr=127.0.0.1:0", "--snapshot=" + snapshot,
            "--snapshot-content=" + content, "--heartbeat-interval-ms=300",
            absl::StrCat("--topic-partitions=", kPartitions)},
        ChildEnvironment(), Log("cdc"));
  }

  // Starts enrich-cdc and waits until it streams.
  void StartCdc(const std::string& snapshot = "initial",
                const std::string& content = "boundary") {
    LaunchCdc(snapshot, content);
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
  // `extra`: more arguments (a declared view's --view=FILE).
  ChildProcess* StartProcessor(const std::string& group = "",
                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {
        BinaryPath("enrich-processor"),
        "run",
        "--topic-prefix=" + name_,
        "--group-id=" + (group.empty() ? group_ : group),
        "--metrics-addr=127.0.0.1:0",
        "--batch-max-wait-ms=100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    processors_.push_back(std::make_unique<ChildProcess>(
        std::move(argv), ChildEnvironment(), Log("processor")));
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

  // High watermark of every partition of the topics of `tables` (empty: the
  // four).
  std::map<std::pair<std::string, int>, int64_t> HighWatermarks(
      const std::vector<std::string>& tables = {}) {
    std::string error;
    std::unique_ptr<RdKafka::Conf> conf(
        RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", kafka_brokers_, error);
    for (const auto& [key, value] : kafka_client_settings_) {
      EXPECT_EQ(conf->set(key, value, error), RdKafka::Conf::CONF_OK) << key;
    }
    std::unique_ptr<RdKafka::Producer> client(
        RdKafka::Producer::create(conf.get(), error));
    EXPECT_NE(client, nullptr) << error;
    std::map<std::pair<std::string, int>, int64_t> out;
    if (client == nullptr) return out;
    const std::vector<std::string> all(std::begin(kTables), std::end(kTables));
    for (const std::string& table : tables.empty() ? all : tables) {
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

  // Every change committed so far is in Kafka and applied by the group:
  // the test's, or `group` consuming the topics of `tables` (a declared
  // view's).
  ::testing::AssertionResult WaitUntilDrained(
      absl::Duration timeout, const std::string& group = "",
      const std::vector<std::string>& tables = {}) {
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
    const auto high = HighWatermarks(tables);
    std::string missing;
    const bool applied = WaitFor(
        [&] {
          auto rows = sql_->Query(
              absl::StrCat("SELECT topic, partition, next_offset FROM "
                           "enrich_processor_offsets WHERE consumer_group = '",
                           group.empty() ? group_ : group, "'"));
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
  // The Kafka the pipeline and the test's own clients use: the harness's
  // unless a test sets them after SetUp() (another broker, and the settings
  // its clients need: child_env_ as NAME=value, e.g.
  // ENRICH_KAFKA_PROPERTIES=..., and the same as librdkafka properties).
  std::string kafka_brokers_;
  std::vector<std::string> child_env_;
  std::vector<std::pair<std::string, std::string>> kafka_client_settings_;
  std::string name_;
  std::string group_;
  int starts_ = 0;
  std::unique_ptr<ChildProcess> cdc_;
  std::vector<std::unique_ptr<ChildProcess>> processors_;
};

// A PipelineTest that stops and starts the harness's servers (the fault and
// chaos tests): skipped when the services were given through ENRICH_TEST_*;
// after each test both servers run again, even when it failed mid-fault.
class ServerFaultsTest : public PipelineTest {
 protected:
  void SetUp() override {
    if (!::enrich::testing::CanInjectServiceFaults()) {
      GTEST_SKIP() << "the services were given through ENRICH_TEST_*";
    }
    PipelineTest::SetUp();
  }

  void TearDown() override {
    if (!::enrich::testing::CanInjectServiceFaults()) return;
    // Both are no-ops when the server runs.
    EXPECT_TRUE(::enrich::testing::StartPostgres().ok());
    EXPECT_TRUE(::enrich::testing::StartKafka().ok());
    ReconnectSql();
    PipelineTest::TearDown();
  }

  // The test's own connection, after a fault closed it.
  void ReconnectSql() {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto conn = PgTestConnection::Connect(Services().pg_dsn);
          if (!conn.ok()) return false;
          sql_ = *std::move(conn);
          return true;
        },
        absl::Seconds(120)));
  }
};

}  // namespace enrich::processor::testing

#endif  // ENRICH_TESTS_INTEGRATION_PROCESSOR_PIPELINE_FIXTURE_H_
