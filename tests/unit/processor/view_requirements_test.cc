#include "processor/core/view_requirements.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using Kind = CatalogRequirement::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A requirement as compared (operator== ignores the reason).
CatalogRequirement Req(Kind kind, std::string table, std::string column) {
  return CatalogRequirement{kind, std::move(table), std::move(column), ""};
}

// The contract's view, as the parser classifies it (view_parser_test).
ViewDefinition ReferenceShape() {
  ViewDefinition view;
  view.root = {{"raw_support_conversations", "c"}, "id"};
  view.lookups = {{{"subscribers_insights", "u"},
                   LookupJoinKind::kLeft,
                   "user_id",
                   "distinct_id"},
                  {{"linear_issues", "li"},
                   LookupJoinKind::kLeft,
                   "linear_issue_id",
                   "id"}};
  view.child =
      ChildJoin{{"support_conversation_messages", "m"}, "conversation_id"};
  return view;
}

TEST(ViewRequirementsTest, KeysOfRootAndLookupsAndIndexesOfTheirJoins) {
  EXPECT_THAT(
      CatalogRequirements(ReferenceShape()),
      ElementsAre(
          Req(Kind::kUniqueKey, "raw_support_conversations", "id"),
          Req(Kind::kUniqueKey, "subscribers_insights", "distinct_id"),
          Req(Kind::kIndexed, "raw_support_conversations", "user_id"),
          Req(Kind::kUniqueKey, "linear_issues", "id"),
          Req(Kind::kIndexed, "raw_support_conversations", "linear_issue_id"),
          Req(Kind::kIndexed, "support_conversation_messages",
              "conversation_id")));
}

TEST(ViewRequirementsTest, ReasonsNameTheAliasAndColumn) {
  const std::vector<CatalogRequirement> requirements =
      CatalogRequirements(ReferenceShape());
  EXPECT_THAT(requirements[0].why, HasSubstr("the root's key (c.id)"));
  EXPECT_THAT(requirements[2].why,
              HasSubstr("a change to subscribers_insights reaches its view "
                        "rows through c.user_id"));
  EXPECT_THAT(requirements[5].why, HasSubstr("m.conversation_id"));
}

// Two lookups joined on the same root column need its index once; a view
// without lookups or child needs only the root's key.
TEST(ViewRequirementsTest, EachRequirementIsListedOnce) {
  ViewDefinition view;
  view.root = {{"orders", "o"}, "id"};
  view.lookups = {
      {{"customers", "a"}, LookupJoinKind::kInner, "customer_id", "id"},
      {{"customer_flags", "f"}, LookupJoinKind::kLeft, "customer_id", "id"}};
  EXPECT_THAT(CatalogRequirements(view),
              ElementsAre(Req(Kind::kUniqueKey, "orders", "id"),
                          Req(Kind::kUniqueKey, "customers", "id"),
                          Req(Kind::kIndexed, "orders", "customer_id"),
                          Req(Kind::kUniqueKey, "customer_flags", "id")));
  view.lookups.clear();
  EXPECT_EQ(CatalogRequirements(view).size(), 1u);
}

}  // namespace
}  // namespace enrich::processor
