#include "cdc/core/ack_tracker.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace enrich::cdc {
namespace {

TEST(AckTrackerTest, ConfirmsOnlyWhenEveryRecordOfTheTransactionIsAcked) {
  AckTracker acks(100);
  uint64_t a = acks.NextSequence();
  uint64_t b = acks.NextSequence();
  acks.SealTransaction(200);
  EXPECT_EQ(acks.confirmable_lsn(), 100u);
  ASSERT_TRUE(acks.OnDelivered(b).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 100u);
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 200u);
  EXPECT_EQ(acks.in_flight(), 0u);
  EXPECT_EQ(acks.pending_transactions(), 0u);
}

TEST(AckTrackerTest, LaterTransactionWaitsForEarlierOne) {
  AckTracker acks;
  uint64_t first = acks.NextSequence();
  acks.SealTransaction(10);
  uint64_t second = acks.NextSequence();
  acks.SealTransaction(20);
  ASSERT_TRUE(acks.OnDelivered(second).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 0u);
  ASSERT_TRUE(acks.OnDelivered(first).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 20u);
}

TEST(AckTrackerTest, OpenTransactionIsNeverConfirmed) {
  AckTracker acks;
  uint64_t a = acks.NextSequence();
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 0u);
  acks.SealTransaction(50);
  EXPECT_EQ(acks.confirmable_lsn(), 50u);
}

TEST(AckTrackerTest, EmptyTransactionsConfirmInTurn) {
  AckTracker acks;
  uint64_t a = acks.NextSequence();
  acks.SealTransaction(10);
  acks.SealTransaction(20);  // no records
  EXPECT_EQ(acks.confirmable_lsn(), 0u);
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 20u);
}

TEST(AckTrackerTest, RejectsUnknownAndDuplicateReports) {
  AckTracker acks;
  EXPECT_FALSE(acks.OnDelivered(1).ok());
  uint64_t a = acks.NextSequence();
  uint64_t b = acks.NextSequence();
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  EXPECT_FALSE(acks.OnDelivered(a).ok());
  acks.SealTransaction(5);
  ASSERT_TRUE(acks.OnDelivered(b).ok());
  EXPECT_FALSE(acks.OnDelivered(b).ok());  // after its transaction completed
  EXPECT_FALSE(acks.OnDelivered(b + 1).ok());
}

TEST(AckTrackerTest, AdvancesWhenIdleOnlyWithNothingPending) {
  AckTracker acks(5);
  EXPECT_TRUE(acks.AdvanceWhenIdle(40));
  EXPECT_EQ(acks.confirmable_lsn(), 40u);
  EXPECT_TRUE(acks.AdvanceWhenIdle(30));  // never backwards
  EXPECT_EQ(acks.confirmable_lsn(), 40u);
  uint64_t a = acks.NextSequence();
  EXPECT_FALSE(acks.AdvanceWhenIdle(90));
  acks.SealTransaction(60);
  EXPECT_FALSE(acks.AdvanceWhenIdle(90));
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  EXPECT_EQ(acks.confirmable_lsn(), 60u);
  EXPECT_TRUE(acks.AdvanceWhenIdle(90));
  EXPECT_EQ(acks.confirmable_lsn(), 90u);
}

// Many transactions, deliveries shuffled: the confirmed LSN never passes a
// transaction with an unacknowledged record and ends at the last one.
TEST(AckTrackerTest, ShuffledDeliveriesNeverConfirmPastAGap) {
  std::mt19937 rng(42);
  AckTracker acks;
  struct Produced {
    uint64_t sequence;
    uint64_t tx_end_lsn;
  };
  std::vector<Produced> produced;
  for (uint64_t tx = 1; tx <= 200; ++tx) {
    int records = static_cast<int>(rng() % 5);  // some empty
    for (int i = 0; i < records; ++i) {
      produced.push_back({acks.NextSequence(), tx * 100});
    }
    acks.SealTransaction(tx * 100);
  }
  std::shuffle(produced.begin(), produced.end(), rng);
  std::vector<int> remaining(201, 0);
  for (const Produced& p : produced) ++remaining[p.tx_end_lsn / 100];
  for (const Produced& p : produced) {
    ASSERT_TRUE(acks.OnDelivered(p.sequence).ok());
    --remaining[p.tx_end_lsn / 100];
    // The confirmed LSN is the end of the longest fully acknowledged prefix.
    uint64_t expected = 0;
    for (uint64_t tx = 1; tx <= 200 && remaining[tx] == 0; ++tx) {
      expected = tx * 100;
    }
    ASSERT_EQ(acks.confirmable_lsn(), expected);
  }
  EXPECT_EQ(acks.confirmable_lsn(), 20000u);
  EXPECT_EQ(acks.in_flight(), 0u);
}

}  // namespace
}  // namespace enrich::cdc

namespace enrich::cdc {
namespace {

TEST(AckTrackerTest, ReportsEachConfirmedTransactionInCommitOrder) {
  AckTracker acks;
  std::vector<std::pair<uint64_t, int64_t>> confirmed;
  acks.SetConfirmCallback([&](uint64_t lsn, int64_t commit_time) {
    confirmed.emplace_back(lsn, commit_time);
  });
  uint64_t a = acks.NextSequence();
  acks.SealTransaction(10, 1000);
  uint64_t b = acks.NextSequence();
  acks.SealTransaction(20, 2000);
  ASSERT_TRUE(acks.OnDelivered(b).ok());
  EXPECT_TRUE(confirmed.empty());
  ASSERT_TRUE(acks.OnDelivered(a).ok());
  ASSERT_EQ(confirmed.size(), 2u);
  EXPECT_EQ(confirmed[0], std::make_pair(uint64_t{10}, int64_t{1000}));
  EXPECT_EQ(confirmed[1], std::make_pair(uint64_t{20}, int64_t{2000}));
}

}  // namespace
}  // namespace enrich::cdc
