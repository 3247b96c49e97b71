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

// What RunAdversarialWorkload did, summed over calls.
struct WorkloadStats {
  int64_t committed = 0;    // transactions committed
  int64_t rolled_back = 0;  // transactions rolled back (chosen or failed)
  int64_t large = 0;        // committed or not, of 80 statements or more
  int64_t savepoints_rolled_back = 0;  // ROLLBACK TO SAVEPOINT
  int64_t statements = 0;              // statements run
  int64_t statements_failed = 0;       // of which failed (an error)
};

// The chaos harness's workload: `transactions` transactions, mostly tiny
// (1-3 statements) and now and then large (80-250), mixing
// RandomStatement's traffic with adversarial statements: edits of bodies
// and of other columns of rows with 20 kB TOASTed bodies and descriptions,
// messages moved in bulk between conversations, users and Linear issues
// re-linked (ids that do not exist included), Linear issues and insights
// re-keyed, insights truncated and reloaded in one transaction, and values
// with quotes, commas, braces, backslashes, newlines, the text 'NULL', the
// empty string and non-ASCII text in every text, text[] and jsonb column.
// Some statements run in a subtransaction that is rolled back (SAVEPOINT
// ... ROLLBACK TO), some transactions are rolled back. A failed statement
// fails only its transaction (or subtransaction); an error of the
// connection itself is returned. `stats` may be null.
absl::Status RunAdversarialWorkload(PgTestConnection& conn,
                                    std::mt19937_64& rng, int transactions,
                                    WorkloadStats* stats);

}  // namespace enrich::processor::testing

#endif  // ENRICH_TESTS_INTEGRATION_PROCESSOR_SOURCE_WORKLOAD_H_
