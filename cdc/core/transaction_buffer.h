// TransactionBuffer holds one transaction's records until its commit is
// decoded: the commit LSN, end LSN and each event's "last in transaction" flag
// are known only then, and a streamed transaction (pgoutput v2) may still
// abort. Records are copied into one contiguous byte buffer up to a budget and
// go to a spill file beyond it, so a transaction of millions of rows needs
// bounded memory, and buffering a record allocates nothing in steady state
// (the buffer keeps its capacity between transactions, up to a cap).
//
// Subtransactions: records carry the xid that made them; aborting a subxid
// (ROLLBACK TO SAVEPOINT inside a streamed transaction) drops its records.
//
// Not thread-safe. The spill file is deleted when the buffer is replayed or
// destroyed.
#ifndef ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_
#define ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/core/event_builder.h"

namespace enrich::cdc {

// A record as Replay() hands it out: views into the buffer, valid only
// during the visit.
struct BufferedEvent {
  absl::string_view topic;
  absl::string_view key;
  absl::string_view routing_value;
  absl::string_view partial_event;
  bool tombstone_after = false;
  bool all_partitions = false;
  int operation = 0;
};

// The view of an event built but not buffered (a snapshot row).
BufferedEvent ViewOf(const BuiltEvent& event);

class TransactionBuffer {
 public:
  // `spill_dir` must exist and be writable; nothing is written there unless
  // the records outgrow `memory_budget_bytes`.
  TransactionBuffer(std::string spill_dir, size_t memory_budget_bytes);
  ~TransactionBuffer();
  TransactionBuffer(const TransactionBuffer&) = delete;
  TransactionBuffer& operator=(const TransactionBuffer&) = delete;

  // Copies `event` in. InvalidArgument if one of its strings exceeds 4 GiB;
  // Internal on a spill file error.
  absl::Status Append(uint32_t xid, const BuiltEvent& event);
  // Drops every record of `xid`, appended before or after this call.
  void Abort(uint32_t xid);

  // Records that will be replayed (appended and not aborted).
  uint64_t surviving_count() const;
  // Bytes of records held in memory (the spill file not included); never
  // more than the budget plus one record.
  size_t memory_bytes() const { return held_bytes_; }
  bool spilled() const { return spill_ != nullptr; }

  // Calls `visit` for each surviving record in append order with its 0-based
  // index among survivors and whether it is the last. Stops at the first
  // error. The buffer is left empty and reusable.
  using Visitor = std::function<absl::Status(const BufferedEvent& event,
                                             uint64_t index, bool last)>;
  absl::Status Replay(const Visitor& visit);

 private:
  absl::Status StartSpill();
  absl::Status WriteOut();  // moves the held records to the spill file
  // A block with room for `size` more bytes (the last one, or a new one).
  std::string& BlockWithRoom(size_t size);
  void Release();  // forgets the held records, keeping some blocks
  absl::Status ReplayMemory(uint64_t total, uint64_t* index,
                            const Visitor& visit);
  absl::Status ReplaySpill(uint64_t total, uint64_t* index,
                           const Visitor& visit);
  absl::Status Visit(uint32_t xid, const BufferedEvent& event, uint64_t total,
                     uint64_t* index, const Visitor& visit);
  void Reset();

  std::string spill_dir_;
  size_t memory_budget_;
  // Encoded records (see transaction_buffer.cc): all of them in memory, or,
  // once spilled, those not yet written to the file. Fixed-capacity blocks,
  // never reallocated, so holding N bytes costs N bytes (rounded up to a
  // block), not the 2N of a growing buffer; a record never straddles two.
  // blocks_[0, used_blocks_) hold records; the rest are empty spares.
  std::vector<std::string> blocks_;
  size_t used_blocks_ = 0;
  size_t held_bytes_ = 0;
  std::string read_scratch_;  // one spilled record at a time, on replay
  std::FILE* spill_ = nullptr;
  std::string spill_path_;
  absl::flat_hash_map<uint32_t, uint64_t> count_by_xid_;
  absl::flat_hash_set<uint32_t> aborted_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_
