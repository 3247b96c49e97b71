#include "processor/adapters/view_parser.h"

#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string ContractDir() {
  const char* dir = std::getenv("ENRICH_CONTRACT_DIR");
  if (dir != nullptr) return dir;
  return absl::StrCat(ENRICH_SOURCE_DIR, "/../shared/contract");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ViewColumnRef Col(const std::string& alias, const std::string& column) {
  return ViewColumnRef{alias, column};
}

TEST(ViewParserTest, ReferenceViewParsesIntoRootLookupsChildAndAggregates) {
  const std::string path = ContractDir() + "/enriched_reference.sql";
  const std::string sql = ReadFile(path);
  ASSERT_FALSE(sql.empty())
      << "no contract at " << path << " (set ENRICH_CONTRACT_DIR)";

  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(sql);
  ASSERT_TRUE(view.ok()) << view.status();

  EXPECT_EQ(view->name, "enriched_support_conversations_reference");
  EXPECT_FALSE(view->materialized);
  EXPECT_EQ(view->root.table, (ViewTable{"raw_support_conversations", "c"}));
  EXPECT_EQ(view->root.key_column, "id");

  ASSERT_EQ(view->lookups.size(), 2u);
  EXPECT_EQ(view->lookups[0].table, (ViewTable{"subscribers_insights", "u"}));
  EXPECT_EQ(view->lookups[0].kind, LookupJoinKind::kLeft);
  EXPECT_EQ(view->lookups[0].root_column, "user_id");
  EXPECT_EQ(view->lookups[0].key_column, "distinct_id");
  EXPECT_EQ(view->lookups[1].table, (ViewTable{"linear_issues", "li"}));
  EXPECT_EQ(view->lookups[1].root_column, "linear_issue_id");
  EXPECT_EQ(view->lookups[1].key_column, "id");

  ASSERT_TRUE(view->child.has_value());
  EXPECT_EQ(view->child->table,
            (ViewTable{"support_conversation_messages", "m"}));
  EXPECT_EQ(view->child->foreign_key_column, "conversation_id");

  // 20 conversation columns, 6 subscriber columns, 3 aggregates, 4 Linear.
  ASSERT_EQ(view->columns.size(), 33u);
  const ViewOutputColumn& first = view->columns[0];
  EXPECT_EQ(first.name, "id");
  EXPECT_EQ(std::get<ProjectedColumn>(first.value).source, Col("c", "id"));
  const ViewOutputColumn& income = view->columns[20];
  EXPECT_EQ(income.name, "income");
  EXPECT_EQ(std::get<ProjectedColumn>(income.value).source, Col("u", "income"));

  const ViewOutputColumn& count = view->columns[26];
  EXPECT_EQ(count.name, "message_count");
  EXPECT_EQ(count.cast_type, "pg_catalog.int4");
  const auto& count_aggregate = std::get<ViewAggregate>(count.value);
  EXPECT_EQ(count_aggregate.kind, AggregateKind::kCount);
  EXPECT_EQ(count_aggregate.argument, Col("m", "id"));
  EXPECT_FALSE(count_aggregate.filter.has_value());

  const ViewOutputColumn& last = view->columns[27];
  EXPECT_EQ(last.name, "last_message_at");
  EXPECT_EQ(last.cast_type, "");
  EXPECT_EQ(std::get<ViewAggregate>(last.value).kind, AggregateKind::kMax);
  EXPECT_EQ(std::get<ViewAggregate>(last.value).argument,
            Col("m", "created_at"));

  const ViewOutputColumn& messages = view->columns[28];
  EXPECT_EQ(messages.name, "all_messages");
  const auto& array = std::get<ViewAggregate>(messages.value);
  EXPECT_EQ(array.kind, AggregateKind::kArrayAgg);
  EXPECT_EQ(array.argument, Col("m", "body"));
  ASSERT_EQ(array.order_by.size(), 2u);
  EXPECT_EQ(array.order_by[0].column, Col("m", "created_at"));
  EXPECT_FALSE(array.order_by[0].descending);
  EXPECT_FALSE(array.order_by[0].nulls_first.has_value());
  EXPECT_EQ(array.order_by[1].column, Col("m", "id"));
  ASSERT_TRUE(array.filter.has_value());
  EXPECT_EQ(array.filter->column, Col("m", "body"));
  EXPECT_EQ(array.filter->op, AggregateFilter::Op::kIsNotNull);

  const ViewOutputColumn& title = view->columns[30];
  EXPECT_EQ(title.name, "linear_title");
  EXPECT_EQ(std::get<ProjectedColumn>(title.value).source, Col("li", "title"));

  EXPECT_THAT(DescribeViewDefinition(*view),
              AllOf(HasSubstr("root: raw_support_conversations c key id\n"),
                    HasSubstr("lookup: LEFT JOIN subscribers_insights u ON "
                              "c.user_id = u.distinct_id\n"),
                    HasSubstr("child: LEFT JOIN support_conversation_messages "
                              "m ON c.id = m.conversation_id\n"),
                    HasSubstr("column all_messages: array_agg(m.body ORDER BY "
                              "m.created_at, m.id) FILTER (WHERE m.body IS "
                              "NOT NULL)\n")));
}

// A small valid view the refusal tests below vary one construct of.
constexpr char kBase[] =
    "CREATE VIEW v AS SELECT c.id, u.name, count(m.id) AS n "
    "FROM conversations c "
    "JOIN users u ON c.user_id = u.id "
    "LEFT JOIN messages m ON c.id = m.conversation_id "
    "GROUP BY c.id, u.id";

TEST(ViewParserTest, MaterializedViewAndOtherSupportedFormsParse) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(
      "CREATE MATERIALIZED VIEW s.v (key, total, firsts, any_open) AS "
      "SELECT c.id, sum(m.size), "
      "array_agg(m.id ORDER BY m.at DESC NULLS LAST) FILTER (WHERE m.kind = "
      "'reply'), bool_or(m.open) "
      "FROM public.conversations AS c "
      "LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_TRUE(view->materialized);
  EXPECT_EQ(view->name, "s.v");
  EXPECT_EQ(view->root.table, (ViewTable{"public.conversations", "c"}));
  EXPECT_TRUE(view->lookups.empty());
  ASSERT_TRUE(view->child.has_value());
  EXPECT_EQ(view->child->foreign_key_column, "conversation_id");
  ASSERT_EQ(view->columns.size(), 4u);
  EXPECT_EQ(view->columns[0].name, "key");
  EXPECT_EQ(view->columns[1].name, "total");
  const auto& firsts = std::get<ViewAggregate>(view->columns[2].value);
  ASSERT_EQ(firsts.order_by.size(), 1u);
  EXPECT_TRUE(firsts.order_by[0].descending);
  EXPECT_EQ(firsts.order_by[0].nulls_first, false);
  ASSERT_TRUE(firsts.filter.has_value());
  EXPECT_EQ(firsts.filter->op, AggregateFilter::Op::kEqual);
  EXPECT_EQ(firsts.filter->constant, "'reply'");
  EXPECT_EQ(std::get<ViewAggregate>(view->columns[3].value).kind,
            AggregateKind::kBoolOr);

  absl::StatusOr<ViewDefinition> base = ParseViewDefinition(kBase);
  ASSERT_TRUE(base.ok()) << base.status();
  ASSERT_EQ(base->lookups.size(), 1u);
  EXPECT_EQ(base->lookups[0].kind, LookupJoinKind::kInner);
}

// Found by view_differential_test: the constant was the display fragment,
// with its line break turned into a space and cut after 160 characters.
TEST(ViewParserTest, FilterConstantsAreKeptVerbatim) {
  const std::string long_text(300, 'x');
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(absl::StrCat(
      "CREATE VIEW v AS SELECT c.id, "
      "count(*) FILTER (WHERE m.body < 'two\nlines'::text) AS a, "
      "count(*) FILTER (WHERE m.body = '",
      long_text,
      "') AS b, count(*) FILTER (WHERE m.body <> 'it''s, (a) from') AS c "
      "FROM conversations c LEFT JOIN messages m ON c.id = m.conversation_id "
      "GROUP BY c.id"));
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->columns.size(), 4u);
  auto constant = [&](int i) {
    return std::get<ViewAggregate>(view->columns[i].value).filter->constant;
  };
  EXPECT_EQ(constant(1), "'two\nlines'::text");
  EXPECT_EQ(constant(2), absl::StrCat("'", long_text, "'"));
  EXPECT_EQ(constant(3), "'it''s, (a) from'");
}

// Found by view_differential_test: pg_get_viewdef prints varchar columns
// cast to text in joins, in min/max arguments and in FILTER comparisons;
// such a view read from the catalog was refused. The casts on aggregate
// arguments and FILTER columns are kept; those in joins read as plain
// equality.
TEST(ViewParserTest, VarcharViewsAsTheCatalogPrintsThemParse) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(
      "CREATE MATERIALIZED VIEW s.w AS SELECT r.id, l.x, "
      "min((c.v)::text) AS mn, "
      "count(c.v) FILTER (WHERE ((c.v)::text = 'x'::text)) AS cnt "
      "FROM ((s.r LEFT JOIN s.l ON (((r.lref)::text = (l.id)::text))) "
      "LEFT JOIN s.c ON (((r.id)::text = c.parent))) GROUP BY r.id, l.id");
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->lookups.size(), 1u);
  EXPECT_EQ(view->lookups[0].root_column, "lref");
  EXPECT_EQ(view->lookups[0].key_column, "id");
  ASSERT_TRUE(view->child.has_value());
  EXPECT_EQ(view->child->foreign_key_column, "parent");
  const auto& min = std::get<ViewAggregate>(view->columns[2].value);
  EXPECT_EQ(min.argument_cast, "text");
  const auto& count = std::get<ViewAggregate>(view->columns[3].value);
  ASSERT_TRUE(count.filter.has_value());
  EXPECT_EQ(count.filter->column_cast, "text");
  EXPECT_EQ(count.filter->constant, "'x'::text");
  EXPECT_THAT(DescribeViewDefinition(*view),
              ::testing::HasSubstr("min(c.v::text)"));
}

// BY is an unreserved keyword, so PostgreSQL reads the second BY as a
// column and stumbles on the `c` after it.
TEST(ViewParserTest, SyntaxErrorNamesPostgresMessageAndPosition) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(
      "CREATE VIEW v AS SELECT c.id FROM c GROUP BY BY c.id");
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(view.status().message()),
            "syntax error: syntax error at or near \"c\" at `c.id` "
            "(offset 48)");
}

// PostgreSQL counts the error position in characters; the offset reported
// is in bytes, so the fragment is cut at the right place after a multibyte
// character.
TEST(ViewParserTest, SyntaxErrorPositionCountsMultibyteCharacters) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(
      "CREATE VIEW v AS SELECT c.id AS \"caf\xC3\xA9\" FROM FROM c");
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(std::string(view.status().message()),
            "syntax error: syntax error at or near \"FROM\" at `FROM c` "
            "(offset 45)");
}

// The whole message once, to pin its shape: reason, fragment, byte offset,
// nearest supported form.
TEST(ViewParserTest, RefusalMessageShape) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(
      "CREATE VIEW v AS SELECT c.id, rank() OVER w AS r FROM c "
      "GROUP BY c.id");
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(std::string(view.status().message()),
            "a window function: `rank() OVER w` (offset 30); supported: a "
            "plain column alias.column of the root or a lookup, or one of "
            "count(*), count, sum, min, max, bool_or, bool_and, "
            "array_agg(col ORDER BY ...) over a child column, optionally "
            "with FILTER (WHERE simple predicate) and a cast");
}

struct Refusal {
  const char* name;
  std::string sql;
  const char* reason;
  const char* fragment;

  friend void PrintTo(const Refusal& refusal, std::ostream* out) {
    *out << refusal.name << ": " << refusal.sql;
  }
};

class ViewRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(ViewRefusalTest, RefusedWithReasonFragmentAndSupportedForm) {
  absl::StatusOr<ViewDefinition> view = ParseViewDefinition(GetParam().sql);
  ASSERT_FALSE(view.ok()) << DescribeViewDefinition(*view);
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(view.status().message()),
              AllOf(HasSubstr(GetParam().reason),
                    HasSubstr(absl::StrCat("`", GetParam().fragment, "`")),
                    HasSubstr("supported: ")));
}

std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  size_t at = text.find(from);
  if (at == std::string::npos) return "(test bug: " + from + " not in base)";
  return text.replace(at, from.size(), to);
}

INSTANTIATE_TEST_SUITE_P(
    Constructs, ViewRefusalTest,
    ::testing::Values(
        Refusal{"WindowFunction",
                Replace(kBase, "count(m.id) AS n",
                        "row_number() OVER (ORDER BY c.id) AS n"),
                "a window function", "row_number() OVER (ORDER BY c.id)"},
        Refusal{"NonEqualityJoin",
                Replace(kBase, "c.id = m.conversation_id",
                        "c.id < m.conversation_id"),
                "a join condition other than one column equality",
                "c.id < m.conversation_id"},
        Refusal{"TwoConditionJoin",
                Replace(kBase, "c.id = m.conversation_id",
                        "c.id = m.conversation_id AND m.kind = 1"),
                "a join condition other than one column equality",
                "c.id = m.conversation_id AND m.kind = 1"},
        Refusal{"SecondChildIsManyToMany",
                Replace(kBase, "GROUP BY",
                        "LEFT JOIN tags t ON c.id = t.conversation_id GROUP "
                        "BY"),
                "a second child table", "c.id = t.conversation_id"},
        Refusal{"NestedAggregate",
                Replace(kBase, "count(m.id)", "max(count(m.id))"),
                "a nested aggregate", "count(m.id)"},
        Refusal{"VolatileRandom", Replace(kBase, "u.name", "random() AS r"),
                "a volatile function random()", "random()"},
        Refusal{"VolatileNow", Replace(kBase, "u.name", "now() AS t"),
                "a volatile function now()", "now()"},
        Refusal{"VolatileCurrentTimestamp",
                Replace(kBase, "u.name", "CURRENT_TIMESTAMP AS t"),
                "a volatile value", "CURRENT_TIMESTAMP"},
        Refusal{"SubqueryInFrom",
                Replace(kBase, "LEFT JOIN messages m",
                        "LEFT JOIN (SELECT x.conversation_id, count(*) FROM "
                        "messages x GROUP BY 1) m"),
                "a subquery in FROM",
                "(SELECT x.conversation_id, count(*) FROM messages x GROUP BY "
                "1) m"},
        Refusal{"LateralSubquery",
                Replace(kBase, "LEFT JOIN messages m",
                        "LEFT JOIN LATERAL (SELECT x.id FROM messages x) m"),
                "a LATERAL subquery", "(SELECT x.id FROM messages x) m"},
        Refusal{"ChildColumnOutsideAggregate",
                Replace(kBase, "u.name", "m.body"),
                "a child column outside an aggregate", "m.body"},
        Refusal{"UnqualifiedColumn", Replace(kBase, "u.name", "name"),
                "an unqualified column", "name"},
        Refusal{"Star", Replace(kBase, "u.name", "c.*"), "a * column list",
                "c.*"},
        Refusal{"FullJoin", Replace(kBase, "JOIN users", "FULL JOIN users"),
                "a RIGHT or FULL join", "users u"},
        Refusal{"InnerJoinToChild",
                Replace(kBase, "LEFT JOIN messages", "JOIN messages"),
                "an inner join to a child table", "c.id = m.conversation_id"},
        Refusal{"Where", Replace(kBase, "GROUP BY", "WHERE c.id > 3 GROUP BY"),
                "a WHERE clause", "c.id > 3"},
        Refusal{"DistinctAggregate",
                Replace(kBase, "count(m.id)", "count(DISTINCT m.id)"),
                "DISTINCT, WITHIN GROUP or VARIADIC", "count(DISTINCT m.id)"},
        Refusal{"AggregateOverLookupColumn",
                Replace(kBase, "count(m.id)", "sum(u.score)"),
                "is not a column of the child table", "u.score"},
        Refusal{"UnsupportedAggregate",
                Replace(kBase, "count(m.id)", "avg(m.size)"),
                "function avg() is not supported", "avg(m.size)"},
        Refusal{"ComplexFilter",
                Replace(kBase, "count(m.id)",
                        "count(m.id) FILTER (WHERE m.a = 1 OR m.b = 2)"),
                "not a simple predicate", "m.a = 1 OR m.b = 2"},
        Refusal{"GroupByChildColumn",
                Replace(kBase, "GROUP BY c.id", "GROUP BY c.id, m.id"),
                "GROUP BY a column that is not a root or lookup key", "m.id"},
        Refusal{
            "JoinNotOnRoot",
            Replace(kBase, "c.id = m.conversation_id", "u.id = m.author_id"),
            "does not relate \"m\" to the root", "u.id = m.author_id"},
        Refusal{"NoGroupBy", Replace(kBase, " GROUP BY c.id, u.id", ""),
                "no GROUP BY", "c.id"},
        Refusal{"Union", absl::StrCat(kBase, " UNION SELECT 1, 2, 3"),
                "UNION / INTERSECT / EXCEPT", "1"},
        Refusal{"NotAView", "SELECT 1", "not a view definition", "SELECT 1"},
        Refusal{"TwoStatements", absl::StrCat(kBase, "; SELECT 2"),
                "expected exactly one statement", "SELECT 2"},
        Refusal{
            "With",
            absl::StrCat("CREATE VIEW v AS WITH x AS (SELECT 1) ", kBase + 17),
            "a WITH clause", "WITH x"},
        Refusal{"DuplicateColumnName",
                Replace(kBase, "count(m.id) AS n", "c.name"),
                "duplicate column name \"name\"", "c.name"},
        Refusal{"MoreViewColumnNamesThanColumns",
                Replace(kBase, "VIEW v", "VIEW v (a, b, c, d)"),
                "more view column names than columns", "v (a, b, c, d)"},
        Refusal{"AggregateWithoutChild",
                "CREATE VIEW v AS SELECT c.id, count(*) FROM c GROUP BY c.id",
                "an aggregate without a child table", "count(*)"}),
    [](const ::testing::TestParamInfo<Refusal>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace enrich::processor
