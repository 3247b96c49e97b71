// The event format's two sides together: what enrich-cdc's encoder writes
// (proto/change_event_wire.h, driven by the EventBuilder and the commit
// coordinates as enrich-cdc drives it) read back by the processor's view
// (proto/change_event_view.h), every field the view exposes compared with
// the input that was encoded, not with either side's own reading of it.
//
//  * Every operation, with NULL, unchanged TOAST, empty, non-ASCII, quoted,
//    backslashed and multi-line values, NUL bytes, lengths across the varint
//    boundaries and a 2 MB value, old rows absent, full and key only.
//  * Random changes (seeded) through the EventBuilder, and random events
//    written field by field with the encoder (every value kind, unknown and
//    negative operations), each then written again from what the view read
//    and read back the same: view -> encoder -> view.
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cdc/core/event_builder.h"
#include "cdc/pgoutput/messages.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "proto/change_event_view.h"
#include "proto/change_event_wire.h"
#include "tests/unit/core/test_relations.h"

namespace enrich {
namespace {

using cdc::BuiltEvent;
using cdc::EventBuilder;
using cdc::TableRouting;
using pgoutput::Relation;
using pgoutput::Tuple;
using pgoutput::Value;
using pgoutput::ValueKind;

// What the view should show for one column.
struct Expected {
  std::string name;
  wire::ValueKind kind = wire::ValueKind::kNotSet;
  std::string text;
};

// What the view should show for one event.
struct ExpectedEvent {
  v1::Operation op = v1::OPERATION_UNSPECIFIED;
  std::string schema;
  std::string table;
  std::vector<Expected> key;
  std::vector<Expected> new_row;
  std::vector<Expected> old_row;
  bool has_old_row = false;
  uint64_t commit_lsn = 0;
  int64_t commit_time_us = 0;
};

void ExpectColumns(const std::vector<Expected>& want,
                   const std::vector<ColumnView>& got, const char* which) {
  ASSERT_EQ(got.size(), want.size()) << which;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << which << " column " << i;
    EXPECT_EQ(got[i].value, want[i].kind) << which << " column " << i;
    EXPECT_EQ(got[i].text, want[i].text) << which << " column " << i;
  }
}

void ExpectEvent(const ExpectedEvent& want, const ChangeEventView& got) {
  EXPECT_EQ(got.op(), want.op);
  EXPECT_EQ(got.schema(), want.schema);
  EXPECT_EQ(got.table(), want.table);
  EXPECT_EQ(got.has_old_row(), want.has_old_row);
  EXPECT_EQ(got.commit_lsn(), want.commit_lsn);
  EXPECT_EQ(got.commit_time_us(), want.commit_time_us);
  ExpectColumns(want.key, got.key(), "key");
  ExpectColumns(want.new_row, got.new_row(), "new_row");
  ExpectColumns(want.old_row, got.old_row(), "old_row");
}

Expected ColumnOf(const Relation& relation, size_t i, const Value& value) {
  Expected column;
  column.name = relation.columns[i].name;
  switch (value.kind) {
    case ValueKind::kText:
      column.kind = wire::ValueKind::kText;
      column.text = value.data;
      break;
    case ValueKind::kNull:
      column.kind = wire::ValueKind::kNull;
      break;
    case ValueKind::kUnchangedToast:
      column.kind = wire::ValueKind::kUnchangedToast;
      break;
    case ValueKind::kBinary:
      ADD_FAILURE() << "binary values are not representable";
      break;
  }
  return column;
}

// The events of two tables: the contract's messages (key `id`) with two
// more text columns, and a table whose two-column key is in another order
// than its columns.
Relation Messages() {
  Relation relation = cdc::testing::MessagesRelation();
  relation.columns.push_back({"note", 25, -1, false});
  relation.columns.push_back({"extra", 1043, 20, false});
  return relation;
}

Relation CompositeKey() {
  Relation relation;
  relation.oid = 16500;
  relation.schema = "public";
  relation.table = "linear_issues";
  relation.replica_identity = 'f';
  relation.columns = {
      {"a", 25, -1, true}, {"value", 25, -1, false}, {"b", 23, -1, true}};
  return relation;
}

const absl::flat_hash_map<std::string, TableRouting>& Routing() {
  static const auto* routing = [] {
    auto* r = new absl::flat_hash_map<std::string, TableRouting>(
        cdc::testing::ContractRouting());
    (*r)["public.linear_issues"].primary_key = {"b", "a"};
    return r;
  }();
  return *routing;
}

// Key columns of `relation` in the routing's key order.
std::vector<size_t> KeyOrder(const Relation& relation) {
  std::vector<size_t> order;
  for (const std::string& name :
       Routing().at(relation.schema + "." + relation.table).primary_key) {
    for (size_t i = 0; i < relation.columns.size(); ++i) {
      if (relation.columns[i].name == name) order.push_back(i);
    }
  }
  return order;
}

bool IsKey(const Relation& relation, size_t i) {
  for (size_t k : KeyOrder(relation)) {
    if (k == i) return true;
  }
  return false;
}

std::vector<Expected> KeyOf(const Relation& relation, const Tuple& row) {
  std::vector<Expected> key;
  for (size_t i : KeyOrder(relation))
    key.push_back(ColumnOf(relation, i, row[i]));
  return key;
}

std::vector<Expected> RowOf(const Relation& relation, const Tuple& row,
                            bool key_only) {
  std::vector<Expected> columns;
  for (size_t i = 0; i < row.size(); ++i) {
    if (key_only && !IsKey(relation, i)) continue;
    columns.push_back(ColumnOf(relation, i, row[i]));
  }
  return columns;
}

ExpectedEvent Header(const Relation& relation, v1::Operation op,
                     const wire::Coordinates& coordinates) {
  ExpectedEvent event;
  event.op = op;
  event.schema = relation.schema;
  event.table = relation.table;
  event.commit_lsn = coordinates.commit_lsn;
  event.commit_time_us = coordinates.commit_time_us;
  return event;
}

// One change as enrich-cdc publishes it: the builder's event, then its
// transaction coordinates appended at commit (ReplicationPublisher).
struct Change {
  v1::Operation op = v1::INSERT;
  Tuple new_row;             // INSERT, SNAPSHOT_READ, UPDATE
  std::optional<Tuple> old;  // UPDATE (optional), DELETE
  bool old_is_key_only = false;
  bool cascade = false;  // TRUNCATE
  bool restart_identity = false;
};

Change Insert(const Tuple& row) {
  Change change;
  change.new_row = row;
  return change;
}
Change SnapshotRead(const Tuple& row) {
  Change change = Insert(row);
  change.op = v1::SNAPSHOT_READ;
  return change;
}
// `old`: none when nullopt; key only when `key_only`.
Change Update(const Tuple& row, std::optional<Tuple> old, bool key_only) {
  Change change = Insert(row);
  change.op = v1::UPDATE;
  change.old = std::move(old);
  change.old_is_key_only = key_only;
  return change;
}
Change Delete(const Tuple& old, bool key_only) {
  Change change;
  change.op = v1::DELETE;
  change.old = old;
  change.old_is_key_only = key_only;
  return change;
}

absl::Status Build(const EventBuilder& builder, const Relation& relation,
                   const Change& change, BuiltEvent* out) {
  switch (change.op) {
    case v1::INSERT:
      return builder.Insert(relation, change.new_row, out);
    case v1::SNAPSHOT_READ:
      return builder.SnapshotRead(relation, change.new_row, out);
    case v1::UPDATE: {
      pgoutput::Update update;
      update.relation_oid = relation.oid;
      update.new_tuple = change.new_row;
      update.old_tuple = change.old;
      update.old_is_key_only = change.old_is_key_only;
      return builder.Update(relation, update, out);
    }
    case v1::DELETE: {
      pgoutput::Delete del;
      del.relation_oid = relation.oid;
      del.old_tuple = *change.old;
      del.old_is_key_only = change.old_is_key_only;
      return builder.Delete(relation, del, out);
    }
    case v1::TRUNCATE:
      return builder.Truncate(relation, change.cascade, change.restart_identity,
                              out);
    default:
      return absl::InvalidArgumentError("no such change");
  }
}

// What the view must read from `change`, from the input alone.
ExpectedEvent ExpectedOf(const Relation& relation, const Change& change,
                         const wire::Coordinates& coordinates) {
  ExpectedEvent event = Header(relation, change.op, coordinates);
  switch (change.op) {
    case v1::INSERT:
    case v1::SNAPSHOT_READ:
      event.key = KeyOf(relation, change.new_row);
      event.new_row = RowOf(relation, change.new_row, false);
      break;
    case v1::UPDATE: {
      // An unchanged TOAST value is the old one when the old row is full.
      Tuple after = change.new_row;
      if (change.old.has_value() && !change.old_is_key_only) {
        for (size_t i = 0; i < after.size(); ++i) {
          if (after[i].kind == ValueKind::kUnchangedToast) {
            after[i] = (*change.old)[i];
          }
        }
      }
      event.key = KeyOf(relation, after);
      event.new_row = RowOf(relation, after, false);
      if (change.old.has_value()) {
        event.has_old_row = true;
        event.old_row = RowOf(relation, *change.old, change.old_is_key_only);
      }
      break;
    }
    case v1::DELETE:
      event.key = KeyOf(relation, *change.old);
      event.has_old_row = true;
      event.old_row = RowOf(relation, *change.old, change.old_is_key_only);
      break;
    default:  // TRUNCATE: no key, no rows
      break;
  }
  return event;
}

// The record RoundTrip encoded last: a view points into its record, so the
// record must outlive the caller's checks of `view` (until the next call).
std::string& LastRecord() {
  static std::string* record = new std::string();
  return *record;
}

// Encodes `change` as enrich-cdc does and reads it back through `view`,
// which then refers into LastRecord().
void RoundTrip(const Relation& relation, const Change& change,
               const wire::Coordinates& coordinates, ChangeEventView* view) {
  SCOPED_TRACE(v1::Operation_Name(change.op));
  EventBuilder builder("support", Routing());
  BuiltEvent built;
  ASSERT_TRUE(Build(builder, relation, change, &built).ok());
  ASSERT_EQ(built.operation, change.op);
  std::string& bytes = LastRecord();
  bytes = built.partial_event;
  wire::AppendCoordinates(coordinates, &bytes);
  ASSERT_TRUE(view->Parse(bytes).ok());
  ExpectEvent(ExpectedOf(relation, change, coordinates), *view);
}

Value Text(std::string s) { return {ValueKind::kText, std::move(s)}; }
Value Null() { return {ValueKind::kNull, ""}; }
Value Toast() { return {ValueKind::kUnchangedToast, ""}; }

std::vector<std::string> AwkwardTexts() {
  return {
      "",
      "NULL",
      "plain",
      "it's \"quoted\", 'twice'",
      "back\\slash \\\\ and \\n not a newline",
      "new\nline\r\nand\ttab",
      "{braces,\"comma\",NULL}",
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x99\x82",
      std::string("nul\0inside", 10),
      std::string(127, 'a'),
      std::string(128, 'b'),
      std::string(16383, 'c'),
      std::string(16384, 'd'),
      std::string(2 << 20, 'e'),
  };
}

TEST(ChangeEventRoundTripTest, EveryOperationWithAwkwardValues) {
  const Relation relation = Messages();
  const wire::Coordinates coordinates = {
      0x16B3F9A8, 0x16B3FA10, 771, 1732440000123456, 3, true, "origin"};
  ChangeEventView view;  // reused, as the processor does
  for (const std::string& text : AwkwardTexts()) {
    SCOPED_TRACE(text.substr(0, 40));
    // id, conversation_id, body, note, extra
    const Tuple row = {Text(text), Text("c-" + text), Text(text), Null(),
                       Text("")};
    const Tuple other = {Text(text), Text("moved-" + text), Text("old " + text),
                         Text(text), Null()};
    const Tuple toasted = {Text(text), Text("c-" + text), Toast(), Null(),
                           Toast()};

    RoundTrip(relation, Insert(row), coordinates, &view);
    RoundTrip(relation, SnapshotRead(row), coordinates, &view);
    // UPDATE: no old row; a full one (TOAST filled from it); key only.
    RoundTrip(relation, Update(toasted, std::nullopt, false), coordinates,
              &view);
    RoundTrip(relation, Update(toasted, other, false), coordinates, &view);
    RoundTrip(relation, Update(row, other, true), coordinates, &view);
    RoundTrip(relation, Update(toasted, other, true), coordinates, &view);
    // DELETE: full old row, key only.
    RoundTrip(relation, Delete(row, false), coordinates, &view);
    RoundTrip(relation, Delete(other, true), coordinates, &view);
  }
}

TEST(ChangeEventRoundTripTest, CompositeKeysComeInKeyOrder) {
  const Relation relation = CompositeKey();
  const wire::Coordinates coordinates = {1, 2, 3, 4, 5, false, ""};
  ChangeEventView view;
  const Tuple row = {Text("a-1"), Null(), Text("42")};
  RoundTrip(relation, Insert(row), coordinates, &view);
  ASSERT_EQ(view.key().size(), 2u);
  EXPECT_EQ(view.key()[0].name, "b");
  EXPECT_EQ(view.key()[1].name, "a");
  RoundTrip(relation, Delete(row, true), coordinates, &view);
  RoundTrip(relation, Update(row, row, false), coordinates, &view);
}

TEST(ChangeEventRoundTripTest, TruncatesAndCoordinates) {
  const Relation relation = Messages();
  // Zeros (left out), a negative commit time (a 10-byte varint), the largest
  // LSN, an origin past field 15 (a two-byte tag).
  const std::string long_origin(200, 'o');
  const wire::Coordinates cases[] = {
      {},
      {0x16B3F9A8, 0x16B3FA10, 771, 1732440000123456, 0, false, ""},
      {~uint64_t{0}, 1, 4294967295u, -5, 123456789, true, "origin_a"},
      {1, 2, 3, std::numeric_limits<int64_t>::min(), 1, true, long_origin},
  };
  ChangeEventView view;
  for (const wire::Coordinates& c : cases) {
    for (int flags = 0; flags < 4; ++flags) {
      Change truncate;
      truncate.op = v1::TRUNCATE;
      truncate.cascade = (flags & 1) != 0;
      truncate.restart_identity = (flags & 2) != 0;
      RoundTrip(relation, truncate, c, &view);
    }
    RoundTrip(relation, Insert({Text("m"), Text("c"), Null(), Null(), Null()}),
              c, &view);
  }
}

std::string RandomBytes(std::mt19937& rng) {
  // Lengths across the varint boundaries; any byte, NUL and invalid UTF-8
  // included (neither side checks UTF-8).
  static const size_t kLengths[] = {0, 1, 7, 36, 127, 128, 300, 16384};
  std::string s(kLengths[rng() % 8], '\0');
  for (char& c : s) c = static_cast<char>(rng() % 256);
  return s;
}

Value RandomValue(std::mt19937& rng, bool allow_toast) {
  switch (rng() % (allow_toast ? 4 : 3)) {
    case 0:
      return Null();
    case 3:
      return Toast();
    default:
      return Text(RandomBytes(rng));
  }
}

Tuple RandomRow(const Relation& relation, std::mt19937& rng, bool allow_toast) {
  Tuple row;
  for (size_t i = 0; i < relation.columns.size(); ++i) {
    // Key columns always have a text value.
    row.push_back(IsKey(relation, i) ? Text(RandomBytes(rng))
                                     : RandomValue(rng, allow_toast));
  }
  return row;
}

wire::Coordinates RandomCoordinates(std::mt19937_64& rng) {
  wire::Coordinates c;
  c.commit_lsn = rng() % 3 == 0 ? 0 : rng();
  c.end_lsn = rng();
  c.xid = static_cast<uint32_t>(rng());
  c.commit_time_us = static_cast<int64_t>(rng());  // negative half the time
  c.index_in_tx = rng() % 1000;
  c.last_in_tx = rng() % 2 == 0;
  return c;
}

TEST(ChangeEventRoundTripTest, RandomChangesThroughTheEventBuilder) {
  std::mt19937 rng(20260131);
  std::mt19937_64 rng64(7);
  const Relation relations[] = {Messages(), CompositeKey()};
  const v1::Operation ops[] = {v1::INSERT, v1::SNAPSHOT_READ, v1::UPDATE,
                               v1::DELETE, v1::TRUNCATE};
  ChangeEventView view;
  for (int round = 0; round < 3000; ++round) {
    SCOPED_TRACE(round);
    const Relation& relation = relations[rng() % 2];
    Change change;
    change.op = ops[rng() % 5];
    switch (change.op) {
      case v1::INSERT:
      case v1::SNAPSHOT_READ:
        change.new_row = RandomRow(relation, rng, false);
        break;
      case v1::UPDATE:
        change.new_row = RandomRow(relation, rng, true);
        if (rng() % 3 != 0) {
          change.old = RandomRow(relation, rng, false);
          change.old_is_key_only = rng() % 2 == 0;
          // A full old row carries the key the new row has.
          for (size_t k : KeyOrder(relation)) {
            (*change.old)[k] = change.new_row[k];
          }
        }
        break;
      case v1::DELETE:
        change.old = RandomRow(relation, rng, false);
        change.old_is_key_only = rng() % 2 == 0;
        break;
      default:
        change.cascade = rng() % 2 == 0;
        change.restart_identity = rng() % 2 == 0;
    }
    RoundTrip(relation, change, RandomCoordinates(rng64), &view);
    if (::testing::Test::HasFailure()) return;
  }
}

// Random columns written field by field with the encoder: any value kind
// (kNotSet too), empty names; their strings are kept in `texts`.
std::vector<wire::ColumnValue> RandomColumns(std::mt19937& rng,
                                             std::deque<std::string>* texts) {
  std::vector<wire::ColumnValue> columns(rng() % 6);
  for (wire::ColumnValue& c : columns) {
    texts->push_back(rng() % 5 == 0 ? "" : "col" + std::to_string(rng() % 40));
    c.name = texts->back();
    c.type_oid = rng() % 3 == 0 ? 0 : rng();
    c.key = rng() % 3 == 0;
    c.kind = static_cast<wire::ValueKind>(rng() % 4);
    if (c.kind == wire::ValueKind::kText) {
      texts->push_back(RandomBytes(rng));
      c.text = texts->back();
    }
  }
  return columns;
}

std::vector<Expected> ExpectedColumns(
    const std::vector<wire::ColumnValue>& columns) {
  std::vector<Expected> expected;
  for (const wire::ColumnValue& c : columns) {
    expected.push_back(
        {std::string(c.name), c.kind,
         c.kind == wire::ValueKind::kText ? std::string(c.text) : ""});
  }
  return expected;
}

void AppendRow(int field, const std::vector<wire::ColumnValue>& columns,
               std::string* out) {
  size_t body = 0;
  for (const wire::ColumnValue& c : columns) body += wire::ColumnFieldSize(c);
  wire::AppendMessageHeader(field, body, out);
  for (const wire::ColumnValue& c : columns) {
    wire::AppendColumn(wire::kRowColumns, c, out);
  }
}

// An event the encoder writes from the fields `view` exposes: the view's
// reading, sent back the other way.
std::vector<wire::ColumnValue> ColumnsOf(const std::vector<ColumnView>& row) {
  std::vector<wire::ColumnValue> columns;
  for (const ColumnView& c : row) {
    wire::ColumnValue column;
    column.name = c.name;
    column.kind = c.value;
    column.text = c.text;
    columns.push_back(column);
  }
  return columns;
}

std::string EncodeView(const ChangeEventView& view) {
  std::string out;
  wire::AppendVarintField(wire::kOp, static_cast<uint64_t>(view.op()), &out);
  wire::AppendStringField(wire::kSchema, view.schema(), &out);
  wire::AppendStringField(wire::kTable, view.table(), &out);
  for (const wire::ColumnValue& c : ColumnsOf(view.key())) {
    wire::AppendColumn(wire::kKey, c, &out);
  }
  if (!view.new_row().empty()) {
    AppendRow(wire::kNewRow, ColumnsOf(view.new_row()), &out);
  }
  if (view.has_old_row()) {
    AppendRow(wire::kOldRow, ColumnsOf(view.old_row()), &out);
  }
  wire::Coordinates coordinates;
  coordinates.commit_lsn = view.commit_lsn();
  coordinates.commit_time_us = view.commit_time_us();
  wire::AppendCoordinates(coordinates, &out);
  return out;
}

ExpectedEvent ExpectedOfView(const ChangeEventView& view) {
  ExpectedEvent event;
  event.op = view.op();
  event.schema = std::string(view.schema());
  event.table = std::string(view.table());
  auto copy = [](const std::vector<ColumnView>& row) {
    std::vector<Expected> columns;
    for (const ColumnView& c : row) {
      columns.push_back({std::string(c.name), c.value, std::string(c.text)});
    }
    return columns;
  };
  event.key = copy(view.key());
  event.new_row = copy(view.new_row());
  event.old_row = copy(view.old_row());
  event.has_old_row = view.has_old_row();
  event.commit_lsn = view.commit_lsn();
  event.commit_time_us = view.commit_time_us();
  return event;
}

TEST(ChangeEventRoundTripTest, RandomEventsBothWays) {
  std::mt19937 rng(424242);
  std::mt19937_64 rng64(99);
  // Known operations, one a newer schema could add, and a negative value
  // (an enum is an int32, sign-extended on the wire).
  const int ops[] = {0, 1, 2, 3, 4, 5, 6, 100, -1};
  ChangeEventView view;
  ChangeEventView again;
  for (int round = 0; round < 3000; ++round) {
    SCOPED_TRACE(round);
    std::deque<std::string> texts;  // the columns' views point into these
    ExpectedEvent want;
    want.op = static_cast<v1::Operation>(ops[rng() % 9]);
    want.schema = rng() % 4 == 0 ? "" : "public";
    want.table = RandomBytes(rng);
    const std::vector<wire::ColumnValue> key = RandomColumns(rng, &texts);
    const bool has_new_row = rng() % 4 != 0;
    const std::vector<wire::ColumnValue> new_row = RandomColumns(rng, &texts);
    want.has_old_row = rng() % 2 == 0;
    const std::vector<wire::ColumnValue> old_row = RandomColumns(rng, &texts);
    const wire::Coordinates coordinates = RandomCoordinates(rng64);
    want.commit_lsn = coordinates.commit_lsn;
    want.commit_time_us = coordinates.commit_time_us;
    want.key = ExpectedColumns(key);
    if (has_new_row) want.new_row = ExpectedColumns(new_row);
    if (want.has_old_row) want.old_row = ExpectedColumns(old_row);

    std::string bytes;
    // int32 -> int64 -> uint64: a negative enum takes ten bytes.
    wire::AppendVarintField(
        wire::kOp, static_cast<uint64_t>(static_cast<int64_t>(want.op)),
        &bytes);
    wire::AppendStringField(wire::kSchema, want.schema, &bytes);
    wire::AppendStringField(wire::kTable, want.table, &bytes);
    wire::AppendVarintField(wire::kRelationOid, rng(), &bytes);
    for (const wire::ColumnValue& c : key) {
      wire::AppendColumn(wire::kKey, c, &bytes);
    }
    if (has_new_row) AppendRow(wire::kNewRow, new_row, &bytes);
    if (want.has_old_row) AppendRow(wire::kOldRow, old_row, &bytes);
    wire::AppendCoordinates(coordinates, &bytes);

    // Encoder -> view.
    ASSERT_TRUE(view.Parse(bytes).ok());
    ExpectEvent(want, view);
    // View -> encoder -> view.
    const std::string rewritten = EncodeView(view);
    ASSERT_TRUE(again.Parse(rewritten).ok());
    ExpectEvent(ExpectedOfView(view), again);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace enrich
