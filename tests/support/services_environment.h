// Real, ephemeral PostgreSQL and Kafka for an integration-test binary.
//
// Link `enrich_integration_main` and every TEST in the binary can call
// Services(): before the first test the environment starts PostgreSQL 15 and
// a Kafka broker on free ports in a temp dir (tests/support/test_services.sh)
// and applies the contract's source_schema.sql; after the last test it stops
// them. A reaper stops them too if the binary crashes. When both
// ENRICH_TEST_PG_DSN and ENRICH_TEST_KAFKA_BROKERS are set, those services are
// used instead and nothing is started (the schema is still applied).
#ifndef ENRICH_TESTS_SUPPORT_SERVICES_ENVIRONMENT_H_
#define ENRICH_TESTS_SUPPORT_SERVICES_ENVIRONMENT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace enrich::testing {

struct ServiceEndpoints {
  std::string pg_dsn;         // libpq conninfo, superuser, database "enrich"
  std::string kafka_brokers;  // bootstrap servers
};

// The running services. Aborts the test binary when called before set-up.
const ServiceEndpoints& Services();

// Faults on the services this binary started, for tests of what the
// pipeline survives: each returns once done (a start once the server accepts
// connections, on the same port and data as before). FailedPrecondition
// when the services were given through ENRICH_TEST_* (the test should skip);
// Internal with the script's output when the step failed.
bool CanInjectServiceFaults();
// `mode` is pg_ctl's: "fast" (clients disconnected, checkpoint) or
// "immediate" (no checkpoint: crash recovery at the next start).
absl::Status StopPostgres(absl::string_view mode);
absl::Status StartPostgres();
// `kill`: SIGKILL (no clean shutdown); else SIGTERM and wait for the exit.
absl::Status StopKafka(bool kill);
absl::Status StartKafka();

// The repository root and the contract directory (../shared/contract, or
// ENRICH_CONTRACT_DIR).
std::string RepoRoot();
std::string ContractDir();

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_SUPPORT_SERVICES_ENVIRONMENT_H_
