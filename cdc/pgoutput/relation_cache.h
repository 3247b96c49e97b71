// Relation definitions by OID, as Relation messages deliver them.
#ifndef ENRICH_CDC_PGOUTPUT_RELATION_CACHE_H_
#define ENRICH_CDC_PGOUTPUT_RELATION_CACHE_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdc/pgoutput/messages.h"

namespace enrich::pgoutput {

// pgoutput sends a Relation message before the first change of a relation in
// a session and again after its definition changes (ALTER TABLE), possibly
// in the middle of a transaction or stream block. Put() the definition as
// each one arrives and look it up when a change arrives: the latest Put wins
// immediately.
//
// Relation messages inside a stream block describe the relation as that
// streamed transaction sees it; the definition is the same one committed
// transactions get afterwards in every case pgoutput produces, so one cache
// per session is enough.
//
// Not thread-safe. Movable, not copyable.
//
//   cache.Put(relation_message.relation);
//   ASSIGN_OR_RETURN(const Relation* relation, cache.Get(insert.relation_oid));
//   RETURN_IF_ERROR(CheckTupleShape(*relation, insert.new_tuple));
class RelationCache {
 public:
  RelationCache() = default;
  RelationCache(RelationCache&&) = default;
  RelationCache& operator=(RelationCache&&) = default;
  RelationCache(const RelationCache&) = delete;
  RelationCache& operator=(const RelationCache&) = delete;

  // Adds or replaces the definition for relation.oid.
  void Put(Relation relation);

  // The definition for `oid`; NotFound when no Relation message announced
  // it. The pointer stays valid until Clear() or the cache is destroyed; a
  // later Put() of the same OID overwrites the pointee in place.
  absl::StatusOr<const Relation*> Get(uint32_t oid) const;

  // Forgets everything (a new replication session re-sends definitions).
  void Clear() { relations_.clear(); }
  size_t size() const { return relations_.size(); }

 private:
  // node_hash_map: pointers returned by Get() survive rehashing.
  absl::node_hash_map<uint32_t, Relation> relations_;
};

// DataLoss when `tuple` does not have one value per column of `relation`
// (the stream and the cached definition disagree: never apply such a row).
absl::Status CheckTupleShape(const Relation& relation, const Tuple& tuple);

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_RELATION_CACHE_H_
