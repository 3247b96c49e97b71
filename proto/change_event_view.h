// ChangeEventView: the fields of a serialized enrich.v1.ChangeEvent
// (proto/change_event.proto) that affected-row planning reads, taken from
// protobuf's wire format without building the message. Pure.
//
// Why not the generated parser: a replay plans millions of events, and the
// full parse allocated every column of every row (message bodies included)
// and validated their UTF-8, only for the planner to read one or two key
// columns: it was the largest piece of the processor's per-record CPU.
//
//   ChangeEventView view;  // reused: its column vectors keep their capacity
//   absl::Status s = view.Parse(record_value);
//   if (!s.ok()) DeadLetter(s.message());
//   planner.Add(view);
//
// Every string is a view into the buffer passed to Parse(), which must
// outlive the use of the view. Parse follows protobuf's rules for what it
// reads: fields in any order, a repeated or embedded message field given
// twice is concatenated (merged), a scalar given twice keeps the last value,
// the last member of a oneof wins, unknown fields are skipped by wire type.
// Every read is bounds-checked; truncated or malformed bytes (a varint over
// 10 bytes, a length past the end, a group or unknown wire type, a field
// this view reads sent with another wire type, which protobuf would keep
// as an unknown field and enrich-cdc never writes) yield InvalidArgument
// naming the field and offset. Strings are not checked for
// UTF-8 (the planner compares keys byte for byte). Not thread-safe.
//
// The writer of these bytes is change_event_wire.h (enrich-cdc's encoder);
// tests/unit/event_format/change_event_round_trip_test.cc reads what it
// writes back through this view, and tests/fuzz/change_event_view_fuzz.cc
// feeds it arbitrary bytes.
#ifndef ENRICH_PROTO_CHANGE_EVENT_VIEW_H_
#define ENRICH_PROTO_CHANGE_EVENT_VIEW_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/change_event.pb.h"
#include "proto/change_event_wire.h"

namespace enrich {

struct ColumnView {
  // Which member of Column's `value` oneof was set (kNotSet: none), the
  // encoder's own kinds.
  using Value = wire::ValueKind;

  absl::string_view name;
  Value value = Value::kNotSet;
  absl::string_view text;  // kText only
};

class ChangeEventView {
 public:
  // Replaces the view's content with the event in `bytes`. On error the
  // view's content is unspecified.
  absl::Status Parse(absl::string_view bytes);

  // The operation as sent; a value this build does not know stays as is
  // (proto3 enums are open).
  enrich::v1::Operation op() const { return op_; }
  absl::string_view schema() const { return schema_; }
  absl::string_view table() const { return table_; }
  const std::vector<ColumnView>& key() const { return key_; }
  const std::vector<ColumnView>& new_row() const { return new_row_; }
  const std::vector<ColumnView>& old_row() const { return old_row_; }
  bool has_old_row() const { return has_old_row_; }
  uint64_t commit_lsn() const { return commit_lsn_; }
  int64_t commit_time_us() const { return commit_time_us_; }

 private:
  enrich::v1::Operation op_ = enrich::v1::OPERATION_UNSPECIFIED;
  absl::string_view schema_;
  absl::string_view table_;
  std::vector<ColumnView> key_;
  std::vector<ColumnView> new_row_;
  std::vector<ColumnView> old_row_;
  bool has_old_row_ = false;
  uint64_t commit_lsn_ = 0;
  int64_t commit_time_us_ = 0;
};

}  // namespace enrich

#endif  // ENRICH_PROTO_CHANGE_EVENT_VIEW_H_
