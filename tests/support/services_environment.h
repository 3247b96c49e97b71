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

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// A PostgreSQL 15 of one test's own, beside the shared one, for settings the
// shared server must not have (TLS only, password authentication):
// `settings` is appended to its postgresql.conf, `hba` is its whole
// pg_hba.conf, and the files of `files_dir` (a TLS certificate and key) are
// copied into its data directory, readable by the server only. It listens
// on 127.0.0.1:port() with the usual logical-replication settings and has a
// database "enrich" (nothing applied). The destructor stops it and removes
// its files; a reaper does if the test binary dies. Start-up needs the
// server binaries here (not the case when only ENRICH_TEST_* were given,
// e.g. inside compose, where the caller should skip).
class DedicatedPostgres {
 public:
  static absl::StatusOr<std::unique_ptr<DedicatedPostgres>> Start(
      const std::string& settings, const std::string& hba,
      const std::string& files_dir);
  ~DedicatedPostgres();
  DedicatedPostgres(const DedicatedPostgres&) = delete;
  DedicatedPostgres& operator=(const DedicatedPostgres&) = delete;

  int port() const { return port_; }

 private:
  DedicatedPostgres(std::string state_dir, int port)
      : state_dir_(std::move(state_dir)), port_(port) {}
  std::string state_dir_;
  int port_;
};

// Whether this machine can start a DedicatedPostgres (the PostgreSQL 15
// server binaries are installed).
bool CanStartDedicatedPostgres();

// The repository root and the contract directory (../shared/contract, or
// ENRICH_CONTRACT_DIR).
std::string RepoRoot();
std::string ContractDir();

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_SUPPORT_SERVICES_ENVIRONMENT_H_
