// Bad connection settings stop `enrich-processor run` at once with one
// actionable message, against the real PostgreSQL of the test services: a
// missing database, a missing role, a wrong password and a missing password
// are permanent (exit non-zero quickly, the action said once, no retry); a
// refused connection is retried (the process keeps waiting).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor::testing {
namespace {

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;

int Occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class ConnectionErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    sql_ = *std::move(conn);
  }

  // Starts `enrich-processor run` with `dsn` and waits up to `timeout`.
  std::pair<int, std::string> Run(const std::string& dsn,
                                  absl::Duration timeout) {
    ChildProcess processor(
        {BinaryPath("enrich-processor"), "run", "--topic-prefix=conn_errors",
         "--metrics-addr=127.0.0.1:0"},
        {"ENRICH_PG_DSN=" + dsn,
         "ENRICH_KAFKA_BROKERS=" + Services().kafka_brokers},
        ::testing::TempDir() + "/connection_errors_processor.log");
    const int code = processor.Wait(timeout);
    if (code == -1) {
      processor.Signal(SIGTERM);
      processor.Wait(absl::Seconds(30));
    }
    return {code, processor.log()};
  }

  // Expects a quick non-zero exit whose log says `action` exactly once and
  // never retries.
  void ExpectStopsOnce(const std::string& dsn, const std::string& action) {
    const absl::Time start = absl::Now();
    auto [code, log] = Run(dsn, absl::Seconds(30));
    EXPECT_NE(code, 0) << log;
    EXPECT_NE(code, -1) << "still running after 30 s:\n" << log;
    EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << log;
    EXPECT_EQ(Occurrences(log, action), 1) << log;
    EXPECT_EQ(Occurrences(log, "cannot connect to PostgreSQL at"), 1) << log;
    EXPECT_FALSE(absl::StrContains(log, "retrying")) << log;
  }

  std::unique_ptr<PgTestConnection> sql_;
};

TEST_F(ConnectionErrorsTest, MissingDatabaseStopsWithOneActionableMessage) {
  ExpectStopsOnce(
      absl::StrCat(Services().pg_dsn, " dbname=enrich_no_such_database"),
      "check the database name in the connection string (--pg-dsn / "
      "ENRICH_PG_DSN)");
}

TEST_F(ConnectionErrorsTest, MissingRoleStopsWithOneActionableMessage) {
  ExpectStopsOnce(absl::StrCat(Services().pg_dsn, " user=enrich_no_such_role"),
                  "the role must exist");
}

// The test services trust loopback logins, so one role is made to need a
// password: a scram-sha-256 line for it goes first in pg_hba.conf (written
// by the server, which owns the file) and is removed afterwards.
TEST_F(ConnectionErrorsTest, WrongOrMissingPasswordStopsWithOneMessage) {
  const std::string role = "enrich_conn_errors_pw";
  ASSERT_TRUE(
      sql_->Exec(absl::StrCat("DROP ROLE IF EXISTS ", role, "; CREATE ROLE ",
                              role, " LOGIN PASSWORD 'right-password'"))
          .ok());
  auto hba_file = sql_->QueryValue("SHOW hba_file");
  ASSERT_TRUE(hba_file.ok()) << hba_file.status();
  auto original =
      sql_->QueryValue(absl::StrCat("SELECT pg_read_file('", *hba_file, "')"));
  ASSERT_TRUE(original.ok()) << original.status();
  ASSERT_FALSE(absl::StrContains(*original, "\\")) << *original;
  ASSERT_FALSE(absl::StrContains(*original, "\t")) << *original;
  auto write_hba = [&](const std::string& content) {
    std::string lines;
    for (absl::string_view line :
         absl::StrSplit(content, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&lines, lines.empty() ? "" : ", ", "($hba$", line,
                      "$hba$, ", lines.size(), ")");
    }
    return sql_->Exec(absl::StrCat("COPY (SELECT l FROM (VALUES ", lines,
                                   ") v(l, o) ORDER BY o) TO '", *hba_file,
                                   "'; SELECT pg_reload_conf()"));
  };
  ASSERT_TRUE(
      write_hba(absl::StrCat("host all ", role, " 127.0.0.1/32 scram-sha-256\n",
                             *original))
          .ok());
  absl::SleepFor(absl::Seconds(1));  // the postmaster reloads on SIGHUP

  ExpectStopsOnce(absl::StrCat(Services().pg_dsn, " user=", role,
                               " password=wrong-password"),
                  "check the user and password in the connection string");
  ExpectStopsOnce(
      absl::StrCat(Services().pg_dsn, " user=", role, " passfile=/nonexistent"),
      "the server requires a password");

  EXPECT_TRUE(write_hba(*original).ok());
  EXPECT_TRUE(sql_->Exec(absl::StrCat("DROP ROLE ", role)).ok());
}

TEST_F(ConnectionErrorsTest, RefusedConnectionIsRetried) {
  // A port nothing listens on: bound, never listening.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto [code, log] =
      Run(absl::StrCat("host=127.0.0.1 port=", ntohs(addr.sin_port),
                       " user=postgres dbname=enrich"),
          absl::Seconds(4));
  ::close(fd);
  EXPECT_EQ(code, -1) << "exited instead of retrying:\n" << log;
  EXPECT_TRUE(absl::StrContains(log, "retrying")) << log;
  EXPECT_TRUE(absl::StrContains(log, "Connection refused")) << log;
}

}  // namespace
}  // namespace enrich::processor::testing
