#include "proto/change_event_wire.h"

namespace enrich::wire {
namespace {

constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;

// Column's field numbers, from the generated code.
constexpr int kColumnName = v1::Column::kNameFieldNumber;
constexpr int kColumnTypeOid = v1::Column::kTypeOidFieldNumber;
constexpr int kColumnKey = v1::Column::kKeyFieldNumber;
constexpr int kColumnText = v1::Column::kTextFieldNumber;
constexpr int kColumnNull = v1::Column::kNullFieldNumber;
constexpr int kColumnUnchangedToast = v1::Column::kUnchangedToastFieldNumber;

void AppendVarint(uint64_t value, std::string* out) {
  char bytes[10];
  size_t n = 0;
  while (value >= 0x80) {
    bytes[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  bytes[n++] = static_cast<char>(value);
  out->append(bytes, n);
}

void AppendTag(int field, int wire_type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | wire_type, out);
}

size_t TagSize(int field) {
  return VarintSize(static_cast<uint64_t>(field) << 3);
}

size_t LengthDelimitedSize(int field, size_t size) {
  return TagSize(field) + VarintSize(size) + size;
}

}  // namespace

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

size_t ColumnBodySize(const ColumnValue& c) {
  size_t n = 0;
  if (!c.name.empty()) n += LengthDelimitedSize(kColumnName, c.name.size());
  if (c.type_oid != 0) n += TagSize(kColumnTypeOid) + VarintSize(c.type_oid);
  if (c.key) n += TagSize(kColumnKey) + 1;
  switch (c.kind) {
    case ValueKind::kText:
      // A oneof member is written even when it holds the default.
      n += LengthDelimitedSize(kColumnText, c.text.size());
      break;
    case ValueKind::kNull:
      n += LengthDelimitedSize(kColumnNull, 0);
      break;
    case ValueKind::kUnchangedToast:
      n += LengthDelimitedSize(kColumnUnchangedToast, 0);
      break;
    case ValueKind::kNotSet:
      break;
  }
  return n;
}

size_t ColumnFieldSize(const ColumnValue& c) {
  // Row.columns and ChangeEvent.key both have one-byte tags.
  const size_t body = ColumnBodySize(c);
  return 1 + VarintSize(body) + body;
}

void AppendVarintField(int field, uint64_t value, std::string* out) {
  if (value == 0) return;
  AppendTag(field, kVarint, out);
  AppendVarint(value, out);
}

void AppendStringField(int field, absl::string_view value, std::string* out) {
  if (value.empty()) return;
  AppendMessageHeader(field, value.size(), out);
  out->append(value.data(), value.size());
}

void AppendMessageHeader(int field, size_t body_size, std::string* out) {
  AppendTag(field, kLengthDelimited, out);
  AppendVarint(body_size, out);
}

void AppendColumn(int field, const ColumnValue& c, std::string* out) {
  AppendMessageHeader(field, ColumnBodySize(c), out);
  AppendStringField(kColumnName, c.name, out);
  AppendVarintField(kColumnTypeOid, c.type_oid, out);
  AppendVarintField(kColumnKey, c.key ? 1 : 0, out);
  switch (c.kind) {
    case ValueKind::kText:
      AppendMessageHeader(kColumnText, c.text.size(), out);
      out->append(c.text.data(), c.text.size());
      break;
    case ValueKind::kNull:
      AppendMessageHeader(kColumnNull, 0, out);
      break;
    case ValueKind::kUnchangedToast:
      AppendMessageHeader(kColumnUnchangedToast, 0, out);
      break;
    case ValueKind::kNotSet:
      break;
  }
}

void AppendCoordinates(const Coordinates& c, std::string* out) {
  AppendVarintField(kCommitLsn, c.commit_lsn, out);
  AppendVarintField(kEndLsn, c.end_lsn, out);
  AppendVarintField(kXid, c.xid, out);
  // int64: a negative value is the 10-byte varint of its two's complement.
  AppendVarintField(kCommitTimeUs, static_cast<uint64_t>(c.commit_time_us),
                    out);
  AppendVarintField(kIndexInTx, c.index_in_tx, out);
  AppendVarintField(kLastInTx, c.last_in_tx ? 1 : 0, out);
  AppendStringField(kOrigin, c.origin, out);
}

}  // namespace enrich::wire
