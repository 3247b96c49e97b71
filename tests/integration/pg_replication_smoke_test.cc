// The test PostgreSQL streams logical replication: a publication and a
// pgoutput slot created here deliver the rows written afterwards over a libpq
// replication connection.
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::testing {
namespace {

TEST(PgReplicationSmokeTest,
     SlotStreamsCommittedInsertsOverReplicationConnection) {
  auto sql = PgTestConnection::Connect(Services().pg_dsn);
  ASSERT_TRUE(sql.ok()) << sql.status();
  ASSERT_EQ((*sql)->QueryValue("SHOW wal_level").value_or(""), "logical");
  // Separate calls: a slot cannot be created in a transaction that wrote.
  for (const char* statement :
       {"CREATE PUBLICATION smoke_pub FOR TABLE linear_issues",
        "SELECT pg_create_logical_replication_slot('smoke_slot', "
        "'pgoutput')",
        "INSERT INTO linear_issues (id, identifier, title) VALUES "
        "('smoke-1', 'SUP-1', 'first smoke row'), "
        "('smoke-2', 'SUP-2', 'second smoke row'), "
        "('smoke-3', 'SUP-3', 'third smoke row')"}) {
    absl::Status status = (*sql)->Exec(statement);
    ASSERT_TRUE(status.ok()) << status;
  }

  std::unique_ptr<PGconn, decltype(&PQfinish)> repl(
      PQconnectdb(
          absl::StrCat(Services().pg_dsn, " replication=database").c_str()),
      &PQfinish);
  ASSERT_EQ(PQstatus(repl.get()), CONNECTION_OK) << PQerrorMessage(repl.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> started(
      PQexec(repl.get(),
             "START_REPLICATION SLOT smoke_slot LOGICAL 0/0 "
             "(proto_version '1', publication_names 'smoke_pub')"),
      &PQclear);
  ASSERT_EQ(PQresultStatus(started.get()), PGRES_COPY_BOTH)
      << PQerrorMessage(repl.get());

  // Each CopyData is 'w' + start LSN + end LSN + send time (8 bytes each),
  // then one pgoutput message whose first byte is its kind.
  int begins = 0, relations = 0, inserts = 0, commits = 0;
  std::string payloads;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (commits == 0 && std::chrono::steady_clock::now() < deadline) {
    char* buffer = nullptr;
    int length = PQgetCopyData(repl.get(), &buffer, /*async=*/0);
    ASSERT_GE(length, 0) << PQerrorMessage(repl.get());
    std::string message(buffer, length);
    PQfreemem(buffer);
    if (message[0] != 'w') continue;  // 'k' keepalives
    ASSERT_GT(message.size(), 25u);
    switch (message[25]) {
      case 'B':
        ++begins;
        break;
      case 'R':
        ++relations;
        break;
      case 'I':
        ++inserts;
        payloads += message;
        break;
      case 'C':
        ++commits;
        break;
    }
  }
  EXPECT_EQ(begins, 1);
  EXPECT_EQ(relations, 1);
  EXPECT_EQ(inserts, 3);
  EXPECT_EQ(commits, 1);
  EXPECT_NE(payloads.find("second smoke row"), std::string::npos);
}

}  // namespace
}  // namespace enrich::testing
