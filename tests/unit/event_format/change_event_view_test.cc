// ChangeEventView against protobuf's own parser: the same fields from the
// same bytes (random events, unknown fields, merged repeats), and clean
// errors, never a crash, on malformed bytes.
#include "proto/change_event_view.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"

namespace enrich {
namespace {

using ::testing::HasSubstr;

// The columns of `row` as the view should see them.
void ExpectSameColumns(
    const google::protobuf::RepeatedPtrField<v1::Column>& want,
    const std::vector<ColumnView>& got) {
  ASSERT_EQ(got.size(), static_cast<size_t>(want.size()));
  for (int i = 0; i < want.size(); ++i) {
    const v1::Column& c = want[i];
    EXPECT_EQ(got[i].name, c.name());
    switch (c.value_case()) {
      case v1::Column::kText:
        EXPECT_EQ(got[i].value, ColumnView::Value::kText);
        EXPECT_EQ(got[i].text, c.text());
        break;
      case v1::Column::kNull:
        EXPECT_EQ(got[i].value, ColumnView::Value::kNull);
        break;
      case v1::Column::kUnchangedToast:
        EXPECT_EQ(got[i].value, ColumnView::Value::kUnchangedToast);
        break;
      case v1::Column::VALUE_NOT_SET:
        EXPECT_EQ(got[i].value, ColumnView::Value::kNotSet);
        break;
    }
  }
}

void ExpectSameEvent(const v1::ChangeEvent& want, const ChangeEventView& got) {
  EXPECT_EQ(got.op(), want.op());
  EXPECT_EQ(got.schema(), want.schema());
  EXPECT_EQ(got.table(), want.table());
  EXPECT_EQ(got.commit_lsn(), want.commit_lsn());
  EXPECT_EQ(got.commit_time_us(), want.commit_time_us());
  EXPECT_EQ(got.has_old_row(), want.has_old_row());
  ExpectSameColumns(want.key(), got.key());
  ExpectSameColumns(want.new_row().columns(), got.new_row());
  ExpectSameColumns(want.old_row().columns(), got.old_row());
}

v1::Column RandomColumn(std::mt19937& rng) {
  v1::Column c;
  c.set_name("col" + std::to_string(rng() % 40));
  c.set_type_oid(rng() % 4000);
  c.set_key(rng() % 5 == 0);
  switch (rng() % 4) {
    case 0:
      break;  // no value
    case 1:
      c.mutable_null();
      break;
    case 2:
      c.mutable_unchanged_toast();
      break;
    default: {
      std::string text(rng() % 300, 'x');
      for (char& ch : text) ch = static_cast<char>('a' + rng() % 26);
      c.set_text(text);
    }
  }
  return c;
}

v1::ChangeEvent RandomEvent(std::mt19937& rng) {
  v1::ChangeEvent e;
  e.set_op(static_cast<v1::Operation>(rng() % 6));
  e.set_schema(rng() % 2 ? "public" : "");
  e.set_table("table_" + std::to_string(rng() % 4));
  e.set_relation_oid(rng());
  for (int i = rng() % 3; i > 0; --i) *e.add_key() = RandomColumn(rng);
  if (rng() % 4 != 0) {
    for (int i = rng() % 12; i > 0; --i) {
      *e.mutable_new_row()->add_columns() = RandomColumn(rng);
    }
  }
  if (rng() % 2 == 0) {
    e.mutable_old_row();  // present, possibly empty
    for (int i = rng() % 12; i > 0; --i) {
      *e.mutable_old_row()->add_columns() = RandomColumn(rng);
    }
  }
  e.set_commit_lsn((uint64_t{rng()} << 32) | rng());
  e.set_end_lsn(e.commit_lsn() + rng() % 100);
  e.set_xid(rng());
  // Negative times take all ten varint bytes.
  e.set_commit_time_us(rng() % 3 == 0 ? -static_cast<int64_t>(rng())
                                      : static_cast<int64_t>(rng()) * 1000);
  e.set_index_in_tx(rng() % 1000);
  e.set_last_in_tx(rng() % 2 == 0);
  e.set_origin(rng() % 5 == 0 ? "origin" : "");
  return e;
}

TEST(ChangeEventViewTest, ReadsWhatProtobufReadsOnRandomEvents) {
  std::mt19937 rng(20261124);
  ChangeEventView view;  // reused, as in the batch builder
  for (int i = 0; i < 2000; ++i) {
    const v1::ChangeEvent event = RandomEvent(rng);
    const std::string bytes = event.SerializeAsString();
    ASSERT_TRUE(view.Parse(bytes).ok()) << i;
    ExpectSameEvent(event, view);
  }
}

TEST(ChangeEventViewTest, SkipsUnknownFieldsOfEveryWireType) {
  v1::ChangeEvent event;
  event.set_op(v1::UPDATE);
  event.set_table("linear_issues");
  event.mutable_new_row()->add_columns()->set_name("id");
  event.mutable_new_row()->mutable_columns(0)->set_text("L-1");
  std::string bytes = event.SerializeAsString();
  // Field 30: varint, fixed64, length-delimited, fixed32.
  bytes += std::string("\xf0\x01\x96\x01", 4);
  bytes += std::string("\xf1\x01", 2) + std::string(8, '\x07');
  bytes += std::string(
      "\xf2\x01\x03"
      "abc",
      6);
  bytes += std::string("\xf5\x01", 2) + std::string(4, '\x09');
  ChangeEventView view;
  ASSERT_TRUE(view.Parse(bytes).ok());
  ExpectSameEvent(event, view);
}

TEST(ChangeEventViewTest, MergesRepeatedRowsAndKeepsTheLastScalar) {
  v1::ChangeEvent first, second;
  first.set_op(v1::INSERT);
  first.mutable_new_row()->add_columns()->set_name("a");
  second.set_op(v1::DELETE);
  second.mutable_new_row()->add_columns()->set_name("b");
  const std::string bytes =
      first.SerializeAsString() + second.SerializeAsString();
  v1::ChangeEvent merged;
  ASSERT_TRUE(merged.ParseFromString(bytes));
  ChangeEventView view;
  ASSERT_TRUE(view.Parse(bytes).ok());
  ExpectSameEvent(merged, view);
  EXPECT_EQ(view.op(), v1::DELETE);
  EXPECT_EQ(view.new_row().size(), 2u);
}

TEST(ChangeEventViewTest, EveryTruncationFailsCleanlyOrParsesAPrefix) {
  std::mt19937 rng(7);
  const std::string bytes = RandomEvent(rng).SerializeAsString();
  ChangeEventView view;
  for (size_t n = 0; n < bytes.size(); ++n) {
    // The copy makes any read past the end visible to sanitizers.
    const std::string prefix = bytes.substr(0, n);
    absl::Status s = view.Parse(prefix);
    v1::ChangeEvent reference;
    // A prefix protobuf accepts is one the view must accept (and agree on);
    // the reverse does not hold (the view skips what it does not read).
    if (reference.ParseFromString(prefix)) {
      ASSERT_TRUE(s.ok()) << n << ": " << s;
      ExpectSameEvent(reference, view);
    } else if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ChangeEventViewTest, MalformedBytesNameTheProblemAndOffset) {
  ChangeEventView view;
  // A varint of eleven bytes.
  absl::Status s = view.Parse(std::string("\x08") + std::string(10, '\xff'));
  EXPECT_THAT(s.message(), HasSubstr("varint longer than 10 bytes"));
  // table: length 5 with 2 bytes left.
  s =
      view.Parse(std::string("\x1a\x05"
                             "ab",
                             4));
  EXPECT_THAT(s.message(), HasSubstr("length 5 past the end"));
  // A group (wire type 3).
  s = view.Parse(std::string("\xf3\x01", 2));
  EXPECT_THAT(s.message(), HasSubstr("unsupported wire type 3"));
  // op (field 1) sent length-delimited.
  s = view.Parse(std::string("\x0a\x00", 2));
  EXPECT_THAT(s.message(), HasSubstr("wire type 2, expected 0"));
  // A column inside new_row whose name runs past its row.
  s = view.Parse(std::string("\x32\x04\x0a\x02\x0a\x09", 6));
  EXPECT_THAT(s.message(), HasSubstr("Column field: length 9 past the end"));
  EXPECT_THAT(s.message(), HasSubstr("at byte 6"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace enrich
