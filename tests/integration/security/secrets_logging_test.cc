// Passwords never reach the logs: the pipeline runs with a password in each
// process's DSN (enrich-cdc's from a file through ENRICH_PG_DSN_FILE,
// enrich-processor's in ENRICH_PG_DSN) against the TLS server, which checks
// it (SCRAM); then both are started with a wrong password and stop on the
// server's refusal. Neither password appears in anything either process
// wrote (stdout and stderr), on the working path or on the error path.
#include <signal.h>

#include <fstream>
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

class SecretsLoggingTest : public SecurePipelineTest {
 protected:
  void ExpectNoSecret(const std::string& log, const std::string& what) {
    EXPECT_FALSE(absl::StrContains(log, server_->cdc_password)) << what << log;
    EXPECT_FALSE(absl::StrContains(log, server_->processor_password))
        << what << log;
    EXPECT_FALSE(absl::StrContains(log, wrong_password_)) << what << log;
  }

  const std::string wrong_password_ = "WrongSecret7f3a9c1e5b";
};

TEST_F(SecretsLoggingTest, PasswordsNeverReachTheLogs) {
  std::mt19937_64 rng(4242);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 40).ok());
  ASSERT_NO_FATAL_FAILURE(StartSecureCdc());
  ASSERT_NO_FATAL_FAILURE(StartSecureProcessor());
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 40).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  // A clean stop logs too.
  cdc_->Signal(SIGTERM);
  ASSERT_EQ(cdc_->Wait(absl::Seconds(60)), 0) << cdc_->log();
  ChildProcess* processor = processors_.back().get();
  processor->Signal(SIGTERM);
  ASSERT_EQ(processor->Wait(absl::Seconds(60)), 0) << processor->log();
  // The logs are the real ones: they say what happened.
  EXPECT_TRUE(absl::StrContains(cdc_->log(), "msg=streaming"));
  EXPECT_TRUE(absl::StrContains(processor->log(), "msg=consuming"));
  ExpectNoSecret(cdc_->log(), "enrich-cdc:\n");
  ExpectNoSecret(processor->log(), "enrich-processor:\n");

  // The error path: the server refuses the password, each process stops
  // and says why, without the password it was given.
  const std::string bad_file = dsn_file_ + ".wrong";
  std::ofstream(bad_file) << server_->Dsn(kCdcRole, wrong_password_) << "\n";
  ChildProcess bad_cdc(CdcArgs(),
                       {"ENRICH_PG_DSN_FILE=" + bad_file,
                        "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
                       Log("cdc-wrong-password"));
  ChildProcess bad_processor(
      ProcessorArgs(),
      {"ENRICH_PG_DSN=" + server_->Dsn(kProcessorRole, wrong_password_),
       "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
      Log("processor-wrong-password"));
  for (ChildProcess* p : {&bad_cdc, &bad_processor}) {
    // A refused password is permanent: the process stops, non-zero.
    const int code = p->Wait(absl::Seconds(60));
    EXPECT_GT(code, 0) << p->log();
    EXPECT_THAT(p->log(),
                ::testing::HasSubstr("password authentication failed"));
    ExpectNoSecret(p->log(), "wrong password:\n");
  }
  std::remove(bad_file.c_str());
}

}  // namespace
}  // namespace enrich::security_testing
