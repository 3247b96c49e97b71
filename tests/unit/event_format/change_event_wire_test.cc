// The hand-written encoder against protobuf's generated serializer: for
// random rows (every value kind, empty and long values, key and non-key
// columns, zero OIDs), the bytes the event builder writes must equal
// SerializeAsString() of the same event built through the generated API.
#include "proto/change_event_wire.h"

#include <random>
#include <string>

#include "cdc/core/event_builder.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "tests/unit/core/test_relations.h"

namespace enrich::cdc {
namespace {

using pgoutput::Relation;
using pgoutput::Tuple;
using pgoutput::Value;
using pgoutput::ValueKind;

std::string RandomText(std::mt19937& rng) {
  // Lengths across the one- and two-byte varint boundary (127/128), ASCII
  // so protobuf's UTF-8 check stays quiet.
  static const size_t kLengths[] = {0, 1, 5, 36, 127, 128, 300, 20000};
  std::string s(kLengths[rng() % 8], ' ');
  for (char& c : s) c = static_cast<char>('!' + rng() % 90);
  return s;
}

Value RandomValue(std::mt19937& rng, bool allow_toast) {
  switch (rng() % (allow_toast ? 4 : 3)) {
    case 0:
      return {ValueKind::kNull, ""};
    case 3:
      return {ValueKind::kUnchangedToast, ""};
    default:
      return {ValueKind::kText, RandomText(rng)};
  }
}

// The reference: the same event through the generated message API.
v1::ChangeEvent Header(const Relation& r, v1::Operation op) {
  v1::ChangeEvent event;
  event.set_op(op);
  event.set_schema(r.schema);
  event.set_table(r.table);
  event.set_relation_oid(r.oid);
  return event;
}

void AddColumn(const Relation& r, size_t i, const Value& v, bool key,
               v1::Column* c) {
  c->set_name(r.columns[i].name);
  c->set_type_oid(r.columns[i].type_oid);
  c->set_key(key);
  if (v.kind == ValueKind::kText) c->set_text(v.data);
  if (v.kind == ValueKind::kNull) c->mutable_null();
  if (v.kind == ValueKind::kUnchangedToast) c->mutable_unchanged_toast();
}

TEST(ChangeEventWireTest, UpdatesMatchProtobufByteForByte) {
  std::mt19937 rng(20261124);
  // A relation with a zero type OID and an empty name (both defaults that
  // proto3 leaves out) besides the contract's messages columns.
  Relation relation = testing::MessagesRelation();
  relation.columns.push_back({"", 0, -1, false});
  relation.columns.push_back({"weird_oid", 4294967295u, -1, false});
  EventBuilder builder("support", testing::ContractRouting());
  BuiltEvent built;
  for (int round = 0; round < 2000; ++round) {
    pgoutput::Update update;
    update.relation_oid = relation.oid;
    for (size_t i = 0; i < relation.columns.size(); ++i) {
      // The key (column 0) always has a text value.
      update.new_tuple.push_back(
          i == 0 ? Value{ValueKind::kText, RandomText(rng) + "k"}
                 : RandomValue(rng, true));
    }
    const int old_kind = static_cast<int>(rng() % 3);  // none, full, key
    if (old_kind != 0) {
      Tuple old;
      for (size_t i = 0; i < relation.columns.size(); ++i) {
        old.push_back(i == 0 ? update.new_tuple[0] : RandomValue(rng, false));
      }
      update.old_tuple = old;
      update.old_is_key_only = old_kind == 2;
    }
    ASSERT_TRUE(builder.Update(relation, update, &built).ok());

    v1::ChangeEvent expected = Header(relation, v1::UPDATE);
    AddColumn(relation, 0, update.new_tuple[0], true, expected.add_key());
    for (size_t i = 0; i < relation.columns.size(); ++i) {
      Value v = update.new_tuple[i];
      if (v.kind == ValueKind::kUnchangedToast && old_kind == 1) {
        v = (*update.old_tuple)[i];  // TOAST filled from the full old row
      }
      AddColumn(relation, i, v, i == 0,
                expected.mutable_new_row()->add_columns());
    }
    if (old_kind != 0) {
      v1::Row* old = expected.mutable_old_row();
      for (size_t i = 0; i < relation.columns.size(); ++i) {
        if (old_kind == 2 && i != 0) continue;
        AddColumn(relation, i, (*update.old_tuple)[i], i == 0,
                  old->add_columns());
      }
    }
    ASSERT_EQ(built.partial_event, expected.SerializeAsString())
        << "round " << round;
  }
}

TEST(ChangeEventWireTest, TruncateInsertAndDeleteMatchProtobuf) {
  EventBuilder builder("support", testing::ContractRouting());
  const Relation relation = testing::MessagesRelation();
  BuiltEvent built;

  ASSERT_TRUE(builder.Truncate(relation, true, false, &built).ok());
  v1::ChangeEvent truncate = Header(relation, v1::TRUNCATE);
  truncate.set_truncate_cascade(true);
  EXPECT_EQ(built.partial_event, truncate.SerializeAsString());

  const Tuple row = {
      {ValueKind::kText, "m1"}, {ValueKind::kText, ""}, {ValueKind::kNull, ""}};
  ASSERT_TRUE(builder.Insert(relation, row, &built).ok());
  v1::ChangeEvent insert = Header(relation, v1::INSERT);
  AddColumn(relation, 0, row[0], true, insert.add_key());
  for (size_t i = 0; i < row.size(); ++i) {
    AddColumn(relation, i, row[i], i == 0,
              insert.mutable_new_row()->add_columns());
  }
  EXPECT_EQ(built.partial_event, insert.SerializeAsString());

  pgoutput::Delete del;
  del.old_tuple = row;
  del.old_is_key_only = true;
  ASSERT_TRUE(builder.Delete(relation, del, &built).ok());
  v1::ChangeEvent deleted = Header(relation, v1::DELETE);
  AddColumn(relation, 0, row[0], true, deleted.add_key());
  AddColumn(relation, 0, row[0], true,
            deleted.mutable_old_row()->add_columns());
  EXPECT_EQ(built.partial_event, deleted.SerializeAsString());
}

TEST(ChangeEventWireTest, CoordinatesMatchProtobuf) {
  // Zeros (left out), a negative commit time (10-byte varint), large LSNs,
  // and an origin past field 15 (two-byte tag).
  const std::string long_origin(200, 'o');
  const wire::Coordinates cases[] = {
      {},
      {0x16B3F9A8, 0x16B3FA10, 771, 1732440000123456, 0, false, ""},
      {~uint64_t{0}, 1, 4294967295u, -5, 123456789, true, "origin_a"},
      {1, 2, 3, 0, 1, true, long_origin},
  };
  for (const wire::Coordinates& c : cases) {
    v1::ChangeEvent expected;
    expected.set_commit_lsn(c.commit_lsn);
    expected.set_end_lsn(c.end_lsn);
    expected.set_xid(c.xid);
    expected.set_commit_time_us(c.commit_time_us);
    expected.set_index_in_tx(c.index_in_tx);
    expected.set_last_in_tx(c.last_in_tx);
    expected.set_origin(std::string(c.origin));
    std::string written = "prefix";
    wire::AppendCoordinates(c, &written);
    EXPECT_EQ(written, "prefix" + expected.SerializeAsString())
        << expected.ShortDebugString();
  }
}

TEST(ChangeEventWireTest, VarintSizes) {
  EXPECT_EQ(wire::VarintSize(0), 1u);
  EXPECT_EQ(wire::VarintSize(127), 1u);
  EXPECT_EQ(wire::VarintSize(128), 2u);
  EXPECT_EQ(wire::VarintSize(16383), 2u);
  EXPECT_EQ(wire::VarintSize(16384), 3u);
  EXPECT_EQ(wire::VarintSize(~uint64_t{0}), 10u);
}

}  // namespace
}  // namespace enrich::cdc
