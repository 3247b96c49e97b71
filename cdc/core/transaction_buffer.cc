#include "cdc/core/transaction_buffer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"

namespace enrich::cdc {
namespace {

size_t RecordBytes(const BuiltEvent& e) {
  return sizeof(BuiltEvent) + e.topic.size() + e.key.size() +
         e.routing_value.size() + e.partial_event.size();
}

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutString(std::string* out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

absl::Status IoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " spill file ", path, ": ", std::strerror(errno)));
}

// Reads exactly n bytes; DataLoss if the file ends first.
absl::Status ReadExact(std::FILE* file, size_t n, std::string* out,
                       const std::string& path) {
  out->resize(n);
  if (n > 0 && std::fread(out->data(), 1, n, file) != n) {
    return absl::DataLossError(
        absl::StrCat("spill file ", path, " ended inside a record"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ReadU32(std::FILE* file, const std::string& path) {
  std::string bytes;
  RETURN_IF_ERROR(ReadExact(file, 4, &bytes, path));
  uint32_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

absl::Status ReadString(std::FILE* file, std::string* out,
                        const std::string& path) {
  ASSIGN_OR_RETURN(uint32_t size, ReadU32(file, path));
  return ReadExact(file, size, out, path);
}

}  // namespace

TransactionBuffer::TransactionBuffer(std::string spill_dir,
                                     size_t memory_budget_bytes)
    : spill_dir_(std::move(spill_dir)), memory_budget_(memory_budget_bytes) {}

TransactionBuffer::~TransactionBuffer() {
  if (spill_ != nullptr) {
    std::fclose(spill_);
    unlink(spill_path_.c_str());
  }
}

absl::Status TransactionBuffer::Append(uint32_t xid, BuiltEvent event) {
  ++count_by_xid_[xid];
  Record record{xid, std::move(event)};
  if (spill_ == nullptr &&
      memory_bytes_ + RecordBytes(record.event) <= memory_budget_) {
    memory_bytes_ += RecordBytes(record.event);
    records_.push_back(std::move(record));
    return absl::OkStatus();
  }
  if (spill_ == nullptr) {
    spill_path_ = absl::StrCat(spill_dir_, "/enrich-cdc-tx-XXXXXX");
    int fd = mkstemp(spill_path_.data());
    if (fd < 0) return IoError("cannot create", spill_path_);
    spill_ = fdopen(fd, "w+b");
    if (spill_ == nullptr) return IoError("cannot open", spill_path_);
    // Everything moves to the file so replay reads one sequence in order.
    for (const Record& held : records_) RETURN_IF_ERROR(Spill(held));
    records_.clear();
    records_.shrink_to_fit();
    memory_bytes_ = 0;
  }
  return Spill(record);
}

absl::Status TransactionBuffer::Spill(const Record& record) {
  std::string bytes;
  PutU32(&bytes, record.xid);
  bytes.push_back(static_cast<char>((record.event.tombstone_after ? 1 : 0) |
                                    (record.event.all_partitions ? 2 : 0)));
  bytes.push_back(static_cast<char>(record.event.operation));
  PutString(&bytes, record.event.topic);
  PutString(&bytes, record.event.key);
  PutString(&bytes, record.event.routing_value);
  PutString(&bytes, record.event.partial_event);
  if (std::fwrite(bytes.data(), 1, bytes.size(), spill_) != bytes.size()) {
    return IoError("cannot write", spill_path_);
  }
  return absl::OkStatus();
}

// Reads one record written by Spill(); the layout is
// xid u32 | flags u8 | operation u8 | topic | key | routing | event, each
// string as u32 length + bytes.
absl::StatusOr<TransactionBuffer::Record> TransactionBuffer::ReadRecord() {
  Record record;
  ASSIGN_OR_RETURN(record.xid, ReadU32(spill_, spill_path_));
  std::string flags;
  RETURN_IF_ERROR(ReadExact(spill_, 2, &flags, spill_path_));
  record.event.tombstone_after = flags[0] & 1;
  record.event.all_partitions = flags[0] & 2;
  record.event.operation = static_cast<unsigned char>(flags[1]);
  RETURN_IF_ERROR(ReadString(spill_, &record.event.topic, spill_path_));
  RETURN_IF_ERROR(ReadString(spill_, &record.event.key, spill_path_));
  RETURN_IF_ERROR(ReadString(spill_, &record.event.routing_value, spill_path_));
  RETURN_IF_ERROR(ReadString(spill_, &record.event.partial_event, spill_path_));
  return record;
}

void TransactionBuffer::Abort(uint32_t xid) { aborted_.insert(xid); }

uint64_t TransactionBuffer::surviving_count() const {
  uint64_t total = 0;
  for (const auto& [xid, count] : count_by_xid_) {
    if (!aborted_.contains(xid)) total += count;
  }
  return total;
}

absl::Status TransactionBuffer::ReplayOne(Record& record, uint64_t total,
                                          uint64_t* index,
                                          const Visitor& visit) {
  if (aborted_.contains(record.xid)) return absl::OkStatus();
  uint64_t at = (*index)++;
  return visit(record.event, at, at + 1 == total);
}

absl::Status TransactionBuffer::Replay(const Visitor& visit) {
  const uint64_t total = surviving_count();
  uint64_t index = 0;
  absl::Status status;
  if (spill_ == nullptr) {
    for (Record& record : records_) {
      status = ReplayOne(record, total, &index, visit);
      if (!status.ok()) break;
    }
  } else if (std::fflush(spill_) != 0 || std::fseek(spill_, 0, SEEK_SET) != 0) {
    status = IoError("cannot rewind", spill_path_);
  } else {
    for (;;) {
      int first = std::fgetc(spill_);
      if (first == EOF) break;
      std::ungetc(first, spill_);
      absl::StatusOr<Record> record = ReadRecord();
      status = record.ok() ? ReplayOne(*record, total, &index, visit)
                           : record.status();
      if (!status.ok()) break;
    }
    std::fclose(spill_);
    unlink(spill_path_.c_str());
    spill_ = nullptr;
  }
  records_.clear();
  memory_bytes_ = 0;
  count_by_xid_.clear();
  aborted_.clear();
  return status;
}

}  // namespace enrich::cdc
