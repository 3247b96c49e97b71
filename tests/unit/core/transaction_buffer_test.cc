#include "cdc/core/transaction_buffer.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/unit/core/fake_spill_env.h"

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
  TransactionBuffer buffer({::testing::TempDir(), 1 << 20});
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
  TransactionBuffer buffer({::testing::TempDir(), 2000});  // ~8 records
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
  TransactionBuffer buffer({::testing::TempDir(), 2000});
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

// Everything Replay hands out, copied.
using Visited = std::tuple<std::string, std::string, std::string, std::string,
                           bool, bool, int, uint64_t, bool>;

std::vector<Visited> ReplayBytes(TransactionBuffer& buffer) {
  std::vector<Visited> seen;
  absl::Status status =
      buffer.Replay([&](const BufferedEvent& e, uint64_t index, bool last) {
        seen.emplace_back(e.topic, e.key, e.routing_value, e.partial_event,
                          e.tombstone_after, e.all_partitions, e.operation,
                          index, last);
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  return seen;
}

// A transaction whose records cross the spill's 1 MB chunks at every offset
// (sizes vary), with empty fields, one record larger than a chunk, and an
// aborted subtransaction.
void AppendVariedTransaction(TransactionBuffer& buffer) {
  for (int i = 0; i < 3000; ++i) {
    BuiltEvent e = Event(i);
    e.partial_event = std::string(1 + (i * 7919) % 1500, static_cast<char>(i));
    if (i % 10 == 0) e.key.clear();
    e.all_partitions = i % 7 == 0;
    if (i == 1234) e.partial_event = std::string(3 << 20, 'x');
    ASSERT_TRUE(buffer.Append(i % 11 == 0 ? 8 : 7, e).ok()) << i;
  }
  buffer.Abort(8);
}

std::vector<Visited> InMemoryReplayOfVariedTransaction() {
  TransactionBuffer buffer({"/unused", size_t{1} << 30});
  AppendVariedTransaction(buffer);
  EXPECT_FALSE(buffer.spilled());
  return ReplayBytes(buffer);
}

TEST(TransactionBufferTest, SpilledToMemoryEnvReplaysByteForByteAsInMemory) {
  testing::MemorySpillEnv env;
  TransactionBuffer buffer({"/spill", 64 << 10, &env});
  AppendVariedTransaction(buffer);
  ASSERT_TRUE(buffer.spilled());
  ASSERT_EQ(env.files().size(), 1u);
  EXPECT_GT(env.files().begin()->second->size(), size_t{3} << 20);
  const std::vector<Visited> expected = InMemoryReplayOfVariedTransaction();
  ASSERT_EQ(expected.size(), 3000u - 273u);
  EXPECT_TRUE(ReplayBytes(buffer) == expected);
  EXPECT_TRUE(env.files().empty());  // removed after the replay
}

TEST(TransactionBufferTest, SpilledToPosixFilesReplaysByteForByteAsInMemory) {
  std::string dir = ::testing::TempDir() + "/spill-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  auto entries = [&dir] {
    int count = 0;
    DIR* d = opendir(dir.c_str());
    while (dirent* entry = readdir(d)) count += entry->d_name[0] != '.';
    closedir(d);
    return count;
  };
  TransactionBuffer buffer({dir, 64 << 10});  // the default, POSIX env
  AppendVariedTransaction(buffer);
  ASSERT_TRUE(buffer.spilled());
  EXPECT_EQ(entries(), 1);
  EXPECT_TRUE(ReplayBytes(buffer) == InMemoryReplayOfVariedTransaction());
  EXPECT_EQ(entries(), 0);  // the spill file is removed
  rmdir(dir.c_str());
}

// Appends `count` records of xid 77 until one fails; returns its status.
absl::Status AppendUntilError(TransactionBuffer& buffer, int count) {
  for (int i = 0; i < count; ++i) {
    absl::Status status = buffer.Append(77, Event(i));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void ExpectSpillError(const absl::Status& status, absl::string_view reason) {
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("transaction xid 77"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find("spill directory /spill"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find(reason), std::string::npos) << status;
}

TEST(TransactionBufferTest, FullDiskAtAnyWriteFailsBeforeAnyRecordIsVisited) {
  // The writes the transaction makes on a roomy disk: while appending, and
  // in all (the rest are made by the replay).
  int writes_appending = 0;
  int writes = 0;
  {
    testing::MemorySpillEnv memory;
    testing::FailingSpillEnv env(&memory);
    TransactionBuffer buffer({"/spill", 2000, &env});
    ASSERT_TRUE(AppendUntilError(buffer, 1000).ok());
    writes_appending = env.appends();
    ASSERT_EQ(ReplayBytes(buffer).size(), 1000u);
    writes = env.appends();
  }
  ASSERT_GT(writes_appending, 50);
  for (int n = 1; n <= writes; ++n) {
    SCOPED_TRACE(absl::StrCat("disk full at write ", n));
    testing::MemorySpillEnv memory;
    testing::FailingSpillEnv env(&memory);
    env.FailAppendsFrom(n);
    TransactionBuffer buffer({"/spill", 2000, &env});
    buffer.set_transaction_xid(77);
    absl::Status appended = AppendUntilError(buffer, 1000);
    EXPECT_EQ(appended.ok(), n > writes_appending);
    if (!appended.ok()) {
      ExpectSpillError(appended, "No space left on device");
      EXPECT_EQ(buffer.Append(77, Event(0)), appended);  // sticky
      EXPECT_TRUE(memory.files().empty());               // removed at once
    }
    int visits = 0;
    absl::Status replayed =
        buffer.Replay([&](const BufferedEvent&, uint64_t, bool) {
          ++visits;
          return absl::OkStatus();
        });
    ExpectSpillError(replayed, "No space left on device");
    EXPECT_EQ(visits, 0);
    EXPECT_TRUE(memory.files().empty());
    // Replay leaves the buffer reusable for a transaction held in memory.
    ASSERT_TRUE(buffer.Append(78, Event(1)).ok());
    ASSERT_EQ(ReplayBytes(buffer).size(), 1u);
  }
}

TEST(TransactionBufferTest, UnwritableDirectoryFailsAtTheFirstSpill) {
  testing::MemorySpillEnv memory;
  testing::FailingSpillEnv env(&memory);
  env.FailCreates();
  TransactionBuffer buffer({"/spill", 2000, &env});
  buffer.set_transaction_xid(77);
  int appended = 0;
  absl::Status status;
  while (appended < 100 && (status = buffer.Append(77, Event(appended))).ok()) {
    ++appended;
  }
  EXPECT_GT(appended, 0);  // held in memory while they fit
  EXPECT_LT(appended, 20);
  ExpectSpillError(status, "Permission denied");
  EXPECT_FALSE(buffer.spilled());
  int visits = 0;
  ExpectSpillError(buffer.Replay([&](const BufferedEvent&, uint64_t, bool) {
    ++visits;
    return absl::OkStatus();
  }),
                   "Permission denied");
  EXPECT_EQ(visits, 0);
  EXPECT_EQ(memory.created(), 0);
}

TEST(TransactionBufferTest, MissingPosixDirectoryIsFailedPrecondition) {
  const std::string dir = ::testing::TempDir() + "/no-such-spill-directory";
  TransactionBuffer buffer({dir, 2000});
  buffer.set_transaction_xid(77);
  absl::Status status = AppendUntilError(buffer, 100);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("spill directory " + dir), std::string::npos)
      << status;
  EXPECT_NE(status.message().find("xid 77"), std::string::npos) << status;
}

}  // namespace
}  // namespace enrich::cdc
