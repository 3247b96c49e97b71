// Source preparation, the first part of one enrich-cdc attempt
// (CdcRunner::RunOnce): everything between connecting to the source database
// and connecting for replication.
//
//   ASSIGN_OR_RETURN(PreparedSource prepared,
//                    PrepareSource(*conn, config, ensure_topic, log));
//
// In order: checks the source (pg::InspectSource: wal_level, encoding,
// privileges, tables and keys) and warns for each table that is not REPLICA
// IDENTITY FULL; takes the slot's advisory lock; notes the tables missing
// from the publication; creates the snapshot record table; ensures one topic
// per table and works out each table's routing; reads the slot and decides
// whether to snapshot (`--snapshot`: always; initial when the slot is new,
// its snapshot never completed, or tables were missing from the publication
// under an existing slot, whose changes since then the slot never streamed;
// never), dropping an existing slot that must be recreated for it; then
// creates or completes the publication.
//
// Errors carry their codes to the caller's retry decision: Unavailable when
// another process holds the slot (its advisory lock, or the slot active), so
// this one waits as a standby; the codes of the failed check or statement
// otherwise (FailedPrecondition for what an operator must fix).
#ifndef ENRICH_CDC_SOURCE_PREPARATION_H_
#define ENRICH_CDC_SOURCE_PREPARATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "cdc/cdc_config.h"
#include "cdc/common/log.h"
#include "cdc/core/event_builder.h"
#include "cdc/postgres/pg_connection.h"
#include "cdc/postgres/source_setup.h"

namespace enrich::cdc {

// Creates `topic` when missing; returns its partition count.
using TopicEnsurer =
    std::function<absl::StatusOr<int32_t>(const std::string& topic)>;

struct PreparedSource {
  pg::SourceInfo source;
  // Each table's topic and its partition count, in table order.
  std::vector<std::pair<std::string, int32_t>> topics;
  // Routing per "schema.table", for the EventBuilder.
  absl::flat_hash_map<std::string, TableRouting> routing;
  // The slot as found; exists is false when it must be created (also after
  // it was dropped to be recreated for a snapshot).
  pg::SlotState slot;
  // Snapshot the tables when the slot is created.
  bool take_snapshot = false;
};

// See the header comment. The advisory lock lives as long as `conn`: keep it
// open for the whole attempt.
absl::StatusOr<PreparedSource> PrepareSource(pg::PgConnection& conn,
                                             const CdcConfig& config,
                                             const TopicEnsurer& ensure_topic,
                                             Logger* log);

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_SOURCE_PREPARATION_H_
