#include "processor/core/affected_conversations.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/processor/event_builders.h"

namespace enrich::processor {
namespace {

using ::enrich::processor::testing::MakeEvent;
using ::enrich::processor::testing::MakeRow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kConvA[] = "00000000-0000-0000-0000-00000000000a";
constexpr char kConvB[] = "00000000-0000-0000-0000-00000000000b";
constexpr char kMsg1[] = "10000000-0000-0000-0000-000000000001";

TEST(AffectedConversationsPlannerTest, MessageInsertTouchesItsConversation) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "support_conversation_messages",
                         MakeRow({{"id", kMsg1},
                                  {"conversation_id", kConvA},
                                  {"body", std::nullopt}}),
                         std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvA));
  EXPECT_THAT(planner.plan().user_ids, IsEmpty());
  EXPECT_EQ(planner.plan().event_count, 1u);
}

TEST(AffectedConversationsPlannerTest, MovedMessageTouchesBothConversations) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "support_conversation_messages",
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvB}}),
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvA}})))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvA, kConvB));
}

TEST(AffectedConversationsPlannerTest, MessageDeleteUsesOldConversation) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                         std::nullopt,
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvB}})))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvB));
}

TEST(AffectedConversationsPlannerTest,
     MessageUpdateWithoutOldRowNeedsReplicaIdentityFull) {
  AffectedConversationsPlanner planner;
  absl::Status status = planner.Add(MakeEvent(
      enrich::v1::UPDATE, "support_conversation_messages",
      MakeRow({{"id", kMsg1}, {"conversation_id", kConvB}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("REPLICA IDENTITY FULL"));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

TEST(AffectedConversationsPlannerTest,
     MessageDeleteWithKeyOnlyOldRowNeedsReplicaIdentityFull) {
  AffectedConversationsPlanner planner;
  absl::Status status =
      planner.Add(MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                            std::nullopt, MakeRow({{"id", kMsg1}})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(planner.plan().empty());
}

TEST(AffectedConversationsPlannerTest,
     ConversationPrimaryKeyChangeTouchesOldAndNewId) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         MakeRow({{"id", kConvB}, {"user_id", "u1"}}),
                         MakeRow({{"id", kConvA}, {"user_id", "u1"}})))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvA, kConvB));
}

TEST(AffectedConversationsPlannerTest,
     ConversationUpdateUnderDefaultIdentityUsesNewId) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         MakeRow({{"id", kConvA}}), std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvA));
}

TEST(AffectedConversationsPlannerTest, ConversationDeleteFallsBackToEventKey) {
  enrich::v1::ChangeEvent event =
      MakeEvent(enrich::v1::DELETE, "raw_support_conversations", std::nullopt,
                std::nullopt);
  enrich::v1::Column* key = event.add_key();
  key->set_name("id");
  key->set_key(true);
  key->set_text(kConvB);
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner.Add(event).ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvB));
}

TEST(AffectedConversationsPlannerTest, UppercaseUuidIsCanonicalized) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::SNAPSHOT_READ, "raw_support_conversations",
                         MakeRow({{"id",
                                   "ABCDEF00-0000-0000-0000-"
                                   "00000000000A"}}),
                         std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().conversation_ids,
              ElementsAre("abcdef00-0000-0000-0000-00000000000a"));
}

TEST(AffectedConversationsPlannerTest, MalformedConversationIdIsRejected) {
  AffectedConversationsPlanner planner;
  absl::Status status = planner.Add(
      MakeEvent(enrich::v1::INSERT, "support_conversation_messages",
                MakeRow({{"id", kMsg1}, {"conversation_id", "not-a-uuid"}}),
                std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a uuid"));
  EXPECT_TRUE(planner.plan().empty());
}

TEST(AffectedConversationsPlannerTest,
     SubscriberChangeFansOutByOldAndNewDistinctId) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "subscribers_insights",
                         MakeRow({{"distinct_id", "u2"}, {"income", "high"}}),
                         MakeRow({{"distinct_id", "u1"}, {"income", "low"}})))
          .ok());
  EXPECT_THAT(planner.plan().user_ids, ElementsAre("u1", "u2"));
  EXPECT_THAT(planner.plan().conversation_ids, IsEmpty());
}

TEST(AffectedConversationsPlannerTest, LinearIssueChangeFansOutByOldAndNewId) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::UPDATE, "linear_issues",
                                 MakeRow({{"id", "lin-2"}}),
                                 MakeRow({{"id", "lin-1"}})))
                  .ok());
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::DELETE, "linear_issues",
                                 std::nullopt, MakeRow({{"id", "lin-3"}})))
                  .ok());
  EXPECT_THAT(planner.plan().linear_issue_ids,
              ElementsAre("lin-1", "lin-2", "lin-3"));
}

TEST(AffectedConversationsPlannerTest, ManyEventsOnOneConversationCoalesce) {
  AffectedConversationsPlanner planner;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(planner
                    .Add(MakeEvent(
                        enrich::v1::INSERT, "support_conversation_messages",
                        MakeRow({{"id", kMsg1}, {"conversation_id", kConvA}}),
                        std::nullopt, /*commit_lsn=*/100 + i))
                    .ok());
  }
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kConvA));
  EXPECT_EQ(planner.plan().event_count, 500u);
  EXPECT_EQ(planner.plan().max_commit_lsn, 599u);
  EXPECT_EQ(planner.plan().max_commit_time_us, 599000);
}

TEST(AffectedConversationsPlannerTest, TruncateSetsTheTablesFlag) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::TRUNCATE, "subscribers_insights",
                                 std::nullopt, std::nullopt))
                  .ok());
  EXPECT_TRUE(planner.plan().truncated.subscribers_insights);
  EXPECT_FALSE(planner.plan().truncated.conversations);
  EXPECT_FALSE(planner.plan().truncated.messages);
  EXPECT_FALSE(planner.plan().truncated.linear_issues);
  EXPECT_FALSE(planner.plan().empty());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::TRUNCATE, "raw_support_conversations",
                         std::nullopt, std::nullopt))
          .ok());
  EXPECT_TRUE(planner.plan().truncated.conversations);
}

TEST(AffectedConversationsPlannerTest, UnknownTableIsRejected) {
  AffectedConversationsPlanner planner;
  absl::Status status = planner.Add(MakeEvent(
      enrich::v1::INSERT, "audit_log", MakeRow({{"id", "1"}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unknown table audit_log"));
}

TEST(AffectedConversationsPlannerTest, OtherSchemaIsRejected) {
  enrich::v1::ChangeEvent event =
      MakeEvent(enrich::v1::INSERT, "linear_issues", MakeRow({{"id", "x"}}),
                std::nullopt);
  event.set_schema("staging");
  AffectedConversationsPlanner planner;
  EXPECT_EQ(planner.Add(event).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AffectedConversationsPlannerTest, MissingColumnIsRejected) {
  AffectedConversationsPlanner planner;
  absl::Status status =
      planner.Add(MakeEvent(enrich::v1::INSERT, "support_conversation_messages",
                            MakeRow({{"id", kMsg1}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("conversation_id"));
}

TEST(AffectedConversationsPlannerTest, NullKeyColumnIsRejected) {
  AffectedConversationsPlanner planner;
  absl::Status status = planner.Add(
      MakeEvent(enrich::v1::INSERT, "subscribers_insights",
                MakeRow({{"distinct_id", std::nullopt}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("NULL"));
}

TEST(AffectedConversationsPlannerTest, UnspecifiedOperationIsRejected) {
  AffectedConversationsPlanner planner;
  EXPECT_EQ(
      planner
          .Add(MakeEvent(enrich::v1::OPERATION_UNSPECIFIED, "linear_issues",
                         MakeRow({{"id", "x"}}), std::nullopt))
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(AffectedConversationsPlannerTest, UnchangedToastInNewRowMeansOldValue) {
  enrich::v1::ChangeEvent event =
      MakeEvent(enrich::v1::UPDATE, "subscribers_insights", MakeRow({}),
                MakeRow({{"distinct_id", "u7"}}));
  enrich::v1::Column* column = event.mutable_new_row()->add_columns();
  column->set_name("distinct_id");
  column->mutable_unchanged_toast();
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner.Add(event).ok());
  EXPECT_THAT(planner.plan().user_ids, ElementsAre("u7"));
}

TEST(AffectedConversationsPlannerTest, ExtraColumnsAreIgnored) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner
                  .Add(MakeEvent(
                      enrich::v1::INSERT, "linear_issues",
                      MakeRow({{"id", "lin-9"}, {"a_new_column", "whatever"}}),
                      std::nullopt))
                  .ok());
  EXPECT_THAT(planner.plan().linear_issue_ids, ElementsAre("lin-9"));
}

TEST(AffectedConversationsPlannerTest, TakeResetsThePlan) {
  AffectedConversationsPlanner planner;
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::INSERT, "linear_issues",
                                 MakeRow({{"id", "lin-9"}}), std::nullopt))
                  .ok());
  AffectedConversations plan = planner.Take();
  EXPECT_THAT(plan.linear_issue_ids, ElementsAre("lin-9"));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

// The same conversation in either case, from both tables, is planned once;
// after Take() it is planned again (the "already planned" set is per plan).
TEST(AffectedConversationsPlannerTest, SameIdInEitherCaseIsPlannedOncePerPlan) {
  AffectedConversationsPlanner planner;
  auto conversation = [](const char* id) {
    return MakeEvent(enrich::v1::SNAPSHOT_READ, "raw_support_conversations",
                     MakeRow({{"id", id}}), std::nullopt);
  };
  auto message = [](const char* conversation_id) {
    return MakeEvent(
        enrich::v1::SNAPSHOT_READ, "support_conversation_messages",
        MakeRow({{"id", kMsg1}, {"conversation_id", conversation_id}}),
        std::nullopt);
  };
  const char kUpper[] = "ABCDEF00-0000-0000-0000-00000000000A";
  const char kLower[] = "abcdef00-0000-0000-0000-00000000000a";
  ASSERT_TRUE(planner.Add(conversation(kUpper)).ok());
  ASSERT_TRUE(planner.Add(message(kLower)).ok());
  ASSERT_TRUE(planner.Add(message(kConvB)).ok());
  ASSERT_TRUE(planner.Add(conversation(kLower)).ok());
  EXPECT_FALSE(
      planner.Add(message("abcdef00-0000-0000-0000-00000000000g")).ok());
  EXPECT_FALSE(
      planner.Add(message("abcdef00+0000-0000-0000-00000000000a")).ok());
  EXPECT_THAT(planner.Take().conversation_ids, ElementsAre(kConvB, kLower));
  ASSERT_TRUE(planner.Add(message(kUpper)).ok());
  EXPECT_THAT(planner.plan().conversation_ids, ElementsAre(kLower));
  EXPECT_EQ(planner.plan().event_count, 1u);
}

TEST(SourceTableTest, NamesRoundTrip) {
  for (SourceTable table :
       {SourceTable::kConversations, SourceTable::kMessages,
        SourceTable::kSubscribersInsights, SourceTable::kLinearIssues}) {
    absl::StatusOr<SourceTable> back =
        SourceTableFromName(SourceTableName(table));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, table);
  }
  EXPECT_FALSE(SourceTableFromName("nope").ok());
}

}  // namespace
}  // namespace enrich::processor
