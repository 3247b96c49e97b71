#include "cdc/core/event_builder.h"

#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "tests/unit/core/test_relations.h"

namespace enrich::cdc {
namespace {

using testing::ContractRouting;
using testing::MessagesRelation;
using testing::Null;
using testing::Text;
using testing::Toast;

v1::ChangeEvent Parse(const BuiltEvent& built) {
  v1::ChangeEvent event;
  EXPECT_TRUE(event.ParseFromString(built.partial_event));
  return event;
}

TEST(EventBuilderTest, InsertCarriesRowKeyAndConversationRouting) {
  EventBuilder builder("support", ContractRouting());
  auto built =
      builder.Insert(MessagesRelation(), {Text("m1"), Text("c1"), Null()});
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->topic, "support.public.support_conversation_messages");
  EXPECT_EQ(built->key, "m1");
  EXPECT_EQ(built->routing_value, "c1");
  EXPECT_FALSE(built->tombstone_after);
  v1::ChangeEvent event = Parse(*built);
  EXPECT_EQ(event.op(), v1::INSERT);
  ASSERT_EQ(event.new_row().columns_size(), 3);
  EXPECT_EQ(event.new_row().columns(1).name(), "conversation_id");
  EXPECT_EQ(event.new_row().columns(1).text(), "c1");
  EXPECT_EQ(event.new_row().columns(1).type_oid(), 2950u);
  EXPECT_TRUE(event.new_row().columns(2).has_null());
  EXPECT_TRUE(event.new_row().columns(0).key());
  EXPECT_FALSE(event.new_row().columns(1).key());  // only the primary key
  ASSERT_EQ(event.key_size(), 1);
  EXPECT_EQ(event.key(0).text(), "m1");
  EXPECT_FALSE(event.has_old_row());
}

TEST(EventBuilderTest, UpdateFillsUnchangedToastFromFullOldRow) {
  EventBuilder builder("support", ContractRouting());
  pgoutput::Update update;
  update.relation_oid = 16400;
  std::string big(20000, 'x');
  update.old_tuple = pgoutput::Tuple{Text("m1"), Text("c1"), Text(big)};
  update.old_is_key_only = false;
  update.new_tuple = {Text("m1"), Text("c2"), Toast()};
  auto built = builder.Update(MessagesRelation(), update);
  ASSERT_TRUE(built.ok()) << built.status();
  v1::ChangeEvent event = Parse(*built);
  EXPECT_EQ(event.new_row().columns(2).text(), big);
  EXPECT_EQ(event.old_row().columns(1).text(), "c1");
  EXPECT_EQ(built->routing_value, "c2");
}

TEST(EventBuilderTest, UpdateWithoutOldRowKeepsUnchangedToastMarker) {
  EventBuilder builder("support", ContractRouting());
  pgoutput::Update update;
  update.new_tuple = {Text("m1"), Text("c1"), Toast()};
  auto built = builder.Update(MessagesRelation(), update);
  ASSERT_TRUE(built.ok());
  v1::ChangeEvent event = Parse(*built);
  EXPECT_TRUE(event.new_row().columns(2).has_unchanged_toast());
  EXPECT_FALSE(event.new_row().columns(2).has_text());
  EXPECT_FALSE(event.has_old_row());
}

TEST(EventBuilderTest, KeyOnlyDeleteCarriesOnlyKeyAndIsFollowedByTombstone) {
  EventBuilder builder("support", ContractRouting());
  pgoutput::Delete del;
  del.old_tuple = {Text("m1"), Null(), Null()};
  del.old_is_key_only = true;
  auto built = builder.Delete(MessagesRelation(), del);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_TRUE(built->tombstone_after);
  EXPECT_EQ(built->routing_value, "m1");  // no conversation id: key routes
  v1::ChangeEvent event = Parse(*built);
  EXPECT_EQ(event.op(), v1::DELETE);
  ASSERT_EQ(event.old_row().columns_size(), 1);
  EXPECT_EQ(event.old_row().columns(0).name(), "id");
}

TEST(EventBuilderTest, SnapshotReadAndTruncate) {
  EventBuilder builder("support", ContractRouting());
  auto snap = builder.SnapshotRead(MessagesRelation(),
                                   {Text("m1"), Text("c1"), Text("hi")});
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(Parse(*snap).op(), v1::SNAPSHOT_READ);
  auto truncate = builder.Truncate(MessagesRelation(), true, false);
  ASSERT_TRUE(truncate.ok());
  EXPECT_TRUE(truncate->all_partitions);
  v1::ChangeEvent event = Parse(*truncate);
  EXPECT_EQ(event.op(), v1::TRUNCATE);
  EXPECT_TRUE(event.truncate_cascade());
}

TEST(EventBuilderTest, RejectsUnknownTablesArityMismatchAndMissingKeys) {
  EventBuilder builder("support", ContractRouting());
  pgoutput::Relation other = MessagesRelation();
  other.table = "elsewhere";
  EXPECT_EQ(
      builder.Insert(other, {Text("a"), Text("b"), Text("c")}).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(builder.Insert(MessagesRelation(), {Text("a")}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(builder.Insert(MessagesRelation(), {Null(), Text("c"), Null()})
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(EventBuilderTest, RenamedKeyColumnIsFoundByCatalogPosition) {
  TableRouting routing{{"id"}, "conversation_id", {0}, {2950}, 3};
  EventBuilder builder("support",
                       {{"public.support_conversation_messages", routing}});
  pgoutput::Relation renamed = MessagesRelation();
  renamed.columns[0].name = "message_id";  // ALTER TABLE ... RENAME COLUMN
  auto built = builder.Insert(renamed, {Text("m1"), Text("c1"), Null()});
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->key, "m1");
  v1::ChangeEvent event = Parse(*built);
  EXPECT_EQ(event.key(0).name(), "message_id");
  EXPECT_TRUE(event.new_row().columns(0).key());

  // A different shape (a column added) or type: no guessing.
  pgoutput::Relation wider = renamed;
  wider.columns.push_back({"extra", 25, -1, true});
  EXPECT_EQ(builder.Insert(wider, {Text("m1"), Text("c1"), Null(), Null()})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  pgoutput::Relation retyped = renamed;
  retyped.columns[0].type_oid = 25;
  EXPECT_EQ(
      builder.Insert(retyped, {Text("m1"), Text("c1"), Null()}).status().code(),
      absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace enrich::cdc
