// The fixture of the security tests that run the whole pipeline on the TLS
// server of pg_tls_server.h: PipelineTest's drain and reference checks
// (tests/integration/processor/pipeline_fixture.h), but its own connection
// is the TLS server's superuser and the two processes log in as the
// least-privilege roles, enrich-cdc with its DSN from ENRICH_PG_DSN_FILE
// (a file, as a Kubernetes Secret is mounted) and enrich-processor from
// ENRICH_PG_DSN. Kafka is the harness's. The publication is created by the
// test as the tables' owner, since the CDC role may not.
#ifndef ENRICH_TESTS_INTEGRATION_SECURITY_PG_SECURE_PIPELINE_H_
#define ENRICH_TESTS_INTEGRATION_SECURITY_PG_SECURE_PIPELINE_H_

#include <cctype>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/pipeline_fixture.h"
#include "tests/integration/security/pg_tls_server.h"

namespace enrich::security_testing {

using ::enrich::processor::testing::kTables;
using ::enrich::processor::testing::PipelineTest;
using ::enrich::processor::testing::WaitFor;
using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;

class SecurePipelineTest : public PipelineTest {
 protected:
  void SetUp() override {
    auto server = SharedTlsPostgres();
    if (absl::IsFailedPrecondition(server.status())) {
      GTEST_SKIP() << server.status();
    }
    ASSERT_TRUE(server.ok()) << server.status();
    auto conn = PgTestConnection::Connect((*server)->AdminDsn());
    ASSERT_TRUE(conn.ok()) << conn.status();
    sql_ = *std::move(conn);
    server_ = *server;  // TearDown has work to do from here
    name_ = absl::StrCat(
        "s_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : name_) c = std::tolower(c);
    group_ = name_;
    kafka_brokers_ = Services().kafka_brokers;
    ASSERT_TRUE(sql_->Exec("TRUNCATE raw_support_conversations, "
                           "support_conversation_messages, "
                           "subscribers_insights, linear_issues, "
                           "enriched_support_conversations, "
                           "enrich_processor_offsets")
                    .ok());
    std::string tables;
    for (const char* table : kTables) {
      absl::StrAppend(&tables, tables.empty() ? "" : ", ", table);
    }
    ASSERT_TRUE(sql_->Exec(absl::StrCat("CREATE PUBLICATION ", name_,
                                        " FOR TABLE ", tables))
                    .ok());
    dsn_file_ = absl::StrCat(::testing::TempDir(), "/", name_, "-cdc.dsn");
    std::ofstream(dsn_file_) << server_->CdcDsn() << "\n";
  }

  void TearDown() override {
    if (server_ == nullptr) return;  // skipped, or no connection
    PipelineTest::TearDown();
    std::remove(dsn_file_.c_str());
  }

  std::vector<std::string> CdcArgs() const {
    return {BinaryPath("enrich-cdc"),
            "--slot=" + name_,
            "--publication=" + name_,
            "--topic-prefix=" + name_,
            "--metrics-addr=127.0.0.1:0",
            "--heartbeat-interval-ms=300",
            absl::StrCat("--topic-partitions=",
                         ::enrich::processor::testing::kPartitions)};
  }

  std::vector<std::string> ProcessorArgs() const {
    return {BinaryPath("enrich-processor"), "run",
            "--topic-prefix=" + name_,      "--group-id=" + group_,
            "--metrics-addr=127.0.0.1:0",   "--batch-max-wait-ms=100"};
  }

  // Starts enrich-cdc as the CDC role and waits until it streams.
  void StartSecureCdc() {
    cdc_ = std::make_unique<ChildProcess>(
        CdcArgs(),
        std::vector<std::string>{
            "ENRICH_PG_DSN_FILE=" + dsn_file_,
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        Log("cdc"));
    ASSERT_TRUE(WaitFor(
        [&] {
          return !cdc_->running() ||
                 absl::StrContains(cdc_->log(), "msg=streaming");
        },
        absl::Seconds(90)));
    ASSERT_TRUE(absl::StrContains(cdc_->log(), "msg=streaming")) << cdc_->log();
  }

  // Starts enrich-processor run as the processor role and waits until it
  // consumes.
  void StartSecureProcessor() {
    processors_.push_back(std::make_unique<ChildProcess>(
        ProcessorArgs(),
        std::vector<std::string>{
            "ENRICH_PG_DSN=" + server_->ProcessorDsn(),
            "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        Log("processor")));
    ChildProcess* p = processors_.back().get();
    ASSERT_TRUE(WaitFor(
        [&] {
          return !p->running() || absl::StrContains(p->log(), "msg=consuming");
        },
        absl::Seconds(60)));
    ASSERT_TRUE(p->running()) << p->log();
  }

  const TlsPostgres* server_ = nullptr;
  std::string dsn_file_;
};

}  // namespace enrich::security_testing

#endif  // ENRICH_TESTS_INTEGRATION_SECURITY_PG_SECURE_PIPELINE_H_
