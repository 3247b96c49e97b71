// The affected-set rules derived from a view definition (processor/core/
// view_routes.h), and the planner routing events by them: today's view from
// its embedded file, a per-user rollup whose root is users and whose child
// is today's root table, and a view that reads one table as two lookups.
#include "processor/core/view_routes.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/affected_conversations.h"
#include "tests/unit/processor/event_builders.h"

namespace enrich::processor {
namespace {

using ::enrich::processor::testing::MakeEvent;
using ::enrich::processor::testing::MakeRow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Conversations per user: root app.users (schema-qualified), one lookup
// (teams), child raw_support_conversations by user_uuid.
constexpr char kRollup[] =
    "CREATE VIEW user_rollups AS SELECT u.id AS user_id, u.name, "
    "t.name AS team_name, count(c.id) AS conversations, "
    "array_agg(c.title ORDER BY c.created_at DESC) AS latest_titles "
    "FROM app.users u LEFT JOIN teams t ON u.team_id = t.id "
    "LEFT JOIN raw_support_conversations c ON u.id = c.user_uuid "
    "GROUP BY u.id, t.id";

// Tickets with their assignee's and requester's names: users read twice.
constexpr char kTwoLookupsOfOneTable[] =
    "CREATE VIEW ticket_people AS SELECT k.id, a.name AS assignee, "
    "r.name AS requester, count(n.id) AS notes FROM tickets k "
    "LEFT JOIN users a ON k.assignee_id = a.id "
    "LEFT JOIN users r ON k.requester_id = r.id "
    "LEFT JOIN notes n ON k.id = n.ticket_id GROUP BY k.id, a.id, r.id";

constexpr char kUser1[] = "00000000-0000-0000-0000-0000000000a1";
constexpr char kUser2[] = "00000000-0000-0000-0000-0000000000a2";
constexpr char kConv1[] = "10000000-0000-0000-0000-000000000001";

ViewRoutes RoutesOf(const std::string& sql, RootKeyForm root_key_form,
                    ChildEdits child_edits = ChildEdits::kFullRewrite) {
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(sql);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return ViewRoutes::FromView(*parsed, "public", root_key_form, child_edits);
}

enrich::v1::ChangeEvent InSchema(enrich::v1::ChangeEvent event,
                                 const std::string& schema) {
  event.set_schema(schema);
  return event;
}

TEST(ViewRoutesTest, TodaysViewRoutesItsFourTablesByRole) {
  absl::StatusOr<ViewDefinition> today =
      ParseViewDefinition(EnrichedSupportConversationsDefinition());
  ASSERT_TRUE(today.ok()) << today.status();
  const ViewRoutes routes =
      ViewRoutes::FromView(*today, "public", RootKeyForm::kUuid);
  EXPECT_EQ(routes.lookup_count(), 2u);
  ASSERT_THAT(routes.tables(), SizeIs(4));

  const std::vector<TableRoute>* root =
      routes.Find("public", "raw_support_conversations");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(*root, ElementsAre(TableRoute{TableRole::kRoot, 0, "id",
                                            /*column_is_key=*/true}));
  const std::vector<TableRoute>* child =
      routes.Find("public", "support_conversation_messages");
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(*child,
              ElementsAre(TableRoute{TableRole::kChild, 0, "conversation_id",
                                     /*column_is_key=*/false}));
  // Lookups by FROM order: the fan-out parameters $1, $2 of
  // CompiledView::ResolveFanOutSql.
  const std::vector<TableRoute>* users =
      routes.Find("public", "subscribers_insights");
  ASSERT_NE(users, nullptr);
  EXPECT_THAT(*users,
              ElementsAre(TableRoute{TableRole::kLookup, 0, "distinct_id",
                                     /*column_is_key=*/true}));
  const std::vector<TableRoute>* issues =
      routes.Find("public", "linear_issues");
  ASSERT_NE(issues, nullptr);
  EXPECT_THAT(*issues, ElementsAre(TableRoute{TableRole::kLookup, 1, "id",
                                              /*column_is_key=*/true}));

  EXPECT_EQ(routes.Find("public", "audit_log"), nullptr);
  EXPECT_EQ(routes.Find("staging", "linear_issues"), nullptr);
  EXPECT_TRUE(routes.ReadsSchema("public"));
  EXPECT_FALSE(routes.ReadsSchema("staging"));
  // The declared view's routes are these (its definition as compiled).
  const ViewRoutes declared = EnrichedSupportConversationsRoutes("public");
  ASSERT_THAT(declared.tables(), SizeIs(4));
  for (const RoutedTable& table : routes.tables()) {
    const std::vector<TableRoute>* same =
        declared.Find(table.schema, table.name);
    ASSERT_NE(same, nullptr) << table.name;
    EXPECT_EQ(*same, table.routes) << table.name;
  }
  // Uuid conversation ids, and the only routes whose child changes may be
  // planned in place (the writer's appends and body edits are its own).
  EXPECT_EQ(declared.root_key_form(), RootKeyForm::kUuid);
  EXPECT_TRUE(declared.child_in_place());
  EXPECT_FALSE(routes.child_in_place());
}

// The writer passes lookup_keys[i] as $i+1 of the compiled fan-out: the
// branch with $i+1 must join the root column of the routes' lookup i.
TEST(ViewRoutesTest, LookupIndexesAreTheFanOutParameters) {
  const CompiledView& view = EnrichedSupportConversationsView();
  const ViewRoutes routes = EnrichedSupportConversationsRoutes("public");
  const std::vector<std::string> branches =
      absl::StrSplit(view.ResolveFanOutSql(), " UNION ");
  ASSERT_THAT(branches, SizeIs(routes.lookup_count()));
  const std::pair<const char*, const char*> expected[] = {
      {"subscribers_insights", "user_id"},
      {"linear_issues", "linear_issue_id"}};
  for (const auto& [table, root_column] : expected) {
    const std::vector<TableRoute>* route = routes.Find("public", table);
    ASSERT_NE(route, nullptr) << table;
    const std::string& branch = branches[route->front().lookup];
    EXPECT_THAT(branch, HasSubstr(absl::StrCat("$", route->front().lookup + 1,
                                               "::text[]")))
        << table;
    EXPECT_THAT(branch, HasSubstr(absl::StrCat("WHERE ", root_column, " = ")))
        << table;
  }
}

TEST(ViewRoutesTest, UnqualifiedTablesAreInTheSchemaGiven) {
  const ViewRoutes routes = ViewRoutes::FromView(
      *ParseViewDefinition(EnrichedSupportConversationsDefinition()), "src",
      RootKeyForm::kUuid);
  EXPECT_NE(routes.Find("src", "linear_issues"), nullptr);
  EXPECT_EQ(routes.Find("public", "linear_issues"), nullptr);
  EXPECT_EQ(routes.SchemasText(), "src");
}

TEST(ViewRoutesTest, RollupRoutesUsersAsRootAndConversationsAsChild) {
  const ViewRoutes routes = RoutesOf(kRollup, RootKeyForm::kUuid);
  EXPECT_EQ(routes.lookup_count(), 1u);
  ASSERT_THAT(routes.tables(), SizeIs(3));
  const std::vector<TableRoute>* users = routes.Find("app", "users");
  ASSERT_NE(users, nullptr);
  EXPECT_THAT(*users, ElementsAre(TableRoute{TableRole::kRoot, 0, "id",
                                             /*column_is_key=*/true}));
  EXPECT_EQ(routes.Find("public", "users"), nullptr);
  const std::vector<TableRoute>* conversations =
      routes.Find("public", "raw_support_conversations");
  ASSERT_NE(conversations, nullptr);
  EXPECT_THAT(*conversations,
              ElementsAre(TableRoute{TableRole::kChild, 0, "user_uuid",
                                     /*column_is_key=*/false}));
  const std::vector<TableRoute>* teams = routes.Find("public", "teams");
  ASSERT_NE(teams, nullptr);
  EXPECT_THAT(*teams, ElementsAre(TableRoute{TableRole::kLookup, 0, "id",
                                             /*column_is_key=*/true}));
  EXPECT_EQ(routes.SchemasText(), "app, public");
}

TEST(ViewRoutesTest, ATableReadAsTwoLookupsHasBothRoutes) {
  const ViewRoutes routes = RoutesOf(kTwoLookupsOfOneTable, RootKeyForm::kText);
  EXPECT_EQ(routes.lookup_count(), 2u);
  ASSERT_THAT(routes.tables(), SizeIs(3));
  const std::vector<TableRoute>* users = routes.Find("public", "users");
  ASSERT_NE(users, nullptr);
  EXPECT_THAT(*users, ElementsAre(TableRoute{TableRole::kLookup, 0, "id",
                                             /*column_is_key=*/true},
                                  TableRoute{TableRole::kLookup, 1, "id",
                                             /*column_is_key=*/true}));
}

TEST(ViewRoutesTest, RootKeyFormIsTheKeyTypes) {
  EXPECT_EQ(RootKeyFormOf("uuid"), RootKeyForm::kUuid);
  EXPECT_EQ(RootKeyFormOf("pg_catalog.uuid"), RootKeyForm::kUuid);
  EXPECT_EQ(RootKeyFormOf("UUID"), RootKeyForm::kUuid);
  for (const char* integer :
       {"smallint", "integer", "bigint", "int", "int2", "int4", "int8",
        "pg_catalog.int8", "BIGINT", " integer "}) {
    EXPECT_EQ(RootKeyFormOf(integer), RootKeyForm::kInteger) << integer;
  }
  for (const char* text :
       {"text", "varchar", "varchar(16)", "character varying(16)",
        "character varying", "pg_catalog.text", "citext", "numeric", ""}) {
    EXPECT_EQ(RootKeyFormOf(text), RootKeyForm::kText) << text;
  }
}

TEST(ViewRoutesTest, FormAndChildEditsAreTheOnesGiven) {
  const ViewRoutes text = RoutesOf(kRollup, RootKeyForm::kText);
  EXPECT_EQ(text.root_key_form(), RootKeyForm::kText);
  EXPECT_FALSE(text.child_in_place());
  const ViewRoutes integer =
      RoutesOf(kRollup, RootKeyForm::kInteger, ChildEdits::kInPlace);
  EXPECT_EQ(integer.root_key_form(), RootKeyForm::kInteger);
  EXPECT_TRUE(integer.child_in_place());
  // The same tables either way.
  EXPECT_EQ(*text.Find("app", "users"), *integer.Find("app", "users"));
}

TEST(ViewRoutesTest, EmptyRoutesKnowNoTable) {
  const ViewRoutes routes;
  EXPECT_EQ(routes.lookup_count(), 0u);
  EXPECT_EQ(routes.Find("public", "users"), nullptr);
  EXPECT_FALSE(routes.ReadsSchema("public"));
  EXPECT_FALSE(routes.child_in_place());
}

// The planner on the rollup: each table's events planned by its role.
TEST(RoutedPlannerTest, RollupRootChangesNameTheirUser) {
  AffectedConversationsPlanner planner(RoutesOf(kRollup, RootKeyForm::kUuid));
  ASSERT_TRUE(
      planner
          .Add(InSchema(MakeEvent(enrich::v1::INSERT, "users",
                                  MakeRow({{"id", kUser1}}), std::nullopt),
                        "app"))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kUser1));
  // An UPDATE keeping the key: the joined columns only.
  ASSERT_TRUE(
      planner
          .Add(InSchema(MakeEvent(enrich::v1::UPDATE, "users",
                                  MakeRow({{"id", kUser2}}), std::nullopt),
                        "app"))
          .ok());
  EXPECT_THAT(planner.plan().column_updates, ElementsAre(kUser2));
  EXPECT_THAT(planner.plan().lookup_keys, ElementsAre(IsEmpty()));
}

TEST(RoutedPlannerTest, RollupChildChangesNameOldAndNewUser) {
  AffectedConversationsPlanner planner(RoutesOf(kRollup, RootKeyForm::kUuid));
  // A conversation moved from one user to another: both users' rows.
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "raw_support_conversations",
                         MakeRow({{"id", kConv1}, {"user_uuid", kUser2}}),
                         MakeRow({{"id", kConv1}, {"user_uuid", kUser1}})))
          .ok());
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kUser1, kUser2));
  // Here the conversations are the child: no column update for them, and
  // an UPDATE without the old row cannot tell the old user.
  absl::Status no_old_row = planner.Add(MakeEvent(
      enrich::v1::UPDATE, "raw_support_conversations",
      MakeRow({{"id", kConv1}, {"user_uuid", kUser1}}), std::nullopt));
  EXPECT_EQ(no_old_row.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_old_row.message(), HasSubstr("REPLICA IDENTITY FULL"));
  EXPECT_THAT(planner.plan().column_updates, IsEmpty());
  // Its user_uuid must be a root key (a uuid).
  EXPECT_EQ(planner
                .Add(MakeEvent(enrich::v1::INSERT, "raw_support_conversations",
                               MakeRow({{"id", kConv1}, {"user_uuid", "u-1"}}),
                               std::nullopt))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(planner.plan().full_rewrites, ElementsAre(kUser1, kUser2));
}

TEST(RoutedPlannerTest, RollupLookupChangesAreFanOutKeysOfTheirLookup) {
  AffectedConversationsPlanner planner(RoutesOf(kRollup, RootKeyForm::kUuid));
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::UPDATE, "teams", MakeRow({{"id", "t2"}}),
                         MakeRow({{"id", "t1"}})))
          .ok());
  EXPECT_THAT(planner.plan().lookup_keys, ElementsAre(ElementsAre("t1", "t2")));
  EXPECT_THAT(planner.plan().full_rewrites, IsEmpty());
  EXPECT_FALSE(planner.plan().empty());
}

TEST(RoutedPlannerTest, RollupTruncatesAreSetByRole) {
  AffectedConversationsPlanner planner(RoutesOf(kRollup, RootKeyForm::kUuid));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::TRUNCATE, "teams", std::nullopt,
                                 std::nullopt))
                  .ok());
  EXPECT_THAT(planner.plan().truncated.lookups, ElementsAre(0u));
  EXPECT_FALSE(planner.plan().truncated.root);
  EXPECT_FALSE(planner.plan().truncated.child);
  ASSERT_TRUE(
      planner
          .Add(MakeEvent(enrich::v1::TRUNCATE, "raw_support_conversations",
                         std::nullopt, std::nullopt))
          .ok());
  EXPECT_TRUE(planner.plan().truncated.child);
  EXPECT_FALSE(planner.plan().truncated.root);
  ASSERT_TRUE(planner
                  .Add(InSchema(MakeEvent(enrich::v1::TRUNCATE, "users",
                                          std::nullopt, std::nullopt),
                                "app"))
                  .ok());
  EXPECT_TRUE(planner.plan().truncated.root);
}

TEST(RoutedPlannerTest, RollupRejectsTablesItDoesNotRead) {
  AffectedConversationsPlanner planner(RoutesOf(kRollup, RootKeyForm::kUuid));
  // Today's lookup is not one of the rollup's tables.
  absl::Status other =
      planner.Add(MakeEvent(enrich::v1::INSERT, "subscribers_insights",
                            MakeRow({{"distinct_id", "u1"}}), std::nullopt));
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.message(), HasSubstr("unknown table subscribers_insights"));
  // users is app.users, not public.users.
  EXPECT_THAT(planner
                  .Add(MakeEvent(enrich::v1::INSERT, "users",
                                 MakeRow({{"id", kUser1}}), std::nullopt))
                  .message(),
              HasSubstr("unknown table users"));
  absl::Status schema =
      planner.Add(InSchema(MakeEvent(enrich::v1::INSERT, "users",
                                     MakeRow({{"id", kUser1}}), std::nullopt),
                           "staging"));
  EXPECT_THAT(schema.message(), HasSubstr("unexpected schema"));
  EXPECT_TRUE(planner.plan().empty());
}

TEST(RoutedPlannerTest, TwoLookupsOfOneTableGetTheKeysBoth) {
  AffectedConversationsPlanner planner(
      RoutesOf(kTwoLookupsOfOneTable, RootKeyForm::kText));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::DELETE, "users", std::nullopt,
                                 MakeRow({{"id", "p7"}})))
                  .ok());
  EXPECT_THAT(planner.plan().lookup_keys,
              ElementsAre(ElementsAre("p7"), ElementsAre("p7")));
  ASSERT_TRUE(planner
                  .Add(MakeEvent(enrich::v1::TRUNCATE, "users", std::nullopt,
                                 std::nullopt))
                  .ok());
  EXPECT_THAT(planner.plan().truncated.lookups, ElementsAre(0u, 1u));
  AffectedConversations plan = planner.Take();
  EXPECT_THAT(plan.truncated.lookups, ElementsAre(0u, 1u));
  // The next plan has a key set per lookup again, empty.
  EXPECT_THAT(planner.plan().lookup_keys, ElementsAre(IsEmpty(), IsEmpty()));
  EXPECT_TRUE(planner.plan().empty());
}

}  // namespace
}  // namespace enrich::processor
