// Faults a production database and broker have, against the whole pipeline:
// `enrich-cdc` and `enrich-processor run` run as child processes under a
// continuous workload (writes start before the pipeline is ready), the fault
// is injected, the workload stops, and then
//   * the pipeline drains and the table equals the reference (nothing lost,
//     nothing corrupted: pipeline_fixture.h), and
//   * both processes are still running, and what they said while the fault
//     lasted (/readyz, the logs) names the cause.
// Every wait is bounded (WaitFor); no sleep is an assertion.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/pipeline_fixture.h"

namespace enrich::processor::testing {
namespace {

using ::enrich::testing::CanInjectServiceFaults;
using ::enrich::testing::StartKafka;
using ::enrich::testing::StartPostgres;
using ::enrich::testing::StopKafka;
using ::enrich::testing::StopPostgres;

// GET http://127.0.0.1:port/path; "<status code> <body>", or "" when nothing
// answered.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    // send, not write: a peer that already closed must fail the call
    // (EPIPE), not kill the test binary with SIGPIPE.
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, n);
      }
    }
  }
  close(fd);
  // "HTTP/1.1 503 Service Unavailable\r\n...\r\n\r\nbody"
  const size_t space = response.find(' ');
  const size_t body = response.find("\r\n\r\n");
  if (space == std::string::npos || body == std::string::npos) return "";
  return absl::StrCat(response.substr(space + 1, 3), " ",
                      response.substr(body + 4));
}

int Occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

class PipelineFaultsTest : public ServerFaultsTest {
 protected:
  // What a process serves on /readyz: "200 ready", "503 <reason>", or ""
  // before it listens.
  static std::string Readyz(ChildProcess* child) {
    static const std::regex kListening(
        "msg=\"metrics listening\" addr=[0-9.]+:([0-9]+)");
    std::smatch match;
    const std::string log = child->log();
    int port = 0;
    if (!std::regex_search(log, match, kListening) ||
        !absl::SimpleAtoi(match[1].str(), &port)) {
      return "";
    }
    return HttpGet(port, "/readyz");
  }

  static bool Ready(ChildProcess* child) {
    return absl::StartsWith(Readyz(child), "200");
  }

  ChildProcess* processor() { return processors_.back().get(); }

  // Writes start, then enrich-cdc and the processor start under them; waits
  // until both are ready and the processor has committed something.
  void StartPipelineUnderLoad(BackgroundWorkload& workload) {
    ASSERT_TRUE(workload.WaitForChunks(3, absl::Seconds(60)));
    StartCdc();
    StartProcessor();
    ASSERT_TRUE(WaitFor([&] { return Ready(cdc_.get()); }, absl::Seconds(60)))
        << Readyz(cdc_.get());
    ASSERT_TRUE(WaitFor(
        [&] {
          auto n = sql_->QueryValue(
              absl::StrCat("SELECT coalesce(sum(next_offset), 0) FROM "
                           "enrich_processor_offsets WHERE consumer_group = '",
                           group_, "'"));
          return n.ok() && std::stoll(*n) > 0 && Ready(processor());
        },
        absl::Seconds(90)))
        << Readyz(processor()) << "\n"
        << processor()->log();
  }

  // After the fault: writes go on for a while, then stop; the pipeline
  // drains to the reference and both processes still run, ready.
  void ExpectRecoveredExactly(BackgroundWorkload& workload) {
    EXPECT_TRUE(workload.WaitForChunks(5, absl::Seconds(90)))
        << "writes did not resume";
    ASSERT_TRUE(workload.Stop());
    ReconnectSql();
    ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
    ExpectEqualToReference();
    EXPECT_TRUE(cdc_->running()) << cdc_->log();
    EXPECT_TRUE(processor()->running()) << processor()->log();
    EXPECT_TRUE(WaitFor([&] { return Ready(cdc_.get()); }, absl::Seconds(30)))
        << Readyz(cdc_.get()) << "\n"
        << cdc_->log();
    EXPECT_TRUE(WaitFor([&] { return Ready(processor()); }, absl::Seconds(30)))
        << Readyz(processor()) << "\n"
        << processor()->log();
  }

  // Waits until `child` reports not ready, and returns the reason.
  std::string WaitNotReady(ChildProcess* child) {
    std::string readyz;
    WaitFor(
        [&] {
          readyz = Readyz(child);
          return absl::StartsWith(readyz, "503");
        },
        absl::Seconds(60));
    return readyz;
  }

  // The walsender of the test's slot, "" while none streams.
  std::string WalsenderPid() {
    auto pid = sql_->QueryValue(absl::StrCat(
        "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '",
        name_, "' AND active_pid IS NOT NULL"));
    return pid.ok() ? *pid : "";
  }

  // The processor's connection: the one that writes the offsets table.
  std::string ProcessorBackendPid() {
    auto pid = sql_->QueryValue(
        "SELECT pid FROM pg_stat_activity WHERE application_name = "
        "'enrich-processor' AND backend_type = 'client backend' LIMIT 1");
    return pid.ok() ? *pid : "";
  }
};

// PostgreSQL stopped with a fast shutdown (clients disconnected, a
// checkpoint) and started again on the same port and data, then the same
// with an immediate shutdown (no checkpoint: crash recovery), under load.
TEST_F(PipelineFaultsTest, PostgresRestartedFastAndImmediate) {
  BackgroundWorkload workload(5001, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  for (const char* mode : {"fast", "immediate"}) {
    SCOPED_TRACE(mode);
    ASSERT_TRUE(workload.WaitForChunks(3, absl::Seconds(60)));
    ASSERT_TRUE(StopPostgres(mode).ok());
    // While the database is down enrich-cdc cannot stream, and says why.
    // (The processor notices only when it writes: below.)
    const std::string cdc_reason = WaitNotReady(cdc_.get());
    EXPECT_TRUE(absl::StartsWith(cdc_reason, "503 not streaming, retrying"))
        << cdc_reason;
    ASSERT_TRUE(StartPostgres().ok());
    ReconnectSql();
    EXPECT_TRUE(WaitFor([&] { return Ready(cdc_.get()); }, absl::Seconds(90)))
        << Readyz(cdc_.get()) << "\n"
        << cdc_->log();
    EXPECT_TRUE(WaitFor([&] { return Ready(processor()); }, absl::Seconds(90)))
        << Readyz(processor()) << "\n"
        << processor()->log();
  }
  ExpectRecoveredExactly(workload);
  EXPECT_GT(workload.failed_chunks, 0) << "the restarts missed the writes";
  EXPECT_TRUE(absl::StrContains(
      cdc_->log(), "msg=\"replication stream interrupted; reconnecting\""))
      << cdc_->log();
  // Its first write after each restart finds the connection closed.
  EXPECT_TRUE(absl::StrContains(processor()->log(),
                                "msg=\"applying the batch failed; retrying\""))
      << processor()->log();
}

// The broker killed with SIGKILL and started again on the same port and log
// dir while both run under load.
TEST_F(PipelineFaultsTest, KafkaKilledAndRestarted) {
  BackgroundWorkload workload(5002, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  ASSERT_TRUE(StopKafka(/*kill=*/true).ok());
  ASSERT_TRUE(workload.WaitForChunks(5, absl::Seconds(60)));
  ASSERT_TRUE(StartKafka().ok());
  ExpectRecoveredExactly(workload);
  EXPECT_TRUE(absl::StrContains(cdc_->log(), "msg=\"kafka client error\""))
      << cdc_->log();
  EXPECT_TRUE(
      absl::StrContains(processor()->log(), "msg=\"kafka consumer error\""))
      << processor()->log();
}

// The broker stopped cleanly (SIGTERM) for a minute, then started on the
// same port and log dir, while writes go on: enrich-cdc keeps what it
// decoded queued in its producer (librdkafka's 300 s message timeout is
// longer) and confirms none of it; the processor waits for its broker.
TEST_F(PipelineFaultsTest, KafkaStoppedForAMinute) {
  BackgroundWorkload workload(5003, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  ASSERT_TRUE(StopKafka(/*kill=*/false).ok());
  const absl::Time stopped = absl::Now();
  // Down for a minute whatever the processes do meanwhile (the outage is
  // the fault, not an assertion).
  WaitFor([&] { return absl::Now() - stopped >= absl::Minutes(1); },
          absl::Seconds(70));
  // Reported, not asserted: both still answer "200 ready" here, their
  // readiness does not follow the broker (the logs below do).
  std::printf(
      "[fault] /readyz with the broker down a minute: enrich-cdc %s, "
      "enrich-processor %s\n",
      Readyz(cdc_.get()).c_str(), Readyz(processor()).c_str());
  ASSERT_TRUE(StartKafka().ok());
  ExpectRecoveredExactly(workload);
  EXPECT_TRUE(absl::StrContains(cdc_->log(), "error=_ALL_BROKERS_DOWN"))
      << cdc_->log();
  EXPECT_TRUE(
      absl::StrContains(processor()->log(), "All broker connections are down"))
      << processor()->log();
}

// The replication connection (the slot's walsender) terminated, then the
// processor's connection: both reconnect and resume.
TEST_F(PipelineFaultsTest, ConnectionsTerminatedByTheServer) {
  BackgroundWorkload workload(5004, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  const std::string walsender = WalsenderPid();
  ASSERT_FALSE(walsender.empty());
  ASSERT_TRUE(
      sql_->Exec(absl::StrCat("SELECT pg_terminate_backend(", walsender, ")"))
          .ok());
  // A new walsender streams the slot.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string now = WalsenderPid();
        return !now.empty() && now != walsender;
      },
      absl::Seconds(60)))
      << cdc_->log();
  ASSERT_TRUE(workload.WaitForChunks(3, absl::Seconds(60)));
  const std::string backend = ProcessorBackendPid();
  ASSERT_FALSE(backend.empty())
      << "no connection with application_name enrich-processor";
  ASSERT_TRUE(
      sql_->Exec(absl::StrCat("SELECT pg_terminate_backend(", backend, ")"))
          .ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string now = ProcessorBackendPid();
        return !now.empty() && now != backend;
      },
      absl::Seconds(60)))
      << processor()->log();
  ExpectRecoveredExactly(workload);
  EXPECT_TRUE(absl::StrContains(processor()->log(), "failed; retrying"))
      << processor()->log();
}

// The slot dropped underneath a running enrich-cdc: its walsender is
// terminated and the slot dropped before enrich-cdc reconnects (retried
// until the drop lands in that gap). Changes made meanwhile are in no slot:
// enrich-cdc creates a new slot and snapshot, and the processor's rebuild
// from it restores what no event reported.
TEST_F(PipelineFaultsTest, SlotDroppedUnderARunningCdc) {
  BackgroundWorkload workload(5005, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  bool dropped = false;
  WaitFor(
      [&] {
        const std::string pid = WalsenderPid();
        if (!pid.empty()) {
          sql_->Exec(absl::StrCat("SELECT pg_terminate_backend(", pid, ")"))
              .IgnoreError();
        }
        dropped = sql_->Exec(absl::StrCat("SELECT pg_drop_replication_slot('",
                                          name_, "')"))
                      .ok();
        return dropped;
      },
      absl::Seconds(60));
  ASSERT_TRUE(dropped);
  // Unrecorded if they land before the new slot: whole conversations gone.
  ASSERT_TRUE(sql_->Exec("DELETE FROM raw_support_conversations WHERE id IN "
                         "(SELECT id FROM raw_support_conversations ORDER BY "
                         "id LIMIT 5)")
                  .ok());
  // A second slot of the same name, created by the running process.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Occurrences(cdc_->log(), "msg=\"replication slot created\"") >=
                   2 ||
               !cdc_->running();
      },
      absl::Seconds(60)))
      << cdc_->log();
  ExpectRecoveredExactly(workload);
  EXPECT_TRUE(absl::StrContains(processor()->log(), "msg=\"snapshot rebuilt\""))
      << processor()->log();
}

// A table dropped from the publication while enrich-cdc streams: pgoutput
// stops sending its changes at once, silently. enrich-cdc must not lose
// them: it notices, restores the publication and re-snapshots.
TEST_F(PipelineFaultsTest, TableDroppedFromThePublication) {
  BackgroundWorkload workload(5006, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  ASSERT_TRUE(sql_->Exec(absl::StrCat("ALTER PUBLICATION ", name_,
                                      " DROP TABLE "
                                      "support_conversation_messages"))
                  .ok());
  // Changes to the messages while the table is out of the publication.
  ASSERT_TRUE(workload.WaitForChunks(5, absl::Seconds(60)));
  ExpectRecoveredExactly(workload);
  auto member = sql_->QueryValue(absl::StrCat(
      "SELECT count(*) FROM pg_publication_tables WHERE pubname = '", name_,
      "' AND tablename = 'support_conversation_messages'"));
  ASSERT_TRUE(member.ok());
  EXPECT_EQ(*member, "1") << "the publication was not restored";
  EXPECT_TRUE(absl::StrContains(
      cdc_->log(),
      "msg=\"tables left the publication; reconnecting to restore it\""))
      << cdc_->log();
  // A new slot and snapshot, rebuilt by the processor. (The first snapshot
  // may have been covered by the build of the empty table at start instead
  // of a rebuild of its own; the second one, taken after that, cannot be.)
  EXPECT_EQ(Occurrences(cdc_->log(), "msg=\"replication slot created\""), 2)
      << cdc_->log();
  EXPECT_GE(Occurrences(processor()->log(), "msg=\"snapshot rebuilt\""), 1)
      << processor()->log();
  EXPECT_GE(Occurrences(processor()->log(), "msg=\"snapshot rebuilt\"") +
                Occurrences(processor()->log(), "msg=\"empty table built\""),
            2)
      << processor()->log();
}

// The target table locked by a long transaction (ACCESS EXCLUSIVE for
// 20 s): the processor waits, says why on /readyz or in its log, and catches
// up once the lock is released.
TEST_F(PipelineFaultsTest, TargetTableLockedByALongTransaction) {
  BackgroundWorkload workload(5007, BackgroundWorkload::kSurviveFaults);
  StartPipelineUnderLoad(workload);
  auto locker = PgTestConnection::Connect(Services().pg_dsn);
  ASSERT_TRUE(locker.ok());
  ASSERT_TRUE((*locker)
                  ->Exec("BEGIN; LOCK TABLE enriched_support_conversations IN "
                         "ACCESS EXCLUSIVE MODE")
                  .ok());
  const absl::Time locked = absl::Now();
  // The processor's write waits on the lock.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto waiting = sql_->QueryValue(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'enrich-processor' AND wait_event_type = 'Lock'");
        return waiting.ok() && *waiting != "0";
      },
      absl::Seconds(30)));
  std::string readyz_while_locked;
  WaitFor(
      [&] {
        readyz_while_locked = Readyz(processor());
        return absl::Now() - locked >= absl::Seconds(20);
      },
      absl::Seconds(30));
  ASSERT_TRUE((*locker)->Exec("COMMIT").ok());
  ExpectRecoveredExactly(workload);
  std::printf("[fault] processor /readyz while the table was locked: %s\n",
              readyz_while_locked.c_str());
}

}  // namespace
}  // namespace enrich::processor::testing
