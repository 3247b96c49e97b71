// The pipeline against a Kafka broker that accepts clients only on
// SASL_SSL: SCRAM-SHA-512 over TLS, with a certificate signed by an authority
// made for this run (kafka_sasl_ssl_broker.sh). Both executables get the
// security settings the documented way, librdkafka properties in
// ENRICH_KAFKA_PROPERTIES, and verify the broker's certificate against that
// authority (ssl.ca.location). The checks: the pipeline converges to the
// contract's reference; a wrong password, missing credentials and an
// authority that did not sign the broker's certificate are refused with an
// error that names what to fix; and the password is in no log.
//
// PostgreSQL is the harness's (tests/support); the broker is this binary's
// own, started once for all tests.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/processor/pipeline_fixture.h"

namespace enrich::processor::testing {
namespace {

using ::enrich::testing::RepoRoot;

constexpr char kUser[] = "enrich-pipeline";

// Random per run, so that finding it in a log cannot be a coincidence.
std::string RandomPassword() {
  std::random_device random;
  std::string password = "pw-";
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&password, absl::StrFormat("%08x", random()));
  }
  return password;
}

struct SecureBroker {
  std::string dir;
  std::string brokers;  // host:port of the SASL_SSL listener
  std::string ca;       // the authority's certificate (PEM)
  std::string password;
  std::string start_log;
};

SecureBroker* g_broker = nullptr;

std::string BrokerScript() {
  return RepoRoot() + "/tests/integration/security/kafka_sasl_ssl_broker.sh";
}

// librdkafka settings of a client of the broker, "k=v;..." as
// --kafka-properties takes them.
std::string ClientProperties(absl::string_view password, absl::string_view ca) {
  return absl::StrCat(
      "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;"
      "sasl.username=",
      kUser, ";sasl.password=", password, ";ssl.ca.location=", ca);
}

class KafkaSaslSslTest : public PipelineTest {
 protected:
  static void SetUpTestSuite() {
    auto broker = std::make_unique<SecureBroker>();
    broker->dir = ::testing::TempDir() + "enrich-kafka-sasl-ssl-" +
                  std::to_string(getpid());
    broker->password = RandomPassword();
    // The password travels in the environment, not in argv.
    ChildProcess start(
        {BrokerScript(), "start", broker->dir, std::to_string(getpid())},
        {absl::StrCat("ENRICH_TEST_KAFKA_USER=", kUser),
         "ENRICH_TEST_KAFKA_PASSWORD=" + broker->password},
        broker->dir + ".start.log");
    const int code = start.Wait(absl::Seconds(120));
    broker->start_log = start.log();
    std::remove((broker->dir + ".start.log").c_str());
    if (code != 0) {
      broker->start_log += absl::StrCat("\n(exit ", code, ")");
      g_broker = broker.release();
      return;  // SetUp() fails every test with the log
    }
    for (absl::string_view line : absl::StrSplit(broker->start_log, '\n')) {
      if (absl::ConsumePrefix(&line, "BROKERS=")) {
        broker->brokers = std::string(line);
      } else if (absl::ConsumePrefix(&line, "CA=")) {
        broker->ca = std::string(line);
      }
    }
    g_broker = broker.release();
  }

  static void TearDownTestSuite() {
    if (g_broker == nullptr) return;
    ChildProcess stop({BrokerScript(), "stop", g_broker->dir}, {},
                      g_broker->dir + ".stop.log");
    EXPECT_EQ(stop.Wait(absl::Seconds(60)), 0) << stop.log();
    std::remove((g_broker->dir + ".stop.log").c_str());
    delete g_broker;
    g_broker = nullptr;
  }

  void SetUp() override {
    // First: PipelineTest::TearDown() needs what it sets up.
    PipelineTest::SetUp();
    ASSERT_NE(g_broker, nullptr);
    ASSERT_FALSE(g_broker->brokers.empty() || g_broker->ca.empty())
        << "the SASL_SSL broker did not start:\n"
        << g_broker->start_log;
    kafka_brokers_ = g_broker->brokers;
    child_env_ = {"ENRICH_KAFKA_PROPERTIES=" +
                  ClientProperties(g_broker->password, g_broker->ca)};
    kafka_client_settings_ = {{"security.protocol", "SASL_SSL"},
                              {"sasl.mechanism", "SCRAM-SHA-512"},
                              {"sasl.username", kUser},
                              {"sasl.password", g_broker->password},
                              {"ssl.ca.location", g_broker->ca}};
  }

  // Runs `argv` with the pipeline's environment but `properties` as
  // ENRICH_KAFKA_PROPERTIES, expecting it to give up by itself; returns its
  // exit code and log.
  std::pair<int, std::string> RunRefused(std::vector<std::string> argv,
                                         const std::string& properties) {
    std::vector<std::string> env = {"ENRICH_PG_DSN=" + Services().pg_dsn,
                                    "ENRICH_KAFKA_BROKERS=" + kafka_brokers_,
                                    "ENRICH_KAFKA_PROPERTIES=" + properties};
    ChildProcess child(std::move(argv), env, Log("refused"));
    const int code = child.Wait(absl::Seconds(60));
    if (code == -1) child.Signal(SIGKILL);
    return {code, child.log()};
  }

  // Runs `argv` like RunRefused, for a refusal the process retries (the
  // broker might be restarting): waits until its log has `text`, then kills
  // it (a SIGTERM would wait out the metadata request, 30 s).
  // Returns whether it exited by itself, and its log.
  std::pair<bool, std::string> RunUntilLogged(std::vector<std::string> argv,
                                              const std::string& properties,
                                              const std::string& text) {
    std::vector<std::string> env = {"ENRICH_PG_DSN=" + Services().pg_dsn,
                                    "ENRICH_KAFKA_BROKERS=" + kafka_brokers_,
                                    "ENRICH_KAFKA_PROPERTIES=" + properties};
    ChildProcess child(std::move(argv), env, Log("refused"));
    EXPECT_TRUE(WaitFor(
        [&] {
          return !child.running() || absl::StrContains(child.log(), text);
        },
        absl::Seconds(60)))
        << child.log();
    const bool exited = !child.running();
    child.Signal(SIGKILL);
    child.Wait(absl::Seconds(60));
    return {exited, child.log()};
  }

  std::vector<std::string> CdcArgs() const {
    return {BinaryPath("enrich-cdc"), "--slot=" + name_,
            "--publication=" + name_, "--topic-prefix=" + name_,
            "--metrics-addr=127.0.0.1:0"};
  }

  std::vector<std::string> ProcessorArgs() const {
    return {BinaryPath("enrich-processor"), "run", "--topic-prefix=" + name_,
            "--group-id=" + group_, "--metrics-addr=127.0.0.1:0"};
  }
};

TEST_F(KafkaSaslSslTest, PipelineConvergesToTheReference) {
  std::mt19937_64 rng(8443);
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 100).ok());
  StartCdc();
  StartProcessor();
  ASSERT_TRUE(RunRandomWorkload(*sql_, rng, 300).ok());
  ASSERT_TRUE(WaitUntilDrained(absl::Seconds(180)));
  ExpectEqualToReference();
  // The whole run's logs, shutdown included.
  StopGracefully(cdc_.get());
  StopGracefully(processors_.back().get());
  for (const std::string& log : {cdc_->log(), processors_.back()->log()}) {
    EXPECT_FALSE(absl::StrContains(log, g_broker->password)) << log;
  }
  // enrich-cdc logs its extra settings, with the secret hidden.
  EXPECT_TRUE(absl::StrContains(cdc_->log(), "sasl.password=<redacted>"))
      << cdc_->log();
  // `inspect` reads the topics through the same settings.
  std::vector<std::string> env = child_env_;
  env.push_back("ENRICH_KAFKA_BROKERS=" + kafka_brokers_);
  ChildProcess inspect({BinaryPath("enrich-cdc"), "inspect",
                        "--topic=" + Topic("raw_support_conversations"),
                        "--from-beginning", "--limit=1"},
                       env, Log("inspect"));
  EXPECT_EQ(inspect.Wait(absl::Seconds(60)), 0) << inspect.log();
  EXPECT_TRUE(absl::StrContains(inspect.log(),
                                "\"table\":\"raw_support_conversations\""))
      << inspect.log();
  EXPECT_FALSE(absl::StrContains(inspect.log(), g_broker->password));
}

TEST_F(KafkaSaslSslTest, WrongPasswordIsRefusedWithTheSettingsToCheck) {
  const std::string wrong = RandomPassword();
  const std::string properties = ClientProperties(wrong, g_broker->ca);
  for (auto argv : {CdcArgs(), ProcessorArgs()}) {
    SCOPED_TRACE(argv[0]);
    auto [code, log] = RunRefused(argv, properties);
    EXPECT_EQ(code, 1) << log;
    EXPECT_TRUE(
        absl::StrContains(log, "Kafka refused the client's credentials"))
        << log;
    EXPECT_TRUE(absl::StrContains(log, "invalid credentials")) << log;
    EXPECT_TRUE(absl::StrContains(
        log, "action=\"check sasl.mechanism, sasl.username and sasl.password"))
        << log;
    EXPECT_FALSE(absl::StrContains(log, wrong)) << log;
    EXPECT_FALSE(absl::StrContains(log, g_broker->password)) << log;
  }
}

TEST_F(KafkaSaslSslTest, MissingCredentialsAreRefused) {
  {
    // No security settings at all: the broker drops the connection, and
    // librdkafka's reason names the setting.
    SCOPED_TRACE("plaintext client");
    auto [exited, log] = RunUntilLogged(
        CdcArgs(), "",
        "msg=\"kafka client error\" client=admin error=_TRANSPORT");
    bool named = false;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      named |= absl::StrContains(line, "msg=\"kafka client error\"") &&
               absl::StrContains(line, "incorrect security.protocol");
    }
    EXPECT_TRUE(named) << log;
    EXPECT_FALSE(exited) << "retries, as for a broker restarting\n" << log;
  }
  const std::string properties = absl::StrCat(
      "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;"
      "ssl.ca.location=",
      g_broker->ca);
  for (auto argv : {CdcArgs(), ProcessorArgs()}) {
    SCOPED_TRACE(argv[0]);
    auto [code, log] = RunRefused(argv, properties);
    EXPECT_NE(code, 0) << log;
    EXPECT_NE(code, -1) << log;
    EXPECT_TRUE(
        absl::StrContains(log, "sasl.username and sasl.password must be set"))
        << log;
  }
}

// The client checks who it talks to: without the authority that signed the
// broker's certificate (the system's authorities instead), TLS fails, with
// the setting to fix, before any credential is sent.
TEST_F(KafkaSaslSslTest, BrokerCertificateOfAnUnknownAuthorityIsRefused) {
  const std::string properties = absl::StrCat(
      "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;sasl.username=",
      kUser, ";sasl.password=", g_broker->password);
  for (auto argv : {CdcArgs(), ProcessorArgs()}) {
    SCOPED_TRACE(argv[0]);
    auto [code, log] = RunRefused(argv, properties);
    EXPECT_EQ(code, 1) << log;
    EXPECT_TRUE(absl::StrContains(log, "TLS with the Kafka broker failed"))
        << log;
    EXPECT_TRUE(absl::StrContains(log, "certificate verify failed")) << log;
    EXPECT_TRUE(absl::StrContains(log, "action=\"check ssl.ca.location"))
        << log;
    EXPECT_FALSE(absl::StrContains(log, g_broker->password)) << log;
  }
}

}  // namespace
}  // namespace enrich::processor::testing
