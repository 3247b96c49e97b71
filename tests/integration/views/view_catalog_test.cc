// Declared views against a real catalog (processor/adapters/view_catalog.h):
// a view's definition read back with pg_get_viewdef classifies as its file
// does, and the keys and join indexes the classification assumes are
// checked in pg_index, down to executing the CREATE INDEX statements the
// check suggests. Also `enrich-processor check-view --catalog-view`.
#include "processor/adapters/view_catalog.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/compiled_view.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::BinaryPath;
using ::enrich::testing::ChildProcess;
using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A second shape over scratch tables, in a schema of its own: accounts
// (root) with a region lookup and invoices (child). As created, regions has
// no key on code and neither join column has an index.
constexpr char kScratchSchema[] =
    "DROP SCHEMA IF EXISTS view_catalog_test CASCADE;"
    "CREATE SCHEMA view_catalog_test;"
    "CREATE TABLE view_catalog_test.accounts ("
    "  id int PRIMARY KEY, region_code text, name text);"
    "CREATE TABLE view_catalog_test.regions (code text, label text);"
    "CREATE TABLE view_catalog_test.invoices ("
    "  id int PRIMARY KEY, account_id int, amount numeric);"
    "CREATE MATERIALIZED VIEW view_catalog_test.account_totals AS"
    " SELECT a.id, a.name, r.label, count(i.id) AS invoices,"
    "        sum(i.amount) AS total"
    "   FROM view_catalog_test.accounts a"
    "   LEFT JOIN view_catalog_test.regions r ON a.region_code = r.code"
    "   LEFT JOIN view_catalog_test.invoices i ON a.id = i.account_id"
    "  GROUP BY a.id, r.code, r.label WITH NO DATA;";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ViewCatalogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    absl::Status prepared = testing::PrepareTargetDatabase(**conn);
    ASSERT_TRUE(prepared.ok()) << prepared;
  }

  void SetUp() override {
    auto test_conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(test_conn.ok()) << test_conn.status();
    sql_ = *std::move(test_conn);
    ASSERT_TRUE(sql_->Exec(kScratchSchema).ok());
    auto conn = pg::PgConnection::Connect(Services().pg_dsn, "view_catalog");
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
  }

  void TearDown() override {
    if (sql_) (void)sql_->Exec("DROP SCHEMA view_catalog_test CASCADE");
  }

  ViewDefinition FromCatalog(const std::string& name) {
    absl::StatusOr<std::string> sql = ReadViewDefinition(*conn_, name);
    EXPECT_TRUE(sql.ok()) << sql.status();
    absl::StatusOr<ViewDefinition> view = ParseViewDefinition(sql.value_or(""));
    EXPECT_TRUE(view.ok()) << view.status() << "\n" << sql.value_or("");
    return view.value_or(ViewDefinition{});
  }

  // check-view --catalog-view `name`: exit code and output.
  std::pair<int, std::string> CheckViewExecutable(const std::string& name) {
    const std::string log = absl::StrCat(
        ::testing::TempDir(), "/check_view_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ChildProcess child({BinaryPath("enrich-processor"), "check-view",
                        "--catalog-view", name, "--pg-dsn", Services().pg_dsn},
                       {}, log);
    const int code = child.Wait(absl::Seconds(60));
    return {code, child.log()};
  }

  std::unique_ptr<PgTestConnection> sql_;
  std::unique_ptr<pg::PgConnection> conn_;
};

// pg_get_viewdef's text (parenthesised joins, casts as (x)::integer, names
// qualified) classifies exactly as the contract's file does.
TEST_F(ViewCatalogTest, ReferenceViewFromTheCatalogClassifiesAsItsFile) {
  absl::StatusOr<ViewDefinition> from_file = ParseViewDefinition(ReadFile(
      absl::StrCat(enrich::testing::ContractDir(), "/enriched_reference.sql")));
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  ViewDefinition from_catalog =
      FromCatalog("enriched_support_conversations_reference");
  EXPECT_EQ(from_catalog.name,
            "public.enriched_support_conversations_reference");
  EXPECT_FALSE(from_catalog.materialized);
  from_catalog.name = from_file->name;
  EXPECT_EQ(DescribeViewDefinition(from_catalog),
            DescribeViewDefinition(*from_file));
}

TEST_F(ViewCatalogTest, ContractKeysAndJoinIndexesAreAllThere) {
  absl::StatusOr<CatalogCheck> check = CheckCatalog(
      *conn_, FromCatalog("enriched_support_conversations_reference"));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_THAT(check->problems, IsEmpty());
  EXPECT_THAT(check->missing_indexes, IsEmpty());
}

// The missing key is a problem naming the column and the fix; the missing
// indexes are statements that, executed, satisfy the check.
TEST_F(ViewCatalogTest, MissingKeyIsAProblemAndMissingIndexesAreStatements) {
  const ViewDefinition view = FromCatalog("view_catalog_test.account_totals");
  EXPECT_TRUE(view.materialized);
  absl::StatusOr<CatalogCheck> check = CheckCatalog(*conn_, view);
  ASSERT_TRUE(check.ok()) << check.status();
  ASSERT_EQ(check->problems.size(), 1u);
  EXPECT_THAT(check->problems[0],
              HasSubstr("view_catalog_test.regions.code is neither the "
                        "primary key nor a unique index"));
  EXPECT_THAT(
      check->missing_indexes,
      ElementsAre("CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                  "accounts_region_code_idx ON view_catalog_test.accounts "
                  "(region_code)",
                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                  "invoices_account_id_idx ON view_catalog_test.invoices "
                  "(account_id)"));

  ASSERT_TRUE(sql_->Exec("ALTER TABLE view_catalog_test.regions "
                         "ADD PRIMARY KEY (code)")
                  .ok());
  for (const std::string& statement : check->missing_indexes) {
    ASSERT_TRUE(sql_->Exec(statement).ok()) << statement;
  }
  absl::StatusOr<CatalogCheck> after = CheckCatalog(*conn_, view);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(after->problems, IsEmpty());
  EXPECT_THAT(after->missing_indexes, IsEmpty());
}

// A partial index or a unique index over two columns does not count.
TEST_F(ViewCatalogTest, PartialAndWiderIndexesDoNotCount) {
  ASSERT_TRUE(sql_->Exec("CREATE UNIQUE INDEX ON view_catalog_test.regions "
                         "(code, label);"
                         "CREATE INDEX ON view_catalog_test.invoices "
                         "(account_id) WHERE amount > 0")
                  .ok());
  absl::StatusOr<CatalogCheck> check =
      CheckCatalog(*conn_, FromCatalog("view_catalog_test.account_totals"));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->problems.size(), 1u);
  EXPECT_EQ(check->missing_indexes.size(), 2u);
}

// The facts stated by hand beside today's view file are the catalog's.
TEST_F(ViewCatalogTest, KeyFactsOfTodaysViewAreTheOnesItsFileStates) {
  absl::StatusOr<ViewKeyFacts> facts = ReadViewKeyFacts(
      *conn_, FromCatalog("enriched_support_conversations_reference"));
  ASSERT_TRUE(facts.ok()) << facts.status();
  const ViewKeyFacts stated = EnrichedSupportConversationsKeyFacts();
  EXPECT_EQ(facts->root_key_type, stated.root_key_type);
  EXPECT_EQ(facts->child_key_column, stated.child_key_column);
  EXPECT_EQ(facts->lookup_join_types, stated.lookup_join_types);
}

// From the catalog alone to the table's rows: a materialized view read
// back, its facts read, compiled, and the compiled set-based recompute of
// every account equals the materialized view's own contents, both ways.
TEST_F(ViewCatalogTest, AViewFromTheCatalogCompilesToItsOwnRows) {
  ASSERT_TRUE(
      sql_->Exec("INSERT INTO view_catalog_test.regions VALUES"
                 " ('eu', 'Europe'), ('us', NULL);"
                 "INSERT INTO view_catalog_test.accounts VALUES"
                 " (1, 'eu', 'a'), (2, 'us', NULL), (3, NULL, 'c'),"
                 " (4, 'xx', 'd'), (5, 'eu', 'e');"
                 "INSERT INTO view_catalog_test.invoices VALUES"
                 " (10, 1, 5.5), (11, 1, NULL), (12, 2, 7), (13, 4, 1),"
                 " (14, 99, 3), (15, NULL, 2);"
                 "REFRESH MATERIALIZED VIEW view_catalog_test.account_totals")
          .ok());
  const ViewDefinition view = FromCatalog("view_catalog_test.account_totals");
  absl::StatusOr<ViewKeyFacts> facts = ReadViewKeyFacts(*conn_, view);
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->root_key_type, "integer");
  EXPECT_EQ(facts->child_key_column, "id");
  absl::StatusOr<CompiledView> compiled = CompiledView::Compile(view, *facts);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  auto differing = conn_->QueryParams(
      absl::StrCat(
          "WITH fresh AS (", compiled->RecomputeSetSelect(1),
          "), mv AS (SELECT * FROM view_catalog_test.account_totals)"
          " SELECT (SELECT count(*) FROM (SELECT * FROM fresh EXCEPT ALL"
          "   SELECT * FROM mv) a) + (SELECT count(*) FROM (SELECT * FROM mv"
          "   EXCEPT ALL SELECT * FROM fresh) b),"
          " (SELECT count(*) FROM fresh)"),
      {"{1,2,3,4,5}"}, "comparing");
  ASSERT_TRUE(differing.ok()) << differing.status();
  EXPECT_EQ(pg::TextOrEmpty(differing->at(0), 0), "0");
  EXPECT_EQ(pg::TextOrEmpty(differing->at(0), 1), "5");
}

TEST_F(ViewCatalogTest, AChildWithoutAPrimaryKeyIsNamed) {
  ASSERT_TRUE(sql_->Exec("ALTER TABLE view_catalog_test.invoices "
                         "DROP CONSTRAINT invoices_pkey")
                  .ok());
  absl::StatusOr<ViewKeyFacts> facts =
      ReadViewKeyFacts(*conn_, FromCatalog("view_catalog_test.account_totals"));
  EXPECT_EQ(facts.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(facts.status().message(),
              HasSubstr("view_catalog_test.invoices has no single-column "
                        "primary key"));
}

TEST_F(ViewCatalogTest, NamesThatAreNotViewsAreRefusedByKind) {
  absl::StatusOr<std::string> table =
      ReadViewDefinition(*conn_, "raw_support_conversations");
  EXPECT_EQ(table.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(table.status().message(),
              HasSubstr("public.raw_support_conversations is a table, not a "
                        "view"));
  absl::StatusOr<std::string> missing =
      ReadViewDefinition(*conn_, "view_catalog_test.no_such_view");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ViewCatalogTest, ExecutableRefusesAMissingKeyAndListsIndexes) {
  auto [refused, refused_log] =
      CheckViewExecutable("view_catalog_test.account_totals");
  EXPECT_EQ(refused, 1) << refused_log;
  EXPECT_THAT(refused_log,
              HasSubstr("refused: view_catalog_test.regions.code"));
  EXPECT_THAT(refused_log, HasSubstr("CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                                     "invoices_account_id_idx"));

  ASSERT_TRUE(sql_->Exec("ALTER TABLE view_catalog_test.regions "
                         "ADD PRIMARY KEY (code)")
                  .ok());
  auto [supported, supported_log] =
      CheckViewExecutable("view_catalog_test.account_totals");
  EXPECT_EQ(supported, 0) << supported_log;
  EXPECT_THAT(supported_log, HasSubstr("catalog: keys are unique"));
  EXPECT_THAT(supported_log,
              HasSubstr("compiled: key id (integer), 5 rewritten columns"));

  auto [not_a_view, not_a_view_log] = CheckViewExecutable("no_such_view");
  EXPECT_EQ(not_a_view, 2) << not_a_view_log;
  EXPECT_THAT(not_a_view_log, HasSubstr("no view or materialized view named"));
}

}  // namespace
}  // namespace enrich::processor
