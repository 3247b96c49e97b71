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

// The builder fills a caller-owned event; most tests want a fresh one.
absl::StatusOr<BuiltEvent> Insert(const EventBuilder& builder,
                                  const pgoutput::Relation& relation,
                                  const pgoutput::Tuple& tuple) {
  BuiltEvent out;
  absl::Status status = builder.Insert(relation, tuple, &out);
  if (!status.ok()) return status;
  return out;
}
absl::StatusOr<BuiltEvent> Update(const EventBuilder& builder,
                                  const pgoutput::Relation& relation,
                                  const pgoutput::Update& update) {
  BuiltEvent out;
  absl::Status status = builder.Update(relation, update, &out);
  if (!status.ok()) return status;
  return out;
}
absl::StatusOr<BuiltEvent> Delete(const EventBuilder& builder,
                                  const pgoutput::Relation& relation,
                                  const pgoutput::Delete& del) {
  BuiltEvent out;
  absl::Status status = builder.Delete(relation, del, &out);
  if (!status.ok()) return status;
  return out;
}

v1::ChangeEvent Parse(const BuiltEvent& built) {
  v1::ChangeEvent event;
  EXPECT_TRUE(event.ParseFromString(built.partial_event));
  return event;
}

TEST(EventBuilderTest, InsertCarriesRowKeyAndConversationRouting) {
  EventBuilder builder("support", ContractRouting());
  auto built =
      Insert(builder, MessagesRelation(), {Text("m1"), Text("c1"), Null()});
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
  auto built = Update(builder, MessagesRelation(), update);
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
  auto built = Update(builder, MessagesRelation(), update);
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
  auto built = Delete(builder, MessagesRelation(), del);
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
  BuiltEvent snap;
  ASSERT_TRUE(builder
                  .SnapshotRead(MessagesRelation(),
                                {Text("m1"), Text("c1"), Text("hi")}, &snap)
                  .ok());
  EXPECT_EQ(Parse(snap).op(), v1::SNAPSHOT_READ);
  EXPECT_EQ(snap.operation, v1::SNAPSHOT_READ);
  BuiltEvent truncate;
  ASSERT_TRUE(
      builder.Truncate(MessagesRelation(), true, false, &truncate).ok());
  EXPECT_TRUE(truncate.all_partitions);
  v1::ChangeEvent event = Parse(truncate);
  EXPECT_EQ(event.op(), v1::TRUNCATE);
  EXPECT_TRUE(event.truncate_cascade());
}

TEST(EventBuilderTest, SnapshotBoundaryHasNoKeyNoRowAndGoesEverywhere) {
  EventBuilder builder("support", ContractRouting());
  BuiltEvent out;
  // A row event first: the boundary overwrites all of it.
  ASSERT_TRUE(builder
                  .Insert(MessagesRelation(),
                          {Text("m1"), Text("c1"), Text("hi")}, &out)
                  .ok());
  ASSERT_TRUE(builder.SnapshotBoundary(MessagesRelation(), &out).ok());
  EXPECT_TRUE(out.all_partitions);
  EXPECT_FALSE(out.tombstone_after);
  EXPECT_TRUE(out.key.empty());
  EXPECT_EQ(out.operation, v1::SNAPSHOT_BOUNDARY);
  v1::ChangeEvent event = Parse(out);
  EXPECT_EQ(event.op(), v1::SNAPSHOT_BOUNDARY);
  EXPECT_EQ(event.table(), MessagesRelation().table);
  EXPECT_EQ(event.key_size(), 0);
  EXPECT_FALSE(event.has_new_row());
  EXPECT_FALSE(event.has_old_row());
}

TEST(EventBuilderTest, RejectsUnknownTablesArityMismatchAndMissingKeys) {
  EventBuilder builder("support", ContractRouting());
  pgoutput::Relation other = MessagesRelation();
  other.table = "elsewhere";
  EXPECT_EQ(
      Insert(builder, other, {Text("a"), Text("b"), Text("c")}).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Insert(builder, MessagesRelation(), {Text("a")}).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Insert(builder, MessagesRelation(), {Null(), Text("c"), Null()})
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
  auto built = Insert(builder, renamed, {Text("m1"), Text("c1"), Null()});
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->key, "m1");
  v1::ChangeEvent event = Parse(*built);
  EXPECT_EQ(event.key(0).name(), "message_id");
  EXPECT_TRUE(event.new_row().columns(0).key());

  // A different shape (a column added) or type: no guessing.
  pgoutput::Relation wider = renamed;
  wider.columns.push_back({"extra", 25, -1, true});
  EXPECT_EQ(Insert(builder, wider, {Text("m1"), Text("c1"), Null(), Null()})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  pgoutput::Relation retyped = renamed;
  retyped.columns[0].type_oid = 25;
  EXPECT_EQ(Insert(builder, retyped, {Text("m1"), Text("c1"), Null()})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EventBuilderTest, ReusedEventCarriesNothingFromThePreviousOne) {
  EventBuilder builder("support", ContractRouting());
  BuiltEvent out;
  ASSERT_TRUE(builder.Truncate(MessagesRelation(), true, true, &out).ok());
  pgoutput::Delete del;
  del.old_tuple = {Text("a-long-message-key"), Text("c9"), Text("bye")};
  ASSERT_TRUE(builder.Delete(MessagesRelation(), del, &out).ok());
  EXPECT_TRUE(out.tombstone_after);
  EXPECT_FALSE(out.all_partitions);

  ASSERT_TRUE(
      builder.Insert(MessagesRelation(), {Text("m1"), Null(), Text("hi")}, &out)
          .ok());
  EXPECT_FALSE(out.tombstone_after);
  EXPECT_FALSE(out.all_partitions);
  EXPECT_EQ(out.key, "m1");
  EXPECT_EQ(out.routing_value, "m1");  // NULL conversation: the key routes
  EXPECT_EQ(out.operation, v1::INSERT);
  v1::ChangeEvent event = Parse(out);
  EXPECT_FALSE(event.has_old_row());
  EXPECT_FALSE(event.truncate_cascade());
  ASSERT_EQ(event.key_size(), 1);
  EXPECT_EQ(event.new_row().columns(2).text(), "hi");
}

TEST(EventBuilderTest, ChangedRelationMessageTakesEffectForTheSameOid) {
  EventBuilder builder("support", ContractRouting());
  BuiltEvent out;
  ASSERT_TRUE(builder
                  .Insert(MessagesRelation(),
                          {Text("m1"), Text("c1"), Text("hi")}, &out)
                  .ok());
  // ALTER TABLE ... ADD COLUMN, then the key column moved to the end by a
  // drop-and-recreate: same OID, new shape.
  pgoutput::Relation altered = MessagesRelation();
  altered.columns.push_back({"lang", 25, -1, false});
  std::swap(altered.columns[0], altered.columns[3]);
  ASSERT_TRUE(builder
                  .Insert(altered,
                          {Text("en"), Text("c2"), Text("hola"), Text("m2")},
                          &out)
                  .ok());
  EXPECT_EQ(out.key, "m2");
  EXPECT_EQ(out.routing_value, "c2");
  v1::ChangeEvent event = Parse(out);
  ASSERT_EQ(event.new_row().columns_size(), 4);
  EXPECT_EQ(event.new_row().columns(0).name(), "lang");
  EXPECT_FALSE(event.new_row().columns(0).key());
  EXPECT_TRUE(event.new_row().columns(3).key());
}

}  // namespace
}  // namespace enrich::cdc
