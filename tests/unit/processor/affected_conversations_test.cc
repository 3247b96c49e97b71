#include "processor/core/affected_conversations.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"
#include "tests/unit/processor/event_builders.h"

namespace enrich::processor {
namespace {

using ::enrich::processor::testing::MakeEvent;
using ::enrich::processor::testing::MakeRow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kConvA[] = "00000000-0000-0000-0000-00000000000a";
constexpr char kConvB[] = "00000000-0000-0000-0000-00000000000b";
constexpr char kMsg1[] = "10000000-0000-0000-0000-000000000001";

TEST(AffectedConversationsPlannerTest, MessageInsertTouchesItsConversation) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "support_conversation_messages",
                         MakeRow({{"id", kMsg1},
                                  {"conversation_id", kConvA},
                                  {"body", std::nullopt}}),
                         std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  EXPECT_THAT(planner.plan().lookup_keys[0], IsEmpty());
  EXPECT_EQ(planner.plan().event_count, 1u);
}

TEST(AffectedConversationsPlannerTest, MovedMessageTouchesBothConversations) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "support_conversation_messages",
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvB}}),
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvA}})))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA, kConvB));
}

TEST(AffectedConversationsPlannerTest, MessageDeleteUsesOldConversation) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                         std::nullopt,
                         MakeRow({{"id", kMsg1}, {"conversation_id", kConvB}})))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvB));
}

TEST(AffectedConversationsPlannerTest,
     MessageUpdateWithoutOldRowNeedsReplicaIdentityFull) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
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
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  absl::Status status =
      planner.Add(MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                            std::nullopt, MakeRow({{"id", kMsg1}})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(planner.plan().empty());
}

TEST(AffectedConversationsPlannerTest,
     ConversationPrimaryKeyChangeTouchesOldAndNewId) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         MakeRow({{"id", kConvB}, {"user_id", "u1"}}),
                         MakeRow({{"id", kConvA}, {"user_id", "u1"}})))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA, kConvB));
}

// Without an old row (DEFAULT identity) the key did not change: the update
// keeps the id, so it is a column update.
TEST(AffectedConversationsPlannerTest,
     ConversationUpdateUnderDefaultIdentityUsesNewId) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         MakeRow({{"id", kConvA}}), std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kConvA));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

TEST(AffectedConversationsPlannerTest, ConversationDeleteFallsBackToEventKey) {
  enrich::v1::ChangeEvent event =
      MakeEvent(enrich::v1::DELETE, "raw_support_conversations", std::nullopt,
                std::nullopt);
  enrich::v1::Column* key = event.add_key();
  key->set_name("id");
  key->set_key(true);
  key->set_text(kConvB);
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(event).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvB));
}

TEST(AffectedConversationsPlannerTest, UppercaseUuidIsCanonicalized) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         MakeRow({{"id",
                                   "ABCDEF00-0000-0000-0000-"
                                   "00000000000A"}}),
                         std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites,
              ElementsAre("abcdef00-0000-0000-0000-00000000000a"));
}

TEST(AffectedConversationsPlannerTest, MalformedConversationIdIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
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
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "subscribers_insights",
                         MakeRow({{"distinct_id", "u2"}, {"income", "high"}}),
                         MakeRow({{"distinct_id", "u1"}, {"income", "low"}})))
          .ok());
  EXPECT_THAT(planner.plan().lookup_keys[0], ElementsAre("u1", "u2"));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

TEST(AffectedConversationsPlannerTest, LinearIssueChangeFansOutByOldAndNewId) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::UPDATE, "linear_issues",
                                 MakeRow({{"id", "lin-2"}}),
                                 MakeRow({{"id", "lin-1"}})))
                  .ok());
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::DELETE, "linear_issues",
                                 std::nullopt, MakeRow({{"id", "lin-3"}})))
                  .ok());
  EXPECT_THAT(planner.plan().lookup_keys[1],
              ElementsAre("lin-1", "lin-2", "lin-3"));
}

TEST(AffectedConversationsPlannerTest, ManyEventsOnOneConversationCoalesce) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(planner
                    .Add(MakeEvent(
                        enrich::v1::INSERT, "support_conversation_messages",
                        MakeRow({{"id", kMsg1}, {"conversation_id", kConvA}}),
                        std::nullopt, /*commit_lsn=*/100 + i))
                    .ok());
  }
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  EXPECT_EQ(planner.plan().event_count, 500u);
  EXPECT_EQ(planner.plan().max_commit_lsn, 599u);
  EXPECT_EQ(planner.plan().max_commit_time_us, 599000);
}

TEST(AffectedConversationsPlannerTest, TruncateSetsTheTablesFlag) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::TRUNCATE, "subscribers_insights",
                                 std::nullopt, std::nullopt))
                  .ok());
  EXPECT_TRUE(planner.plan().truncated.lookups.contains(0));
  EXPECT_FALSE(planner.plan().truncated.root);
  EXPECT_FALSE(planner.plan().truncated.child);
  EXPECT_FALSE(planner.plan().truncated.lookups.contains(1));
  EXPECT_FALSE(planner.plan().empty());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::TRUNCATE, "raw_support_conversations",
                         std::nullopt, std::nullopt))
          .ok());
  EXPECT_TRUE(planner.plan().truncated.root);
}

TEST(AffectedConversationsPlannerTest, UnknownTableIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
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
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  EXPECT_EQ(planner.Add(event).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AffectedConversationsPlannerTest, MissingColumnIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  absl::Status status =
      planner.Add(MakeEvent(enrich::v1::INSERT, "support_conversation_messages",
                            MakeRow({{"id", kMsg1}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("conversation_id"));
}

TEST(AffectedConversationsPlannerTest, NullKeyColumnIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  absl::Status status = planner.Add(
      MakeEvent(enrich::v1::INSERT, "subscribers_insights",
                MakeRow({{"distinct_id", std::nullopt}}), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("NULL"));
}

TEST(AffectedConversationsPlannerTest, UnspecifiedOperationIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
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
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(event).ok());
  EXPECT_THAT(planner.plan().lookup_keys[0], ElementsAre("u7"));
}

TEST(AffectedConversationsPlannerTest, ExtraColumnsAreIgnored) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(
                      enrich::v1::INSERT, "linear_issues",
                      MakeRow({{"id", "lin-9"}, {"a_new_column", "whatever"}}),
                      std::nullopt))
                  .ok());
  EXPECT_THAT(planner.plan().lookup_keys[1], ElementsAre("lin-9"));
}

TEST(AffectedConversationsPlannerTest, TakeResetsThePlan) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::INSERT, "linear_issues",
                                 MakeRow({{"id", "lin-9"}}), std::nullopt))
                  .ok());
  AffectedConversations plan = planner.Take();
  EXPECT_THAT(plan.lookup_keys[1], ElementsAre("lin-9"));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

// The same conversation in either case, from both tables, is planned once;
// after Take() it is planned again (the "already planned" set is per plan).
TEST(AffectedConversationsPlannerTest, SameIdInEitherCaseIsPlannedOncePerPlan) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  auto conversation = [](const char* id) {
    return MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                     MakeRow({{"id", id}}), std::nullopt);
  };
  // Without a body column an insert is not an append: planned in full.
  auto message = [](const char* conversation_id) {
    return MakeEvent(
        enrich::v1::INSERT, "support_conversation_messages",
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
  EXPECT_THAT(planner.Take().full_rewrites, ElementsAre(kConvB, kLower));
  ASSERT_TRUE(planner.Add(message(kUpper)).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kLower));
  EXPECT_EQ(planner.plan().event_count, 1u);
}

// Body edits: a message UPDATE that keeps id, conversation_id and created_at
// and has a non-NULL body before and after.

constexpr char kMsg2[] = "10000000-0000-0000-0000-000000000002";
constexpr char kAt[] = "2024-01-01T00:00:00+00:00";
constexpr char kLaterAt[] = "2024-01-01T00:01:00+00:00";

// A message row with every column the planner may read.
enrich::v1::Row MessageRow(const std::string& id,
                           const std::string& conversation_id,
                           std::optional<std::string> body,
                           const std::string& created_at = kAt) {
  return MakeRow({{"id", id},
                  {"conversation_id", conversation_id},
                  {"author_type", "agent"},
                  {"body", std::move(body)},
                  {"created_at", created_at}});
}

enrich::v1::ChangeEvent MessageUpdate(const enrich::v1::Row& before,
                                      const enrich::v1::Row& after,
                                      uint64_t commit_lsn = 1) {
  return MakeEvent(enrich::v1::UPDATE, "support_conversation_messages", after,
                   before, commit_lsn);
}

// An edit of `message`'s body in `conversation`, from "old" to `body`.
enrich::v1::ChangeEvent BodyEdit(const std::string& message,
                                 const std::string& conversation,
                                 const std::string& body = "new",
                                 uint64_t commit_lsn = 1) {
  return MessageUpdate(MessageRow(message, conversation, "old"),
                       MessageRow(message, conversation, body), commit_lsn);
}

// An INSERT of `row` into the messages table.
enrich::v1::ChangeEvent Inserted(const enrich::v1::Row& row,
                                 uint64_t commit_lsn = 1) {
  return MakeEvent(enrich::v1::INSERT, "support_conversation_messages", row,
                   std::nullopt, commit_lsn);
}

// A full-rewrite event of `conversation`: a message without a body inserted
// into it (with a body it would be an append).
enrich::v1::ChangeEvent MessageInsert(const std::string& conversation) {
  return Inserted(MessageRow(kMsg2, conversation, std::nullopt));
}

// `row` with column `name`'s value replaced by an unchanged-TOAST marker.
enrich::v1::Row WithUnchangedToast(enrich::v1::Row row,
                                   const std::string& name) {
  for (enrich::v1::Column& column : *row.mutable_columns()) {
    if (column.name() == name) column.mutable_unchanged_toast();
  }
  return row;
}

using BodyEditList = std::vector<std::pair<std::string, std::string>>;

BodyEditList BodyEditsOf(const AffectedConversations& plan) {
  return BodyEditList(plan.body_edits.begin(), plan.body_edits.end());
}

TEST(AffectedConversationsBodyEditTest, BodyOnlyUpdateIsPlannedAsABodyEdit) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA, "new", 42)).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvA, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_FALSE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 1u);
  EXPECT_EQ(planner.plan().max_commit_lsn, 42u);
  EXPECT_EQ(planner.plan().max_commit_time_us, 42000);
}

TEST(AffectedConversationsBodyEditTest, EmptyStringBodiesAreBodyEdits) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(MessageUpdate(MessageRow(kMsg1, kConvA, ""),
                                     MessageRow(kMsg1, kConvA, "now text")))
                  .ok());
  ASSERT_TRUE(planner
                  .Add(MessageUpdate(MessageRow(kMsg2, kConvB, "was text"),
                                     MessageRow(kMsg2, kConvB, "")))
                  .ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()),
            (BodyEditList{{kConvA, kMsg1}, {kConvB, kMsg2}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

TEST(AffectedConversationsBodyEditTest, UppercaseIdsAreCanonicalized) {
  const char kUpperConv[] = "ABCDEF00-0000-0000-0000-00000000000A";
  const char kUpperMsg[] = "ABCDEF00-0000-0000-0000-0000000000B1";
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kUpperMsg, kUpperConv)).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()),
            (BodyEditList{{"abcdef00-0000-0000-0000-00000000000a",
                           "abcdef00-0000-0000-0000-0000000000b1"}}));
  // The same conversation in lower case, planned in full, takes it over.
  ASSERT_TRUE(
      planner.Add(MessageInsert("abcdef00-0000-0000-0000-00000000000a")).ok());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites,
              ElementsAre("abcdef00-0000-0000-0000-00000000000a"));
}

// Each of these updates can move a part of the row other than one body, so
// it is a full rewrite of every conversation it touches.
TEST(AffectedConversationsBodyEditTest,
     UpdatesThatAreNotBodyEditsArePlannedInFull) {
  struct Case {
    const char* name;
    enrich::v1::Row before;
    enrich::v1::Row after;
    std::vector<std::string> conversations;
  };
  const std::vector<Case> cases = {
      {"created_at changed",
       MessageRow(kMsg1, kConvA, "old", kAt),
       MessageRow(kMsg1, kConvA, "new", kLaterAt),
       {kConvA}},
      {"created_at changed, body not",
       MessageRow(kMsg1, kConvA, "same", kAt),
       MessageRow(kMsg1, kConvA, "same", kLaterAt),
       {kConvA}},
      {"conversation_id changed",
       MessageRow(kMsg1, kConvA, "old"),
       MessageRow(kMsg1, kConvB, "new"),
       {kConvA, kConvB}},
      {"conversation_id changed, body not",
       MessageRow(kMsg1, kConvA, "same"),
       MessageRow(kMsg1, kConvB, "same"),
       {kConvA, kConvB}},
      {"id changed",
       MessageRow(kMsg1, kConvA, "old"),
       MessageRow(kMsg2, kConvA, "new"),
       {kConvA}},
      {"NULL body before",
       MessageRow(kMsg1, kConvA, std::nullopt),
       MessageRow(kMsg1, kConvA, "new"),
       {kConvA}},
      {"NULL body after",
       MessageRow(kMsg1, kConvA, "old"),
       MessageRow(kMsg1, kConvA, std::nullopt),
       {kConvA}},
      {"NULL body before and after",
       MessageRow(kMsg1, kConvA, std::nullopt),
       MessageRow(kMsg1, kConvA, std::nullopt),
       {kConvA}},
      {"old row without created_at",
       MakeRow({{"id", kMsg1}, {"conversation_id", kConvA}, {"body", "old"}}),
       MessageRow(kMsg1, kConvA, "new"),
       {kConvA}},
      {"old row without body",
       MakeRow(
           {{"id", kMsg1}, {"conversation_id", kConvA}, {"created_at", kAt}}),
       MessageRow(kMsg1, kConvA, "new"),
       {kConvA}},
      {"new row without body",
       MessageRow(kMsg1, kConvA, "old"),
       MakeRow(
           {{"id", kMsg1}, {"conversation_id", kConvA}, {"created_at", kAt}}),
       {kConvA}},
      {"NULL created_at after",
       MessageRow(kMsg1, kConvA, "old"),
       MakeRow({{"id", kMsg1},
                {"conversation_id", kConvA},
                {"body", "new"},
                {"created_at", std::nullopt}}),
       {kConvA}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    absl::Status status = planner.Add(MessageUpdate(c.before, c.after));
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_THAT(planner.plan().body_edits, IsEmpty());
    EXPECT_THAT(planner.plan().full_rewrites,
                ::testing::ElementsAreArray(c.conversations));
  }
}

TEST(AffectedConversationsBodyEditTest, InsertsAndDeletesAreNeverBodyEdits) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg2, kConvA, "hello"))).ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                         std::nullopt, MessageRow(kMsg1, kConvB, "old")))
          .ok());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  // The insert (with a body) is an append; the delete a full rewrite.
  EXPECT_THAT(planner.plan().appends, ElementsAre(Pair(kConvA, kMsg2)));
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvB));
}

// Without the old row (REPLICA IDENTITY DEFAULT) nothing says what changed:
// not an edit, and the full path's error as before.
TEST(AffectedConversationsBodyEditTest, UpdateWithoutOldRowIsNotABodyEdit) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  absl::Status status =
      planner.Add(MakeEvent(enrich::v1::UPDATE, "support_conversation_messages",
                            MessageRow(kMsg1, kConvA, "new"), std::nullopt));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("REPLICA IDENTITY FULL"));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

TEST(AffectedConversationsBodyEditTest, UnchangedToastBodyIsStillABodyEdit) {
  // Only the body is TOASTed in practice, but an unchanged marker on any kept
  // column means "equal to the old value".
  for (const char* column : {"body", "created_at", "conversation_id"}) {
    SCOPED_TRACE(column);
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    ASSERT_TRUE(
        planner
            .Add(MessageUpdate(
                MessageRow(kMsg1, kConvA, "a 20 kB body"),
                WithUnchangedToast(MessageRow(kMsg1, kConvA, "x"), column)))
            .ok());
    EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvA, kMsg1}}));
    EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  }
}

TEST(AffectedConversationsBodyEditTest,
     SecondEditedMessageOfAConversationMakesItAFullRewrite) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvB)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg2, kConvA)).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  // Further edits of either message stay inside the full rewrite.
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA, "again")).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg2, kConvA, "again")).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  EXPECT_EQ(planner.plan().event_count, 5u);
}

TEST(AffectedConversationsBodyEditTest, SameMessageEditedTwiceIsOneEdit) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA, "first", 10)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA, "second", 11)).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvA, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_EQ(planner.plan().event_count, 2u);
  EXPECT_EQ(planner.plan().max_commit_lsn, 11u);
}

TEST(AffectedConversationsBodyEditTest, FullEventBeforeTheEditCoversIt) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(MessageInsert(kConvA)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA)).ok());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  EXPECT_EQ(planner.plan().event_count, 2u);
}

TEST(AffectedConversationsBodyEditTest, FullEventAfterTheEditReplacesIt) {
  for (const bool conversation_event : {false, true}) {
    SCOPED_TRACE(conversation_event ? "conversation update" : "message insert");
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA)).ok());
    ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvB)).ok());
    ASSERT_TRUE(
        planner
            .Add(conversation_event
                     ? MakeEvent(enrich::v1::UPDATE,
                                 "raw_support_conversations",
                                 MakeRow({{"id", kConvA}, {"title", "t2"}}),
                                 MakeRow({{"id", kConvA}, {"title", "t1"}}))
                     : MessageInsert(kConvA))
            .ok());
    EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
    EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
    // And the edit of the same message after it is still covered.
    ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA, "later")).ok());
    EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
    EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  }
}

// A message moved out of a conversation with an edit makes both full.
TEST(AffectedConversationsBodyEditTest, MoveAfterTheEditReplacesIt) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA)).ok());
  ASSERT_TRUE(planner
                  .Add(MessageUpdate(MessageRow(kMsg2, kConvA, "x"),
                                     MessageRow(kMsg2, kConvB, "x")))
                  .ok());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA, kConvB));
}

TEST(AffectedConversationsBodyEditTest,
     MalformedConversationIdInWouldBeEditIsRejectedAsBefore) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvB)).ok());
  absl::Status status = planner.Add(BodyEdit(kMsg1, "not-a-uuid"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a uuid"));
  // The plan is unchanged.
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_EQ(planner.plan().event_count, 1u);
}

TEST(AffectedConversationsBodyEditTest,
     MalformedMessageIdInWouldBeEditIsPlannedInFull) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  // The full path never reads the message id, so it plans the conversation.
  ASSERT_TRUE(planner.Add(BodyEdit("not-a-uuid", kConvA)).ok());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
}

TEST(AffectedConversationsBodyEditTest, TakeResetsTheBodyEdits) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvA)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvB)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg2, kConvB)).ok());  // B in full
  AffectedConversations plan = planner.Take();
  EXPECT_EQ(BodyEditsOf(plan), (BodyEditList{{kConvA, kMsg1}}));
  EXPECT_THAT(plan.full_rewrites, ElementsAre(kConvB));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  // The next plan starts afresh: B, in full before, is an edit again, and
  // A's earlier edit does not turn a new edit of another message into a
  // full rewrite.
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg2, kConvB)).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg2, kConvA)).ok());
  EXPECT_EQ(BodyEditsOf(planner.plan()),
            (BodyEditList{{kConvA, kMsg2}, {kConvB, kMsg2}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

// Appends: a message INSERT (not a snapshot read) whose new row has id,
// conversation_id, created_at and a non-NULL body.

constexpr char kMsg3[] = "10000000-0000-0000-0000-000000000003";

BodyEditList AppendsOf(const AffectedConversations& plan) {
  return BodyEditList(plan.appends.begin(), plan.appends.end());
}

using NamedEvents =
    std::vector<std::pair<const char*, enrich::v1::ChangeEvent>>;

// Plans `partial` (partial work of conversation A: an append, a column
// update...) with each of `others` before and after it, and expects A
// planned in full with no partial work left.
void ExpectEachMakesItFull(const enrich::v1::ChangeEvent& partial,
                           const NamedEvents& others) {
  for (const auto& [name, other] : others) {
    for (const bool other_first : {true, false}) {
      SCOPED_TRACE(absl::StrCat(name, other_first ? ", before" : ", after"));
      AffectedConversationsPlanner planner(
          EnrichedSupportConversationsRoutes("public"));
      ASSERT_TRUE(planner.Add(other_first ? other : partial).ok());
      ASSERT_TRUE(planner.Add(other_first ? partial : other).ok());
      EXPECT_THAT(planner.plan().body_edits, IsEmpty());
      EXPECT_THAT(planner.plan().appends, IsEmpty());
      EXPECT_THAT(planner.plan().column_updates, IsEmpty());
      EXPECT_EQ(planner.plan().full_rewrites.count(kConvA), 1u);
      EXPECT_EQ(planner.plan().event_count, 2u);
    }
  }
}

TEST(AffectedConversationsAppendTest, InsertWithABodyIsPlannedAsAnAppend) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg1, kConvA, "hi"), 42)).ok());
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg2, kConvB, ""), 41)).ok());
  EXPECT_EQ(AppendsOf(planner.plan()),
            (BodyEditList{{kConvA, kMsg1}, {kConvB, kMsg2}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_FALSE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 2u);
  EXPECT_EQ(planner.plan().max_commit_lsn, 42u);
  EXPECT_EQ(planner.plan().max_commit_time_us, 42000);
}

TEST(AffectedConversationsAppendTest, UppercaseIdsAreCanonicalized) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner
                  .Add(Inserted(
                      MessageRow("ABCDEF00-0000-0000-0000-0000000000B1",
                                 "ABCDEF00-0000-0000-0000-00000000000A", "hi")))
                  .ok());
  EXPECT_EQ(AppendsOf(planner.plan()),
            (BodyEditList{{"abcdef00-0000-0000-0000-00000000000a",
                           "abcdef00-0000-0000-0000-0000000000b1"}}));
}

// Each of these inserts lacks what an append needs: planned in full, as
// before appends existed.
TEST(AffectedConversationsAppendTest,
     InsertsThatAreNotAppendsArePlannedInFull) {
  struct Case {
    const char* name;
    enrich::v1::ChangeEvent event;
  };
  const std::vector<Case> cases = {
      {"NULL body", Inserted(MessageRow(kMsg1, kConvA, std::nullopt))},
      {"no body column",
       Inserted(MakeRow(
           {{"id", kMsg1}, {"conversation_id", kConvA}, {"created_at", kAt}}))},
      {"no created_at column",
       Inserted(MakeRow(
           {{"id", kMsg1}, {"conversation_id", kConvA}, {"body", "hi"}}))},
      {"NULL created_at", Inserted(MakeRow({{"id", kMsg1},
                                            {"conversation_id", kConvA},
                                            {"body", "hi"},
                                            {"created_at", std::nullopt}}))},
      {"no id column", Inserted(MakeRow({{"conversation_id", kConvA},
                                         {"body", "hi"},
                                         {"created_at", kAt}}))},
      // The full path never reads the message id.
      {"malformed message id",
       Inserted(MessageRow("not-a-uuid", kConvA, "hi"))},
      // An insert carries every value; a marker is not text.
      {"unchanged-TOAST body",
       Inserted(WithUnchangedToast(MessageRow(kMsg1, kConvA, "hi"), "body"))},
      {"unchanged-TOAST created_at",
       Inserted(
           WithUnchangedToast(MessageRow(kMsg1, kConvA, "hi"), "created_at"))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    absl::Status status = planner.Add(c.event);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_THAT(planner.plan().appends, IsEmpty());
    EXPECT_THAT(planner.plan().body_edits, IsEmpty());
    EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
  }
}

TEST(AffectedConversationsAppendTest,
     MalformedConversationIdInWouldBeAppendIsRejectedAsBefore) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg1, kConvB, "hi"))).ok());
  absl::Status status =
      planner.Add(Inserted(MessageRow(kMsg2, "not-a-uuid", "hi")));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a uuid"));
  // The plan is unchanged.
  EXPECT_EQ(AppendsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_EQ(planner.plan().event_count, 1u);
}

// A conversation gets at most one edit or append per batch: any second
// change of either kind (even the same insert delivered twice) makes it a
// full rewrite, which later changes of it do not undo. B, appended once,
// stays an append throughout.
TEST(AffectedConversationsAppendTest,
     SecondMessageChangeOfAConversationMakesItAFullRewrite) {
  const enrich::v1::ChangeEvent insert1 =
      Inserted(MessageRow(kMsg1, kConvA, "one"));
  struct Case {
    const char* name;
    enrich::v1::ChangeEvent first;
    enrich::v1::ChangeEvent second;
  };
  const std::vector<Case> cases = {
      {"two inserts", insert1,
       Inserted(MessageRow(kMsg2, kConvA, "two", kLaterAt))},
      {"the same insert twice", insert1, insert1},
      {"insert, then an edit of another message", insert1,
       BodyEdit(kMsg2, kConvA)},
      {"insert, then an edit of the inserted message", insert1,
       BodyEdit(kMsg1, kConvA)},
      {"edit, then an insert", BodyEdit(kMsg2, kConvA), insert1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg3, kConvB, "b"))).ok());
    ASSERT_TRUE(planner.Add(c.first).ok());
    ASSERT_TRUE(planner.Add(c.second).ok());
    EXPECT_EQ(AppendsOf(planner.plan()), (BodyEditList{{kConvB, kMsg3}}));
    EXPECT_THAT(planner.plan().body_edits, IsEmpty());
    EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
    // Further inserts and edits of A stay inside its full rewrite.
    ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg3, kConvA, "3"))).ok());
    ASSERT_TRUE(planner.Add(BodyEdit(kMsg3, kConvA)).ok());
    EXPECT_EQ(AppendsOf(planner.plan()), (BodyEditList{{kConvB, kMsg3}}));
    EXPECT_THAT(planner.plan().body_edits, IsEmpty());
    EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA));
    EXPECT_EQ(planner.plan().event_count, 5u);
  }
}

// An event planned in full before or after the append covers it.
TEST(AffectedConversationsAppendTest, FullEventBeforeOrAfterTheAppendCoversIt) {
  const NamedEvents fulls = {
      {"conversation update",
       MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                 MakeRow({{"id", kConvA}, {"title", "t2"}}),
                 MakeRow({{"id", kConvA}, {"title", "t1"}}))},
      {"insert without a body", MessageInsert(kConvA)},
      {"message deleted",
       MakeEvent(enrich::v1::DELETE, "support_conversation_messages",
                 std::nullopt, MessageRow(kMsg2, kConvA, "x"))},
      {"message moved out", MessageUpdate(MessageRow(kMsg2, kConvA, "x"),
                                          MessageRow(kMsg2, kConvB, "x"))},
  };
  ExpectEachMakesItFull(Inserted(MessageRow(kMsg1, kConvA, "hi")), fulls);
}

TEST(AffectedConversationsAppendTest, TakeResetsTheAppends) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg1, kConvA, "a"))).ok());
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg1, kConvB, "b"))).ok());
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg2, kConvB, "c"))).ok());
  AffectedConversations plan = planner.Take();
  EXPECT_EQ(AppendsOf(plan), (BodyEditList{{kConvA, kMsg1}}));
  EXPECT_THAT(plan.full_rewrites, ElementsAre(kConvB));
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_THAT(planner.plan().appends, IsEmpty());
  // The next plan starts afresh: B, in full before, is an append again, and
  // A's earlier append does not turn a new one into a full rewrite.
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg2, kConvB, "c"))).ok());
  ASSERT_TRUE(planner.Add(Inserted(MessageRow(kMsg3, kConvA, "d"))).ok());
  EXPECT_EQ(AppendsOf(planner.plan()),
            (BodyEditList{{kConvA, kMsg3}, {kConvB, kMsg2}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

// Column updates: an UPDATE of a conversation that keeps its id.

enrich::v1::ChangeEvent ConversationUpdate(const std::string& old_id,
                                           const std::string& new_id,
                                           const std::string& status) {
  return MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                   MakeRow({{"id", new_id}, {"status", status}}),
                   MakeRow({{"id", old_id}, {"status", "open"}}));
}

TEST(AffectedConversationsColumnUpdateTest, UpdateKeepingTheIdIsAColumnUpdate) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvA, "closed")).ok());
  // Any number of them is one column update.
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvA, "open")).ok());
  // Upper-case ids are canonicalized.
  ASSERT_TRUE(planner
                  .Add(ConversationUpdate(absl::AsciiStrToUpper(kConvB),
                                          absl::AsciiStrToUpper(kConvB), "x"))
                  .ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kConvA, kConvB));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_FALSE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 3u);
}

TEST(AffectedConversationsColumnUpdateTest, IdChangeIsStillAFullRewrite) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvB, "open")).ok());
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kConvA, kConvB));
}

// An event planned in full before or after the column update covers it;
// a message change (edit or append) of the conversation makes it full too.
TEST(AffectedConversationsColumnUpdateTest, OtherWorkOnTheConversationIsFull) {
  const NamedEvents others = {
      {"conversation insert",
       MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                 MakeRow({{"id", kConvA}}), std::nullopt)},
      {"conversation delete",
       MakeEvent(enrich::v1::DELETE, "raw_support_conversations", std::nullopt,
                 MakeRow({{"id", kConvA}}))},
      {"id changed to it", ConversationUpdate(kConvB, kConvA, "open")},
      {"message insert without a body", MessageInsert(kConvA)},
      {"body edit", BodyEdit(kMsg1, kConvA)},
      {"append", Inserted(MessageRow(kMsg1, kConvA, "hi"))},
  };
  ExpectEachMakesItFull(ConversationUpdate(kConvA, kConvA, "closed"), others);
}

TEST(AffectedConversationsColumnUpdateTest, OtherConversationsKeepTheirWork) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvA, "closed")).ok());
  ASSERT_TRUE(planner.Add(BodyEdit(kMsg1, kConvB)).ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kConvA));
  EXPECT_EQ(BodyEditsOf(planner.plan()), (BodyEditList{{kConvB, kMsg1}}));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

TEST(AffectedConversationsColumnUpdateTest,
     MalformedIdIsRejectedPlanUnchanged) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvA, "closed")).ok());
  absl::Status status =
      planner.Add(ConversationUpdate("not-a-uuid", "not-a-uuid", "closed"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a uuid"));
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kConvA));
  EXPECT_EQ(planner.plan().event_count, 1u);
}

TEST(AffectedConversationsColumnUpdateTest, TakeResetsTheColumnUpdates) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvA, kConvA, "closed")).ok());
  ASSERT_TRUE(planner.Add(MessageInsert(kConvB)).ok());
  AffectedConversations plan = planner.Take();
  EXPECT_THAT(plan.column_updates, ElementsAre(kConvA));
  EXPECT_TRUE(planner.plan().empty());
  // B, in full before, is a column update in the next plan.
  ASSERT_TRUE(planner.Add(ConversationUpdate(kConvB, kConvB, "closed")).ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kConvB));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
}

// Snapshot rows name no rows: the plan keeps their snapshot, which the
// writer answers with a rebuild of every row (affected_conversations.h).
TEST(AffectedConversationsSnapshotTest, SnapshotRowsNameOnlyTheirSnapshot) {
  constexpr uint64_t kConsistentPoint = 0x1234;
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  const std::vector<enrich::v1::ChangeEvent> rows = {
      MakeEvent(enrich::v1::SNAPSHOT_READ, "raw_support_conversations",
                MakeRow({{"id", kConvA}, {"user_id", "u1"}}), std::nullopt,
                kConsistentPoint),
      MakeEvent(enrich::v1::SNAPSHOT_READ, "support_conversation_messages",
                MessageRow(kMsg1, kConvB, "hi"), std::nullopt,
                kConsistentPoint),
      MakeEvent(enrich::v1::SNAPSHOT_READ, "subscribers_insights",
                MakeRow({{"distinct_id", "u1"}}), std::nullopt,
                kConsistentPoint),
      MakeEvent(enrich::v1::SNAPSHOT_READ, "linear_issues",
                MakeRow({{"id", "lin-1"}}), std::nullopt, kConsistentPoint)};
  for (const auto& row : rows) ASSERT_TRUE(planner.Add(row).ok());
  const AffectedConversations& plan = planner.plan();
  EXPECT_TRUE(plan.full_rewrites.empty());
  EXPECT_TRUE(plan.appends.empty());
  EXPECT_TRUE(plan.lookup_keys[0].empty());
  EXPECT_TRUE(plan.lookup_keys[1].empty());
  EXPECT_THAT(plan.snapshot_lsns, ElementsAre(kConsistentPoint));
  EXPECT_FALSE(plan.empty());
  EXPECT_EQ(plan.event_count, 4u);
  EXPECT_EQ(plan.max_commit_lsn, kConsistentPoint);
}

TEST(AffectedConversationsSnapshotTest, EachSnapshotIsKeptOnceAndApart) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  for (uint64_t lsn : {7u, 9u, 7u}) {
    ASSERT_TRUE(planner
                    .Add(MakeEvent(
                        enrich::v1::SNAPSHOT_READ, "raw_support_conversations",
                        MakeRow({{"id", kConvA}}), std::nullopt, lsn))
                    .ok());
  }
  // A streamed change of the same conversation is planned as usual.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "raw_support_conversations",
                         std::nullopt, MakeRow({{"id", kConvA}}), 10))
          .ok());
  AffectedConversations plan = planner.Take();
  EXPECT_THAT(plan.snapshot_lsns, ElementsAre(7u, 9u));
  EXPECT_THAT(plan.full_rewrites, ElementsAre(kConvA));
  EXPECT_TRUE(planner.plan().snapshot_lsns.empty());
}

// A snapshot published as a boundary only (no rows) is kept like one
// published row by row: the rebuild needs only its consistent point.
TEST(AffectedConversationsSnapshotTest, BoundaryNamesOnlyItsSnapshot) {
  constexpr uint64_t kConsistentPoint = 0x5678;
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  for (const char* table :
       {"raw_support_conversations", "support_conversation_messages",
        "subscribers_insights", "linear_issues"}) {
    ASSERT_TRUE(
        planner
            .Add(MakeEvent(enrich::v1::SNAPSHOT_BOUNDARY, table, std::nullopt,
                           std::nullopt, kConsistentPoint))
            .ok());
  }
  const AffectedConversations& plan = planner.plan();
  EXPECT_TRUE(plan.full_rewrites.empty());
  EXPECT_TRUE(plan.lookup_keys[0].empty());
  EXPECT_TRUE(plan.lookup_keys[1].empty());
  EXPECT_THAT(plan.snapshot_lsns, ElementsAre(kConsistentPoint));
  EXPECT_EQ(plan.event_count, 4u);
  EXPECT_EQ(plan.max_commit_lsn, kConsistentPoint);
}

TEST(AffectedConversationsSnapshotTest, MalformedSnapshotRowIsRejected) {
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  EXPECT_FALSE(
      planner
          .Add(MakeEvent(enrich::v1::SNAPSHOT_READ, "raw_support_conversations",
                         MakeRow({{"id", "not-a-uuid"}}), std::nullopt, 5))
          .ok());
  EXPECT_FALSE(planner
                   .Add(MakeEvent(enrich::v1::SNAPSHOT_READ,
                                  "support_conversation_messages",
                                  MakeRow({{"id", kMsg1}}), std::nullopt, 5))
                   .ok());
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

// Views other than today's: root keys of other forms, and child changes
// planned in full (their writer has no appends or body edits).

// Conversations per user: root app.users keyed by distinct_id (text), child
// raw_support_conversations by user_id, with every column an append or a
// body edit of today's view would read (id, created_at, body).
constexpr char kTextKeyedRollup[] =
    "CREATE VIEW user_rollups AS SELECT u.distinct_id, u.email, "
    "count(c.id) AS conversations, "
    "array_agg(c.body ORDER BY c.created_at, c.id) AS bodies "
    "FROM app.users u LEFT JOIN raw_support_conversations c "
    "ON u.distinct_id = c.user_id GROUP BY u.distinct_id";

// Orders per account: root accounts keyed by id (bigint), child orders.
constexpr char kIntegerKeyedRollup[] =
    "CREATE VIEW account_rollups AS SELECT a.id, a.name, "
    "count(o.id) AS orders FROM accounts a "
    "LEFT JOIN orders o ON a.id = o.account_id GROUP BY a.id";

ViewRoutes RoutesOf(const char* sql, RootKeyForm root_key_form,
                    ChildEdits child_edits = ChildEdits::kFullRewrite) {
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return ViewRoutes::FromView(*parsed, "public", root_key_form, child_edits);
}

// An event of app.users, its rows holding distinct_id `after`/`before`.
enrich::v1::ChangeEvent UserEvent(enrich::v1::Operation op,
                                  std::optional<std::string> after,
                                  std::optional<std::string> before) {
  enrich::v1::ChangeEvent event = MakeEvent(
      op, "users",
      after ? std::optional(MakeRow({{"distinct_id", *after}})) : std::nullopt,
      before ? std::optional(MakeRow({{"distinct_id", *before}}))
             : std::nullopt);
  event.set_schema("app");
  return event;
}

// A raw_support_conversations row of the text-keyed rollup.
enrich::v1::Row UserConversationRow(const std::string& user_id,
                                    const std::string& body) {
  return MakeRow({{"id", kMsg1},
                  {"user_id", user_id},
                  {"created_at", "2024-01-01T00:00:00+00:00"},
                  {"body", body}});
}

// An event of accounts, its rows holding id `after`/`before`.
enrich::v1::ChangeEvent AccountEvent(enrich::v1::Operation op,
                                     std::optional<std::string> after,
                                     std::optional<std::string> before) {
  return MakeEvent(
      op, "accounts",
      after ? std::optional(MakeRow({{"id", *after}})) : std::nullopt,
      before ? std::optional(MakeRow({{"id", *before}})) : std::nullopt);
}

// An INSERT into orders for account `account_id`.
enrich::v1::ChangeEvent OrderInsert(const std::string& account_id) {
  return MakeEvent(enrich::v1::INSERT, "orders",
                   MakeRow({{"id", "1"}, {"account_id", account_id}}),
                   std::nullopt);
}

TEST(AffectedConversationsTextKeyTest, KeysAreKeptByteExact) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText));
  const std::string keys[] = {
      "Alice", "alice", " alice ", "o'brien \"q\" \\", "\xC3\xBCn\xC3\xAF", ""};
  for (const std::string& key : keys) {
    ASSERT_TRUE(
        planner.Add(UserEvent(enrich::v1::INSERT, key, std::nullopt)).ok())
        << key;
  }
  EXPECT_THAT(planner.plan().full_rewrites,
              UnorderedElementsAre(keys[0], keys[1], keys[2], keys[3], keys[4],
                                   keys[5]));
  // NULL is no key.
  enrich::v1::ChangeEvent null_key =
      MakeEvent(enrich::v1::INSERT, "users",
                MakeRow({{"distinct_id", std::nullopt}}), std::nullopt);
  null_key.set_schema("app");
  EXPECT_EQ(planner.Add(null_key).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(planner.plan().full_rewrites.size(), 6u);
  EXPECT_EQ(planner.plan().event_count, 6u);
}

TEST(AffectedConversationsTextKeyTest, EachKeyIsPlannedOnce) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText));
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::INSERT, "Alice", std::nullopt)).ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         UserConversationRow("Alice", "hi"), std::nullopt))
          .ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "raw_support_conversations",
                         std::nullopt, UserConversationRow("Alice", "hi")))
          .ok());
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::DELETE, std::nullopt, "Alice")).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice"));
  EXPECT_EQ(planner.plan().event_count, 4u);
  // The next plan starts over.
  EXPECT_THAT(planner.Take().full_rewrites, ElementsAre("Alice"));
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::INSERT, "Alice", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice"));
}

// A child whose foreign key is NULL belongs to no root: nothing to rewrite
// on that side, and the other side still is (found by the declared-view
// pipeline test: dead-lettering these lost a user's un-assignment).
TEST(AffectedConversationsTextKeyTest, NullForeignKeyReachesNoRoot) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText));
  auto row = [](std::optional<std::string> user_id) {
    return MakeRow({{"id", kMsg1}, {"user_id", user_id}});
  };
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         row(std::nullopt), std::nullopt))
          .ok());
  EXPECT_TRUE(planner.plan().full_rewrites.empty());
  EXPECT_EQ(planner.plan().event_count, 1u);
  // Un-assigned from Alice, then assigned to Bob.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         row(std::nullopt), row("Alice")))
          .ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         row("Bob"), row(std::nullopt)))
          .ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "raw_support_conversations",
                         std::nullopt, row(std::nullopt)))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice", "Bob"));
  // A NULL root key is still a malformed event.
  enrich::v1::ChangeEvent null_key =
      MakeEvent(enrich::v1::DELETE, "users", std::nullopt,
                MakeRow({{"distinct_id", std::nullopt}}));
  null_key.set_schema("app");
  EXPECT_EQ(planner.Add(null_key).code(), absl::StatusCode::kInvalidArgument);
  // The old row missing altogether is still REPLICA IDENTITY DEFAULT's.
  EXPECT_EQ(planner
                .Add(MakeEvent(enrich::v1::DELETE, "raw_support_conversations",
                               std::nullopt, std::nullopt))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AffectedConversationsTextKeyTest, ChildChangesRewriteTheirParentsInFull) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText));
  // An insert with a body: an append under today's view, in full here.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         UserConversationRow("Alice", "hi"), std::nullopt))
          .ok());
  // An update of the body alone: a body edit under today's view.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         UserConversationRow("Bob", "new"),
                         UserConversationRow("Bob", "old")))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice", "Bob"));
  EXPECT_THAT(planner.plan().appends, IsEmpty());
  EXPECT_THAT(planner.plan().body_edits, IsEmpty());
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  // A moved child and a deleted one: old and new parent.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         UserConversationRow("carol", "x"),
                         UserConversationRow("Carol", "x")))
          .ok());
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::DELETE, "raw_support_conversations",
                         std::nullopt, UserConversationRow("Dan", "x")))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites,
              ElementsAre("Alice", "Bob", "Carol", "Dan", "carol"));

  // The switch decides: the same routes with in-place child edits plan the
  // insert as an append.
  AffectedConversationsPlanner in_place(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText, ChildEdits::kInPlace));
  ASSERT_TRUE(
      in_place
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         UserConversationRow("Alice", "hi"), std::nullopt))
          .ok());
  EXPECT_THAT(in_place.plan().appends, ElementsAre(Pair("Alice", kMsg1)));
  EXPECT_THAT(in_place.plan().full_rewrites, IsEmpty());
}

TEST(AffectedConversationsTextKeyTest, ColumnUpdateThenChildChangeIsFull) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTextKeyedRollup, RootKeyForm::kText));
  // A root UPDATE keeping its key: a column update, for any view.
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::UPDATE, "Alice ", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre("Alice "));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                         UserConversationRow("Alice ", "hi"), std::nullopt))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice "));
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  // Covered by the full rewrite from now on; another key is not.
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::UPDATE, "Alice ", std::nullopt)).ok());
  ASSERT_TRUE(
      planner.Add(UserEvent(enrich::v1::UPDATE, "Alice", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("Alice "));
  EXPECT_THAT(planner.plan().column_updates, ElementsAre("Alice"));
}

TEST(AffectedConversationsIntegerKeyTest, SpellingsOfOneValueAreOneKey) {
  AffectedConversationsPlanner planner(
      RoutesOf(kIntegerKeyedRollup, RootKeyForm::kInteger));
  ASSERT_TRUE(
      planner.Add(AccountEvent(enrich::v1::INSERT, "007", std::nullopt)).ok());
  ASSERT_TRUE(planner.Add(OrderInsert("7")).ok());
  ASSERT_TRUE(
      planner.Add(AccountEvent(enrich::v1::DELETE, std::nullopt, "-012")).ok());
  ASSERT_TRUE(planner.Add(OrderInsert("-12")).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("-12", "7"));
  // A column update in another spelling is covered by the full rewrite.
  ASSERT_TRUE(
      planner.Add(AccountEvent(enrich::v1::UPDATE, "0007", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("-12", "7"));
}

TEST(AffectedConversationsIntegerKeyTest, ColumnUpdateThenChildChangeIsFull) {
  AffectedConversationsPlanner planner(
      RoutesOf(kIntegerKeyedRollup, RootKeyForm::kInteger));
  ASSERT_TRUE(
      planner.Add(AccountEvent(enrich::v1::UPDATE, "007", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre("7"));
  ASSERT_TRUE(planner.Add(OrderInsert("7")).ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("7"));
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  // Covered by the full rewrite whatever its spelling.
  ASSERT_TRUE(
      planner.Add(AccountEvent(enrich::v1::UPDATE, "07", std::nullopt)).ok());
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre("7"));
}

TEST(AffectedConversationsIntegerKeyTest, NonIntegersAreRefused) {
  AffectedConversationsPlanner planner(
      RoutesOf(kIntegerKeyedRollup, RootKeyForm::kInteger));
  for (const char* bad : {"x", "1.5", "", "7a", "0x10", "1e3"}) {
    absl::Status root =
        planner.Add(AccountEvent(enrich::v1::INSERT, bad, std::nullopt));
    EXPECT_EQ(root.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(root.message(), HasSubstr("not a 64-bit integer")) << bad;
    EXPECT_EQ(planner.Add(OrderInsert(bad)).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  // A moved child with one bad key names neither: the plan is unchanged.
  EXPECT_EQ(planner
                .Add(MakeEvent(enrich::v1::UPDATE, "orders",
                               MakeRow({{"id", "1"}, {"account_id", "x"}}),
                               MakeRow({{"id", "1"}, {"account_id", "1"}})))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(planner.plan().empty());
  EXPECT_EQ(planner.plan().event_count, 0u);
}

TEST(AffectedConversationsIntegerKeyTest, KeysAreSigned64Bit) {
  AffectedConversationsPlanner planner(
      RoutesOf(kIntegerKeyedRollup, RootKeyForm::kInteger));
  ASSERT_TRUE(planner.Add(OrderInsert("9223372036854775807")).ok());
  ASSERT_TRUE(planner.Add(OrderInsert("-9223372036854775808")).ok());
  for (const char* beyond : {"9223372036854775808", "-9223372036854775809",
                             "18446744073709551616"}) {
    EXPECT_EQ(planner.Add(OrderInsert(beyond)).code(),
              absl::StatusCode::kInvalidArgument)
        << beyond;
  }
  EXPECT_THAT(planner.plan().full_rewrites,
              ElementsAre("-9223372036854775808", "9223372036854775807"));
  EXPECT_EQ(planner.plan().event_count, 2u);
}

}  // namespace
}  // namespace enrich::processor
