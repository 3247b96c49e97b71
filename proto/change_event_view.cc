#include "proto/change_event_view.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"

namespace enrich {
namespace {

// Field numbers, from the generated code (proto/change_event.proto).
using v1::ChangeEvent;
using v1::Column;
constexpr uint32_t kEventOp = ChangeEvent::kOpFieldNumber;
constexpr uint32_t kEventSchema = ChangeEvent::kSchemaFieldNumber;
constexpr uint32_t kEventTable = ChangeEvent::kTableFieldNumber;
constexpr uint32_t kEventKey = ChangeEvent::kKeyFieldNumber;
constexpr uint32_t kEventNewRow = ChangeEvent::kNewRowFieldNumber;
constexpr uint32_t kEventOldRow = ChangeEvent::kOldRowFieldNumber;
constexpr uint32_t kEventCommitLsn = ChangeEvent::kCommitLsnFieldNumber;
constexpr uint32_t kEventCommitTimeUs = ChangeEvent::kCommitTimeUsFieldNumber;
constexpr uint32_t kRowColumns = v1::Row::kColumnsFieldNumber;
constexpr uint32_t kColumnName = Column::kNameFieldNumber;
constexpr uint32_t kColumnText = Column::kTextFieldNumber;
constexpr uint32_t kColumnNull = Column::kNullFieldNumber;
constexpr uint32_t kColumnUnchangedToast = Column::kUnchangedToastFieldNumber;

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

// A bounds-checked cursor over one message's bytes; `base` is the message's
// offset in the whole event, for error messages.
class WireReader {
 public:
  WireReader(absl::string_view bytes, size_t base)
      : bytes_(bytes), base_(base) {}

  bool done() const { return pos_ == bytes_.size(); }

  absl::StatusOr<uint64_t> Varint(absl::string_view what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) return Error(what, "truncated varint");
      const uint8_t byte = static_cast<uint8_t>(bytes_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return Error(what, "varint longer than 10 bytes");
  }

  // A length-delimited payload and its offset in the whole event.
  absl::StatusOr<absl::string_view> Bytes(absl::string_view what,
                                          size_t* offset) {
    ASSIGN_OR_RETURN(uint64_t length, Varint(what));
    if (length > bytes_.size() - pos_) {
      return Error(what, absl::StrCat("length ", length, " past the end"));
    }
    *offset = base_ + pos_;
    absl::string_view payload = bytes_.substr(pos_, length);
    pos_ += length;
    return payload;
  }

  // The payload of a field that must be length-delimited.
  absl::StatusOr<absl::string_view> Payload(uint32_t wire_type,
                                            absl::string_view what,
                                            size_t* offset) {
    RETURN_IF_ERROR(ExpectWireType(wire_type, kLengthDelimited, what));
    return Bytes(what, offset);
  }

  absl::Status ExpectWireType(uint32_t actual, uint32_t expected,
                              absl::string_view what) const {
    if (actual == expected) return absl::OkStatus();
    return Error(what,
                 absl::StrCat("wire type ", actual, ", expected ", expected));
  }

  absl::Status Skip(uint32_t wire_type, absl::string_view what) {
    switch (wire_type) {
      case kVarint:
        return Varint(what).status();
      case kFixed64:
        return Advance(8, what);
      case kFixed32:
        return Advance(4, what);
      case kLengthDelimited: {
        size_t ignored;
        return Bytes(what, &ignored).status();
      }
      default:
        return Error(what, absl::StrCat("unsupported wire type ", wire_type));
    }
  }

  absl::Status Error(absl::string_view what, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", problem, " at byte ", base_ + pos_));
  }

 private:
  absl::Status Advance(size_t n, absl::string_view what) {
    if (n > bytes_.size() - pos_) return Error(what, "truncated fixed field");
    pos_ += n;
    return absl::OkStatus();
  }

  absl::string_view bytes_;
  size_t base_;
  size_t pos_ = 0;
};

absl::Status ParseColumn(absl::string_view bytes, size_t base,
                         ColumnView* column) {
  WireReader reader(bytes, base);
  while (!reader.done()) {
    ASSIGN_OR_RETURN(uint64_t tag, reader.Varint("Column tag"));
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    switch (field) {
      case kColumnName:
      case kColumnText:
      case kColumnNull:
      case kColumnUnchangedToast: {
        size_t offset;
        ASSIGN_OR_RETURN(absl::string_view payload,
                         reader.Payload(wire_type, "Column field", &offset));
        if (field == kColumnName) {
          column->name = payload;
        } else if (field == kColumnText) {
          column->value = ColumnView::Value::kText;
          column->text = payload;
        } else {
          // Null and UnchangedToast are empty messages; their content, if
          // any, is unknown fields.
          column->value = field == kColumnNull
                              ? ColumnView::Value::kNull
                              : ColumnView::Value::kUnchangedToast;
          column->text = {};
        }
        break;
      }
      default:
        RETURN_IF_ERROR(reader.Skip(wire_type, "Column field"));
    }
  }
  return absl::OkStatus();
}

// Appends the columns of a Row (or the key: repeated Column) in `bytes`.
absl::Status ParseRow(absl::string_view bytes, size_t base,
                      std::vector<ColumnView>* columns) {
  WireReader reader(bytes, base);
  while (!reader.done()) {
    ASSIGN_OR_RETURN(uint64_t tag, reader.Varint("Row tag"));
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    if (field != kRowColumns) {
      RETURN_IF_ERROR(reader.Skip(wire_type, "Row field"));
      continue;
    }
    size_t offset;
    ASSIGN_OR_RETURN(absl::string_view column,
                     reader.Payload(wire_type, "Row column", &offset));
    columns->emplace_back();
    RETURN_IF_ERROR(ParseColumn(column, offset, &columns->back()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ChangeEventView::Parse(absl::string_view bytes) {
  op_ = enrich::v1::OPERATION_UNSPECIFIED;
  schema_ = {};
  table_ = {};
  key_.clear();
  new_row_.clear();
  old_row_.clear();
  has_old_row_ = false;
  commit_lsn_ = 0;
  commit_time_us_ = 0;
  WireReader reader(bytes, 0);
  while (!reader.done()) {
    ASSIGN_OR_RETURN(uint64_t tag, reader.Varint("ChangeEvent tag"));
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    if (field == 0) return reader.Error("ChangeEvent tag", "field number 0");
    switch (field) {
      case kEventOp:
      case kEventCommitLsn:
      case kEventCommitTimeUs: {
        RETURN_IF_ERROR(
            reader.ExpectWireType(wire_type, kVarint, "ChangeEvent field"));
        ASSIGN_OR_RETURN(uint64_t value, reader.Varint("ChangeEvent field"));
        if (field == kEventOp) {
          // An enum is an int32 on the wire, sign-extended to 64 bits.
          op_ = static_cast<enrich::v1::Operation>(static_cast<int32_t>(value));
        } else if (field == kEventCommitLsn) {
          commit_lsn_ = value;
        } else {
          commit_time_us_ = static_cast<int64_t>(value);
        }
        break;
      }
      case kEventSchema:
      case kEventTable:
      case kEventKey:
      case kEventNewRow:
      case kEventOldRow: {
        size_t offset;
        ASSIGN_OR_RETURN(
            absl::string_view payload,
            reader.Payload(wire_type, "ChangeEvent field", &offset));
        if (field == kEventSchema) {
          schema_ = payload;
        } else if (field == kEventTable) {
          table_ = payload;
        } else if (field == kEventKey) {
          key_.emplace_back();
          RETURN_IF_ERROR(ParseColumn(payload, offset, &key_.back()));
        } else if (field == kEventNewRow) {
          RETURN_IF_ERROR(ParseRow(payload, offset, &new_row_));
        } else {
          has_old_row_ = true;
          RETURN_IF_ERROR(ParseRow(payload, offset, &old_row_));
        }
        break;
      }
      default:
        RETURN_IF_ERROR(reader.Skip(wire_type, "ChangeEvent field"));
    }
  }
  return absl::OkStatus();
}

}  // namespace enrich
