// RewrittenIds: the conversations a replay has rewritten already, so each is
// rewritten once per replay however many batches name it. Pure.
//
// Why skipping is exact during a replay: every replayed record lies below
// the end offsets read when the replay started, so enrich-cdc published it,
// and its source transaction committed, before the replay's first write
// began. A rewrite recomputes a row from the source state its statement
// sees (enriched_row_writer.h), so a conversation rewritten by any batch of
// the replay already reflects every replayed event, including those of
// later batches; rewriting it again would install the same state. (Live
// processing cannot skip: its events keep coming after its writes.)
//
//   RewrittenIds done;
//   std::vector<std::string> ids = ...;  // canonical uuid text
//   done.RemoveFrom(&ids);               // only those not rewritten yet
//   ... write them, commit ...
//   done.Add(ids);                       // after the commit only
//
// Memory: 16 bytes per conversation (plus the hash set's slack). Not
// thread-safe.
#ifndef ENRICH_PROCESSOR_CORE_REWRITTEN_IDS_H_
#define ENRICH_PROCESSOR_CORE_REWRITTEN_IDS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"

namespace enrich::processor {

class RewrittenIds {
 public:
  // Removes from `ids` every id already added, keeping the others' order.
  // An id that is not a uuid is kept (the writer reports it).
  void RemoveFrom(std::vector<std::string>* ids) const;

  // Records `ids` as rewritten; call once their transaction committed.
  void Add(const std::vector<std::string>& ids);

  // Records every conversation as rewritten (a rebuild of the whole table
  // committed): RemoveFrom then removes every uuid.
  void AddAll() {
    all_ = true;
    ids_.clear();
  }
  bool all() const { return all_; }

  size_t size() const { return ids_.size(); }

 private:
  absl::flat_hash_set<absl::uint128> ids_;
  bool all_ = false;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_REWRITTEN_IDS_H_
