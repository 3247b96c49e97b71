#include "processor/core/consumed_batch.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "tests/unit/processor/event_builders.h"

namespace enrich::processor {
namespace {

using ::enrich::processor::testing::MakeEvent;
using ::enrich::processor::testing::MakeRow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConvA[] = "00000000-0000-0000-0000-00000000000a";

ConsumedRecord Record(const std::string& topic, int32_t partition,
                      int64_t offset, std::optional<std::string> value) {
  return {topic, partition, offset, "key", std::move(value)};
}

std::string ConversationInsert(const std::string& id) {
  return MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                   MakeRow({{"id", id}}), std::nullopt)
      .SerializeAsString();
}

TEST(ConsumedBatchBuilderTest, PlansEventsAndTracksNextOffsets) {
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("support.public.raw_support_conversations", 1, 41,
                     ConversationInsert(kConvA)));
  builder.Add(Record("support.public.raw_support_conversations", 1, 42,
                     ConversationInsert(kConvA)));
  builder.Add(Record("support.public.linear_issues", 0, 7,
                     MakeEvent(enrich::v1::INSERT, "linear_issues",
                               MakeRow({{"id", "lin-1"}}), std::nullopt)
                         .SerializeAsString()));
  EXPECT_EQ(builder.records(), 3u);
  ConsumedBatch batch = builder.Take();
  EXPECT_THAT(batch.plan.full_rewrites, ElementsAre(kConvA));
  EXPECT_THAT(batch.plan.lookup_keys[1], ElementsAre("lin-1"));
  EXPECT_THAT(
      batch.offsets,
      ElementsAre(
          PartitionOffset{"support.public.linear_issues", 0, 8},
          PartitionOffset{"support.public.raw_support_conversations", 1, 43}));
  EXPECT_TRUE(batch.dead_letters.empty());
  EXPECT_EQ(builder.records(), 0u);
}

// Consecutive events with one commit time (a transaction, a snapshot) share
// one run; tombstones and dead letters have none.
TEST(ConsumedBatchBuilderTest, CommitTimesAreRunLengthEncodedInOrder) {
  auto insert_at = [](uint64_t commit_lsn) {
    return MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                     MakeRow({{"id", kConvA}}), std::nullopt, commit_lsn)
        .SerializeAsString();
  };
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("t", 0, 0, insert_at(5)));
  builder.Add(Record("t", 0, 1, insert_at(5)));
  builder.Add(Record("t", 0, 2, std::nullopt));
  builder.Add(Record("t", 0, 3, std::string("\xff not an event")));
  builder.Add(Record("t", 0, 4, insert_at(5)));
  builder.Add(Record("t", 0, 5, insert_at(7)));
  builder.Add(Record("t", 0, 6, insert_at(5)));
  ConsumedBatch batch = builder.Take();
  ASSERT_EQ(batch.commit_times.size(), 3u);
  EXPECT_EQ(batch.commit_times[0].commit_time_us, 5000);
  EXPECT_EQ(batch.commit_times[0].events, 3u);
  EXPECT_EQ(batch.commit_times[1].commit_time_us, 7000);
  EXPECT_EQ(batch.commit_times[1].events, 1u);
  EXPECT_EQ(batch.commit_times[2].commit_time_us, 5000);
  EXPECT_EQ(batch.commit_times[2].events, 1u);
  EXPECT_TRUE(builder.Take().commit_times.empty());
}

TEST(ConsumedBatchBuilderTest, TombstonesAreSkippedButAdvanceTheOffset) {
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("t", 0, 5, std::nullopt));
  ConsumedBatch batch = builder.Take();
  EXPECT_TRUE(batch.plan.empty());
  EXPECT_EQ(batch.tombstones, 1u);
  EXPECT_THAT(batch.offsets, ElementsAre(PartitionOffset{"t", 0, 6}));
  EXPECT_TRUE(batch.dead_letters.empty());
}

TEST(ConsumedBatchBuilderTest, UndecodableRecordBecomesDeadLetter) {
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("t", 2, 9, std::string("\xff\xff\xff garbage", 11)));
  builder.Add(Record("t", 2, 10, ConversationInsert(kConvA)));
  ConsumedBatch batch = builder.Take();
  ASSERT_EQ(batch.dead_letters.size(), 1u);
  EXPECT_EQ(batch.dead_letters[0].record.offset, 9);
  EXPECT_THAT(batch.dead_letters[0].reason, HasSubstr("ChangeEvent"));
  EXPECT_THAT(batch.plan.full_rewrites, ElementsAre(kConvA));
  EXPECT_THAT(batch.offsets, ElementsAre(PartitionOffset{"t", 2, 11}));
}

TEST(ConsumedBatchBuilderTest, UnplannableEventBecomesDeadLetterWithReason) {
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("t", 0, 0,
                     MakeEvent(enrich::v1::INSERT, "mystery",
                               MakeRow({{"id", "1"}}), std::nullopt)
                         .SerializeAsString()));
  ConsumedBatch batch = builder.Take();
  ASSERT_EQ(batch.dead_letters.size(), 1u);
  EXPECT_THAT(batch.dead_letters[0].reason, HasSubstr("unknown table mystery"));
  EXPECT_TRUE(batch.plan.empty());
  EXPECT_EQ(batch.plan.event_count, 0u);
}

TEST(ConsumedBatchBuilderTest, OffsetNeverMovesBackWithinABatch) {
  ConsumedBatchBuilder builder(EnrichedSupportConversationsRoutes("public"));
  builder.Add(Record("t", 0, 20, std::nullopt));
  builder.Add(Record("t", 0, 3, std::nullopt));  // a redelivery
  EXPECT_THAT(builder.Take().offsets, ElementsAre(PartitionOffset{"t", 0, 21}));
}

}  // namespace
}  // namespace enrich::processor
