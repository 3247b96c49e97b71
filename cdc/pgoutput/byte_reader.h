// A bounds-checked cursor over a big-endian wire buffer (PostgreSQL's
// network byte order), in the spirit of leveldb's Slice decoding.
#ifndef ENRICH_CDC_PGOUTPUT_BYTE_READER_H_
#define ENRICH_CDC_PGOUTPUT_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace enrich::pgoutput {

// Reads integers, NUL-terminated strings and byte runs from the front of a
// buffer, advancing a cursor. Every read checks the bounds first; a read
// that does not fit fails with absl::DataLossError naming the context (e.g.
// "pgoutput Insert ('I')"), what was being read and the byte offset, and
// leaves the cursor where it was. Nothing is ever read past the end.
//
// Does not own the buffer or the context: both must outlive the reader (the
// context is normally a literal), and the buffer any string_view returned by
// ReadBytes. Labels are formatted only when a read fails, so the hot path
// allocates nothing. Not thread-safe.
//
//   ByteReader reader(message, "pgoutput Begin ('B')");
//   ASSIGN_OR_RETURN(uint64_t final_lsn, reader.ReadU64("final LSN"));
//   RETURN_IF_ERROR(reader.ExpectEnd());
// What a read was for, in an error message: a plain label ("final LSN"), or
// one built from pieces ("new tuple" + " column count", "new tuple" column 3
// " length"), formatted only when a read fails. The pieces must outlive the
// read.
class ReadLabel {
 public:
  ReadLabel(const char* text) : prefix_(text) {}        // NOLINT: implicit
  ReadLabel(absl::string_view text) : prefix_(text) {}  // NOLINT: implicit
  // "<prefix><suffix>".
  ReadLabel(absl::string_view prefix, absl::string_view suffix)
      : prefix_(prefix), suffix_(suffix) {}
  // "<prefix> column <column><suffix>", or "column <column><suffix>" when
  // prefix is empty.
  ReadLabel(absl::string_view prefix, int column, absl::string_view suffix)
      : prefix_(prefix), column_(column), suffix_(suffix) {}

  std::string ToString() const;

 private:
  absl::string_view prefix_;
  int column_ = -1;  // -1: a plain label
  absl::string_view suffix_;
};

class ByteReader {
 public:
  explicit ByteReader(absl::string_view data, absl::string_view context = "");

  absl::StatusOr<uint8_t> ReadU8(const ReadLabel& what);
  absl::StatusOr<uint16_t> ReadU16(const ReadLabel& what);
  absl::StatusOr<uint32_t> ReadU32(const ReadLabel& what);
  absl::StatusOr<int32_t> ReadI32(const ReadLabel& what);
  absl::StatusOr<uint64_t> ReadU64(const ReadLabel& what);
  absl::StatusOr<int64_t> ReadI64(const ReadLabel& what);

  // Bytes up to the next NUL; consumes the NUL too. Fails when there is no
  // NUL before the end.
  absl::StatusOr<std::string> ReadCString(const ReadLabel& what);

  // The next `n` bytes, as a view into the buffer.
  absl::StatusOr<absl::string_view> ReadBytes(size_t n, const ReadLabel& what);

  // OK when every byte has been read; DataLoss naming the trailing byte count
  // otherwise.
  absl::Status ExpectEnd() const;

  // A DataLoss error carrying the context and the current offset, for
  // callers that find a value they cannot accept ("unknown tuple marker").
  absl::Status Corrupt(absl::string_view problem) const;

  // Bytes consumed so far (the offset of the next read).
  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }
  absl::string_view context() const { return context_; }
  void set_context(absl::string_view context) { context_ = context; }

 private:
  absl::Status Truncated(const ReadLabel& what, size_t need) const;
  // Big-endian unsigned integer of `size` bytes (1, 2, 4 or 8).
  absl::StatusOr<uint64_t> ReadUnsigned(size_t size, const ReadLabel& what);

  absl::string_view data_;
  size_t offset_ = 0;
  absl::string_view context_;
};

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_BYTE_READER_H_
