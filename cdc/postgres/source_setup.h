// Source preparation for enrich-cdc: checks everything an operator must fix
// before streaming can work, each with one actionable message, creates the
// publication and the slot when missing, and reads the published tables'
// primary keys and column lists from the catalog.
#ifndef ENRICH_CDC_POSTGRES_SOURCE_SETUP_H_
#define ENRICH_CDC_POSTGRES_SOURCE_SETUP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cdc/pgoutput/lsn.h"
#include "cdc/pgoutput/messages.h"
#include "cdc/postgres/pg_connection.h"

namespace enrich::pg {

struct PublishedTable {
  std::string schema;
  std::string table;
  std::vector<std::string> primary_key;
  // Columns in attribute order as the catalog has them now (for snapshots).
  pgoutput::Relation relation;
  bool replica_identity_full = false;
};

struct SourceInfo {
  int server_version_num = 0;  // e.g. 150018
  std::vector<PublishedTable> tables;
};

// Checks wal_level, encoding, REPLICATION and SELECT privileges, that every
// table exists and has a primary key. Returns FailedPrecondition naming the
// first problem and how to fix it. `tables` are "name" or "schema.name".
absl::StatusOr<SourceInfo> InspectSource(
    PgConnection& conn, const std::vector<std::string>& tables);

// The tables ("schema.table") the publication does not contain: all of
// them when it does not exist, none when it is FOR ALL TABLES.
absl::StatusOr<std::vector<std::string>> MissingFromPublication(
    PgConnection& conn, const std::string& publication,
    const std::vector<PublishedTable>& tables);

// Creates the publication for the tables, or adds missing ones to it.
absl::Status EnsurePublication(PgConnection& conn,
                               const std::string& publication,
                               const std::vector<PublishedTable>& tables);

struct SlotState {
  bool exists = false;
  std::string plugin;
  bool active = false;
  uint64_t confirmed_flush_lsn = 0;
};
absl::StatusOr<SlotState> ReadSlot(PgConnection& conn, const std::string& slot);

struct CreatedSlot {
  uint64_t consistent_lsn = 0;
  std::string snapshot_name;  // valid until the next command on `replication`
};
// Creates a pgoutput slot over a replication connection, exporting a
// snapshot when asked.
absl::StatusOr<CreatedSlot> CreateSlot(PgConnection& replication,
                                       const std::string& slot,
                                       bool export_snapshot);

}  // namespace enrich::pg

#endif  // ENRICH_CDC_POSTGRES_SOURCE_SETUP_H_
