// The statement catalogue: the column lists, the statements' names (what
// the writer reports to its observer and tests EXPLAIN), and which ids a
// truncate rebuild lists for each table.
#include "processor/core/enriched_statements.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor::enriched_statements {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Names(const std::vector<WriterStatement>& list) {
  std::vector<std::string> names;
  for (const WriterStatement& s : list) names.push_back(s.name);
  return names;
}

TEST(EnrichedStatementsTest, ColumnsAreTheReferenceViewsThenTheMessageIds) {
  const std::vector<std::string> reference = ReferenceColumns();
  ASSERT_EQ(reference.size(), 33u);
  EXPECT_EQ(reference.front(), "id");
  EXPECT_EQ(reference.back(), "linear_url");
  std::vector<std::string> rewritten = RewrittenColumns();
  ASSERT_EQ(rewritten.size(), 34u);
  EXPECT_EQ(rewritten.back(), "all_message_ids");
  rewritten.pop_back();
  EXPECT_EQ(rewritten, reference);
}

TEST(EnrichedStatementsTest, HotAndBulkStatementsInTheOrderApplyRunsThem) {
  EXPECT_THAT(
      Names(HotStatements()),
      ElementsAre("resolve_fan_out", "insert_placeholders", "lock_rows",
                  "edit_bodies", "append_messages", "rewrite_joined_columns",
                  "rewrite_rows", "store_offsets"));
  EXPECT_THAT(Names(BulkStatements()),
              ElementsAre("lock_table", "bulk_settings", "rewrite_rows_bulk"));
}

TEST(EnrichedStatementsTest, TheRecomputationSelectsTheRewrittenColumns) {
  for (const std::string& column : RewrittenColumns()) {
    EXPECT_THAT(RecomputeSql(), HasSubstr(column));
    EXPECT_THAT(RewriteRows().sql, HasSubstr(column));
    EXPECT_THAT(RewriteRowsBulk().sql, HasSubstr(column));
  }
  EXPECT_THAT(RewriteRows().sql, HasSubstr(RecomputeSql()));
}

TEST(EnrichedStatementsTest, JoinedColumnRewritesLeaveTheMessagesAlone) {
  const std::string& sql = RewriteJoinedColumns().sql;
  EXPECT_THAT(sql, HasSubstr("linear_url"));
  EXPECT_THAT(sql, Not(HasSubstr("all_messages")));
  EXPECT_THAT(sql, Not(HasSubstr("support_conversation_messages")));
}

TEST(EnrichedStatementsTest, RebuildIdsFollowTheTablesTruncated) {
  TruncatedTables messages;
  messages.child = true;
  EXPECT_EQ(ListRebuildIds(messages).name, "list_rebuild_ids");
  EXPECT_THAT(ListRebuildIds(messages).sql,
              HasSubstr("FROM enriched_support_conversations"));
  TruncatedTables subscribers;
  subscribers.lookups.insert(0);
  EXPECT_THAT(ListRebuildIds(subscribers).sql,
              HasSubstr("WHERE user_id IS NOT NULL"));
  EXPECT_THAT(ListRebuildIds(subscribers).sql, Not(HasSubstr("UNION")));
  TruncatedTables both = subscribers;
  both.lookups.insert(1);
  EXPECT_THAT(ListRebuildIds(both).sql,
              HasSubstr("WHERE user_id IS NOT NULL UNION SELECT id::text FROM "
                        "raw_support_conversations WHERE linear_issue_id IS "
                        "NOT NULL"));
}

}  // namespace
}  // namespace enrich::processor::enriched_statements
