#include "tests/support/services_environment.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/support/pg_test_connection.h"

namespace enrich::testing {
namespace {

ServiceEndpoints* g_endpoints = nullptr;
// The state dir of the services this binary started; empty when given.
std::string* g_state_dir = nullptr;

// Runs a shell command; its output (stdout and stderr) is in the error, and
// in *output when given.
absl::Status Run(const std::string& command, std::string* output = nullptr) {
  std::FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen failed");
  std::string out;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    out.append(buffer.data(), n);
  }
  const int rc = pclose(pipe);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("failed (status ", rc, "): ", command, "\n", out));
  }
  if (output != nullptr) *output = std::move(out);
  return absl::OkStatus();
}

// A fresh directory the PostgreSQL OS user can reach.
absl::StatusOr<std::string> MakeStateDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/enrich-test-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  chmod(pattern.c_str(), 0755);
  return pattern;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// test_services.sh COMMAND STATE_DIR ARGUMENT
absl::Status ServiceFault(absl::string_view command,
                          absl::string_view argument = "") {
  if (!CanInjectServiceFaults()) {
    return absl::FailedPreconditionError(
        "services given through ENRICH_TEST_*: not ours to stop");
  }
  return Run(absl::StrCat(RepoRoot(), "/tests/support/test_services.sh ",
                          command, " ", *g_state_dir, " ", argument));
}

// Runs a shell command and returns its standard output; aborts on failure
// because no integration test can run without its services.
std::string RunOrDie(const std::string& command) {
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    std::fprintf(stderr, "cannot run: %s\n", command.c_str());
    std::abort();
  }
  std::string out;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    out.append(buffer.data(), n);
  }
  int rc = pclose(pipe);
  if (rc != 0) {
    std::fprintf(stderr, "failed (status %d): %s\n", rc, command.c_str());
    std::abort();
  }
  return out;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr,
                 "cannot read %s: the contract must sit beside the repo as "
                 "../shared/contract, or set ENRICH_CONTRACT_DIR\n",
                 path.c_str());
    std::abort();
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Quotes for the shell; the harness's own paths only.
std::string ShellQuoted(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

class ServicesEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_endpoints = new ServiceEndpoints;
    const char* pg = std::getenv("ENRICH_TEST_PG_DSN");
    const char* kafka = std::getenv("ENRICH_TEST_KAFKA_BROKERS");
    if (pg != nullptr && kafka != nullptr) {
      g_endpoints->pg_dsn = pg;
      g_endpoints->kafka_brokers = kafka;
    } else {
      StartOwnServices();
    }
    auto conn = PgTestConnection::Connect(g_endpoints->pg_dsn);
    if (!conn.ok()) {
      std::fprintf(stderr, "%s\n", conn.status().ToString().c_str());
      std::abort();
    }
    absl::Status applied = (*conn)->Exec(
        ReadFileOrDie(absl::StrCat(ContractDir(), "/source_schema.sql")));
    if (!applied.ok()) {
      std::fprintf(stderr, "applying source_schema.sql: %s\n",
                   applied.ToString().c_str());
      std::abort();
    }
  }

  void TearDown() override {
    if (!state_dir_.empty()) {
      RunOrDie(absl::StrCat(RepoRoot(), "/tests/support/test_services.sh stop ",
                            state_dir_));
    }
  }

 private:
  void StartOwnServices() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/enrich-test-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    // The PostgreSQL OS user must be able to reach its data dir in here.
    chmod(pattern.c_str(), 0755);
    state_dir_ = pattern;
    g_state_dir = new std::string(state_dir_);
    std::fprintf(stderr, "[services] starting PostgreSQL and Kafka in %s\n",
                 state_dir_.c_str());
    std::string out =
        RunOrDie(absl::StrCat(RepoRoot(), "/tests/support/test_services.sh ",
                              "start ", state_dir_, " ", getpid()));
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::ConsumePrefix(&line, "ENRICH_TEST_PG_DSN=")) {
        g_endpoints->pg_dsn = std::string(line);
      } else if (absl::ConsumePrefix(&line, "ENRICH_TEST_KAFKA_BROKERS=")) {
        g_endpoints->kafka_brokers = std::string(line);
      }
    }
    if (g_endpoints->pg_dsn.empty() || g_endpoints->kafka_brokers.empty()) {
      std::fprintf(stderr, "test_services.sh printed no endpoints:\n%s\n",
                   out.c_str());
      std::abort();
    }
    std::fprintf(stderr, "[services] PostgreSQL: %s; Kafka: %s\n",
                 g_endpoints->pg_dsn.c_str(),
                 g_endpoints->kafka_brokers.c_str());
  }

  std::string state_dir_;
};

}  // namespace

const ServiceEndpoints& Services() {
  if (g_endpoints == nullptr) {
    std::fprintf(stderr, "Services() called before the environment set up\n");
    std::abort();
  }
  return *g_endpoints;
}

bool CanInjectServiceFaults() {
  return g_state_dir != nullptr && !g_state_dir->empty();
}

absl::Status StopPostgres(absl::string_view mode) {
  return ServiceFault("pg-stop", mode);
}

absl::Status StartPostgres() { return ServiceFault("pg-start"); }

absl::Status StopKafka(bool kill) {
  return ServiceFault("kafka-stop", kill ? "kill" : "term");
}

absl::Status StartKafka() { return ServiceFault("kafka-start"); }

absl::StatusOr<std::unique_ptr<DedicatedPostgres>> DedicatedPostgres::Start(
    const std::string& settings, const std::string& hba,
    const std::string& files_dir) {
  absl::StatusOr<std::string> state = MakeStateDir();
  if (!state.ok()) return state.status();
  const std::string conf_path = absl::StrCat(*state, "/extra.conf");
  const std::string hba_path = absl::StrCat(*state, "/extra_hba.conf");
  if (absl::Status s = WriteFile(conf_path, settings); !s.ok()) return s;
  if (absl::Status s = WriteFile(hba_path, hba); !s.ok()) return s;
  std::string out;
  absl::Status started =
      Run(absl::StrCat(
              RepoRoot(), "/tests/support/test_services.sh pg-only-start ",
              ShellQuoted(*state), " ", getpid(), " ", ShellQuoted(conf_path),
              " ", ShellQuoted(hba_path), " ", ShellQuoted(files_dir)),
          &out);
  // From here the destructor cleans up, whatever happened.
  std::unique_ptr<DedicatedPostgres> server(new DedicatedPostgres(*state, 0));
  if (!started.ok()) return started;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::ConsumePrefix(&line, "ENRICH_TEST_PG_PORT=")) {
      (void)absl::SimpleAtoi(line, &server->port_);
    }
  }
  if (server->port_ == 0) {
    return absl::InternalError(absl::StrCat("no port printed:\n", out));
  }
  return server;
}

DedicatedPostgres::~DedicatedPostgres() {
  absl::Status stopped =
      Run(absl::StrCat(RepoRoot(), "/tests/support/test_services.sh stop ",
                       ShellQuoted(state_dir_)));
  if (!stopped.ok()) std::fprintf(stderr, "%s\n", stopped.ToString().c_str());
}

bool CanStartDedicatedPostgres() {
  return Run(absl::StrCat("bash -c 'source ", RepoRoot(),
                          "/deploy/lib/services.sh && pg_bindir'"))
      .ok();
}

std::string RepoRoot() { return ENRICH_SOURCE_DIR; }

std::string ContractDir() {
  const char* dir = std::getenv("ENRICH_CONTRACT_DIR");
  if (dir != nullptr) return dir;
  return absl::StrCat(RepoRoot(), "/../shared/contract");
}

}  // namespace enrich::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new enrich::testing::ServicesEnvironment);
  return RUN_ALL_TESTS();
}
