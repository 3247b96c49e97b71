// enrich-cdc under stress and failure, end to end against the real PostgreSQL
// and Kafka: a million-row transaction in bounded memory, TRUNCATE, schema
// changes mid-stream, heartbeats on an idle publication, a standby taking
// over from a killed process, secrets kept out of logs, and SIGTERM while
// writes are flowing. The binary runs as a child process; the test writes to
// the source and reads the topics back with a consumer.
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"
#include "tests/support/topic_reader.h"

namespace enrich::testing {
namespace {

constexpr int kPartitions = 3;  // --topic-partitions below
constexpr char kSecret[] = "hunter2-secret";

std::vector<std::string> ColumnNames(const v1::Row& row) {
  std::vector<std::string> names;
  for (const v1::Column& c : row.columns()) names.push_back(c.name());
  return names;
}

// "16/B374D848" -> 0x16B374D848.
uint64_t ParseLsn(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  uint64_t hi = 0, lo = 0;
  if (parts.size() != 2 || !absl::SimpleHexAtoi(parts[0], &hi) ||
      !absl::SimpleHexAtoi(parts[1], &lo)) {
    ADD_FAILURE() << "not an LSN: " << text;
    return 0;
  }
  return (hi << 32) | lo;
}

// A field of /proc/<pid>/status in kB (VmRSS, VmHWM); -1 when unreadable.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, field + ":")) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kb = -1;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb;
  }
  return -1;
}

int CountOccurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration step = absl::Milliseconds(50)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(step));
  }
  return true;
}

// A thread running `body` until Stop(); stopped and joined however the test
// body exits (an ASSERT returning early must not leave it joinable).
class BackgroundLoop {
 public:
  explicit BackgroundLoop(std::function<void(const std::atomic<bool>&)> body)
      : thread_([this, body = std::move(body)] { body(running_); }) {}
  ~BackgroundLoop() { Stop(); }
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;
  void Stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// A TCP port on 127.0.0.1 that refuses connections: bound, never listening,
// held for the object's lifetime so nothing else can take it.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Inserts `rows` rows keyed "<prefix>-<tx>-<i>" into subscribers_insights in
// one transaction; adds the keys to `committed` only once it committed.
bool InsertBatch(PgTestConnection& conn, const std::string& prefix, int tx,
                 int rows, std::set<std::string>* committed) {
  absl::Status s = conn.Exec(absl::StrCat(
      "INSERT INTO subscribers_insights (distinct_id, income) SELECT '", prefix,
      "-", tx, "-' || i, 'batch' FROM generate_series(1, ", rows, ") i"));
  EXPECT_TRUE(s.ok()) << s;
  if (!s.ok()) return false;
  for (int i = 1; i <= rows; ++i) {
    committed->insert(absl::StrCat(prefix, "-", tx, "-", i));
  }
  return true;
}

// The keys of `committed` that do not reach `topic` within two minutes.
std::vector<std::string> MissingFromTopic(
    const std::string& topic, const std::set<std::string>& committed) {
  std::set<std::string> seen;
  TopicReader reader(kPartitions, topic, /*keep=*/false);
  reader.on_record = [&](const Record& r) { seen.insert(r.key); };
  reader.ReadUntil(
      [&] {
        return std::includes(seen.begin(), seen.end(), committed.begin(),
                             committed.end());
      },
      absl::Seconds(120));
  std::vector<std::string> missing;
  std::set_difference(committed.begin(), committed.end(), seen.begin(),
                      seen.end(), std::back_inserter(missing));
  return missing;
}

class CdcResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    sql_ = *std::move(conn);
    absl::Status full = SetContractTablesReplicaIdentityFull(*sql_);
    ASSERT_TRUE(full.ok()) << full;
    // Slot, publication, topic prefix and table names: unique per test and
    // per run (a repeated test, or services shared between runs, must not
    // read an earlier run's topics), within PostgreSQL's 63 bytes.
    static const std::string run =
        absl::StrCat(absl::ToUnixMillis(absl::Now()) % 100000000);
    static int tests_started = 0;
    std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) c = std::tolower(c);
    name_ =
        absl::StrCat("r_", test.substr(0, 34), "_", run, "_", ++tests_started);
  }

  // The children are gone by now (they are locals of the test body): drop
  // the slot so it does not pin WAL for the tests that follow.
  void TearDown() override {
    if (sql_ == nullptr) return;
    // The walsender of a killed child may take a moment to notice.
    WaitFor([&] { return !SlotActive(); }, absl::Seconds(30),
            absl::Milliseconds(100));
    EXPECT_TRUE(
        sql_->Exec(absl::StrCat("SELECT pg_drop_replication_slot(slot_name) "
                                "FROM pg_replication_slots WHERE slot_name = '",
                                name_, "'"))
            .ok());
    EXPECT_TRUE(
        sql_->Exec(absl::StrCat("DROP PUBLICATION IF EXISTS ", name_)).ok());
    EXPECT_TRUE(
        sql_->Exec(absl::StrCat("DO $$ BEGIN IF to_regclass("
                                "'enrich_cdc_snapshots') IS NOT NULL THEN "
                                "DELETE FROM enrich_cdc_snapshots WHERE "
                                "slot_name = '",
                                name_, "'; END IF; END $$"))
            .ok());
    for (const std::string& statement : cleanup_) {
      absl::Status s = sql_->Exec(statement);
      EXPECT_TRUE(s.ok()) << statement << ": " << s;
    }
  }

  // Runs enrich-cdc on this test's slot, publication and topic prefix.
  std::unique_ptr<ChildProcess> Launch(std::vector<std::string> extra_args,
                                       bool wait_for_streaming = true) {
    std::vector<std::string> argv = {
        BinaryPath("enrich-cdc"),
        "--slot=" + name_,
        "--publication=" + name_,
        "--topic-prefix=" + name_,
        "--metrics-addr=127.0.0.1:0",
        "--snapshot=never",
        "--heartbeat-interval-ms=500",
        absl::StrCat("--topic-partitions=", kPartitions),
        "--spill-dir=" + ::testing::TempDir()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto cdc = std::make_unique<ChildProcess>(
        argv,
        std::vector<std::string>{
            "ENRICH_PG_DSN=" + Services().pg_dsn,
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        LogPath());
    if (wait_for_streaming) {
      EXPECT_TRUE(WaitForLog(*cdc, "msg=streaming", absl::Seconds(60)))
          << cdc->log();
    }
    return cdc;
  }

  // A fresh log file per child of this test.
  std::string LogPath() {
    return absl::StrCat(::testing::TempDir(), "/", name_, "-", ++starts_,
                        ".log");
  }

  static bool WaitForLog(ChildProcess& child, const std::string& needle,
                         absl::Duration timeout) {
    return WaitFor(
               [&] {
                 return absl::StrContains(child.log(), needle) ||
                        !child.running();
               },
               timeout) &&
           absl::StrContains(child.log(), needle);
  }

  std::string Topic(const std::string& table) {
    return absl::StrCat(name_, ".public.", table);
  }

  // The slot's confirmed_flush_lsn; 0 when the slot or the value is missing.
  uint64_t ConfirmedFlushLsn() {
    auto rows = sql_->Query(absl::StrCat(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
        "slot_name = '",
        name_, "'"));
    if (!rows.ok() || rows->empty() || !(*rows)[0][0]) return 0;
    return ParseLsn(*(*rows)[0][0]);
  }

  bool SlotActive() {
    auto rows = sql_->Query(absl::StrCat(
        "SELECT active FROM pg_replication_slots WHERE slot_name = '", name_,
        "'"));
    return rows.ok() && !rows->empty() && (*rows)[0][0] == "t";
  }

  uint64_t CurrentWalLsn() {
    auto lsn = sql_->QueryValue("SELECT pg_current_wal_lsn()");
    EXPECT_TRUE(lsn.ok()) << lsn.status();
    return lsn.ok() ? ParseLsn(*lsn) : 0;
  }

  void StopCleanly(ChildProcess& cdc) {
    if (cdc.running()) cdc.Signal(SIGTERM);
    EXPECT_EQ(cdc.Wait(absl::Seconds(60)), 0) << cdc.log();
  }

  std::unique_ptr<PgTestConnection> sql_;
  std::string name_;
  std::vector<std::string> cleanup_;  // run by TearDown after the slot drop
  int starts_ = 0;
};

// Issue 3, Tests: "a 1,000,000-row transaction with RSS staying under 128 MB".
TEST_F(CdcResilienceTest, MillionRowTransactionInBoundedMemory) {
  constexpr int kRows = 1000000;
  constexpr int64_t kRssLimitKb = 128 * 1024;
  cleanup_.push_back("TRUNCATE linear_issues");
  auto cdc = Launch({"--tables=linear_issues"});
  ASSERT_TRUE(cdc->running()) << cdc->log();
  // pgoutput v2: the server streams the in-progress transaction instead of
  // holding it until commit.
  EXPECT_TRUE(absl::StrContains(cdc->log(), "protocol=2")) << cdc->log();

  std::atomic<int64_t> max_rss_kb{0};
  BackgroundLoop sampler([&](const std::atomic<bool>& sampling) {
    while (sampling.load()) {
      const int64_t rss = ProcStatusKb(cdc->pid(), "VmRSS");
      if (rss > max_rss_kb.load()) max_rss_kb.store(rss);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  const uint64_t before = CurrentWalLsn();
  const absl::Time start = absl::Now();
  ASSERT_TRUE(sql_->Exec(absl::StrCat("INSERT INTO linear_issues (id, "
                                      "identifier, title) SELECT 'big-' || i, "
                                      "'BIG-' || i, 'row ' || i FROM "
                                      "generate_series(1, ",
                                      kRows, ") i"))
                  .ok());
  const absl::Duration insert_time = absl::Now() - start;

  std::unordered_set<std::string> keys;
  keys.reserve(kRows);
  std::set<uint32_t> xids;
  uint64_t end_lsn = 0, last_in_tx = 0, foreign_keys = 0;
  TopicReader reader(kPartitions, Topic("linear_issues"), /*keep=*/false);
  reader.on_record = [&](const Record& r) {
    if (r.tombstone) return;
    if (!absl::StartsWith(r.key, "big-")) ++foreign_keys;
    keys.insert(r.key);
    xids.insert(r.event.xid());
    end_lsn = std::max<uint64_t>(end_lsn, r.event.end_lsn());
    if (r.event.last_in_tx()) ++last_in_tx;
  };
  EXPECT_TRUE(
      reader.ReadUntil([&] { return keys.size() >= kRows; }, absl::Minutes(5)))
      << keys.size() << " distinct keys\n"
      << cdc->log();
  const absl::Duration stream_time = absl::Now() - start;
  sampler.Stop();
  const int64_t hwm_kb = ProcStatusKb(cdc->pid(), "VmHWM");

  EXPECT_EQ(keys.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(foreign_keys, 0u);
  EXPECT_EQ(xids.size(), 1u);  // one transaction, one xid on every event
  EXPECT_GE(last_in_tx, 1u);
  EXPECT_GT(end_lsn, before);
  std::cout << "[ measure  ] 1M-row transaction: insert "
            << absl::FormatDuration(insert_time) << ", all keys read back "
            << absl::FormatDuration(stream_time) << " after the insert began"
            << ", enrich-cdc VmHWM " << hwm_kb / 1024 << " MB, max sampled "
            << "VmRSS " << max_rss_kb.load() / 1024 << " MB" << std::endl;
  RecordProperty("vm_hwm_kb", std::to_string(hwm_kb));
  RecordProperty("max_vm_rss_kb", std::to_string(max_rss_kb.load()));
  ASSERT_GT(hwm_kb, 0) << "cannot read /proc/" << cdc->pid() << "/status";
  EXPECT_LT(hwm_kb, kRssLimitKb);
  EXPECT_LT(max_rss_kb.load(), kRssLimitKb);

  // The slot is confirmed past the transaction once Kafka has it all.
  EXPECT_TRUE(WaitFor([&] { return ConfirmedFlushLsn() >= end_lsn; },
                      absl::Seconds(60)))
      << "confirmed " << ConfirmedFlushLsn() << " < end " << end_lsn;
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, TruncateReachesEveryPartitionWithItsFlags) {
  auto cdc = Launch({});  // the four contract tables
  const std::string conv = "55555555-0000-0000-0000-000000000001";
  ASSERT_TRUE(sql_->Exec("INSERT INTO linear_issues (id, identifier) VALUES "
                         "('trunc-1', 'TR-1')")
                  .ok());
  ASSERT_TRUE(sql_->Exec("TRUNCATE linear_issues").ok());
  ASSERT_TRUE(
      sql_
          ->Exec(absl::StrCat(
              "INSERT INTO raw_support_conversations (id, source, external_id, "
              "created_at, updated_at) VALUES ('",
              conv,
              "', 'zendesk', 'trunc-1', now(), now());"
              "INSERT INTO support_conversation_messages (id, conversation_id, "
              "body, created_at) VALUES "
              "('66666666-0000-0000-0000-000000000001', '",
              conv, "', 'bye', now())"))
          .ok());
  // CASCADE empties the messages too: both are in one Truncate message.
  ASSERT_TRUE(
      sql_->Exec("TRUNCATE raw_support_conversations RESTART IDENTITY CASCADE")
          .ok());

  struct Expected {
    std::string table;
    bool cascade;
    bool restart_identity;
  };
  for (const Expected& want :
       {Expected{"linear_issues", false, false},
        Expected{"raw_support_conversations", true, true},
        Expected{"support_conversation_messages", true, true}}) {
    SCOPED_TRACE(want.table);
    TopicReader reader(kPartitions, Topic(want.table));
    auto truncates = [&] {
      int n = 0;
      for (const Record& r : reader.records()) {
        n += !r.tombstone && r.event.op() == v1::TRUNCATE;
      }
      return n;
    };
    ASSERT_TRUE(reader.ReadUntil([&] { return truncates() >= kPartitions; },
                                 absl::Seconds(60)))
        << truncates() << " truncate events\n"
        << cdc->log();
    // A little longer: a fourth TRUNCATE would be a duplicate.
    reader.ReadUntil([] { return false; }, absl::Seconds(2));
    ASSERT_EQ(truncates(), kPartitions);
    std::set<int32_t> partitions;
    const Record* insert = nullptr;
    for (const Record& r : reader.records()) {
      if (r.event.op() == v1::INSERT) insert = &r;
      if (r.event.op() != v1::TRUNCATE) continue;
      partitions.insert(r.partition);
      EXPECT_EQ(r.event.schema(), "public");
      EXPECT_EQ(r.event.table(), want.table);
      EXPECT_EQ(r.event.truncate_cascade(), want.cascade);
      EXPECT_EQ(r.event.truncate_restart_identity(), want.restart_identity);
      EXPECT_EQ(r.event.new_row().columns_size(), 0);
      EXPECT_EQ(r.event.old_row().columns_size(), 0);
      EXPECT_GT(r.event.commit_lsn(), 0u);
    }
    EXPECT_EQ(partitions, (std::set<int32_t>{0, 1, 2}));
    ASSERT_NE(insert, nullptr);
    // On the insert's partition the TRUNCATE comes after it.
    for (const Record& r : reader.records()) {
      if (r.event.op() == v1::TRUNCATE && r.partition == insert->partition) {
        EXPECT_GT(r.offset, insert->offset);
        EXPECT_GT(r.event.commit_lsn(), insert->event.commit_lsn());
      }
    }
  }
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, SchemaChangeMidStreamTakesEffectWithoutRestart) {
  const std::string table = name_ + "_t";
  cleanup_.push_back(absl::StrCat("DROP TABLE IF EXISTS ", table));
  ASSERT_TRUE(sql_->Exec(absl::StrCat("DROP TABLE IF EXISTS ", table,
                                      "; CREATE TABLE ", table,
                                      " (id int PRIMARY KEY, a text, n int); "
                                      "ALTER TABLE ",
                                      table, " REPLICA IDENTITY FULL"))
                  .ok());
  auto cdc = Launch({"--tables=" + table});
  for (const std::string& statement : {
           absl::StrCat("INSERT INTO ", table, " VALUES (1, 'before', 1)"),
           absl::StrCat("ALTER TABLE ", table, " ADD COLUMN x text"),
           absl::StrCat("INSERT INTO ", table,
                        " (id, a, n, x) VALUES (2, 'added', 2, 'hello')"),
           absl::StrCat("UPDATE ", table, " SET x = 'later' WHERE id = 1"),
           absl::StrCat("ALTER TABLE ", table, " ALTER COLUMN n TYPE bigint"),
           absl::StrCat("INSERT INTO ", table,
                        " (id, a, n, x) VALUES (3, 'retyped', 3000000000, "
                        "'x3')"),
           absl::StrCat("ALTER TABLE ", table, " DROP COLUMN x"),
           absl::StrCat("INSERT INTO ", table, " VALUES (4, 'dropped', 4)"),
           // A Relation message in the middle of a transaction.
           absl::StrCat("BEGIN; INSERT INTO ", table,
                        " VALUES (5, 'in-tx', 5); ALTER TABLE ", table,
                        " ADD COLUMN y int; INSERT INTO ", table,
                        " (id, a, n, y) VALUES (6, 'in-tx', 6, 66); COMMIT"),
       }) {
    ASSERT_TRUE(sql_->Exec(statement).ok()) << statement;
  }
  TopicReader reader(kPartitions, Topic(table));
  ASSERT_TRUE(reader.ReadUntil([&] { return reader.records().size() >= 7; },
                               absl::Seconds(60)))
      << cdc->log();
  std::vector<const Record*> events;
  for (const Record& r : reader.records()) events.push_back(&r);
  // Keys spread over partitions: restore commit order.
  std::sort(events.begin(), events.end(), [](const Record* a, const Record* b) {
    return std::make_pair(a->event.commit_lsn(), a->event.index_in_tx()) <
           std::make_pair(b->event.commit_lsn(), b->event.index_in_tx());
  });
  ASSERT_EQ(events.size(), 7u);
  const std::vector<std::string> before = {"id", "a", "n"};
  const std::vector<std::string> with_x = {"id", "a", "n", "x"};

  EXPECT_EQ(events[0]->key, "1");
  EXPECT_EQ(ColumnNames(events[0]->event.new_row()), before);

  EXPECT_EQ(events[1]->key, "2");
  EXPECT_EQ(ColumnNames(events[1]->event.new_row()), with_x);
  EXPECT_EQ(ColumnText(events[1]->event.new_row(), "x"), "hello");

  EXPECT_EQ(events[2]->event.op(), v1::UPDATE);
  EXPECT_EQ(events[2]->key, "1");
  EXPECT_EQ(ColumnText(events[2]->event.new_row(), "x"), "later");
  EXPECT_EQ(ColumnText(events[2]->event.old_row(), "x"), "<null>");
  EXPECT_EQ(ColumnText(events[2]->event.new_row(), "a"), "before");

  EXPECT_EQ(events[3]->key, "3");
  EXPECT_EQ(ColumnText(events[3]->event.new_row(), "x"), "x3");
  EXPECT_EQ(ColumnText(events[3]->event.new_row(), "n"), "3000000000");
  const v1::Column* n = FindColumn(events[3]->event.new_row(), "n");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->type_oid(), 20u);  // int8 after ALTER COLUMN TYPE bigint
  EXPECT_EQ(FindColumn(events[0]->event.new_row(), "n")->type_oid(), 23u);

  EXPECT_EQ(events[4]->key, "4");
  EXPECT_EQ(ColumnNames(events[4]->event.new_row()), before);
  EXPECT_EQ(ColumnText(events[4]->event.new_row(), "a"), "dropped");

  EXPECT_EQ(events[5]->key, "5");
  EXPECT_EQ(ColumnNames(events[5]->event.new_row()), before);
  EXPECT_EQ(events[6]->key, "6");
  EXPECT_EQ(ColumnNames(events[6]->event.new_row()),
            (std::vector<std::string>{"id", "a", "n", "y"}));
  EXPECT_EQ(ColumnText(events[6]->event.new_row(), "y"), "66");
  EXPECT_EQ(events[5]->event.xid(), events[6]->event.xid());
  EXPECT_EQ(events[5]->event.index_in_tx(), 0u);
  EXPECT_EQ(events[6]->event.index_in_tx(), 1u);
  EXPECT_TRUE(events[6]->event.last_in_tx());

  // Same process, one streaming session: no restart, no reconnect.
  EXPECT_TRUE(cdc->running());
  EXPECT_EQ(CountOccurrences(cdc->log(), "msg=streaming"), 1) << cdc->log();
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, PrimaryKeyColumnRenamedMidStream) {
  const std::string table = name_ + "_t";
  cleanup_.push_back(absl::StrCat("DROP TABLE IF EXISTS ", table));
  ASSERT_TRUE(sql_->Exec(absl::StrCat("DROP TABLE IF EXISTS ", table,
                                      "; CREATE TABLE ", table,
                                      " (id int PRIMARY KEY, a text); "
                                      "ALTER TABLE ",
                                      table, " REPLICA IDENTITY FULL"))
                  .ok());
  auto cdc = Launch({"--tables=" + table});
  for (const std::string& statement : {
           absl::StrCat("INSERT INTO ", table, " VALUES (1, 'before')"),
           absl::StrCat("ALTER TABLE ", table, " RENAME COLUMN id TO ident"),
           absl::StrCat("INSERT INTO ", table, " VALUES (2, 'after')"),
           // Renamed again between two changes of one transaction.
           absl::StrCat("BEGIN; INSERT INTO ", table,
                        " VALUES (3, 'in-tx'); ALTER TABLE ", table,
                        " RENAME COLUMN ident TO key_id; INSERT INTO ", table,
                        " VALUES (4, 'in-tx'); COMMIT"),
       }) {
    ASSERT_TRUE(sql_->Exec(statement).ok()) << statement;
  }
  TopicReader reader(kPartitions, Topic(table));
  EXPECT_TRUE(reader.ReadUntil([&] { return reader.records().size() >= 4; },
                               absl::Seconds(30)))
      << cdc->log();
  std::map<std::string, const Record*> by_key;
  for (const Record& r : reader.records()) by_key[r.key] = &r;
  const std::map<std::string, std::string> key_column = {
      {"1", "id"}, {"2", "ident"}, {"3", "ident"}, {"4", "key_id"}};
  for (const auto& [key, column] : key_column) {
    SCOPED_TRACE(key);
    ASSERT_EQ(by_key.count(key), 1u) << cdc->log();
    const v1::ChangeEvent& event = by_key[key]->event;
    ASSERT_EQ(event.key_size(), 1);
    EXPECT_EQ(event.key(0).name(), column);
    EXPECT_EQ(ColumnText(event.new_row(), column), key);
  }
  EXPECT_TRUE(cdc->running()) << cdc->log();
  EXPECT_EQ(CountOccurrences(cdc->log(), "msg=streaming"), 1) << cdc->log();
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, HeartbeatAdvancesIdleSlotPastOtherTablesWal) {
  const std::string published = name_ + "_pub";
  const std::string noise = name_ + "_noise";
  cleanup_.push_back(
      absl::StrCat("DROP TABLE IF EXISTS ", published, ", ", noise));
  ASSERT_TRUE(sql_->Exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", published,
                                      " (id int PRIMARY KEY); CREATE TABLE IF "
                                      "NOT EXISTS ",
                                      noise, " (v text)"))
                  .ok());
  auto cdc = Launch({"--tables=" + published});
  ASSERT_TRUE(
      WaitFor([&] { return ConfirmedFlushLsn() > 0; }, absl::Seconds(10)));
  uint64_t confirmed_before = ConfirmedFlushLsn();

  // Other write traffic, on a table no publication covers.
  std::atomic<int> writes{0};
  BackgroundLoop writer([&](const std::atomic<bool>& writing) {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok());
    while (writing.load()) {
      ASSERT_TRUE((*conn)
                      ->Exec(absl::StrCat("INSERT INTO ", noise,
                                          " SELECT md5(i::text) FROM "
                                          "generate_series(1, 100) i"))
                      .ok());
      ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  // Several rounds: the slot keeps following the server, not just once.
  absl::Duration slowest;
  for (int round = 1; round <= 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ASSERT_TRUE(
        WaitFor([&] { return writes.load() >= 5 * round; }, absl::Seconds(10)));
    // New WAL to confirm past: the slot may already have caught up with
    // everything written so far, so wait for the writer to add more.
    ASSERT_TRUE(WaitFor([&] { return CurrentWalLsn() > confirmed_before; },
                        absl::Seconds(10)));
    const uint64_t target = CurrentWalLsn();
    const absl::Time start = absl::Now();
    EXPECT_TRUE(WaitFor([&] { return ConfirmedFlushLsn() >= target; },
                        absl::Seconds(10)))
        << "confirmed " << ConfirmedFlushLsn() << " < " << target << "\n"
        << cdc->log();
    slowest = std::max(slowest, absl::Now() - start);
    confirmed_before = ConfirmedFlushLsn();
  }
  writer.Stop();
  std::cout << "[ measure  ] slot confirmed past other tables' WAL within "
            << absl::FormatDuration(slowest) << std::endl;
  EXPECT_TRUE(cdc->running());
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, StandbyTakesOverFromKilledActiveWithoutLoss) {
  cleanup_.push_back(
      "DELETE FROM subscribers_insights WHERE distinct_id LIKE 'ha-%'");
  auto active = Launch({"--tables=subscribers_insights"});
  ASSERT_TRUE(active->running());
  auto standby = Launch({"--tables=subscribers_insights"},
                        /*wait_for_streaming=*/false);
  ASSERT_TRUE(WaitForLog(*standby, "standby", absl::Seconds(30)))
      << standby->log();
  EXPECT_FALSE(absl::StrContains(standby->log(), "msg=streaming"));

  auto conn = PgTestConnection::Connect(Services().pg_dsn);
  ASSERT_TRUE(conn.ok());
  std::set<std::string> committed;  // keys whose transaction committed
  std::mutex mu;
  for (int tx = 0; tx < 10; ++tx) {
    ASSERT_TRUE(InsertBatch(**conn, "ha-before", tx, 20, &committed));
  }
  // Writes keep flowing while the active process dies and the standby
  // takes over.
  std::atomic<int> during_tx{0};
  BackgroundLoop writer([&](const std::atomic<bool>& writing) {
    auto own = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(own.ok());
    std::set<std::string> mine;
    for (int tx = 0; writing.load(); ++tx) {
      if (!InsertBatch(**own, "ha-during", tx, 20, &mine)) break;
      ++during_tx;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::lock_guard<std::mutex> lock(mu);
    committed.insert(mine.begin(), mine.end());
  });
  ASSERT_TRUE(
      WaitFor([&] { return during_tx.load() >= 5; }, absl::Seconds(30)));
  active->Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  EXPECT_EQ(active->Wait(absl::Seconds(10)), 128 + SIGKILL);
  const bool took_over =
      WaitForLog(*standby, "msg=streaming", absl::Seconds(30));
  const absl::Duration takeover = absl::Now() - killed;
  const int during_at_takeover = during_tx.load();
  // Some more transactions while the new active process streams.
  WaitFor([&] { return during_tx.load() >= during_at_takeover + 5; },
          absl::Seconds(30));
  writer.Stop();
  ASSERT_TRUE(took_over) << standby->log();
  std::cout << "[ measure  ] standby streaming "
            << absl::FormatDuration(takeover)
            << " after SIGKILL of the active process" << std::endl;
  EXPECT_LT(takeover, absl::Seconds(10));
  for (int tx = 0; tx < 10; ++tx) {
    ASSERT_TRUE(InsertBatch(**conn, "ha-after", tx, 20, &committed));
  }

  std::vector<std::string> missing =
      MissingFromTopic(Topic("subscribers_insights"), committed);
  EXPECT_TRUE(missing.empty())
      << missing.size() << " of " << committed.size()
      << " committed rows missing, first " << missing.front() << "\n"
      << standby->log();
  EXPECT_GE(committed.size(), 20u * (10 + 5 + 10));
  StopCleanly(*standby);
}

TEST_F(CdcResilienceTest, TwoProcessesStartedTogetherOneStandsBy) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto a = Launch({"--tables=subscribers_insights"},
                    /*wait_for_streaming=*/false);
    auto b = Launch({"--tables=subscribers_insights"},
                    /*wait_for_streaming=*/false);
    auto settled = [&] {
      const std::string la = a->log(), lb = b->log();
      return (absl::StrContains(la, "msg=streaming") &&
              absl::StrContains(lb, "standby")) ||
             (absl::StrContains(lb, "msg=streaming") &&
              absl::StrContains(la, "standby")) ||
             !a->running() || !b->running();
    };
    ASSERT_TRUE(WaitFor(settled, absl::Seconds(60)));
    EXPECT_TRUE(a->running()) << a->log();
    EXPECT_TRUE(b->running()) << b->log();
    StopCleanly(*a);
    StopCleanly(*b);
    // A new slot for the next round.
    ASSERT_TRUE(WaitFor(
        [&] {
          return sql_
              ->Exec(absl::StrCat("SELECT pg_drop_replication_slot('", name_,
                                  "')"))
              .ok();
        },
        absl::Seconds(30)));
  }
}

TEST_F(CdcResilienceTest, StandbyStartedDuringInitialSnapshotWaits) {
  constexpr int kRows = 200000;  // a few seconds of snapshot
  const std::string table = name_ + "_t";
  cleanup_.push_back(absl::StrCat("DROP TABLE IF EXISTS ", table));
  ASSERT_TRUE(
      sql_
          ->Exec(absl::StrCat(
              "DROP TABLE IF EXISTS ", table, "; CREATE TABLE ", table,
              " (id int PRIMARY KEY, a text); INSERT INTO ", table,
              " SELECT i, 'snap' FROM generate_series(1, ", kRows, ") i"))
          .ok());
  // Row by row: the snapshot lasts long enough for the standby to start
  // during it.
  auto active = Launch(
      {"--tables=" + table, "--snapshot=initial", "--snapshot-content=rows"},
      /*wait_for_streaming=*/false);
  ASSERT_TRUE(
      WaitForLog(*active, "replication slot created", absl::Seconds(60)))
      << active->log();
  auto standby = Launch(
      {"--tables=" + table, "--snapshot=initial", "--snapshot-content=rows"},
      /*wait_for_streaming=*/false);
  ASSERT_TRUE(WaitForLog(*active, "msg=streaming", absl::Seconds(120)))
      << active->log() << "\nstandby:\n"
      << standby->log();
  EXPECT_TRUE(WaitForLog(*standby, "standby", absl::Seconds(10)))
      << standby->log();
  EXPECT_FALSE(absl::StrContains(standby->log(), "redoing")) << standby->log();
  EXPECT_TRUE(active->running()) << active->log();
  EXPECT_TRUE(standby->running()) << standby->log();

  std::set<std::string> keys;
  int64_t records = 0;
  TopicReader reader(kPartitions, Topic(table), /*keep=*/false);
  reader.on_record = [&](const Record& r) {
    ++records;
    keys.insert(r.key);
  };
  EXPECT_TRUE(reader.ReadUntil([&] { return keys.size() >= kRows; },
                               absl::Seconds(120)));
  reader.ReadUntil([] { return false; }, absl::Seconds(3));
  EXPECT_EQ(keys.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(records, kRows);  // one snapshot, each row once
  StopCleanly(*active);
  StopCleanly(*standby);
}

TEST_F(CdcResilienceTest, PasswordsNeverAppearInLogsOrErrors) {
  RefusingPort refusing;
  auto run = [&](std::vector<std::string> args, std::vector<std::string> env,
                 const std::string& wait_for) {
    std::vector<std::string> argv = {
        BinaryPath("enrich-cdc"),  "--metrics-addr=127.0.0.1:0",
        "--slot=" + name_,         "--publication=" + name_,
        "--topic-prefix=" + name_, "--snapshot=never"};
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back("ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers);
    ChildProcess cdc(argv, env, LogPath());
    int code = -1;
    if (wait_for.empty()) {
      code = cdc.Wait(absl::Seconds(60));
    } else {
      // Unavailable is retried: wait for the error line, then stop it.
      EXPECT_TRUE(WaitForLog(cdc, wait_for, absl::Seconds(60))) << cdc.log();
      cdc.Signal(SIGTERM);
      code = cdc.Wait(absl::Seconds(60));
    }
    return std::make_pair(code, cdc.log());
  };
  const std::string closed = absl::StrCat(
      "host=127.0.0.1 port=", refusing.port(),
      " user=postgres dbname=enrich connect_timeout=5 password=", kSecret);

  {
    SCOPED_TRACE(
        "connection refused, password in ENRICH_PG_DSN and in a "
        "Kafka SASL property");
    auto [code, log] =
        run({"--kafka-properties=sasl.username=cdc;sasl.password=" +
             std::string(kSecret)},
            {"ENRICH_PG_DSN=" + closed}, "source database unavailable");
    EXPECT_EQ(code, 0) << log;
    EXPECT_TRUE(absl::StrContains(log, "Connection refused")) << log;
    EXPECT_FALSE(absl::StrContains(log, kSecret)) << log;
    EXPECT_FALSE(absl::StrContains(log, "hunter2")) << log;
  }
  {
    SCOPED_TRACE("connection refused, URI with a password, as a flag");
    auto [code, log] =
        run({absl::StrCat("--pg-dsn=postgresql://postgres:", kSecret,
                          "@127.0.0.1:", refusing.port(), "/enrich")},
            {}, "source database unavailable");
    EXPECT_EQ(code, 0) << log;
    EXPECT_FALSE(absl::StrContains(log, "hunter2")) << log;
  }
  {
    SCOPED_TRACE("bad option next to the password");
    auto [code, log] = run(
        {}, {absl::StrCat("ENRICH_PG_DSN=", closed, " bogus_option=1")}, "");
    EXPECT_EQ(code, 1) << log;
    EXPECT_TRUE(absl::StrContains(log, "bogus_option")) << log;
    EXPECT_FALSE(absl::StrContains(log, "hunter2")) << log;
  }
  {
    SCOPED_TRACE("unterminated quote after the password");
    auto [code, log] = run(
        {}, {absl::StrCat("ENRICH_PG_DSN=", closed, " application_name='x")},
        "");
    EXPECT_EQ(code, 1) << log;
    EXPECT_FALSE(absl::StrContains(log, "hunter2")) << log;
  }
  {
    // A real session with a password-holding role: trust authentication
    // lets it in, and the source checks refuse it (no REPLICATION).
    SCOPED_TRACE("refused by the source checks");
    const std::string role = name_ + "_role";
    cleanup_.push_back(absl::StrCat("DROP ROLE IF EXISTS ", role));
    ASSERT_TRUE(
        sql_->Exec(absl::StrCat("DROP ROLE IF EXISTS ", role, "; CREATE ROLE ",
                                role, " LOGIN PASSWORD '", kSecret, "'"))
            .ok());
    auto [code, log] =
        run({},
            {absl::StrCat("ENRICH_PG_DSN=", Services().pg_dsn, " user=", role,
                          " password=", kSecret)},
            "");
    EXPECT_EQ(code, 1) << log;
    EXPECT_TRUE(absl::StrContains(log, "REPLICATION")) << log;
    EXPECT_FALSE(absl::StrContains(log, "hunter2")) << log;
  }
  {
    SCOPED_TRACE("--help with the DSN in the environment and as a flag");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--help"},
          std::vector<std::string>{"--pg-dsn=" + closed, "--help"}}) {
      auto [code, help] = run(args, {"ENRICH_PG_DSN=" + closed}, "");
      EXPECT_EQ(code, 0) << help;
      EXPECT_TRUE(absl::StrContains(help, "--pg-dsn")) << help;
      EXPECT_FALSE(absl::StrContains(help, "hunter2")) << help;
      EXPECT_FALSE(absl::StrContains(help, "dbname=enrich")) << help;
    }
  }
}

TEST_F(CdcResilienceTest, SigtermWhileWritingExitsZeroAndLosesNothing) {
  cleanup_.push_back(
      "DELETE FROM subscribers_insights WHERE distinct_id LIKE 'term-%'");
  auto cdc = Launch({"--tables=subscribers_insights"});
  std::set<std::string> committed;
  std::atomic<int> transactions{0};
  BackgroundLoop writer([&](const std::atomic<bool>& writing) {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok());
    for (int tx = 0; writing.load(); ++tx) {
      if (!InsertBatch(**conn, "term", tx, 50, &committed)) break;
      ++transactions;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  // Let enrich-cdc publish some of it, then stop it mid-flow.
  {
    TopicReader reader(kPartitions, Topic("subscribers_insights"));
    ASSERT_TRUE(reader.ReadUntil([&] { return reader.records().size() >= 200; },
                                 absl::Seconds(60)));
  }
  const int at_signal = transactions.load();
  cdc->Signal(SIGTERM);
  const int code = cdc->Wait(absl::Seconds(60));
  // Writes go on past the stop: those must come through after the restart.
  WaitFor([&] { return transactions.load() >= at_signal + 10; },
          absl::Seconds(30));
  writer.Stop();
  EXPECT_EQ(code, 0) << cdc->log();
  EXPECT_TRUE(absl::StrContains(cdc->log(), "stopped cleanly")) << cdc->log();
  EXPECT_GE(transactions.load(), at_signal + 10);

  cdc = Launch({"--tables=subscribers_insights"});
  std::vector<std::string> missing =
      MissingFromTopic(Topic("subscribers_insights"), committed);
  EXPECT_TRUE(missing.empty())
      << missing.size() << " of " << committed.size()
      << " committed rows missing, first " << missing.front() << "\n"
      << cdc->log();
  StopCleanly(*cdc);
}

TEST_F(CdcResilienceTest, SigtermConfirmsEverythingItPublished) {
  cleanup_.push_back(
      "DELETE FROM subscribers_insights WHERE distinct_id LIKE 'confirm-%'");
  std::set<std::string> committed;
  BackgroundLoop writer([&](const std::atomic<bool>& writing) {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok());
    for (int tx = 0; writing.load(); ++tx) {
      if (!InsertBatch(**conn, "confirm", tx, 50, &committed)) break;
    }
  });
  TopicReader reader(kPartitions, Topic("subscribers_insights"));
  for (int round = 1; round <= 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto cdc = Launch({"--tables=subscribers_insights"});
    const size_t seen = reader.records().size();
    ASSERT_TRUE(
        reader.ReadUntil([&] { return reader.records().size() >= seen + 500; },
                         absl::Seconds(60)));
    cdc->Signal(SIGTERM);
    ASSERT_EQ(cdc->Wait(absl::Seconds(60)), 0) << cdc->log();
    // Once the walsender has exited it has read all the process sent.
    ASSERT_TRUE(WaitFor([&] { return !SlotActive(); }, absl::Seconds(30)));
    const uint64_t confirmed = ConfirmedFlushLsn();
    reader.ReadUntil([] { return false; }, absl::Seconds(2));
    uint64_t newest_published = 0;
    for (const Record& r : reader.records()) {
      newest_published =
          std::max<uint64_t>(newest_published, r.event.end_lsn());
    }
    // The first round that loses the update fails; later rounds would only
    // inherit it.
    ASSERT_GE(confirmed, newest_published) << cdc->log();
  }
}

}  // namespace
}  // namespace enrich::testing
