// WritePlan: which conversations a batch rewrites in full and which get
// partial work (edits, appends, joined-column rewrites), the bulk and
// row-lock paths, the lock set, truncate chunks and snapshot rebuilds; one
// test per rule of write_plan.h.
#include "processor/core/write_plan.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// Conversation ids in uuid order; M* are message ids.
const char kA[] = "0000000a-0000-0000-0000-000000000000";
const char kB[] = "0000000b-0000-0000-0000-000000000000";
const char kC[] = "0000000c-0000-0000-0000-000000000000";
const char kD[] = "0000000d-0000-0000-0000-000000000000";
const char kE[] = "0000000e-0000-0000-0000-000000000000";
const char kM1[] = "00000001-0000-0000-0000-0000000000ff";
const char kM2[] = "00000002-0000-0000-0000-0000000000ff";

WritePlanOptions Live() { return WritePlanOptions(); }

WritePlan Finish(WritePlanner& planner,
                 const RewrittenIds* rewritten = nullptr) {
  return std::move(planner).Finish(rewritten);
}

TEST(WritePlanTest, AnEmptyPlanIsOneEmptyTransactionForTheOffsets) {
  AffectedConversations plan;
  WritePlanner planner(plan, Live());
  EXPECT_FALSE(planner.resolves_fan_out());
  EXPECT_FALSE(planner.lists_rebuild_ids());
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, IsEmpty());
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 1u);
  EXPECT_EQ(write.transactions[0].begin, 0u);
  EXPECT_EQ(write.transactions[0].end, 0u);
  EXPECT_FALSE(write.transactions[0].bulk);
  EXPECT_TRUE(write.transactions[0].last);
  EXPECT_EQ(write.conversations(), 0u);
}

TEST(WritePlanTest, PlannedConversationsAreFullRewritesInIdOrder) {
  AffectedConversations plan;
  plan.full_rewrites = {kC, kA};
  WritePlanner planner(plan, Live());
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kC));
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 1u);
  EXPECT_EQ(write.transactions[0].end, 2u);
  EXPECT_FALSE(write.transactions[0].bulk);
}

TEST(WritePlanTest, FanOutIdsAreJoinedColumnRewritesOnceEach) {
  AffectedConversations plan;
  plan.full_rewrites = {kA};
  plan.lookup_keys = {{"u1"}, {}};
  WritePlanner planner(plan, Live());
  EXPECT_TRUE(planner.resolves_fan_out());
  planner.AddFanOutId(kD);
  planner.AddFanOutId(kB);
  planner.AddFanOutId(kD);
  // Named by the plan already: rewritten in full, not twice.
  planner.AddFanOutId(kA);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA));
  EXPECT_THAT(write.partial.joined, ElementsAre(kB, kD));
  EXPECT_EQ(write.conversations(), 3u);
}

TEST(WritePlanTest, ColumnUpdatesAreJoinedColumnRewritesWithTheFanOut) {
  AffectedConversations plan;
  plan.column_updates = {kC, kB};
  plan.lookup_keys = {{}, {"issue"}};
  WritePlanner planner(plan, Live());
  planner.AddFanOutId(kC);
  planner.AddFanOutId(kE);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, IsEmpty());
  EXPECT_THAT(write.partial.joined, ElementsAre(kB, kC, kE));
}

TEST(WritePlanTest, EditsAndAppendsArePartialWork) {
  AffectedConversations plan;
  plan.body_edits = {{kB, kM1}};
  plan.appends = {{kC, kM2}};
  WritePlanner planner(plan, Live());
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, IsEmpty());
  EXPECT_THAT(write.partial.edits, ElementsAre(Pair(kB, kM1)));
  EXPECT_THAT(write.partial.appends, ElementsAre(Pair(kC, kM2)));
  EXPECT_EQ(write.conversations(), 2u);
}

TEST(WritePlanTest, AMessageChangeOfAFullRewriteIsCoveredByIt) {
  AffectedConversations plan;
  plan.full_rewrites = {kB};
  plan.body_edits = {{kB, kM1}};
  plan.appends = {{kB, kM2}};
  WritePlanner planner(plan, Live());
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kB));
  EXPECT_TRUE(write.partial.empty());
}

TEST(WritePlanTest, AMessageChangeTheFanOutReachesIsRewrittenInFull) {
  AffectedConversations plan;
  plan.full_rewrites = {kD};
  plan.body_edits = {{kC, kM1}};
  plan.appends = {{kA, kM2}};
  plan.column_updates = {kE};
  plan.lookup_keys = {{"u1"}, {}};
  WritePlanner planner(plan, Live());
  planner.AddFanOutId(kC);
  planner.AddFanOutId(kA);
  planner.AddFanOutId(kB);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kC, kD));
  EXPECT_THAT(write.partial.edits, IsEmpty());
  EXPECT_THAT(write.partial.appends, IsEmpty());
  EXPECT_THAT(write.partial.joined, ElementsAre(kB, kE));
}

TEST(WritePlanTest, AReplayRewritesEverythingInFullOnce) {
  AffectedConversations plan;
  plan.full_rewrites = {kA};
  plan.body_edits = {{kB, kM1}};
  plan.appends = {{kC, kM2}};
  plan.column_updates = {kD};
  plan.lookup_keys = {{"u1"}, {}};
  WritePlanOptions options;
  options.rewrite_each_id_once = true;
  WritePlanner planner(plan, options);
  planner.AddFanOutId(kE);
  planner.AddFanOutId(kA);
  RewrittenIds rewritten;
  rewritten.Add({kC});
  const WritePlan write = Finish(planner, &rewritten);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kB, kD, kE));
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 1u);
  EXPECT_EQ(write.transactions[0].end, 4u);
}

TEST(WritePlanTest, ATruncateRebuildsInFullInChunksWithTheOffsetsLast) {
  AffectedConversations plan;
  plan.full_rewrites = {kA};
  plan.truncated.lookups.insert(0);
  plan.body_edits = {{kE, kM1}};
  plan.lookup_keys = {{"u1"}, {}};
  WritePlanOptions options;
  options.max_rows_per_rebuild_transaction = 2;
  WritePlanner planner(plan, options);
  EXPECT_TRUE(planner.lists_rebuild_ids());
  planner.AddFanOutId(kB);
  planner.AddRebuildId(kD);
  planner.AddRebuildId(kA);
  planner.AddRebuildId(kC);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kB, kC, kD, kE));
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 3u);
  EXPECT_EQ(write.transactions[0].begin, 0u);
  EXPECT_EQ(write.transactions[0].end, 2u);
  EXPECT_FALSE(write.transactions[0].last);
  EXPECT_EQ(write.transactions[1].begin, 2u);
  EXPECT_EQ(write.transactions[1].end, 4u);
  EXPECT_FALSE(write.transactions[1].last);
  EXPECT_EQ(write.transactions[2].begin, 4u);
  EXPECT_EQ(write.transactions[2].end, 5u);
  EXPECT_TRUE(write.transactions[2].last);
  EXPECT_THAT(TransactionIds(write, write.transactions[1]),
              ElementsAre(kC, kD));
}

TEST(WritePlanTest, ATruncateChunkOfZeroRowsMeansOneRowPerTransaction) {
  AffectedConversations plan;
  plan.truncated.lookups.insert(1);
  WritePlanOptions options;
  options.max_rows_per_rebuild_transaction = 0;
  WritePlanner planner(plan, options);
  planner.AddRebuildId(kB);
  planner.AddRebuildId(kA);
  const WritePlan write = Finish(planner);
  ASSERT_EQ(write.transactions.size(), 2u);
  EXPECT_EQ(write.transactions[0].end, 1u);
  EXPECT_TRUE(write.transactions[1].last);
}

TEST(WritePlanTest, ABulkSizedBatchIsFullAndTakesTheBulkPath) {
  // Two full rewrites, one joined-column rewrite, an edit and an append:
  // five ids reach bulk_min_ids.
  AffectedConversations plan;
  plan.full_rewrites = {kA, kB};
  plan.column_updates = {kC};
  plan.body_edits = {{kD, kM1}};
  plan.appends = {{kE, kM2}};
  WritePlanOptions options;
  options.bulk_min_ids = 5;
  WritePlanner planner(plan, options);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kB, kC, kD, kE));
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 1u);
  EXPECT_TRUE(write.transactions[0].bulk);
}

TEST(WritePlanTest, BelowBulkMinIdsThePartialWorkStays) {
  AffectedConversations plan;
  plan.full_rewrites = {kA, kB};
  plan.column_updates = {kC};
  plan.body_edits = {{kD, kM1}};
  WritePlanOptions options;
  options.bulk_min_ids = 5;
  WritePlanner planner(plan, options);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kB));
  EXPECT_THAT(write.partial.joined, ElementsAre(kC));
  EXPECT_THAT(write.partial.edits, ElementsAre(Pair(kD, kM1)));
  EXPECT_FALSE(write.transactions[0].bulk);
}

TEST(WritePlanTest, BulkMinIdsZeroNeverTakesTheBulkPath) {
  AffectedConversations plan;
  plan.full_rewrites = {kA, kB, kC};
  plan.body_edits = {{kD, kM1}};
  WritePlanOptions options;
  options.bulk_min_ids = 0;
  WritePlanner planner(plan, options);
  const WritePlan write = Finish(planner);
  EXPECT_THAT(write.partial.edits, ElementsAre(Pair(kD, kM1)));
  EXPECT_FALSE(write.transactions[0].bulk);
}

TEST(WritePlanTest, ATruncateChunkTakesTheBulkPathOnlyWhenItIsBulkSized) {
  AffectedConversations plan;
  plan.truncated.child = true;
  WritePlanOptions options;
  options.bulk_min_ids = 2;
  options.max_rows_per_rebuild_transaction = 2;
  WritePlanner planner(plan, options);
  for (const char* id : {kA, kB, kC}) planner.AddRebuildId(id);
  const WritePlan write = Finish(planner);
  ASSERT_EQ(write.transactions.size(), 2u);
  EXPECT_TRUE(write.transactions[0].bulk);
  EXPECT_FALSE(write.transactions[1].bulk);
}

TEST(WritePlanTest, ASnapshotRebuildIsOneBulkTransaction) {
  const WritePlan write = SnapshotRebuildPlan({kC, kA, kB});
  EXPECT_THAT(write.full_rewrites, ElementsAre(kA, kB, kC));
  EXPECT_TRUE(write.partial.empty());
  ASSERT_EQ(write.transactions.size(), 1u);
  EXPECT_TRUE(write.transactions[0].bulk);
  EXPECT_TRUE(write.transactions[0].last);
  EXPECT_EQ(write.transactions[0].end, 3u);
  EXPECT_EQ(write.conversations(), 3u);
}

TEST(WritePlanTest, TheLockSetHoldsEveryConversationInIdOrder) {
  PartialWork partial;
  partial.edits = {{kE, kM1}};
  partial.appends = {{kA, kM2}};
  partial.joined = {kC};
  EXPECT_THAT(LockIds({kB, kD}, partial), ElementsAre(kA, kB, kC, kD, kE));
}

TEST(WritePlanTest, FallbacksJoinTheFullRewritesInIdOrder) {
  EXPECT_THAT(WithFallbacks({kB, kD}, {kE, kA}), ElementsAre(kA, kB, kD, kE));
}

TEST(WritePlanTest, LsnsArePrintedAsPgLsnText) {
  EXPECT_EQ(LsnText(0), "0/0");
  EXPECT_EQ(LsnText(0x16B374D848), "16/B374D848");
  AffectedConversations plan;
  plan.snapshot_lsns = {0x200000001, 0x10};
  EXPECT_THAT(SnapshotLsnTexts(plan), ElementsAre("0/10", "2/1"));
}

}  // namespace
}  // namespace enrich::processor
