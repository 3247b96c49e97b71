// The chaos harness: the whole pipeline (`enrich-cdc` and `enrich-processor
// run` as child processes, pipeline_fixture.h) under the adversarial
// workload (RunAdversarialWorkload) while a fault schedule runs: kill -9 and
// restart of enrich-cdc, kill -9 and SIGTERM and restart of the processor, a
// second processor joining the group and killed, PostgreSQL restarted (fast
// or immediate shutdown), the broker killed with kill -9 and restarted.
// Writes start before the pipeline is ready and go on throughout.
//
// The schedule and the workload come from one seed, printed first with the
// schedule: ENRICH_CHAOS_SEED=<n> (and the same ENRICH_CHAOS_SECONDS)
// replays them (the faults land at the same offsets; what the processes are
// doing at that moment depends on the machine). Without ENRICH_CHAOS_SEED
// the seed is kDefaultSeed, or a fresh one when ENRICH_CHAOS_FRESH_SEED=1
// (the second CTest entry). ENRICH_CHAOS_SECONDS (default 60) is how long
// faults are injected.
//
// The check, after the writes stop: both processes still run, the slot is
// confirmed past the last write and every partition consumed to its end
// (WaitUntilDrained), and the table equals the reference in both
// directions. A summary line goes to stdout and to
// <build>/chaos/summary.txt (tests/run.sh prints it).
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/pipeline_fixture.h"

namespace enrich::processor::testing {
namespace {

using ::enrich::testing::CanInjectServiceFaults;
using ::enrich::testing::StartKafka;
using ::enrich::testing::StartPostgres;
using ::enrich::testing::StopKafka;
using ::enrich::testing::StopPostgres;

constexpr uint64_t kDefaultSeed = 20261203;

enum class FaultKind {
  kCdcKill,            // kill -9 enrich-cdc, restart after `pause`
  kProcessorKill,      // kill -9 the processor, restart after `pause`
  kProcessorTerm,      // SIGTERM the processor, wait for its exit, restart
  kSecondProcessor,    // a second processor joins, runs `pause`, kill -9
  kPostgresFast,       // pg_ctl stop -m fast, down for `pause`, start
  kPostgresImmediate,  // pg_ctl stop -m immediate, down for `pause`, start
  kKafkaKill,          // kill -9 the broker, down for `pause`, start
};
constexpr int kFaultKinds = 7;

const char* Name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCdcKill:
      return "cdc-kill9";
    case FaultKind::kProcessorKill:
      return "processor-kill9";
    case FaultKind::kProcessorTerm:
      return "processor-sigterm";
    case FaultKind::kSecondProcessor:
      return "second-processor-kill9";
    case FaultKind::kPostgresFast:
      return "postgres-restart-fast";
    case FaultKind::kPostgresImmediate:
      return "postgres-restart-immediate";
    case FaultKind::kKafkaKill:
      return "kafka-kill9";
  }
  return "?";
}

struct Fault {
  absl::Duration at;  // after the pipeline was started
  FaultKind kind;
  absl::Duration pause;  // down time, or the second processor's run
};

// One fault every 2-7 s; the first seven are each kind once in a seeded
// order, the rest weighted towards process kills. The first, at 0.3-2 s,
// can land in enrich-cdc's initial snapshot.
std::vector<Fault> Schedule(uint64_t seed, absl::Duration length) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  std::vector<FaultKind> first;
  for (int k = 0; k < kFaultKinds; ++k) first.push_back(FaultKind(k));
  std::shuffle(first.begin(), first.end(), rng);
  const FaultKind weighted[] = {
      FaultKind::kCdcKill,       FaultKind::kCdcKill,
      FaultKind::kCdcKill,       FaultKind::kProcessorKill,
      FaultKind::kProcessorKill, FaultKind::kProcessorKill,
      FaultKind::kProcessorTerm, FaultKind::kSecondProcessor,
      FaultKind::kPostgresFast,  FaultKind::kPostgresImmediate,
      FaultKind::kKafkaKill};
  std::vector<Fault> out;
  absl::Duration at = absl::Milliseconds(uniform(300, 2000));
  while (at < length) {
    const FaultKind kind = out.size() < first.size()
                               ? first[out.size()]
                               : weighted[uniform(0, std::size(weighted) - 1)];
    out.push_back({at, kind, absl::Milliseconds(uniform(0, 4000))});
    at += absl::Milliseconds(uniform(2000, 7000));
  }
  return out;
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  int64_t out = 0;
  return value != nullptr && absl::SimpleAtoi(value, &out) ? out : fallback;
}

class ChaosTest : public ServerFaultsTest {
 protected:
  ChildProcess* processor() { return processors_[main_processor_].get(); }

  void RestartProcessor() {
    StartProcessor();
    main_processor_ = processors_.size() - 1;
  }

  static void Sleep(absl::Duration d) { absl::SleepFor(d); }

  // Injects one fault and returns once the faulted part runs again (not
  // necessarily caught up).
  void Inject(const Fault& fault) {
    switch (fault.kind) {
      case FaultKind::kCdcKill:
        cdc_->Signal(SIGKILL);
        cdc_->Wait(absl::Seconds(30));
        Sleep(fault.pause);
        // Restarts alternate how a snapshot they redo is published, so one
        // run hands over between both kinds (a boundary and rows).
        LaunchCdc("initial", ++cdc_restarts_ % 2 == 1 ? "rows" : "boundary");
        return;
      case FaultKind::kProcessorKill:
        processor()->Signal(SIGKILL);
        processor()->Wait(absl::Seconds(30));
        Sleep(fault.pause);
        RestartProcessor();
        return;
      case FaultKind::kProcessorTerm:
        processor()->Signal(SIGTERM);
        EXPECT_EQ(processor()->Wait(absl::Seconds(120)), 0)
            << "the processor did not stop cleanly on SIGTERM\n"
            << processor()->log();
        Sleep(fault.pause);
        RestartProcessor();
        return;
      case FaultKind::kSecondProcessor: {
        const size_t main = main_processor_;
        ChildProcess* second = StartProcessor();
        main_processor_ = main;
        Sleep(fault.pause);
        second->Signal(SIGKILL);
        second->Wait(absl::Seconds(30));
        return;
      }
      case FaultKind::kPostgresFast:
      case FaultKind::kPostgresImmediate: {
        const absl::Status stopped = StopPostgres(
            fault.kind == FaultKind::kPostgresFast ? "fast" : "immediate");
        ASSERT_TRUE(stopped.ok()) << stopped;
        Sleep(fault.pause);
        const absl::Status started = StartPostgres();
        ASSERT_TRUE(started.ok()) << started;
        ReconnectSql();
        return;
      }
      case FaultKind::kKafkaKill: {
        const absl::Status stopped = StopKafka(/*kill=*/true);
        ASSERT_TRUE(stopped.ok()) << stopped;
        Sleep(fault.pause);
        const absl::Status started = StartKafka();
        ASSERT_TRUE(started.ok()) << started;
        return;
      }
    }
  }

  size_t main_processor_ = 0;
  int cdc_restarts_ = 0;
};

TEST_F(ChaosTest, ExactUnderSeededFaults) {
  uint64_t seed = kDefaultSeed;
  if (std::getenv("ENRICH_CHAOS_SEED") != nullptr) {
    seed = static_cast<uint64_t>(EnvInt("ENRICH_CHAOS_SEED", kDefaultSeed));
  } else if (EnvInt("ENRICH_CHAOS_FRESH_SEED", 0) == 1) {
    seed = std::random_device()() % 1000000000;
  }
  const int64_t seconds = EnvInt("ENRICH_CHAOS_SECONDS", 60);
  const std::vector<Fault> schedule = Schedule(seed, absl::Seconds(seconds));
  std::string printed = absl::StrFormat(
      "chaos: seed=%d seconds=%d (replay: ENRICH_CHAOS_SEED=%d "
      "ENRICH_CHAOS_SECONDS=%d build/bin/chaos_test)\nchaos: schedule:",
      seed, seconds, seed, seconds);
  for (const Fault& f : schedule) {
    absl::StrAppendFormat(&printed, " %.1fs:%s(%dms)",
                          absl::ToDoubleSeconds(f.at), Name(f.kind),
                          absl::ToInt64Milliseconds(f.pause));
  }
  std::printf("%s\n", printed.c_str());
  std::fflush(stdout);
  RecordProperty("chaos_seed", std::to_string(seed));

  // Writes start before the pipeline, which starts under them.
  BackgroundWorkload workload(seed ^ 0x5eed, BackgroundWorkload::kSurviveFaults,
                              BackgroundWorkload::kAdversarial);
  ASSERT_TRUE(workload.WaitForChunks(2, absl::Seconds(120)));
  LaunchCdc();
  const absl::Time started = absl::Now();
  std::map<FaultKind, int> injected;
  bool processor_started = false;
  for (const Fault& fault : schedule) {
    const absl::Duration wait = started + fault.at - absl::Now();
    if (wait > absl::ZeroDuration()) Sleep(wait);
    if (!processor_started &&
        fault.kind != FaultKind::kCdcKill) {  // the first fault may hit cdc
      RestartProcessor();                     // while the processor starts
      processor_started = true;
    }
    std::printf("chaos: %.1fs %s\n",
                absl::ToDoubleSeconds(absl::Now() - started), Name(fault.kind));
    std::fflush(stdout);
    Inject(fault);
    if (::testing::Test::HasFatalFailure()) return;
    ++injected[fault.kind];
    if (!processor_started) {
      RestartProcessor();
      processor_started = true;
    }
  }
  if (!processor_started) RestartProcessor();

  ASSERT_TRUE(workload.Stop());
  ReconnectSql();
  // Both still run: no fault may make either give up on its own.
  EXPECT_TRUE(cdc_->running()) << cdc_->log();
  EXPECT_TRUE(processor()->running()) << processor()->log();
  if (!cdc_->running()) LaunchCdc();
  if (!processor()->running()) RestartProcessor();
  // Slow machines, many rebalances: drained is what matters, not how fast.
  const ::testing::AssertionResult drained =
      WaitUntilDrained(absl::Seconds(600));
  EXPECT_TRUE(drained);
  auto difference = DifferenceFromReference(*sql_);
  ASSERT_TRUE(difference.ok()) << difference.status();
  auto compared = sql_->QueryValue(
      "SELECT (SELECT count(*) FROM enriched_support_conversations) + "
      "(SELECT count(*) FROM enriched_support_conversations_reference)");
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_EQ(*difference, 0) << DescribeDifference(*sql_);
  EXPECT_GT(std::stoll(*compared), 20) << "too few rows to compare";

  int faults = 0;
  for (const auto& [kind, n] : injected) faults += n;
  const WorkloadStats& stats = workload.stats();
  const std::string summary = absl::StrFormat(
      "chaos: seed=%d seconds=%d transactions=%d (rolled back %d, large %d, "
      "savepoints rolled back %d, statements %d, failed %d) faults=%d (cdc "
      "kills=%d, processor "
      "kills=%d, processor sigterms=%d, second processors killed=%d, pg "
      "restarts=%d fast + %d immediate, kafka kills=%d; writer chunks failed "
      "by faults=%d) drained=%s rows compared=%s differing=%d",
      seed, seconds, stats.committed, stats.rolled_back, stats.large,
      stats.savepoints_rolled_back, stats.statements, stats.statements_failed,
      faults, injected[FaultKind::kCdcKill],
      injected[FaultKind::kProcessorKill], injected[FaultKind::kProcessorTerm],
      injected[FaultKind::kSecondProcessor], injected[FaultKind::kPostgresFast],
      injected[FaultKind::kPostgresImmediate], injected[FaultKind::kKafkaKill],
      workload.failed_chunks.load(), drained ? "yes" : "NO", *compared,
      *difference);
  std::printf("%s\n", summary.c_str());
  const std::string dir = std::string(ENRICH_BINARY_DIR) + "/chaos";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/summary.txt", std::ios::app) << summary << "\n";
}

}  // namespace
}  // namespace enrich::processor::testing
