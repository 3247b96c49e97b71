// Writes enrich.v1.ChangeEvent fields (proto/change_event.proto) straight in
// protobuf's wire format, so the event builder does not fill a message only
// to serialize it (that was the largest piece of enrich-cdc's per-event
// CPU). Callers append fields in field-number order and these helpers follow
// proto3's rule of leaving out default values, which gives the same bytes
// protobuf's own serializer gives for the same message. A field added to the
// schema must be added here too. Pure: callers map their values to
// ValueKind, so the format does not depend on the pgoutput decoder.
//
// Tests (tests/unit/event_format/): change_event_wire_test.cc checks the
// bytes against the generated serializer; change_event_round_trip_test.cc
// reads them back through ChangeEventView (change_event_view.h), the
// processor's reader of the same bytes.
#ifndef ENRICH_PROTO_CHANGE_EVENT_WIRE_H_
#define ENRICH_PROTO_CHANGE_EVENT_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/change_event.pb.h"

namespace enrich::wire {

// Field numbers of enrich.v1.ChangeEvent and Row, from the generated code.
enum EventField : int {
  kOp = v1::ChangeEvent::kOpFieldNumber,
  kSchema = v1::ChangeEvent::kSchemaFieldNumber,
  kTable = v1::ChangeEvent::kTableFieldNumber,
  kRelationOid = v1::ChangeEvent::kRelationOidFieldNumber,
  kKey = v1::ChangeEvent::kKeyFieldNumber,
  kNewRow = v1::ChangeEvent::kNewRowFieldNumber,
  kOldRow = v1::ChangeEvent::kOldRowFieldNumber,
  kCommitLsn = v1::ChangeEvent::kCommitLsnFieldNumber,
  kEndLsn = v1::ChangeEvent::kEndLsnFieldNumber,
  kXid = v1::ChangeEvent::kXidFieldNumber,
  kCommitTimeUs = v1::ChangeEvent::kCommitTimeUsFieldNumber,
  kIndexInTx = v1::ChangeEvent::kIndexInTxFieldNumber,
  kLastInTx = v1::ChangeEvent::kLastInTxFieldNumber,
  kTruncateCascade = v1::ChangeEvent::kTruncateCascadeFieldNumber,
  kTruncateRestartIdentity =
      v1::ChangeEvent::kTruncateRestartIdentityFieldNumber,
  kOrigin = v1::ChangeEvent::kOriginFieldNumber,
};
inline constexpr int kRowColumns = v1::Row::kColumnsFieldNumber;

// Which member of Column's `value` oneof is set; kNotSet: none (protobuf's
// VALUE_NOT_SET). ChangeEventView reports the same (ColumnView::Value).
enum class ValueKind { kNotSet, kText, kNull, kUnchangedToast };

// One enrich.v1.Column: a text value, NULL or unchanged TOAST. enrich-cdc
// never writes kNotSet (a binary value is the event builder's error to
// report; it is not representable), but the format allows it.
struct ColumnValue {
  absl::string_view name;
  uint32_t type_oid = 0;
  bool key = false;
  ValueKind kind = ValueKind::kNull;
  absl::string_view text;  // kText only
};

size_t VarintSize(uint64_t value);
// Bytes of the Column message's body (without its tag and length).
size_t ColumnBodySize(const ColumnValue& column);
// Bytes a Column takes inside its parent: tag, length and body.
size_t ColumnFieldSize(const ColumnValue& column);

// A varint field (enum, uint32, uint64, bool); nothing when value is 0.
void AppendVarintField(int field, uint64_t value, std::string* out);
// A string field; nothing when empty.
void AppendStringField(int field, absl::string_view value, std::string* out);
// The tag and length of an embedded message whose body follows.
void AppendMessageHeader(int field, size_t body_size, std::string* out);
// A Column as field `field` of its parent (Row.columns or ChangeEvent.key).
void AppendColumn(int field, const ColumnValue& column, std::string* out);

// A record's transaction coordinates (ChangeEvent fields 8 to 13 and 16).
// Appended after an event's other fields they serialize what setting them
// on the parsed event would: protobuf merges concatenated serializations.
struct Coordinates {
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  uint32_t xid = 0;
  int64_t commit_time_us = 0;
  uint64_t index_in_tx = 0;
  bool last_in_tx = false;
  absl::string_view origin;
};
void AppendCoordinates(const Coordinates& coordinates, std::string* out);

}  // namespace enrich::wire

#endif  // ENRICH_PROTO_CHANGE_EVENT_WIRE_H_
