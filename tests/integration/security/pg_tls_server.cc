#include "tests/integration/security/pg_tls_server.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::security_testing {
namespace {

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::DedicatedPostgres;
using ::enrich::testing::PgTestConnection;

// Letters and digits only, so it needs no quoting in a conninfo or in SQL,
// and long enough that finding it in a log cannot be a coincidence.
std::string MakePassword(const std::string& prefix) {
  std::random_device seed;
  std::mt19937_64 rng(seed());
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string password = prefix;
  for (int i = 0; i < 20; ++i) {
    password += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  }
  return password;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Shell(const std::string& command) {
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("failed (", rc, "): ", command));
  }
  return absl::OkStatus();
}

// Schema, migrations, reference view, publication prerequisites and the two
// login roles, as an administrator would (deploy/README.md, "Install").
absl::Status Prepare(const TlsPostgres& server) {
  auto conn = PgTestConnection::Connect(server.AdminDsn());
  if (!conn.ok()) return conn.status();
  const std::string contract = ::enrich::testing::ContractDir();
  auto schema = ReadFile(contract + "/source_schema.sql");
  if (!schema.ok()) return schema.status();
  if (absl::Status s = (*conn)->Exec(*schema); !s.ok()) return s;
  {
    ChildProcess migrate({BinaryPath("enrich-processor"), "migrate"},
                         {"ENRICH_PG_DSN=" + server.AdminDsn()},
                         ::testing::TempDir() + "/pg_tls_migrate.log");
    if (const int code = migrate.Wait(absl::Minutes(5)); code != 0) {
      return absl::InternalError(absl::StrCat(
          "enrich-processor migrate exited ", code, ":\n", migrate.log()));
    }
  }
  auto reference = ReadFile(contract + "/enriched_reference.sql");
  if (!reference.ok()) return reference.status();
  if (absl::Status s = (*conn)->Exec(*reference); !s.ok()) return s;
  if (absl::Status s =
          ::enrich::testing::SetContractTablesReplicaIdentityFull(**conn);
      !s.ok()) {
    return s;
  }
  return (*conn)->Exec(
      absl::StrCat("CREATE ROLE ", kCdcRole, " LOGIN REPLICATION PASSWORD '",
                   server.cdc_password, "' IN ROLE enrich_cdc; CREATE ROLE ",
                   kProcessorRole, " LOGIN PASSWORD '",
                   server.processor_password, "' IN ROLE enrich_processor"));
}

absl::StatusOr<TlsPostgres> Start(std::unique_ptr<DedicatedPostgres>* owner) {
  if (!::enrich::testing::CanStartDedicatedPostgres()) {
    return absl::FailedPreconditionError(
        "no PostgreSQL server binaries here to start a TLS server");
  }
  TlsPostgres server;
  server.cert_dir = ::testing::TempDir() + "/pg_tls_certs";
  if (absl::Status s = Shell(absl::StrCat(
          "rm -rf '", server.cert_dir, "' && '", ::enrich::testing::RepoRoot(),
          "/tests/integration/security/pg_make_certs.sh' '", server.cert_dir,
          "'"));
      !s.ok()) {
    return s;
  }
  auto started = DedicatedPostgres::Start(
      "ssl = on\n"
      "ssl_cert_file = 'server.crt'\n"
      "ssl_key_file = 'server.key'\n"
      "password_encryption = 'scram-sha-256'\n",
      // Only hostssl lines: a connection without TLS matches none and is
      // refused. The harness's superuser is trusted (set-up and checks);
      // everyone else gives a password.
      "hostssl all         postgres 127.0.0.1/32 trust\n"
      "hostssl all         all      127.0.0.1/32 scram-sha-256\n"
      "hostssl replication all      127.0.0.1/32 scram-sha-256\n",
      server.cert_dir + "/server");
  if (!started.ok()) return started.status();
  *owner = *std::move(started);
  server.port = (*owner)->port();
  server.cdc_password = MakePassword("CdcSecret");
  server.processor_password = MakePassword("ProcSecret");
  if (absl::Status s = Prepare(server); !s.ok()) return s;
  return server;
}

class TlsPostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::fprintf(stderr, "[security] starting PostgreSQL on TLS\n");
    server_ = Start(&owner_);
    if (!server_.ok()) {
      std::fprintf(stderr, "[security] %s\n",
                   server_.status().ToString().c_str());
    }
  }
  void TearDown() override { owner_.reset(); }

  absl::StatusOr<TlsPostgres> server_ =
      absl::InternalError("the TLS server's environment did not run");

 private:
  std::unique_ptr<DedicatedPostgres> owner_;
};

TlsPostgresEnvironment* const g_environment =
    static_cast<TlsPostgresEnvironment*>(
        ::testing::AddGlobalTestEnvironment(new TlsPostgresEnvironment));

}  // namespace

std::string TlsPostgres::Dsn(const std::string& user,
                             const std::string& password) const {
  std::string dsn =
      absl::StrCat("host=localhost port=", port, " dbname=enrich user=", user,
                   " sslmode=verify-full sslrootcert=", cert_dir, "/ca.crt");
  if (!password.empty()) absl::StrAppend(&dsn, " password=", password);
  return dsn;
}

absl::StatusOr<const TlsPostgres*> SharedTlsPostgres() {
  if (!g_environment->server_.ok()) return g_environment->server_.status();
  return &*g_environment->server_;
}

}  // namespace enrich::security_testing
