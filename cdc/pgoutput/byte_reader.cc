#include "cdc/pgoutput/byte_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace enrich::pgoutput {

std::string ReadLabel::ToString() const {
  if (column_ < 0) return absl::StrCat(prefix_, suffix_);
  if (prefix_.empty()) return absl::StrCat("column ", column_, suffix_);
  return absl::StrCat(prefix_, " column ", column_, suffix_);
}

ByteReader::ByteReader(absl::string_view data, absl::string_view context)
    : data_(data), context_(context) {}

absl::Status ByteReader::Corrupt(absl::string_view problem) const {
  if (context_.empty()) {
    return absl::DataLossError(absl::StrCat(problem, " at offset ", offset_));
  }
  return absl::DataLossError(
      absl::StrCat(context_, ": ", problem, " at offset ", offset_));
}

absl::Status ByteReader::Truncated(const ReadLabel& what, size_t need) const {
  return Corrupt(absl::StrCat("truncated reading ", what.ToString(), " (need ",
                              need, " bytes, ", remaining(), " left)"));
}

absl::StatusOr<uint64_t> ByteReader::ReadUnsigned(size_t size,
                                                  const ReadLabel& what) {
  if (remaining() < size) return Truncated(what, size);
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    value = (value << 8) | static_cast<uint8_t>(data_[offset_ + i]);
  }
  offset_ += size;
  return value;
}

absl::StatusOr<uint8_t> ByteReader::ReadU8(const ReadLabel& what) {
  absl::StatusOr<uint64_t> value = ReadUnsigned(1, what);
  if (!value.ok()) return value.status();
  return static_cast<uint8_t>(*value);
}

absl::StatusOr<uint16_t> ByteReader::ReadU16(const ReadLabel& what) {
  absl::StatusOr<uint64_t> value = ReadUnsigned(2, what);
  if (!value.ok()) return value.status();
  return static_cast<uint16_t>(*value);
}

absl::StatusOr<uint32_t> ByteReader::ReadU32(const ReadLabel& what) {
  absl::StatusOr<uint64_t> value = ReadUnsigned(4, what);
  if (!value.ok()) return value.status();
  return static_cast<uint32_t>(*value);
}

absl::StatusOr<int32_t> ByteReader::ReadI32(const ReadLabel& what) {
  absl::StatusOr<uint32_t> value = ReadU32(what);
  if (!value.ok()) return value.status();
  // Modular conversion (guaranteed since C++20, and what GCC and Clang do).
  return static_cast<int32_t>(*value);
}

absl::StatusOr<uint64_t> ByteReader::ReadU64(const ReadLabel& what) {
  return ReadUnsigned(8, what);
}

absl::StatusOr<int64_t> ByteReader::ReadI64(const ReadLabel& what) {
  absl::StatusOr<uint64_t> value = ReadUnsigned(8, what);
  if (!value.ok()) return value.status();
  return static_cast<int64_t>(*value);
}

absl::StatusOr<std::string> ByteReader::ReadCString(const ReadLabel& what) {
  size_t nul = data_.find('\0', offset_);
  if (nul == absl::string_view::npos) {
    return Corrupt(absl::StrCat("unterminated string reading ", what.ToString(),
                                " (", remaining(), " bytes left, no NUL)"));
  }
  std::string value(data_.substr(offset_, nul - offset_));
  offset_ = nul + 1;
  return value;
}

absl::StatusOr<absl::string_view> ByteReader::ReadBytes(size_t n,
                                                        const ReadLabel& what) {
  if (remaining() < n) return Truncated(what, n);
  absl::string_view bytes = data_.substr(offset_, n);
  offset_ += n;
  return bytes;
}

absl::Status ByteReader::ExpectEnd() const {
  if (remaining() == 0) return absl::OkStatus();
  return Corrupt(absl::StrCat(remaining(), " trailing bytes"));
}

}  // namespace enrich::pgoutput
