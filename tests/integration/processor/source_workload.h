// Test scaffolding standing in for enrich-cdc: capture triggers on the four
// source tables record every committed change, which DrainChangeEvents turns
// into enrich.v1.ChangeEvents with complete old and new rows (as under
// REPLICA IDENTITY FULL); and a seeded random workload over the source tables.
// Test-only: the product never installs triggers on the source tables.
#ifndef ENRICH_TESTS_INTEGRATION_PROCESSOR_SOURCE_WORKLOAD_H_
#define ENRICH_TESTS_INTEGRATION_PROCESSOR_SOURCE_WORKLOAD_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change_event.pb.h"
#include "tests/support/pg_test_connection.h"

namespace enrich::processor::testing {

using ::enrich::testing::PgTestConnection;

// The text of a file of the contract directory.
std::string ReadContractFile(const std::string& name);

// Creates the migrations' tables, the reference view and the capture
// triggers (idempotent).
absl::Status PrepareDatabase(PgTestConnection& conn);

// Creates the migrations' tables and the reference view only (no capture
// triggers): for end-to-end tests where enrich-cdc reads the WAL.
absl::Status PrepareTargetDatabase(PgTestConnection& conn);

// Empties the source tables, the enriched table, the offsets, the snapshots
// rebuilt and the capture log, and drops enrich-cdc's record of snapshots.
absl::Status ResetDatabase(PgTestConnection& conn);

// The changes captured after *cursor, in capture order; advances *cursor.
absl::StatusOr<std::vector<enrich::v1::ChangeEvent>> DrainChangeEvents(
    PgTestConnection& conn, int64_t* cursor);

// Rows of the reference missing from the table plus rows of the table
// missing from the reference (EXCEPT ALL both ways); 0 when equal.
absl::StatusOr<int64_t> DifferenceFromReference(PgTestConnection& conn);
// A few differing rows, for failure messages.
std::string DescribeDifference(PgTestConnection& conn);

// Runs `transactions` random transactions over all four tables (some rolled
// back): inserts, updates, deletes, primary-key changes, moved messages,
// NULL / empty / 20 kB bodies, ties on created_at, conversations without
// messages, dangling user_id and linear_issue_id, and now and then a
// truncate-and-reload of subscribers_insights in one transaction.
absl::Status RunRandomWorkload(PgTestConnection& conn, std::mt19937_64& rng,
                               int transactions);

}  // namespace enrich::processor::testing

#endif  // ENRICH_TESTS_INTEGRATION_PROCESSOR_SOURCE_WORKLOAD_H_
