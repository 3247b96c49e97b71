// TransactionBuffer holds one transaction's records until its commit is
// decoded: the commit LSN, end LSN and each event's "last in transaction" flag
// are known only then, and a streamed transaction (pgoutput v2) may still
// abort. Records are copied into one contiguous byte buffer up to a budget and
// go to a spill file beyond it, so a transaction of millions of rows needs
// bounded memory, and buffering a record allocates nothing in steady state
// (the buffer keeps its capacity between transactions, up to a cap).
//
// The spill file is made, written and read through a SpillEnv (spill_env.h),
// in chunks of about a megabyte, never a call per record.
//
// Subtransactions: records carry the xid that made them; aborting a subxid
// (ROLLBACK TO SAVEPOINT inside a streamed transaction) drops its records.
//
// Spill failures. The directory cannot take the file (missing, unwritable),
// the disk or quota is full, or reading it back fails: Append or Replay
// returns FailedPrecondition, whose message names the transaction (see
// set_transaction_xid), the spill directory and the system's reason.
// FailedPrecondition because the operator must act (free space, fix the
// permissions or choose another directory): a retry would receive the same
// transaction from the slot and fail the same way, so it is not Unavailable
// (which CdcRunner retries forever). A spill that failed is sticky: every
// later Append and the Replay return the same error, and Replay then visits
// no record at all, so none of the transaction is published. Write failures
// surface before the first visit (Replay writes out and checks everything
// before it reads); a read failure in the middle of a Replay (an I/O error)
// stops it after the records already visited, the transaction unfinished.
// A spill file that failed is removed at once, to give back the space.
//
// Not thread-safe. The spill file is removed when the buffer is replayed or
// destroyed.
#ifndef ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_
#define ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/core/event_builder.h"
#include "cdc/core/spill_env.h"

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
  struct Options {
    // Must exist and be writable; nothing is written there unless the
    // records outgrow `memory_budget_bytes`.
    std::string spill_dir = "/tmp";
    size_t memory_budget_bytes = 32 << 20;
    // Not owned; must outlive the buffer. Never null.
    SpillEnv* env = SpillEnv::Default();
  };
  explicit TransactionBuffer(Options options);
  ~TransactionBuffer();
  TransactionBuffer(const TransactionBuffer&) = delete;
  TransactionBuffer& operator=(const TransactionBuffer&) = delete;

  // Names the transaction in error messages (0: unknown); the next Replay
  // forgets it.
  void set_transaction_xid(uint32_t xid) { transaction_xid_ = xid; }

  // Copies `event` in. InvalidArgument if one of its strings exceeds 4 GiB;
  // FailedPrecondition if a spill failed, now or before (see above).
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
  // error, which it returns: the visitor's, or FailedPrecondition for a
  // spill failure (before any visit if the spill failed during Append or
  // while writing out), or DataLoss if the spill file ends inside a record.
  // The buffer is left empty and reusable, its spill file removed.
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
  // Visits the whole records at the front of `bytes`; `*consumed` is set to
  // their size and `*needed` to the size of the partial record after them
  // (at least a header).
  absl::Status VisitWholeRecords(absl::string_view bytes, uint64_t total,
                                 uint64_t* index, const Visitor& visit,
                                 size_t* consumed, size_t* needed);
  // Records `cause` as the buffer's sticky FailedPrecondition, removes the
  // spill file and returns the error.
  absl::Status SpillFailed(absl::string_view what, const absl::Status& cause);
  void RemoveSpillFile();
  absl::Status Visit(uint32_t xid, const BufferedEvent& event, uint64_t total,
                     uint64_t* index, const Visitor& visit);
  void Reset();

  Options options_;
  uint32_t transaction_xid_ = 0;
  // Encoded records (see transaction_buffer.cc): all of them in memory, or,
  // once spilled, those not yet written to the file. Fixed-capacity blocks,
  // never reallocated, so holding N bytes costs N bytes (rounded up to a
  // block), not the 2N of a growing buffer; a record never straddles two.
  // blocks_[0, used_blocks_) hold records; the rest are empty spares.
  std::vector<std::string> blocks_;
  size_t used_blocks_ = 0;
  size_t held_bytes_ = 0;
  std::string read_scratch_;  // a chunk of the spill file, on replay
  std::unique_ptr<SpillFile> spill_;
  absl::Status spill_error_;  // sticky, until Replay
  absl::flat_hash_map<uint32_t, uint64_t> count_by_xid_;
  absl::flat_hash_set<uint32_t> aborted_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_
