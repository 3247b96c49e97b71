#include "cdc/pgoutput/relation_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace enrich::pgoutput {

void RelationCache::Put(Relation relation) {
  uint32_t oid = relation.oid;
  relations_[oid] = std::move(relation);
}

absl::StatusOr<const Relation*> RelationCache::Get(uint32_t oid) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no Relation message seen for relation OID ", oid));
  }
  return &it->second;
}

absl::Status CheckTupleShape(const Relation& relation, const Tuple& tuple) {
  if (tuple.size() == relation.columns.size()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("tuple has ", tuple.size(), " columns but relation ",
                   relation.schema, ".", relation.table, " (OID ", relation.oid,
                   ") has ", relation.columns.size()));
}

}  // namespace enrich::pgoutput
