#include "cdc/core/transaction_buffer.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace enrich::cdc {
namespace {

BuiltEvent Event(int i) {
  BuiltEvent e;
  e.topic = "t";
  e.key = absl::StrCat("k", i);
  e.routing_value = absl::StrCat("r", i);
  e.partial_event = std::string(100, static_cast<char>('a' + i % 26));
  e.tombstone_after = i % 3 == 0;
  e.operation = 1 + i % 5;
  return e;
}

struct Seen {
  std::string key;
  uint64_t index;
  bool last;
  bool tombstone;
  int operation;
};

std::vector<Seen> ReplayAll(TransactionBuffer& buffer) {
  std::vector<Seen> seen;
  EXPECT_TRUE(
      buffer
          .Replay([&](const BufferedEvent& e, uint64_t index, bool last) {
            seen.push_back({std::string(e.key), index, last, e.tombstone_after,
                            e.operation});
            return absl::OkStatus();
          })
          .ok());
  return seen;
}

TEST(TransactionBufferTest, ReplaysInOrderWithIndexesAndLastFlag) {
  TransactionBuffer buffer(::testing::TempDir(), 1 << 20);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(buffer.Append(1, Event(i)).ok());
  EXPECT_FALSE(buffer.spilled());
  std::vector<Seen> seen = ReplayAll(buffer);
  ASSERT_EQ(seen.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].key, absl::StrCat("k", i));
    EXPECT_EQ(seen[i].index, static_cast<uint64_t>(i));
    EXPECT_EQ(seen[i].last, i == 4);
  }
}

TEST(TransactionBufferTest, SpillsPastTheBudgetAndReplaysIdentically) {
  TransactionBuffer buffer(::testing::TempDir(), 2000);  // ~8 records
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(buffer.Append(7, Event(i)).ok());
    // Spilled records gather in memory only up to the budget per write.
    ASSERT_LE(buffer.memory_bytes(), 2000u) << "after record " << i;
  }
  EXPECT_TRUE(buffer.spilled());
  std::vector<Seen> seen = ReplayAll(buffer);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(seen[i].key, absl::StrCat("k", i));
    ASSERT_EQ(seen[i].tombstone, i % 3 == 0);
    ASSERT_EQ(seen[i].operation, 1 + i % 5);
  }
  EXPECT_TRUE(seen.back().last);
}

TEST(TransactionBufferTest, AbortedSubtransactionIsSkippedAndNotCounted) {
  TransactionBuffer buffer(::testing::TempDir(), 2000);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(buffer.Append(i % 2 == 0 ? 100 : 101, Event(i)).ok());
  }
  buffer.Abort(101);
  EXPECT_EQ(buffer.surviving_count(), 15u);
  std::vector<Seen> seen = ReplayAll(buffer);
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen[1].key, "k2");
  EXPECT_EQ(seen[1].index, 1u);
  EXPECT_TRUE(seen.back().last);
  EXPECT_EQ(seen.back().key, "k28");
}

}  // namespace
}  // namespace enrich::cdc
