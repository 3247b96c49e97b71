// TransactionBuffer holds one transaction's records until its commit is
// decoded: the commit LSN, end LSN and each event's "last in transaction" flag
// are known only then, and a streamed transaction (pgoutput v2) may still
// abort. Records stay in memory up to a budget and go to a spill file beyond
// it, so a transaction of millions of rows needs bounded memory.
//
// Subtransactions: records carry the xid that made them; aborting a subxid
// (ROLLBACK TO SAVEPOINT inside a streamed transaction) drops its records.
//
// Not thread-safe. The spill file is deleted when the buffer is destroyed.
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
#include "absl/status/statusor.h"
#include "cdc/core/event_builder.h"

namespace enrich::cdc {

class TransactionBuffer {
 public:
  // `spill_dir` must exist and be writable; nothing is written there unless
  // the records outgrow `memory_budget_bytes`.
  TransactionBuffer(std::string spill_dir, size_t memory_budget_bytes);
  ~TransactionBuffer();
  TransactionBuffer(const TransactionBuffer&) = delete;
  TransactionBuffer& operator=(const TransactionBuffer&) = delete;

  absl::Status Append(uint32_t xid, BuiltEvent event);
  // Drops every record of `xid`, appended before or after this call.
  void Abort(uint32_t xid);

  // Records that will be replayed (appended and not aborted).
  uint64_t surviving_count() const;
  size_t memory_bytes() const { return memory_bytes_; }
  bool spilled() const { return spill_ != nullptr; }

  // Calls `visit` for each surviving record in append order with its 0-based
  // index among survivors and whether it is the last; the visitor may move
  // the event's strings out. Stops at the first error. The buffer is left
  // empty.
  using Visitor =
      std::function<absl::Status(BuiltEvent& event, uint64_t index, bool last)>;
  absl::Status Replay(const Visitor& visit);

 private:
  struct Record {
    uint32_t xid;
    BuiltEvent event;
  };
  absl::Status Spill(const Record& record);
  absl::StatusOr<Record> ReadRecord();
  absl::Status ReplayOne(Record& record, uint64_t total, uint64_t* index,
                         const Visitor& visit);

  std::string spill_dir_;
  size_t memory_budget_;
  std::vector<Record> records_;
  size_t memory_bytes_ = 0;
  std::FILE* spill_ = nullptr;
  std::string spill_path_;
  absl::flat_hash_map<uint32_t, uint64_t> count_by_xid_;
  absl::flat_hash_set<uint32_t> aborted_;
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CORE_TRANSACTION_BUFFER_H_
