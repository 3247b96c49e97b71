#include "cdc/core/transaction_buffer.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"

namespace enrich::cdc {
namespace {

// One record: a fixed header, then topic, key, routing value and event bytes.
// Host byte order: the bytes never leave this process.
struct RecordHeader {
  uint32_t xid;
  uint32_t topic_size;
  uint32_t key_size;
  uint32_t routing_size;
  uint32_t event_size;
  uint8_t flags;  // 1: tombstone after, 2: all partitions
  uint8_t operation;
};
constexpr size_t kHeaderSize = sizeof(RecordHeader);

// Memory comes in blocks of this size (bigger for a bigger record). Once
// spilled, records gather in memory up to one block (or the budget, if
// smaller) per file write. Replay reads the file in chunks of this size too.
constexpr size_t kBlockBytes = 1 << 20;
// Blocks kept after a replay for the next transaction (a huge transaction
// should not pin its memory for the next small ones).
constexpr size_t kRetainedBlocks = 4;

size_t PayloadSize(const RecordHeader& h) {
  return size_t{h.topic_size} + h.key_size + h.routing_size + h.event_size;
}

BufferedEvent ViewOf(const RecordHeader& h, const char* payload) {
  BufferedEvent e;
  e.topic = absl::string_view(payload, h.topic_size);
  payload += h.topic_size;
  e.key = absl::string_view(payload, h.key_size);
  payload += h.key_size;
  e.routing_value = absl::string_view(payload, h.routing_size);
  payload += h.routing_size;
  e.partial_event = absl::string_view(payload, h.event_size);
  e.tombstone_after = (h.flags & 1) != 0;
  e.all_partitions = (h.flags & 2) != 0;
  e.operation = h.operation;
  return e;
}

std::string TransactionName(uint32_t xid) {
  return xid == 0 ? std::string("a transaction of unknown xid")
                  : absl::StrCat("transaction xid ", xid);
}

}  // namespace

BufferedEvent ViewOf(const BuiltEvent& event) {
  BufferedEvent view;
  view.topic = event.topic;
  view.key = event.key;
  view.routing_value = event.routing_value;
  view.partial_event = event.partial_event;
  view.tombstone_after = event.tombstone_after;
  view.all_partitions = event.all_partitions;
  view.operation = event.operation;
  return view;
}

TransactionBuffer::TransactionBuffer(Options options)
    : options_(std::move(options)) {}

TransactionBuffer::~TransactionBuffer() { RemoveSpillFile(); }

absl::Status TransactionBuffer::Append(uint32_t xid, const BuiltEvent& event) {
  if (!spill_error_.ok()) return spill_error_;
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (event.topic.size() > kMax || event.key.size() > kMax ||
      event.routing_value.size() > kMax || event.partial_event.size() > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("an event of ", event.topic,
                     " has a part larger than 4 GiB and cannot be buffered"));
  }
  RecordHeader header{xid,
                      static_cast<uint32_t>(event.topic.size()),
                      static_cast<uint32_t>(event.key.size()),
                      static_cast<uint32_t>(event.routing_value.size()),
                      static_cast<uint32_t>(event.partial_event.size()),
                      static_cast<uint8_t>((event.tombstone_after ? 1 : 0) |
                                           (event.all_partitions ? 2 : 0)),
                      static_cast<uint8_t>(event.operation)};
  const size_t record_size = kHeaderSize + PayloadSize(header);
  if (spill_ == nullptr &&
      held_bytes_ + record_size > options_.memory_budget_bytes) {
    RETURN_IF_ERROR(StartSpill());
  }
  ++count_by_xid_[xid];
  std::string& block = BlockWithRoom(record_size);
  block.append(reinterpret_cast<const char*>(&header), kHeaderSize);
  block.append(event.topic);
  block.append(event.key);
  block.append(event.routing_value);
  block.append(event.partial_event);
  held_bytes_ += record_size;
  if (spill_ != nullptr &&
      held_bytes_ >= std::min(kBlockBytes, options_.memory_budget_bytes)) {
    return WriteOut();
  }
  return absl::OkStatus();
}

std::string& TransactionBuffer::BlockWithRoom(size_t size) {
  if (used_blocks_ > 0) {
    std::string& last = blocks_[used_blocks_ - 1];
    if (last.capacity() - last.size() >= size) return last;
  }
  if (used_blocks_ == blocks_.size()) blocks_.emplace_back();
  std::string& block = blocks_[used_blocks_++];
  block.clear();
  block.reserve(std::max(kBlockBytes, size));
  return block;
}

void TransactionBuffer::Release() {
  for (size_t i = 0; i < used_blocks_; ++i) blocks_[i].clear();
  used_blocks_ = 0;
  held_bytes_ = 0;
  if (blocks_.size() > kRetainedBlocks) blocks_.resize(kRetainedBlocks);
  for (std::string& block : blocks_) {
    if (block.capacity() > kBlockBytes) std::string().swap(block);
  }
}

absl::Status TransactionBuffer::StartSpill() {
  absl::StatusOr<std::unique_ptr<SpillFile>> file =
      options_.env->CreateTempFile(options_.spill_dir);
  if (!file.ok()) return SpillFailed("cannot spill", file.status());
  spill_ = *std::move(file);
  // Everything held so far goes first, so replay reads one sequence.
  return WriteOut();
}

absl::Status TransactionBuffer::WriteOut() {
  for (size_t i = 0; i < used_blocks_; ++i) {
    absl::Status wrote = spill_->Append(blocks_[i]);
    if (!wrote.ok()) return SpillFailed("cannot spill", wrote);
  }
  Release();
  return absl::OkStatus();
}

absl::Status TransactionBuffer::SpillFailed(absl::string_view what,
                                            const absl::Status& cause) {
  spill_error_ = absl::FailedPreconditionError(absl::StrCat(
      what, " ", TransactionName(transaction_xid_), " in spill directory ",
      options_.spill_dir, ": ", cause.message()));
  RemoveSpillFile();
  return spill_error_;
}

void TransactionBuffer::RemoveSpillFile() {
  if (spill_ == nullptr) return;
  const std::string path = spill_->path();
  spill_.reset();
  // Nothing to do about a failure here: the file is only ever left behind.
  options_.env->RemoveFile(path).IgnoreError();
}

void TransactionBuffer::Abort(uint32_t xid) { aborted_.insert(xid); }

uint64_t TransactionBuffer::surviving_count() const {
  uint64_t total = 0;
  for (const auto& [xid, count] : count_by_xid_) {
    if (!aborted_.contains(xid)) total += count;
  }
  return total;
}

absl::Status TransactionBuffer::Visit(uint32_t xid, const BufferedEvent& event,
                                      uint64_t total, uint64_t* index,
                                      const Visitor& visit) {
  if (!aborted_.empty() && aborted_.contains(xid)) return absl::OkStatus();
  const uint64_t at = (*index)++;
  return visit(event, at, at + 1 == total);
}

absl::Status TransactionBuffer::ReplayMemory(uint64_t total, uint64_t* index,
                                             const Visitor& visit) {
  for (size_t b = 0; b < used_blocks_; ++b) {
    const std::string& block = blocks_[b];
    size_t at = 0;
    while (at < block.size()) {
      RecordHeader header;
      std::memcpy(&header, block.data() + at, kHeaderSize);
      at += kHeaderSize;
      RETURN_IF_ERROR(Visit(header.xid, ViewOf(header, block.data() + at),
                            total, index, visit));
      at += PayloadSize(header);
    }
  }
  return absl::OkStatus();
}

absl::Status TransactionBuffer::ReplaySpill(uint64_t total, uint64_t* index,
                                            const Visitor& visit) {
  RETURN_IF_ERROR(WriteOut());
  // read_scratch_[0, end) holds file bytes not visited yet, starting with a
  // record; `offset` is the file position of read_scratch_[end].
  read_scratch_.resize(kBlockBytes);
  uint64_t offset = 0;
  size_t end = 0;
  for (;;) {
    size_t consumed = 0;
    size_t needed = kHeaderSize;
    RETURN_IF_ERROR(
        VisitWholeRecords(absl::string_view(read_scratch_.data(), end), total,
                          index, visit, &consumed, &needed));
    std::memmove(read_scratch_.data(), read_scratch_.data() + consumed,
                 end - consumed);
    end -= consumed;
    if (read_scratch_.size() < needed) read_scratch_.resize(needed);
    absl::StatusOr<size_t> got = spill_->Read(
        offset, read_scratch_.size() - end, read_scratch_.data() + end);
    if (!got.ok()) return SpillFailed("cannot replay", got.status());
    if (*got == 0) {
      if (end == 0) return absl::OkStatus();
      return absl::DataLossError(absl::StrCat(
          "spill file ", spill_->path(), " of ",
          TransactionName(transaction_xid_), " ended inside a record"));
    }
    offset += *got;
    end += *got;
  }
}

absl::Status TransactionBuffer::VisitWholeRecords(
    absl::string_view bytes, uint64_t total, uint64_t* index,
    const Visitor& visit, size_t* consumed, size_t* needed) {
  size_t at = 0;
  while (bytes.size() - at >= kHeaderSize) {
    RecordHeader header;
    std::memcpy(&header, bytes.data() + at, kHeaderSize);
    const size_t record_size = kHeaderSize + PayloadSize(header);
    if (bytes.size() - at < record_size) {
      *needed = record_size;
      break;
    }
    RETURN_IF_ERROR(Visit(header.xid,
                          ViewOf(header, bytes.data() + at + kHeaderSize),
                          total, index, visit));
    at += record_size;
  }
  *consumed = at;
  return absl::OkStatus();
}

absl::Status TransactionBuffer::Replay(const Visitor& visit) {
  absl::Status status = spill_error_;
  if (status.ok()) {
    const uint64_t total = surviving_count();
    uint64_t index = 0;
    status = spill_ == nullptr ? ReplayMemory(total, &index, visit)
                               : ReplaySpill(total, &index, visit);
  }
  Reset();
  return status;
}

void TransactionBuffer::Reset() {
  RemoveSpillFile();
  Release();
  // A chunk of a spill file: spills are rare, so its memory is not kept.
  std::string().swap(read_scratch_);
  count_by_xid_.clear();
  aborted_.clear();
  spill_error_ = absl::OkStatus();
  transaction_xid_ = 0;
}

}  // namespace enrich::cdc
