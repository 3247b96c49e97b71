// Statements compiled from a view definition (processor/core/
// compiled_view.h): today's view from its embedded file, and a per-user
// rollup of another shape. What matters in the texts: columns in order, the
// array tie-breaker appended only when missing, the key arrays, one fan-out
// branch per lookup, INNER lookups kept inner. The statements run against
// PostgreSQL in tests/integration/processor/compiled_view_test.cc.
#include "processor/core/compiled_view.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// Conversations per user: root users (one INNER lookup, teams), child
// support tickets; every aggregate kind, an open tie in the array's order.
constexpr char kRollup[] =
    "CREATE VIEW user_rollups AS SELECT u.id AS user_id, u.name, "
    "t.name AS team_name, count(*) AS joined_rows, "
    "count(k.id) FILTER (WHERE k.status = 'open') AS open_tickets, "
    "sum(k.priority) AS priority_sum, min(k.opened_at) AS first_opened_at, "
    "max(k.opened_at) AS last_opened_at, bool_or(k.urgent) AS any_urgent, "
    "array_agg(k.title ORDER BY k.opened_at DESC) "
    "FILTER (WHERE k.title IS NOT NULL) AS latest_titles "
    "FROM users u JOIN teams t ON u.team_id = t.id "
    "LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id, t.id";

CompiledView CompileOrDie(const std::string& sql, const ViewKeyFacts& facts) {
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<CompiledView> compiled = CompiledView::Compile(*parsed, facts);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *std::move(compiled);
}

TEST(CompiledViewTest, TodaysColumnsAreTheViewsThenTheMessageIds) {
  const CompiledView& view = EnrichedSupportConversationsView();
  EXPECT_EQ(view.table(), "enriched_support_conversations");
  EXPECT_EQ(view.key_column(), "id");
  const std::vector<std::string> columns = view.OutputColumns();
  ASSERT_THAT(columns, SizeIs(33));
  EXPECT_EQ(columns[0], "id");
  EXPECT_EQ(columns[1], "source");
  EXPECT_EQ(columns[26], "message_count");
  EXPECT_EQ(columns[28], "all_messages");
  EXPECT_EQ(columns[32], "linear_url");
  std::vector<std::string> rewritten = view.RewrittenColumns();
  EXPECT_EQ(rewritten.back(), "all_message_ids");
  rewritten.pop_back();
  EXPECT_EQ(rewritten, columns);
  const std::vector<std::string> joined = view.JoinedColumns();
  ASSERT_THAT(joined, SizeIs(29));
  EXPECT_EQ(joined.front(), "source");
  EXPECT_EQ(joined.back(), "linear_url");
}

TEST(CompiledViewTest, TodaysArrayKeepsItsTieBreakerAndGetsItsKeys) {
  const std::string sql =
      EnrichedSupportConversationsView().RecomputePerIdSelect();
  EXPECT_THAT(sql, HasSubstr("array_agg(sm.body ORDER BY sm.created_at, sm.id) "
                             "FILTER (WHERE sm.body IS NOT NULL) AS "
                             "all_messages"));
  EXPECT_THAT(sql, HasSubstr("array_agg(sm.id ORDER BY sm.created_at, sm.id) "
                             "FILTER (WHERE sm.body IS NOT NULL) AS "
                             "all_message_ids"));
  EXPECT_THAT(sql, Not(HasSubstr("sm.id, sm.id")));
  EXPECT_THAT(sql, HasSubstr("count(sm.id)::pg_catalog.int4 AS message_count"));
  // Every message aggregate per conversation, over its messages only: no
  // aggregate here counts a conversation without messages.
  EXPECT_THAT(sql, HasSubstr("FROM support_conversation_messages sm WHERE "
                             "sm.conversation_id = c.id) agg"));
  EXPECT_THAT(sql, HasSubstr("(SELECT * FROM linear_issues li WHERE li.id = "
                             "c.linear_issue_id OFFSET 0) li ON true"));
}

TEST(CompiledViewTest, TodaysSetRecomputeGroupsTheMessagesOfAllIds) {
  const std::string sql =
      EnrichedSupportConversationsView().RecomputeSetSelect(1);
  EXPECT_THAT(sql, HasSubstr("coalesce(agg.message_count, 0) AS "
                             "message_count"));
  EXPECT_THAT(sql, HasSubstr("WHERE sm.conversation_id = ANY($1::uuid[]) "
                             "GROUP BY sm.conversation_id"));
  EXPECT_THAT(sql, HasSubstr("LEFT JOIN subscribers_insights u ON "
                             "u.distinct_id = c.user_id"));
  EXPECT_THAT(sql, HasSubstr("WHERE c.id = ANY($1::uuid[])"));
}

TEST(CompiledViewTest, FanOutHasOneBranchPerLookupInViewOrder) {
  const std::string sql = EnrichedSupportConversationsView().ResolveFanOutSql();
  const std::vector<std::string> branches = absl::StrSplit(sql, " UNION ");
  ASSERT_THAT(branches, SizeIs(2));
  EXPECT_THAT(branches[0], HasSubstr("unnest($1::text[]) AS k(user_id)"));
  EXPECT_THAT(branches[0], HasSubstr("WHERE user_id = k.user_id OFFSET 0"));
  EXPECT_THAT(branches[1],
              HasSubstr("unnest($2::text[]) AS k(linear_issue_id)"));
}

TEST(CompiledViewTest, JoinedRewriteSetsOnlyJoinedColumns) {
  const std::string sql =
      EnrichedSupportConversationsView().RewriteJoinedColumnsSql("b = $2",
                                                                 "marker");
  EXPECT_THAT(sql, HasSubstr("li.url AS linear_url"));
  EXPECT_THAT(sql, HasSubstr("e.message_count IS NOT NULL AS complete"));
  EXPECT_THAT(sql, Not(HasSubstr("marker")));
  EXPECT_THAT(sql, Not(HasSubstr("all_message")));
  EXPECT_THAT(sql, Not(HasSubstr("support_conversation_messages")));
}

TEST(CompiledViewTest, RollupCompilesWithTieBreakerAndInnerLookup) {
  const CompiledView view =
      CompileOrDie(kRollup, ViewKeyFacts{"bigint", "id", {"bigint"}});
  EXPECT_EQ(view.key_column(), "user_id");
  EXPECT_EQ(view.RewrittenColumns().back(), "latest_title_ids");
  EXPECT_THAT(view.JoinedColumns(), ElementsAre("name", "team_name"));
  const std::string per_id = view.RecomputePerIdSelect();
  EXPECT_THAT(per_id,
              HasSubstr("array_agg(sk.title ORDER BY sk.opened_at DESC, "
                        "sk.id) FILTER (WHERE sk.title IS NOT NULL)"));
  EXPECT_THAT(per_id,
              HasSubstr("count(sk.id) FILTER (WHERE sk.status = 'open')"));
  // count(*) counts the NULL-extended row of a user without tickets.
  EXPECT_THAT(per_id, HasSubstr("(SELECT) AS agg_one LEFT JOIN tickets sk ON "
                                "sk.user_id = u.id"));
  EXPECT_THAT(per_id, HasSubstr("CROSS JOIN LATERAL (SELECT * FROM teams t"));
  const std::string set = view.RecomputeSetSelect(1);
  EXPECT_THAT(set, HasSubstr(" JOIN teams t ON t.id = u.team_id"));
  EXPECT_THAT(set, Not(HasSubstr("LEFT JOIN teams")));
  EXPECT_THAT(set, HasSubstr("unnest($1::bigint[]) AS agg_ids(id)"));
  EXPECT_THAT(view.GoneCondition(true), HasSubstr("JOIN teams t"));
  EXPECT_THAT(view.ResolveFanOutSql(), HasSubstr("$1::bigint[]"));
  EXPECT_THAT(view.RewriteJoinedColumnsSql("b = $2", "m"),
              HasSubstr("t.id IS NOT NULL AS found"));
}

// Found by view_differential_test: a cast on a projected column was dropped
// (the table got the column's own type), and a count cast to a type a bare
// 0 is not (text) made the set-based recompute's coalesce fail.
TEST(CompiledViewTest, CastsOnProjectionsAndCountsAreKept) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW v AS SELECT u.id, u.id::text AS id_text, "
      "(t.name)::text AS team, count(k.id)::text AS n, "
      "count(*)::bigint AS rows_joined, count(k.id)::integer AS m "
      "FROM users u LEFT JOIN teams t ON u.team_id = t.id "
      "LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id, t.id",
      ViewKeyFacts{"bigint", "id", {"bigint"}});
  EXPECT_EQ(view.key_column(), "id");
  const std::string per_id = view.RecomputePerIdSelect();
  EXPECT_THAT(per_id, HasSubstr("(u.id)::text AS id_text"));
  EXPECT_THAT(per_id, HasSubstr("(t.name)::text AS team"));
  const std::string set = view.RecomputeSetSelect(1);
  EXPECT_THAT(set, HasSubstr("(t.name)::text AS team"));
  EXPECT_THAT(set, HasSubstr("coalesce(agg.n, (0::pg_catalog.int8)::text)"));
  EXPECT_THAT(set, HasSubstr("coalesce(agg.m, 0) AS m"));
  EXPECT_THAT(view.RewriteJoinedColumnsSql("b = $2", "m"),
              HasSubstr("(t.name)::text AS team"));
}

// Casts the parser kept on an aggregate's argument and a FILTER column
// (pg_get_viewdef's form for varchar) are in the statements as written.
TEST(CompiledViewTest, CastsOnAggregateArgumentsAndFiltersAreKept) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW v AS SELECT u.id, min((k.v)::text) AS mn, "
      "count(k.v) FILTER (WHERE ((k.v)::text = 'x'::text)) AS cnt "
      "FROM users u LEFT JOIN tickets k ON (u.id)::text = (k.user_id)::text "
      "GROUP BY u.id",
      ViewKeyFacts{"character varying(16)", "id", {}});
  const std::string per_id = view.RecomputePerIdSelect();
  EXPECT_THAT(per_id, HasSubstr("min((sk.v)::text) AS mn"));
  EXPECT_THAT(per_id, HasSubstr("count(sk.v) FILTER (WHERE (sk.v)::text = "
                                "'x'::text)"));
  EXPECT_THAT(per_id, HasSubstr("sk.user_id = u.id"));
  EXPECT_THAT(view.RecomputeSetSelect(1),
              HasSubstr("$1::character varying(16)[]"));
}

// Found by view_differential_test: an output column named agg_key made the
// set-based recompute's join on the grouped key ambiguous.
TEST(CompiledViewTest, GroupKeyAvoidsTheViewsColumnNames) {
  const CompiledView view = CompileOrDie(
      "CREATE VIEW v AS SELECT u.id, count(k.id) AS agg_key, "
      "count(*) AS agg_key_ FROM users u "
      "LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id",
      ViewKeyFacts{"bigint", "id", {}});
  const std::string set = view.RecomputeSetSelect(1);
  EXPECT_THAT(set, HasSubstr("agg_ids.id AS agg_key__,"));
  EXPECT_THAT(set, HasSubstr("agg.agg_key__ = u.id"));
}

// The key column is compared with ids of the key's type: a cast one is
// not the key.
TEST(CompiledViewTest, ACastKeyIsNotTheKey) {
  absl::StatusOr<ViewDefinition> cast_key = ParseViewDefinition(
      "CREATE VIEW v AS SELECT u.id::text AS id, count(k.id) AS n "
      "FROM users u LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id");
  ASSERT_TRUE(cast_key.ok()) << cast_key.status();
  absl::StatusOr<CompiledView> compiled =
      CompiledView::Compile(*cast_key, {"bigint", "id", {}});
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(compiled.status().message(), HasSubstr("without a cast"));
}

TEST(CompiledViewTest, RebuildIdsFollowTheScope) {
  const CompiledView& view = EnrichedSupportConversationsView();
  EXPECT_EQ(view.ListRebuildIdsSql(RebuildScope{true, {}}),
            "SELECT id::text FROM raw_support_conversations UNION SELECT "
            "id::text FROM enriched_support_conversations");
  EXPECT_EQ(view.ListRebuildIdsSql(RebuildScope{false, {1}}),
            "SELECT id::text FROM raw_support_conversations WHERE "
            "linear_issue_id IS NOT NULL");
}

TEST(CompiledViewTest, RefusesWhatItCannotMaintain) {
  absl::StatusOr<ViewDefinition> no_key = ParseViewDefinition(
      "CREATE VIEW v AS SELECT count(k.id) AS n FROM users u "
      "LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id");
  ASSERT_TRUE(no_key.ok()) << no_key.status();
  EXPECT_EQ(
      CompiledView::Compile(*no_key, {"bigint", "id", {}}).status().code(),
      absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ViewDefinition> collision = ParseViewDefinition(
      "CREATE VIEW v AS SELECT u.id, u.title_ids, "
      "array_agg(k.title) AS titles FROM users u "
      "LEFT JOIN tickets k ON u.id = k.user_id GROUP BY u.id");
  ASSERT_TRUE(collision.ok()) << collision.status();
  EXPECT_THAT(CompiledView::Compile(*collision, {"bigint", "id", {}})
                  .status()
                  .message(),
              HasSubstr("title_ids"));
  absl::StatusOr<ViewDefinition> rollup = ParseViewDefinition(kRollup);
  ASSERT_TRUE(rollup.ok());
  EXPECT_EQ(
      CompiledView::Compile(*rollup, {"bigint", "id", {}}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace enrich::processor
