// The statement catalogue: the column lists, the statements' names (what
// the writer reports to its observer and tests EXPLAIN), and which ids a
// truncate rebuild lists for each table.
#include "processor/core/view_statements.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const ViewStatements& Today() {
  return EnrichedSupportConversationsStatements();
}

std::vector<std::string> Names(const std::vector<WriterStatement>& list) {
  std::vector<std::string> names;
  for (const WriterStatement& s : list) names.push_back(s.name);
  return names;
}

TEST(ViewStatementsTest, ColumnsAreTheReferenceViewsThenTheMessageIds) {
  const std::vector<std::string> reference = Today().ReferenceColumns();
  ASSERT_EQ(reference.size(), 33u);
  EXPECT_EQ(reference.front(), "id");
  EXPECT_EQ(reference.back(), "linear_url");
  std::vector<std::string> rewritten = Today().RewrittenColumns();
  ASSERT_EQ(rewritten.size(), 34u);
  EXPECT_EQ(rewritten.back(), "all_message_ids");
  rewritten.pop_back();
  EXPECT_EQ(rewritten, reference);
}

TEST(ViewStatementsTest, HotAndBulkStatementsInTheOrderApplyRunsThem) {
  EXPECT_THAT(
      Names(Today().HotStatements()),
      ElementsAre("resolve_fan_out", "insert_placeholders", "lock_rows",
                  "edit_bodies", "append_messages", "rewrite_joined_columns",
                  "rewrite_rows", "store_offsets"));
  EXPECT_THAT(Names(Today().BulkStatements()),
              ElementsAre("lock_table", "bulk_settings", "rewrite_rows_bulk"));
}

TEST(ViewStatementsTest, TheRecomputationSelectsTheRewrittenColumns) {
  for (const std::string& column : Today().RewrittenColumns()) {
    EXPECT_THAT(Today().RecomputeSql(), HasSubstr(column));
    EXPECT_THAT(Today().RewriteRows().sql, HasSubstr(column));
    EXPECT_THAT(Today().RewriteRowsBulk().sql, HasSubstr(column));
  }
  EXPECT_THAT(Today().RewriteRows().sql, HasSubstr(Today().RecomputeSql()));
}

TEST(ViewStatementsTest, JoinedColumnRewritesLeaveTheMessagesAlone) {
  const std::string& sql = Today().RewriteJoinedColumns().sql;
  EXPECT_THAT(sql, HasSubstr("linear_url"));
  EXPECT_THAT(sql, Not(HasSubstr("all_messages")));
  EXPECT_THAT(sql, Not(HasSubstr("support_conversation_messages")));
}

TEST(ViewStatementsTest, RebuildIdsFollowTheTablesTruncated) {
  TruncatedTables messages;
  messages.child = true;
  EXPECT_EQ(Today().ListRebuildIds(messages).name, "list_rebuild_ids");
  EXPECT_THAT(Today().ListRebuildIds(messages).sql,
              HasSubstr("FROM enriched_support_conversations"));
  TruncatedTables subscribers;
  subscribers.lookups.insert(0);
  EXPECT_THAT(Today().ListRebuildIds(subscribers).sql,
              HasSubstr("WHERE user_id IS NOT NULL"));
  EXPECT_THAT(Today().ListRebuildIds(subscribers).sql, Not(HasSubstr("UNION")));
  TruncatedTables both = subscribers;
  both.lookups.insert(1);
  EXPECT_THAT(Today().ListRebuildIds(both).sql,
              HasSubstr("WHERE user_id IS NOT NULL UNION SELECT id::text FROM "
                        "raw_support_conversations WHERE linear_issue_id IS "
                        "NOT NULL"));
}

// Today's view with one more child aggregate: an append would leave it stale.
std::string TodayWith(absl::string_view extra_column) {
  std::string sql(EnrichedSupportConversationsDefinition());
  const size_t at = sql.find("li.identifier");
  EXPECT_NE(at, std::string::npos);
  sql.insert(at, absl::StrCat(extra_column, ", "));
  return sql;
}

ViewStatements Compile(absl::string_view sql, ViewKeyFacts facts) {
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<CompiledView> compiled = CompiledView::Compile(*parsed, facts);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return ViewStatements(*std::move(compiled));
}

TEST(ViewStatementsTest, MessagePathsApplyToTodaysAggregateShapeOnly) {
  EXPECT_TRUE(Today().has_message_paths());
  const ViewKeyFacts facts = EnrichedSupportConversationsKeyFacts();
  EXPECT_TRUE(Compile(EnrichedSupportConversationsDefinition(), facts)
                  .has_message_paths());
  // Any further aggregate, a changed order or filter, or another key type
  // turns them off.
  EXPECT_FALSE(Compile(TodayWith("count(m.author_type) AS authored"), facts)
                   .has_message_paths());
  EXPECT_FALSE(
      Compile(TodayWith("min(m.created_at) AS first_message_at"), facts)
          .has_message_paths());
  std::string descending(EnrichedSupportConversationsDefinition());
  descending.replace(descending.find("m.created_at, m.id"),
                     std::string("m.created_at, m.id").size(),
                     "m.created_at DESC, m.id");
  EXPECT_FALSE(Compile(descending, facts).has_message_paths());
  std::string unfiltered(EnrichedSupportConversationsDefinition());
  unfiltered.replace(unfiltered.find("FILTER (WHERE m.body IS NOT NULL)"),
                     std::string("FILTER (WHERE m.body IS NOT NULL)").size(),
                     "");
  EXPECT_FALSE(Compile(unfiltered, facts).has_message_paths());
  ViewKeyFacts text_keys = facts;
  text_keys.root_key_type = "text";
  EXPECT_FALSE(Compile(EnrichedSupportConversationsDefinition(), text_keys)
                   .has_message_paths());
}

constexpr char kUserRollup[] =
    "CREATE MATERIALIZED VIEW user_rollup AS SELECT u.distinct_id, u.income,"
    " count(c.id) AS conversations,"
    " array_agg(c.title ORDER BY c.created_at DESC) AS titles"
    " FROM subscribers_insights u"
    " LEFT JOIN raw_support_conversations c ON u.distinct_id = c.user_id"
    " GROUP BY u.distinct_id";

TEST(ViewStatementsTest, AnotherViewsStatementsNameItsTablesAndKeys) {
  const ViewStatements rollup = Compile(kUserRollup, {"text", "id", {}});
  EXPECT_FALSE(rollup.has_message_paths());
  EXPECT_EQ(rollup.table(), "user_rollup");
  EXPECT_THAT(
      Names(rollup.HotStatements()),
      ElementsAre("resolve_fan_out", "insert_placeholders", "lock_rows",
                  "rewrite_joined_columns", "rewrite_rows", "store_offsets"));
  EXPECT_EQ(rollup.InsertPlaceholders().sql,
            "INSERT INTO user_rollup (distinct_id) SELECT id FROM "
            "unnest($1::text[]) WITH ORDINALITY AS a(id, n) ORDER BY n ON "
            "CONFLICT (distinct_id) DO NOTHING");
  EXPECT_THAT(rollup.LockRows().sql,
              HasSubstr("FROM user_rollup e WHERE e.distinct_id = a.id FOR "
                        "UPDATE"));
  EXPECT_EQ(rollup.LockTable().sql,
            "LOCK TABLE user_rollup IN SHARE ROW EXCLUSIVE MODE");
  EXPECT_THAT(rollup.BulkSettings().sql,
              HasSubstr("'subscribers_insights'::regclass"));
  EXPECT_EQ(rollup.TableNeedsBuilding().sql,
            "SELECT NOT EXISTS (SELECT 1 FROM user_rollup) AND EXISTS "
            "(SELECT 1 FROM subscribers_insights)");
  for (const WriterStatement& s : rollup.HotStatements()) {
    EXPECT_THAT(s.sql, Not(HasSubstr("enriched_support_conversations")))
        << s.name;
    EXPECT_THAT(s.sql, Not(HasSubstr("uuid"))) << s.name;
  }
  EXPECT_THAT(rollup.RewriteRows().sql,
              HasSubstr("INSERT INTO user_rollup AS e (distinct_id, income, "
                        "conversations, titles, title_ids, "));
}

}  // namespace
}  // namespace enrich::processor
