// The one classification of PostgreSQL errors (cdc/common/pg_error_class.h):
// every class PostgreSQL defines (src/backend/utils/errcodes.txt), the exact
// codes that differ from their class, every connection state, and the
// connection-time actions.
#include "cdc/common/pg_error_class.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich {
namespace {

using ::testing::HasSubstr;
using Code = absl::StatusCode;
using State = PgConnectionState;

Code Open(const char* sqlstate) {
  return ClassifyPgError(sqlstate, State::kOpen);
}

TEST(ClassifyPgErrorTest, TransactionConflictsRetryTheTransaction) {
  EXPECT_EQ(Open("40001"), Code::kAborted);  // serialization_failure
  EXPECT_EQ(Open("40P01"), Code::kAborted);  // deadlock_detected
  EXPECT_EQ(Open("40000"), Code::kAborted);  // transaction_rollback
  EXPECT_EQ(Open("55P03"), Code::kAborted);  // lock_not_available
  EXPECT_EQ(Open("57014"), Code::kAborted);  // query_canceled
}

TEST(ClassifyPgErrorTest, ConnectionAndServerTroubleRetryTheCall) {
  for (const char* s :
       {"08000", "08003", "08006", "08001", "08004", "08P01", "53000",
        "53100", "53200", "53300", "57000", "57P01", "57P02", "57P03",
        "57P04", "57P05", "58000", "58030", "25006", "25P03", "40003"}) {
    EXPECT_EQ(Open(s), Code::kUnavailable) << s;
  }
}

TEST(ClassifyPgErrorTest, ErrorsWithoutSqlStateAreLibpqsOwnAndRetried) {
  for (State state : {State::kOpen, State::kConnecting, State::kLost}) {
    EXPECT_EQ(ClassifyPgError("", state), Code::kUnavailable);
    EXPECT_EQ(ClassifyPgError("0800", state), Code::kUnavailable);
  }
}

TEST(ClassifyPgErrorTest, ALostSessionReconnectsWhateverTheServerSaid) {
  for (const char* s : {"", "57P01", "40001", "42501", "23505", "XX000"}) {
    EXPECT_EQ(ClassifyPgError(s, State::kLost), Code::kUnavailable) << s;
  }
}

TEST(ClassifyPgErrorTest, LoginAndGrantProblemsStop) {
  EXPECT_EQ(Open("42501"), Code::kPermissionDenied);  // insufficient_privilege
  for (State state : {State::kOpen, State::kConnecting}) {
    EXPECT_EQ(ClassifyPgError("28P01", state), Code::kPermissionDenied);
    EXPECT_EQ(ClassifyPgError("28000", state), Code::kPermissionDenied);
  }
  for (const char* s : {"", "28P01"}) {
    EXPECT_EQ(ClassifyPgError(s, State::kPasswordMissing),
              Code::kPermissionDenied);
  }
}

// Another session holds the object (a replication slot another enrich-cdc
// streams from): wait until it lets go.
TEST(ClassifyPgErrorTest, ObjectInUseIsWorthWaitingFor) {
  EXPECT_EQ(Open("55006"), Code::kUnavailable);
}

TEST(ClassifyPgErrorTest, MissingOrMisconfiguredThingsStop) {
  for (const char* s :
       {"3D000", "3F000", "42P01", "42703", "42883", "42704", "42P07", "42710",
        "55000", "55P02", "0A000", "53400", "58P01", "58P02"}) {
    EXPECT_EQ(Open(s), Code::kFailedPrecondition) << s;
    EXPECT_EQ(ClassifyPgError(s, State::kConnecting), Code::kFailedPrecondition)
        << s;
  }
}

TEST(ClassifyPgErrorTest, EverythingElseIsABugOrBadDataAndStops) {
  for (const char* s :
       {"00000", "01000", "02000", "03000", "09000", "0B000", "0F000",
        "0L000", "0P000", "0Z000", "20000", "21000", "22000", "22P02",
        "23000", "23505", "24000", "25000", "25001", "26000", "27000",
        "2B000", "2D000", "2F000", "34000", "38000", "39000", "3B000",
        "40002", "42000", "42601", "42804", "44000", "72000", "F0000",
        "HV000", "P0000", "P0001", "XX000", "XX001", "XX002"}) {
    EXPECT_EQ(Open(s), Code::kInternal) << s;
  }
}

// The action travels beside the message, so a log line says it once.
TEST(OperatorActionTest, TravelsWithTheStatusOutsideItsMessage) {
  absl::Status status = absl::PermissionDeniedError("login refused");
  EXPECT_EQ(OperatorAction(status), "");
  SetOperatorAction(&status, "check the password");
  EXPECT_EQ(OperatorAction(status), "check the password");
  EXPECT_EQ(status.message(), "login refused");
  EXPECT_EQ(StatusText(status), "PERMISSION_DENIED: login refused");
  absl::Status ok;
  SetOperatorAction(&ok, "ignored on OK");
  EXPECT_EQ(OperatorAction(ok), "");
}

TEST(ConnectionFailureActionTest, PermanentFailuresSayWhatToFix) {
  EXPECT_THAT(ConnectionFailureAction("28P01", State::kConnecting),
              HasSubstr("check the user and password in the connection "
                        "string (--pg-dsn / ENRICH_PG_DSN)"));
  EXPECT_THAT(ConnectionFailureAction("28000", State::kConnecting),
              HasSubstr("the role must exist"));
  EXPECT_THAT(ConnectionFailureAction("3D000", State::kConnecting),
              HasSubstr("check the database name"));
  EXPECT_THAT(ConnectionFailureAction("42501", State::kConnecting),
              HasSubstr("grant CONNECT"));
  EXPECT_THAT(ConnectionFailureAction("", State::kPasswordMissing),
              HasSubstr("requires a password"));
}

TEST(ConnectionFailureActionTest, RetriedFailuresHaveNoAction) {
  for (const char* s : {"", "57P03", "53300", "08006"}) {
    EXPECT_EQ(ConnectionFailureAction(s, State::kConnecting), "") << s;
  }
  EXPECT_EQ(ConnectionFailureAction("28P01", State::kOpen), "");
}

TEST(ParseVerboseConnectErrorTest, TakesTheCodeAndDropsTheLocation) {
  PgConnectError e = ParseVerboseConnectError(
      "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
      "28P01: password authentication failed for user \"app\"\n"
      "LOCATION:  auth_failed, auth.c:326\n");
  EXPECT_EQ(e.sqlstate, "28P01");
  EXPECT_EQ(e.text,
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
            "password authentication failed for user \"app\"");
}

TEST(ParseVerboseConnectErrorTest, LastServerErrorOfSeveralHostsWins) {
  PgConnectError e = ParseVerboseConnectError(
      "connection to server at \"a\" (10.0.0.1), port 5432 failed: FATAL:  "
      "57P03: the database system is starting up\n"
      "connection to server at \"b\" (10.0.0.2), port 5432 failed: FATAL:  "
      "3D000: database \"nope\" does not exist\n");
  EXPECT_EQ(e.sqlstate, "3D000");
  EXPECT_THAT(e.text, HasSubstr("FATAL:  the database system is starting up"));
  EXPECT_THAT(e.text, HasSubstr("FATAL:  database \"nope\" does not exist"));
}

TEST(ParseVerboseConnectErrorTest, NoServerErrorNoCode) {
  const std::string refused =
      "connection to server at \"127.0.0.1\", port 1 failed: Connection "
      "refused\n\tIs the server running on that host and accepting TCP/IP "
      "connections?\n";
  PgConnectError e = ParseVerboseConnectError(refused);
  EXPECT_EQ(e.sqlstate, "");
  EXPECT_EQ(e.text + "\n", refused);
  EXPECT_EQ(
      ParseVerboseConnectError("fe_sendauth: no password supplied\n").sqlstate,
      "");
  // A message that merely looks like a code after its severity: lower case.
  EXPECT_EQ(ParseVerboseConnectError("FATAL:  abcde: x").sqlstate, "");
  EXPECT_EQ(ParseVerboseConnectError("").text, "");
}

}  // namespace
}  // namespace enrich
