// ProcessorLoop with fakes: batching bounds, tombstones, dead letters before
// offsets, retries that never skip, permanent errors that store nothing,
// rebalances that drop unapplied records, and SIGTERM finishing the batch.
#include "processor/core/processor_loop.h"

#include <atomic>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/core/replay_source.h"
#include "tests/unit/processor/event_builders.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Thread-safe: with overlap_apply the apply thread reads it too.
class FakeClock {
 public:
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// Hands out queued records; an empty poll advances the clock by the
// timeout. Actions run when their poll index is reached.
class FakeSource : public RecordSource {
 public:
  explicit FakeSource(FakeClock* clock) : clock_(clock) {}
  absl::StatusOr<std::optional<ConsumedRecord>> Poll(
      absl::Duration timeout) override {
    ++polls;
    timeouts.push_back(timeout);
    if (before_poll) before_poll(polls);
    if (!errors.empty()) {
      absl::Status s = errors.front();
      errors.pop_front();
      return s;
    }
    if (records.empty()) {
      clock_->Advance(timeout);
      if (stop_when_empty != nullptr) *stop_when_empty = true;
      return std::nullopt;
    }
    ConsumedRecord r = records.front();
    records.pop_front();
    clock_->Advance(absl::Milliseconds(1));
    return r;
  }
  uint64_t assignment_generation() const override { return generation; }
  void Committed(const std::vector<PartitionOffset>& offsets) override {
    committed.push_back(offsets);
  }

  std::deque<ConsumedRecord> records;
  std::deque<absl::Status> errors;
  uint64_t generation = 0;
  int polls = 0;
  std::vector<absl::Duration> timeouts;
  std::function<void(int)> before_poll;
  std::atomic<bool>* stop_when_empty = nullptr;
  std::vector<std::vector<PartitionOffset>> committed;

 private:
  FakeClock* clock_;
};

class FakeWriter : public BatchWriter {
 public:
  absl::StatusOr<WriteResult> Apply(
      const AffectedConversations& plan,
      const std::vector<PartitionOffset>& offsets) override {
    ++attempts;
    if (!failures.empty()) {
      absl::Status s = failures.front();
      failures.pop_front();
      return s;
    }
    if (during_apply) during_apply(stored.size());
    plans.push_back(plan);
    stored.push_back(offsets);
    WriteResult r;
    r.conversations = plan.full_rewrites.size();
    r.rows_upserted = plan.full_rewrites.size();
    return r;
  }
  std::deque<absl::Status> failures;
  // Runs inside a successful Apply (the batch's index): the apply's
  // duration, records arriving meanwhile.
  std::function<void(size_t)> during_apply;
  std::vector<AffectedConversations> plans;
  std::vector<std::vector<PartitionOffset>> stored;
  int attempts = 0;
};

class FakeDeadLetters : public DeadLetterSink {
 public:
  explicit FakeDeadLetters(FakeWriter* writer) : writer_(writer) {}
  absl::Status Send(const std::vector<DeadLetter>& d) override {
    if (!failures.empty()) {
      absl::Status s = failures.front();
      failures.pop_front();
      return s;
    }
    // Dead letters must be durable before any offset is stored.
    stored_before.push_back(writer_->stored.size());
    for (const DeadLetter& x : d) sent.push_back(x);
    return absl::OkStatus();
  }
  std::deque<absl::Status> failures;
  std::vector<DeadLetter> sent;
  std::vector<size_t> stored_before;

 private:
  FakeWriter* writer_;
};

constexpr int64_t kBeginning = -2;

const char kConv1[] = "00000000-0000-0000-0000-000000000001";
const char kConv2[] = "00000000-0000-0000-0000-000000000002";

ConsumedRecord Record(const std::string& topic, int32_t partition,
                      int64_t offset, std::optional<std::string> value) {
  return {topic, partition, offset, "key", std::move(value)};
}

std::string ConversationInsert(const std::string& id) {
  v1::ChangeEvent event = testing::MakeEvent(
      v1::INSERT, "raw_support_conversations",
      testing::MakeRow({{"id", id}, {"user_id", std::nullopt}}), std::nullopt,
      /*commit_lsn=*/1700000000000);
  return event.SerializeAsString();
}

class ProcessorLoopTest : public ::testing::Test {
 protected:
  ProcessorLoopTest()
      : source_(&clock_),
        dead_letters_(&writer_),
        probe_(&registry_),
        log_(
            "test", [this](const std::string& line) { lines_.push_back(line); },
            [this] { return clock_.Now(); }) {
    options_.clock = [this] { return clock_.Now(); };
    options_.sleep = [this](absl::Duration d) {
      slept_ += d;
      clock_.Advance(d);
    };
    options_.routes = EnrichedSupportConversationsRoutes("public");
    options_.max_batch_records = 3;
    options_.max_batch_wait = absl::Milliseconds(200);
    source_.stop_when_empty = &stop_;
  }

  absl::Status Run() {
    ProcessorLoop loop(&source_, &writer_, &dead_letters_, &probe_, &log_,
                       options_);
    return loop.Run(stop_);
  }

  FakeClock clock_;
  FakeSource source_;
  FakeWriter writer_;
  FakeDeadLetters dead_letters_;
  MetricsRegistry registry_;
  ProcessorProbe probe_;
  std::vector<std::string> lines_;
  Logger log_;
  ProcessorLoopOptions options_;
  std::atomic<bool> stop_{false};
  absl::Duration slept_;
};

TEST_F(ProcessorLoopTest, BatchesAreBoundedByCountAndOffsetsCoverTombstones) {
  source_.records = {Record("t", 0, 10, ConversationInsert(kConv1)),
                     Record("t", 0, 11, std::nullopt),
                     Record("t", 1, 5, ConversationInsert(kConv2)),
                     Record("t", 1, 6, ConversationInsert(kConv2))};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 12},
                                             PartitionOffset{"t", 1, 6}));
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 1, 7}));
  EXPECT_EQ(writer_.plans[0].full_rewrites.size(), 2u);
  EXPECT_EQ(probe_.tombstones->Value(), 1u);
  EXPECT_EQ(probe_.records->Value(), 4u);
  EXPECT_EQ(source_.committed.size(), 2u);
  EXPECT_EQ(probe_.freshness_seconds->Read().count, 3u);
}

TEST_F(ProcessorLoopTest, BatchIsBoundedByTimeAfterItsFirstRecord) {
  options_.max_batch_records = 1000;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  int polls_at_commit = 0;
  source_.stop_when_empty = nullptr;
  source_.before_poll = [&](int poll) {
    if (!writer_.stored.empty() && polls_at_commit == 0) {
      polls_at_commit = poll;
      stop_ = true;
    }
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 1u);
  // 200 ms of 100 ms polls after the record, then the commit.
  EXPECT_LE(polls_at_commit, 5);
}

TEST_F(ProcessorLoopTest,
       RecordsBufferedDuringASlowApplyAreTakenWithoutWaiting) {
  options_.max_batch_records = 1000;
  source_.stop_when_empty = nullptr;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  size_t polls_before_second_batch = 0;
  std::vector<absl::Time> applied_at;
  writer_.during_apply = [&](size_t batch) {
    if (batch == 0) {
      // 500 ms to apply, longer than the 200 ms window; two records arrive
      // meanwhile and wait in the consumer.
      clock_.Advance(absl::Milliseconds(500));
      source_.records.push_back(Record("t", 0, 1, ConversationInsert(kConv1)));
      source_.records.push_back(Record("t", 0, 2, ConversationInsert(kConv2)));
      polls_before_second_batch = source_.timeouts.size();
    } else {
      stop_ = true;
    }
    applied_at.push_back(clock_.Now());
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 0, 3}));
  // Their window started when the first batch stopped collecting, so it is
  // over: the second batch takes what is buffered and closes at the first
  // empty poll, without waiting (2 records + 1 empty poll, all non-blocking).
  std::vector<absl::Duration> after(
      source_.timeouts.begin() + polls_before_second_batch,
      source_.timeouts.end());
  EXPECT_THAT(after, ElementsAre(absl::ZeroDuration(), absl::ZeroDuration(),
                                 absl::ZeroDuration()));
  EXPECT_EQ(applied_at[1] - applied_at[0], absl::Milliseconds(2));
}

TEST_F(ProcessorLoopTest,
       RecordsBufferedDuringAShortApplyWaitOnlyTheRestOfTheWindow) {
  options_.max_batch_records = 1000;
  source_.stop_when_empty = nullptr;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  std::vector<absl::Time> applied_at;
  writer_.during_apply = [&](size_t batch) {
    if (batch == 0) {
      clock_.Advance(absl::Milliseconds(50));
      source_.records.push_back(Record("t", 0, 1, ConversationInsert(kConv2)));
    } else {
      stop_ = true;
    }
    applied_at.push_back(clock_.Now());
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 0, 2}));
  // The window of the buffered record started when the first batch stopped
  // collecting (50 ms before its commit): 200 ms after that, not after the
  // commit. Before, the second batch was applied 200 ms + 1 ms poll after
  // the first commit.
  EXPECT_EQ(applied_at[1] - applied_at[0], absl::Milliseconds(150));
}

TEST_F(ProcessorLoopTest, ARecordArrivingAfterAnIdleStartGetsTheFullWindow) {
  options_.max_batch_records = 1000;
  source_.stop_when_empty = nullptr;
  std::optional<absl::Time> arrived;
  source_.before_poll = [&](int poll) {
    // Idle for three polls, then one record arrives.
    if (poll == 4) {
      source_.records.push_back(Record("t", 0, 0, ConversationInsert(kConv1)));
    }
  };
  writer_.during_apply = [&](size_t) { stop_ = true; };
  absl::Time start = clock_.Now();
  options_.on_iteration = [&] {
    if (!arrived && source_.polls >= 4) arrived = clock_.Now();
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 1u);
  ASSERT_TRUE(arrived.has_value());
  // Polls: 0 ms (batch start), 100, 100, then the record (+1 ms); its
  // 200 ms window runs from there: 2 x 100 ms polls, then a non-blocking
  // one that finds nothing and closes the batch.
  EXPECT_EQ(*arrived - start, absl::Milliseconds(201));
  EXPECT_EQ(clock_.Now() - *arrived, absl::Milliseconds(200));
}

TEST_F(ProcessorLoopTest, DeadLettersAreSentBeforeTheOffsetsAreStored) {
  source_.records = {Record("t", 0, 0, std::string("\xff\xff garbage")),
                     Record("t", 0, 1, ConversationInsert(kConv1))};
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(dead_letters_.sent.size(), 1u);
  EXPECT_EQ(dead_letters_.sent[0].record.offset, 0);
  EXPECT_THAT(dead_letters_.stored_before, ElementsAre(0u));
  ASSERT_EQ(writer_.stored.size(), 1u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2}));
  EXPECT_EQ(probe_.dead_letters->Value(), 1u);
}

TEST_F(ProcessorLoopTest, DeadLetterFailureIsRetriedNeverSkipped) {
  dead_letters_.failures = {absl::UnavailableError("broker down"),
                            absl::UnavailableError("broker down")};
  source_.records = {Record("t", 0, 0, std::string("junk"))};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(dead_letters_.sent.size(), 1u);
  EXPECT_EQ(writer_.stored.size(), 1u);
  EXPECT_EQ(probe_.retries->Value(), 2u);
}

TEST_F(ProcessorLoopTest, RetriableDatabaseErrorsAreRetriedWithBackoff) {
  writer_.failures = {absl::UnavailableError("connection lost"),
                      absl::AbortedError("deadlock detected"),
                      absl::UnavailableError("connection lost")};
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(writer_.attempts, 4);
  ASSERT_EQ(writer_.stored.size(), 1u);
  // 100 + 200 + 400 ms.
  EXPECT_EQ(slept_, absl::Milliseconds(700));
}

TEST_F(ProcessorLoopTest, PermanentErrorStopsWithoutStoringOffsets) {
  writer_.failures = {absl::PermissionDeniedError(
      "permission denied for table enriched_support_conversations")};
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(writer_.stored, IsEmpty());
  EXPECT_THAT(source_.committed, IsEmpty());
  EXPECT_EQ(writer_.attempts, 1);
}

TEST_F(ProcessorLoopTest, AssignmentChangeDropsUnappliedRecords) {
  options_.max_batch_records = 10;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv1)),
                     Record("t", 1, 7, ConversationInsert(kConv2))};
  // The rebalance happens inside the third poll: the record it returns
  // belongs to the new assignment.
  source_.before_poll = [&](int poll) {
    if (poll == 3) ++source_.generation;
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 1u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 1, 8}));
  EXPECT_EQ(probe_.dropped_on_rebalance->Value(), 2u);
}

TEST_F(ProcessorLoopTest, StopFinishesAndCommitsTheBatchInHand) {
  options_.max_batch_records = 100;
  options_.max_batch_wait = absl::Hours(1);
  source_.stop_when_empty = nullptr;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv2))};
  source_.before_poll = [&](int poll) {
    if (poll == 3) stop_ = true;  // SIGTERM
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 1u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2}));
}

TEST_F(ProcessorLoopTest, TransientConsumerErrorsAreLoggedAndPolledThrough) {
  source_.errors = {absl::UnavailableError("broker transport failure")};
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1))};
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(writer_.stored.size(), 1u);
}

TEST_F(ProcessorLoopTest, FatalConsumerErrorEndsTheRun) {
  source_.errors = {absl::InternalError("fatal: fenced")};
  EXPECT_EQ(Run().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(writer_.stored, IsEmpty());
}

// Replay: the batch closes when every partition was consumed to its end
// (no window waited out), the next poll finds the replay finished, and the
// one batch carries every record's offset.
TEST_F(ProcessorLoopTest, ReplayBatchClosesWhenEveryPartitionReachedItsEnd) {
  options_.max_batch_records = 1000;
  options_.max_batch_wait = absl::Seconds(60);
  source_.stop_when_empty = nullptr;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 1, 0, ConversationInsert(kConv2)),
                     Record("t", 0, 1, std::nullopt)};
  ReplaySource replay(&source_, {{"t", 0, kBeginning}, {"t", 1, kBeginning}},
                      {{"t", 0, 2}, {"t", 1, 1}});
  options_.batch_complete = [&](const AffectedConversations&) {
    return replay.ConsumedToEnd();
  };
  options_.finished = [&] { return !writer_.stored.empty(); };
  const absl::Time start = clock_.Now();
  ProcessorLoop loop(&replay, &writer_, &dead_letters_, &probe_, &log_,
                     options_);
  ASSERT_TRUE(loop.Run(stop_).ok());
  ASSERT_EQ(writer_.stored.size(), 1u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2},
                                             PartitionOffset{"t", 1, 1}));
  EXPECT_EQ(writer_.plans[0].full_rewrites.size(), 2u);
  EXPECT_EQ(source_.polls, 3);
  EXPECT_LT(clock_.Now() - start, absl::Seconds(1));
}

// batch_complete sees the plan of the batch in hand: a replay closes the
// batch that holds the first snapshot row at once, so the rebuild that row
// asks for runs while the rest is consumed.
TEST_F(ProcessorLoopTest, BatchCompleteSeesThePlanSoFar) {
  options_.max_batch_records = 1000;
  options_.max_batch_wait = absl::Seconds(60);
  const std::string snapshot_row =
      testing::MakeEvent(v1::SNAPSHOT_READ, "raw_support_conversations",
                         testing::MakeRow({{"id", kConv2}}), std::nullopt)
          .SerializeAsString();
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, snapshot_row),
                     Record("t", 0, 2, ConversationInsert(kConv2))};
  options_.batch_complete = [](const AffectedConversations& planned) {
    return !planned.snapshot_lsns.empty();
  };
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(Run().ok());
  ASSERT_GE(writer_.plans.size(), 2u);
  EXPECT_EQ(writer_.plans[0].snapshot_lsns.size(), 1u);
  EXPECT_THAT(writer_.plans[0].full_rewrites, ElementsAre(kConv1));
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2}));
  EXPECT_THAT(writer_.plans[1].full_rewrites, ElementsAre(kConv2));
  EXPECT_LT(clock_.Now() - start, absl::Seconds(60));
}

// overlap_apply: batch 0 is applied while batch 1 is collected (its apply
// does not return before the loop polled batch 1's records), offsets are
// stored in batch order, and each batch's after-commit work runs on the
// loop's thread.
TEST_F(ProcessorLoopTest, OverlapCollectsTheNextBatchWhileOneIsApplied) {
  options_.overlap_apply = true;
  options_.max_batch_records = 2;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv1)),
                     Record("t", 0, 2, ConversationInsert(kConv2)),
                     Record("t", 0, 3, ConversationInsert(kConv2))};
  std::atomic<int> polls{0};
  source_.before_poll = [&](int poll) { polls = poll; };
  writer_.during_apply = [&](size_t batch) {
    if (batch != 0) return;
    // Batch 1 is polled meanwhile (polls 3 and 4 return its records).
    while (polls.load() < 4) std::this_thread::yield();
  };
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::vector<std::thread::id> committed_on;
  options_.on_committed = [&](const ConsumedBatch&, const WriteResult&) {
    committed_on.push_back(std::this_thread::get_id());
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2}));
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 0, 4}));
  EXPECT_EQ(source_.committed, writer_.stored);
  EXPECT_THAT(committed_on, ElementsAre(loop_thread, loop_thread));
}

// overlap_apply: a batch that is full while its predecessor is still being
// applied keeps collecting instead of idling.
TEST_F(ProcessorLoopTest, OverlapAFullBatchGrowsWhileItsPredecessorApplies) {
  options_.overlap_apply = true;
  options_.max_batch_records = 1;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv1)),
                     Record("t", 0, 2, ConversationInsert(kConv2))};
  std::atomic<int> polls{0};
  source_.before_poll = [&](int poll) { polls = poll; };
  writer_.during_apply = [&](size_t batch) {
    if (batch != 0) return;
    while (polls.load() < 3) std::this_thread::yield();
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 1}));
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 0, 3}));
  EXPECT_EQ(probe_.batch_records->Read().count, 2u);
}

// overlap_apply: a batch whose apply fails for good ends the run with that
// error; the batch collected meanwhile is never applied.
TEST_F(ProcessorLoopTest, OverlapAFailedApplyStopsBeforeTheNextBatch) {
  options_.overlap_apply = true;
  options_.max_batch_records = 1;
  writer_.failures = {absl::PermissionDeniedError("permission denied")};
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv2))};
  EXPECT_EQ(Run().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(writer_.stored, IsEmpty());
  EXPECT_THAT(source_.committed, IsEmpty());
  EXPECT_EQ(writer_.attempts, 1);
}

// overlap_apply and SIGTERM: Run() returns only after the batch in flight
// and the batch in hand are both committed.
TEST_F(ProcessorLoopTest, OverlapStopCommitsTheBatchInFlightAndInHand) {
  options_.overlap_apply = true;
  options_.max_batch_records = 2;
  options_.max_batch_wait = absl::Hours(1);
  source_.stop_when_empty = nullptr;
  source_.records = {Record("t", 0, 0, ConversationInsert(kConv1)),
                     Record("t", 0, 1, ConversationInsert(kConv2)),
                     Record("t", 0, 2, ConversationInsert(kConv2))};
  // Batch 0 (offsets 0, 1) is in flight when the third record is polled
  // into batch 1; SIGTERM arrives before the fourth poll.
  source_.before_poll = [&](int poll) {
    if (poll == 4) stop_ = true;
  };
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(writer_.stored.size(), 2u);
  EXPECT_THAT(writer_.stored[0], ElementsAre(PartitionOffset{"t", 0, 2}));
  EXPECT_THAT(writer_.stored[1], ElementsAre(PartitionOffset{"t", 0, 3}));
  EXPECT_EQ(source_.committed, writer_.stored);
}

TEST(ReplaySourceTest, TracksConsumedPositionsAgainstTheEnds) {
  FakeClock clock;
  FakeSource inner(&clock);
  inner.records = {
      Record("a", 0, 5, std::nullopt), Record("b", 0, 0, std::nullopt),
      Record("b", 0, 1, std::nullopt), Record("c", 0, 9, std::nullopt)};
  // a:0 starts at 5 and ends at 6; b:0 starts at its beginning and ends at
  // 2; an empty partition (end 0) and one not in the ends are not waited
  // for.
  ReplaySource replay(&inner, {{"a", 0, 5}, {"b", 0, kBeginning}},
                      {{"a", 0, 6}, {"b", 0, 2}, {"e", 0, 0}});
  EXPECT_FALSE(replay.ConsumedToEnd());
  EXPECT_EQ(replay.RecordsShortOfEnd(), 1 + 2);
  ASSERT_TRUE(replay.Poll(absl::ZeroDuration()).ok());
  EXPECT_FALSE(replay.ConsumedToEnd());
  EXPECT_EQ(replay.RecordsShortOfEnd(), 2);
  ASSERT_TRUE(replay.Poll(absl::ZeroDuration()).ok());
  EXPECT_FALSE(replay.ConsumedToEnd());
  EXPECT_EQ(replay.RecordsShortOfEnd(), 1);
  auto polled = replay.Poll(absl::ZeroDuration());
  ASSERT_TRUE(polled.ok() && polled->has_value());
  EXPECT_EQ((*polled)->offset, 1);
  EXPECT_TRUE(replay.ConsumedToEnd());
  EXPECT_EQ(replay.RecordsShortOfEnd(), 0);
  ASSERT_TRUE(replay.Poll(absl::ZeroDuration()).ok());  // c: not tracked
  EXPECT_TRUE(replay.ConsumedToEnd());
  replay.Committed({{"a", 0, 6}});
  EXPECT_EQ(inner.committed.size(), 1u);
  inner.generation = 7;
  EXPECT_EQ(replay.assignment_generation(), 7u);
  // Nothing to consume at all: complete from the start.
  ReplaySource empty(&inner, {}, {{"a", 0, 0}});
  EXPECT_TRUE(empty.ConsumedToEnd());
}

}  // namespace
}  // namespace enrich::processor
