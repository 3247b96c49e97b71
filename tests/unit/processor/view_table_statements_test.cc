// The statements that create and drop a declared view's table
// (processor/core/view_table.h). What matters in the texts: the table is
// the set-based recompute over an empty id array (no parameter left, so
// CREATE TABLE AS accepts it), every statement is idempotent, and a column
// named like a bookkeeping column is refused. The statements run against
// PostgreSQL in tests/integration/views/view_table_test.cc.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/view_table.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

CompiledView CompileOrDie(const std::string& sql, const ViewKeyFacts& facts) {
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<CompiledView> compiled = CompiledView::Compile(*parsed, facts);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *std::move(compiled);
}

TEST(ViewTableStatementsTest, TodaysTableIsTheRecomputeOverNoIds) {
  const CompiledView& view = EnrichedSupportConversationsView();
  absl::StatusOr<std::vector<std::string>> statements =
      CreateViewTableStatements(view);
  ASSERT_TRUE(statements.ok()) << statements.status();
  ASSERT_THAT(*statements, SizeIs(4));
  const std::string& create = (*statements)[0];
  EXPECT_THAT(create, StartsWith("CREATE TABLE IF NOT EXISTS "
                                 "enriched_support_conversations AS SELECT id, "
                                 "source, "));
  EXPECT_THAT(create, HasSubstr(", linear_url, NULL::pg_lsn AS "
                                "source_commit_lsn, NULL::timestamptz AS "
                                "source_commit_at, NULL::timestamptz AS "
                                "enriched_at, all_message_ids FROM (SELECT "));
  EXPECT_TRUE(absl::EndsWith(create, ") AS recomputed WITH NO DATA")) << create;
  EXPECT_THAT(create, HasSubstr("= ANY('{}'::uuid[])"));
  EXPECT_THAT(create, Not(HasSubstr("$")));
  EXPECT_EQ((*statements)[1],
            "ALTER TABLE enriched_support_conversations ALTER COLUMN "
            "enriched_at SET DEFAULT now(), ALTER COLUMN enriched_at SET NOT "
            "NULL");
  EXPECT_THAT((*statements)[2],
              HasSubstr("IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid "
                        "= 'enriched_support_conversations'::regclass AND "
                        "indisprimary) THEN ALTER TABLE "
                        "enriched_support_conversations ADD PRIMARY KEY (id)"));
  EXPECT_THAT((*statements)[3],
              HasSubstr("GRANT SELECT, INSERT, UPDATE, DELETE ON "
                        "enriched_support_conversations TO enrich_processor"));
  EXPECT_THAT((*statements)[3], HasSubstr("GRANT SELECT ON "
                                          "enriched_support_conversations TO "
                                          "enrich_reader"));
  EXPECT_THAT(
      ViewTableBookkeepingColumns(),
      ElementsAre("source_commit_lsn", "source_commit_at", "enriched_at"));
}

// The empty array takes the key's type as the catalog names it.
TEST(ViewTableStatementsTest, TheEmptyIdArrayHasTheKeysType) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW s.rollup AS SELECT u.code, count(c.id) AS n "
      "FROM s.users u LEFT JOIN s.tickets c ON u.code = c.user_code "
      "GROUP BY u.code",
      {.root_key_type = "character varying(16)",
       .child_key_column = "id",
       .lookup_join_types = {}});
  absl::StatusOr<std::vector<std::string>> statements =
      CreateViewTableStatements(view);
  ASSERT_TRUE(statements.ok()) << statements.status();
  EXPECT_THAT((*statements)[0],
              StartsWith("CREATE TABLE IF NOT EXISTS s.rollup AS SELECT "));
  EXPECT_THAT((*statements)[0], HasSubstr("'{}'::character varying(16)[]"));
  EXPECT_THAT((*statements)[0], Not(HasSubstr("$")));
}

// A FILTER constant that spells the id parameter is left as written: the
// parameter is renumbered so that only the parameter is replaced.
TEST(ViewTableStatementsTest, AConstantSpellingTheParameterIsNotReplaced) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW rollup AS SELECT u.id, "
      "count(c.id) FILTER (WHERE c.note = '$1::integer[]') AS odd "
      "FROM users u LEFT JOIN tickets c ON u.id = c.user_id GROUP BY u.id",
      {.root_key_type = "integer",
       .child_key_column = "id",
       .lookup_join_types = {}});
  absl::StatusOr<std::vector<std::string>> statements =
      CreateViewTableStatements(view);
  ASSERT_TRUE(statements.ok()) << statements.status();
  const std::string& create = (*statements)[0];
  EXPECT_THAT(create, HasSubstr("c.note = '$1::integer[]'"));
  EXPECT_THAT(create, HasSubstr("ANY('{}'::integer[])"));
  EXPECT_THAT(create, Not(HasSubstr("$2")));
}

TEST(ViewTableStatementsTest, AColumnNamedLikeABookkeepingColumnIsRefused) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW rollup AS SELECT u.id, max(c.at) AS enriched_at "
      "FROM users u LEFT JOIN tickets c ON u.id = c.user_id GROUP BY u.id",
      {.root_key_type = "integer",
       .child_key_column = "id",
       .lookup_join_types = {}});
  absl::StatusOr<std::vector<std::string>> statements =
      CreateViewTableStatements(view);
  EXPECT_EQ(statements.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(statements.status().message(),
              HasSubstr("view rollup: column enriched_at is named like a "
                        "bookkeeping column"));
}

TEST(ViewTableStatementsTest, DropIsIdempotent) {
  EXPECT_THAT(DropViewTableStatements("s.rollup"),
              ElementsAre("DROP TABLE IF EXISTS s.rollup"));
}

}  // namespace
}  // namespace enrich::processor
