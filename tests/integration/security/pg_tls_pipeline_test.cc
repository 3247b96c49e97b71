// The pipeline on PostgreSQL over TLS (sslmode=verify-full against a
// self-signed authority) under the least-privilege roles of sql/ (004:
// enrich_processor, 007: enrich_cdc): converges to the contract's reference
// from a snapshot and a stream, with every session of both roles on TLS, and
// neither role holding more than it was granted. Connections without TLS,
// or verified against another authority or another host name, are refused,
// so the test cannot pass on a plain connection.
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/security/pg_secure_pipeline.h"

namespace enrich::security_testing {
namespace {

using ::enrich::processor::testing::RunRandomWorkload;

class PgTlsPipelineTest : public SecurePipelineTest {};

// The error of connecting with `dsn`; empty when it connected.
std::string ConnectError(const std::string& dsn) {
  auto conn = PgTestConnection::Connect(dsn);
  return conn.ok() ? "" : std::string(conn.status().message());
}

TEST_F(PgTlsPipelineTest, RefusesConnectionsThatAreNotVerifiedTls) {
  const std::string plain =
      absl::StrCat("host=localhost port=", server_->port,
                   " dbname=enrich user=", kProcessorRole,
                   " password=", server_->processor_password);
  EXPECT_THAT(ConnectError(plain + " sslmode=disable"),
              ::testing::HasSubstr("no encryption"));
  EXPECT_THAT(ConnectError(absl::StrCat(
                  plain, " sslmode=verify-full sslrootcert=", server_->cert_dir,
                  "/other-ca.crt")),
              ::testing::HasSubstr("certificate verify failed"));
  EXPECT_THAT(
      ConnectError(absl::StrCat(
          "hostaddr=127.0.0.1 host=127.0.0.1 port=", server_->port,
          " dbname=enrich user=", kProcessorRole,
          " password=", server_->processor_password,
          " sslmode=verify-full sslrootcert=", server_->cert_dir, "/ca.crt")),
      ::testing::HasSubstr("does not match host name"));
  // The DSNs the processes use do connect, on TLS.
  for (const std::string& dsn : {server_->CdcDsn(), server_->ProcessorDsn()}) {
    auto conn = PgTestConnection::Connect(dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    EXPECT_EQ(*(*conn)->QueryValue(
                  "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
              "t");
  }
}

TEST_F(PgTlsPipelineTest, LoginRolesHoldOnlyTheirGrants) {
  auto rows = sql_->Query(absl::StrCat(
      "SELECT rolname, rolsuper OR rolcreaterole OR rolcreatedb OR "
      "rolbypassrls, rolreplication, "
      "has_schema_privilege(rolname, 'public', 'CREATE'), "
      "has_table_privilege(rolname, 'enriched_support_conversations', "
      "'SELECT'), "
      "has_table_privilege(rolname, 'enrich_processor_offsets', 'SELECT'), "
      "has_table_privilege(rolname, 'raw_support_conversations', 'INSERT'), "
      "has_table_privilege(rolname, 'raw_support_conversations', 'SELECT'), "
      "has_table_privilege(rolname, 'enrich_cdc_snapshots', 'SELECT'), "
      "has_table_privilege(rolname, 'enrich_cdc_snapshots', 'UPDATE') "
      "FROM pg_roles WHERE rolname IN ('",
      kCdcRole, "', '", kProcessorRole, "') ORDER BY rolname"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  auto as_text = [](const ::enrich::testing::SqlRow& row) {
    std::string out;
    for (const auto& v : row) absl::StrAppend(&out, v.value_or("NULL"), " ");
    return out;
  };
  // name, powers, replication, CREATE on the schema, enriched, offsets,
  // INSERT source, SELECT source, SELECT / UPDATE the CDC's snapshot record
  EXPECT_EQ(as_text((*rows)[0]), "enrich_cdc_svc f t f f f f t t t ");
  EXPECT_EQ(as_text((*rows)[1]), "enrich_processor_svc f f f t t f t t f ");
}

TEST_F(PgTlsPipelineTest, ConvergesOverVerifiedTlsUnderLeastPrivilegeRoles) {
  std::mt19937_64 rng(7007);
  // Before enrich-cdc starts: reaches the processor through the snapshot.
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 40).ok());
  ASSERT_NO_FATAL_FAILURE(StartSecureCdc());
  ASSERT_NO_FATAL_FAILURE(StartSecureProcessor());
  // Streamed.
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 60).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();

  // Every session of the two roles, the walsender included, is on TLS.
  auto sessions = sql_->Query(absl::StrCat(
      "SELECT a.usename, a.backend_type, bool_and(s.ssl), count(*) "
      "FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
      "WHERE a.usename IN ('",
      kCdcRole, "', '", kProcessorRole, "') GROUP BY 1, 2 ORDER BY 1, 2"));
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  std::string seen;
  for (const auto& r : *sessions) {
    absl::StrAppend(&seen, *r[0], "/", *r[1], " ssl=", *r[2], "; ");
    EXPECT_EQ(*r[2], "t") << *r[0] << " " << *r[1];
  }
  EXPECT_TRUE(absl::StrContains(seen, "enrich_cdc_svc/walsender ssl=t"))
      << seen;
  EXPECT_TRUE(absl::StrContains(seen, "enrich_processor_svc/client backend"))
      << seen;
  // enrich-cdc, as its role, recorded its snapshot as finished.
  auto recorded = sql_->QueryValue(absl::StrCat(
      "SELECT count(*) FROM enrich_cdc_snapshots WHERE slot_name = '", name_,
      "' AND completed_at IS NOT NULL"));
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(*recorded, "1");
}

}  // namespace
}  // namespace enrich::security_testing
