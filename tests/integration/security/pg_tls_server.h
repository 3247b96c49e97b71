// The PostgreSQL of the security tests (pg_tls_pipeline_test.cc,
// secrets_logging_test.cc), one per test binary beside the harness's shared
// one: TLS only (pg_hba.conf has hostssl lines alone, so a connection
// without TLS is refused), a server certificate for CN/SAN localhost signed
// by a self-signed authority that pg_make_certs.sh makes with openssl, SCRAM
// passwords for every role but the harness's superuser, the contract's
// schema, the processor's migrations applied by `enrich-processor migrate`
// (sql/004 and sql/007 give the groups enrich_processor and enrich_cdc),
// and one login role in each group, with a password made for this run:
//
//   enrich_cdc_svc        LOGIN REPLICATION, IN ROLE enrich_cdc
//   enrich_processor_svc  LOGIN, IN ROLE enrich_processor
//
// Started by a global test environment before the first test, stopped after
// the last.
#ifndef ENRICH_TESTS_INTEGRATION_SECURITY_PG_TLS_SERVER_H_
#define ENRICH_TESTS_INTEGRATION_SECURITY_PG_TLS_SERVER_H_

#include <string>

#include "absl/status/statusor.h"

namespace enrich::security_testing {

inline constexpr char kCdcRole[] = "enrich_cdc_svc";
inline constexpr char kProcessorRole[] = "enrich_processor_svc";

struct TlsPostgres {
  int port = 0;
  std::string cert_dir;  // ca.crt (the authority), other-ca.crt (unrelated)
  std::string cdc_password;
  std::string processor_password;

  // conninfo of `user` on TLS, the server verified against ca.crt
  // (sslmode=verify-full, host=localhost); `password` appended when given.
  std::string Dsn(const std::string& user,
                  const std::string& password = "") const;
  // The superuser postgres (trust, on TLS like everyone).
  std::string AdminDsn() const { return Dsn("postgres"); }
  std::string CdcDsn() const { return Dsn(kCdcRole, cdc_password); }
  std::string ProcessorDsn() const {
    return Dsn(kProcessorRole, processor_password);
  }
};

// The running server; FailedPrecondition when this machine cannot start one
// (the test should skip), another error when starting or preparing it
// failed.
absl::StatusOr<const TlsPostgres*> SharedTlsPostgres();

}  // namespace enrich::security_testing

#endif  // ENRICH_TESTS_INTEGRATION_SECURITY_PG_TLS_SERVER_H_
