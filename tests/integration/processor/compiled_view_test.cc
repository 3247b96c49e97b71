// Statements compiled from a view definition (processor/core/
// compiled_view.h) against PostgreSQL: for today's view and for a per-user
// rollup of another shape, each over tables of a scratch schema of its own,
// the per-id and the set-based recompute of every root id (and of ids
// without a root) equal the view's own SQL, EXCEPT ALL both ways; each key
// array addresses its array's elements; the fan-out reaches exactly the
// roots that join the keys given.
#include "processor/core/compiled_view.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_parser.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;

// A per-user rollup: an INNER lookup (teams; users of a missing team are
// not in the view) and a LEFT one (regions, keyed by text), every aggregate
// kind with and without FILTER, count(*) and an unfiltered array_agg (both
// see the NULL-extended row of a user without tickets), and an array whose
// order leaves ties open.
constexpr char kRollup[] = R"sql(
CREATE VIEW user_rollups AS
SELECT u.id, u.name, t.name AS team_name, r.label AS region_label,
  count(*) AS joined_rows,
  count(*) FILTER (WHERE k.title IS NULL) AS untitled_rows,
  count(k.id) FILTER (WHERE k.status = 'open') AS open_tickets,
  sum(k.priority) FILTER (WHERE k.priority > 1) AS priority_sum,
  min(k.opened_at) AS first_opened_at, max(k.opened_at) AS last_opened_at,
  bool_or(k.urgent) AS any_urgent,
  bool_and(k.urgent) FILTER (WHERE k.urgent IS NOT NULL) AS all_urgent,
  array_agg(k.title ORDER BY k.opened_at DESC)
    FILTER (WHERE k.title IS NOT NULL) AS latest_titles,
  array_agg(k.status ORDER BY k.priority NULLS FIRST, k.id) AS states
FROM users u
JOIN teams t ON u.team_id = t.id
LEFT JOIN regions r ON u.region_code = r.code
LEFT JOIN tickets k ON u.id = k.user_id
GROUP BY u.id, t.id, r.code)sql";

// Users 1..60: team i % 4 (team 0 does not exist), region NULL, 'eu' or a
// dangling 'xx'; NULL names. Tickets for four users in five, ties on
// opened_at, NULL titles, priorities and urgency, orphans of user 999.
constexpr char kRollupData[] = R"sql(
CREATE TABLE teams (id bigint PRIMARY KEY, name text);
CREATE TABLE regions (code text PRIMARY KEY, label text);
CREATE TABLE users (id bigint PRIMARY KEY, name text, team_id bigint,
                    region_code text);
CREATE TABLE tickets (id bigint PRIMARY KEY, user_id bigint, status text,
                      priority integer, opened_at timestamptz,
                      urgent boolean, title text);
CREATE INDEX ON users (team_id);
CREATE INDEX ON users (region_code);
CREATE INDEX ON tickets (user_id);
INSERT INTO teams VALUES (1, 'one'), (2, NULL), (3, 'three');
INSERT INTO regions VALUES ('eu', 'Europe'), ('us', NULL);
INSERT INTO users SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'user ' || i END,
  i % 4, (ARRAY[NULL, 'eu', 'xx'])[i % 3 + 1] FROM generate_series(1, 60) i;
INSERT INTO tickets SELECT 100 * u + j, u,
  (ARRAY['open', 'closed', NULL])[j % 3 + 1],
  CASE WHEN j % 4 = 0 THEN NULL ELSE j % 3 END,
  timestamptz '2024-01-01' + (j % 2) * interval '1 day',
  CASE WHEN j % 5 = 0 THEN NULL ELSE j % 2 = 0 END,
  CASE WHEN j % 3 = 0 THEN NULL ELSE 'ticket ' || j END
  FROM generate_series(1, 60) u, generate_series(1, 6) j
  WHERE u % 5 <> 0 AND j <= u % 7;
INSERT INTO tickets VALUES (99901, 999, 'open', 1, now(), true, 'orphan');
)sql";

class CompiledViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
    schema_ = absl::StrCat(
        "compiled_view_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(conn_
                    ->Exec(absl::StrCat("DROP SCHEMA IF EXISTS ", schema_,
                                        " CASCADE; CREATE SCHEMA ", schema_,
                                        "; SET search_path TO ", schema_))
                    .ok());
  }

  void TearDown() override {
    if (conn_ != nullptr) {
      EXPECT_TRUE(
          conn_->Exec(absl::StrCat("DROP SCHEMA ", schema_, " CASCADE")).ok());
    }
  }

  int64_t Count(const std::string& sql) {
    absl::StatusOr<std::string> value = conn_->QueryValue(sql);
    EXPECT_TRUE(value.ok()) << value.status() << "\n" << sql;
    return value.ok() ? std::stoll(*value) : -1;
  }

  // Rows of `compiled` (a query) and of the relation `expected` that the
  // other lacks, over the view's output columns.
  int64_t Difference(const CompiledView& view, const std::string& compiled,
                     const std::string& expected, const std::string& dangling) {
    const std::string columns = absl::StrJoin(view.OutputColumns(), ", ");
    return Count(absl::StrCat(
        "WITH ids AS (SELECT ", view.definition().root.key_column,
        " AS id FROM ", view.definition().root.table.name, " UNION ALL SELECT ",
        dangling, "), compiled AS (", compiled,
        ") SELECT (SELECT count(*) FROM (SELECT ", columns,
        " FROM compiled EXCEPT ALL SELECT ", columns, " FROM ", expected,
        ") a) + (SELECT count(*) FROM (SELECT ", columns, " FROM ", expected,
        " EXCEPT ALL SELECT ", columns, " FROM compiled) b)"));
  }

  // Rows of `compiled` whose array columns differ from the child values
  // their key arrays name, in the key arrays' order (both views' children
  // are keyed by `id`).
  int64_t MisalignedKeyArrays(const CompiledView& view,
                              const std::string& compiled) {
    const ViewDefinition& definition = view.definition();
    const std::vector<std::string> rewritten = view.RewrittenColumns();
    size_t keys = view.OutputColumns().size();
    std::vector<std::string> checks;
    for (const ViewOutputColumn& column : definition.columns) {
      const auto* aggregate = std::get_if<ViewAggregate>(&column.value);
      if (aggregate == nullptr || aggregate->kind != AggregateKind::kArrayAgg) {
        continue;
      }
      checks.push_back(absl::StrCat(
          column.name, " IS DISTINCT FROM (SELECT array_agg(ch.",
          aggregate->argument->column, " ORDER BY x.o) FROM unnest(",
          rewritten[keys++], ") WITH ORDINALITY AS x(k, o) LEFT JOIN ",
          definition.child->table.name, " ch ON ch.id = x.k)"));
    }
    return Count(absl::StrCat("WITH c AS (", compiled,
                              ") SELECT count(*) FROM c WHERE ",
                              absl::StrJoin(checks, " OR ")));
  }

  // Both recomputes of every root id and of `dangling` (an id without a
  // root) against the relation `expected`.
  void ExpectRecomputesEqual(const CompiledView& view,
                             const std::string& expected,
                             const std::string& dangling) {
    const ViewDefinition& definition = view.definition();
    const std::int64_t rows =
        Count(absl::StrCat("SELECT count(*) FROM ", expected));
    ASSERT_GT(rows, 20);
    const std::string all_ids =
        absl::StrCat("(ARRAY(SELECT ", definition.root.key_column, " FROM ",
                     definition.root.table.name, ") || ARRAY[", dangling, "])");
    const std::string set_based =
        absl::StrReplaceAll(view.RecomputeSetSelect(1), {{"$1", all_ids}});
    const std::string per_id = view.RecomputePerIdSelect();
    EXPECT_EQ(Difference(view, per_id, expected, dangling), 0) << per_id;
    EXPECT_EQ(Difference(view, set_based, expected, dangling), 0) << set_based;
    EXPECT_EQ(
        Count(absl::StrCat("WITH ids AS (SELECT ", definition.root.key_column,
                           " AS id FROM ", definition.root.table.name,
                           "), c AS (", per_id, ") SELECT count(*) FROM c")),
        rows);
    EXPECT_EQ(MisalignedKeyArrays(view, set_based), 0);
  }

  std::unique_ptr<PgTestConnection> conn_;
  std::string schema_;
};

TEST_F(CompiledViewTest, TodaysViewEqualsItsOwnSqlOnARandomWorkload) {
  for (const char* table :
       {"subscribers_insights", "linear_issues", "raw_support_conversations",
        "support_conversation_messages"}) {
    ASSERT_TRUE(
        conn_
            ->Exec(absl::StrCat("CREATE TABLE ", table, " (LIKE public.", table,
                                " INCLUDING ALL)"))
            .ok());
  }
  std::mt19937_64 rng(1616);
  absl::Status workload = testing::RunRandomWorkload(*conn_, rng, 400);
  ASSERT_TRUE(workload.ok()) << workload;
  // Conversations without messages and with dangling lookups are there.
  EXPECT_GT(Count("SELECT count(*) FROM raw_support_conversations c WHERE NOT "
                  "EXISTS (SELECT 1 FROM support_conversation_messages m "
                  "WHERE m.conversation_id = c.id)"),
            0);
  EXPECT_GT(Count("SELECT count(*) FROM raw_support_conversations c WHERE "
                  "user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                  "subscribers_insights u WHERE u.distinct_id = c.user_id)"),
            0);
  const std::string definition(EnrichedSupportConversationsDefinition());
  ASSERT_TRUE(conn_->Exec(definition).ok());
  ExpectRecomputesEqual(EnrichedSupportConversationsView(),
                        "enriched_support_conversations",
                        "'00000000-0000-0000-0000-000000000000'::uuid");
}

TEST_F(CompiledViewTest, RollupEqualsItsOwnSqlWithTiesBrokenByTheKey) {
  ASSERT_TRUE(conn_->Exec(kRollupData).ok());
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(kRollup);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<CompiledView> view =
      CompiledView::Compile(*parsed, {"bigint", "id", {"bigint", "text"}});
  ASSERT_TRUE(view.ok()) << view.status();
  // The view's own SQL leaves ties on opened_at open; the compiled
  // statements break them by ticket id, as the header says. The expected
  // rows are the view's with that key appended, nothing else changed.
  const std::string tie_broken = absl::StrReplaceAll(
      kRollup,
      {{"ORDER BY k.opened_at DESC)", "ORDER BY k.opened_at DESC, k.id)"}});
  ASSERT_NE(tie_broken, kRollup);
  ASSERT_TRUE(conn_->Exec(tie_broken).ok());
  EXPECT_GT(Count("SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 "
                  "FROM tickets k WHERE k.user_id = u.id) AND team_id <> 0"),
            0);
  ExpectRecomputesEqual(*view, "user_rollups", "-1::bigint");
}

TEST_F(CompiledViewTest, FanOutReachesTheRootsOfEachLookupKey) {
  ASSERT_TRUE(conn_->Exec(kRollupData).ok());
  absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(kRollup);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<CompiledView> view =
      CompiledView::Compile(*parsed, {"bigint", "id", {"bigint", "text"}});
  ASSERT_TRUE(view.ok()) << view.status();
  const std::string fan_out =
      absl::StrReplaceAll(view->ResolveFanOutSql(),
                          {{"$1", "'{1,0,42}'"}, {"$2", "'{xx,nowhere}'"}});
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM ((", fan_out,
                               ") EXCEPT ALL SELECT id::text FROM users WHERE "
                               "team_id IN (1, 0, 42) OR region_code IN "
                               "('xx', 'nowhere')) d")),
            0);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM (", fan_out, ") f")),
            Count("SELECT count(*) FROM users WHERE team_id IN (1, 0, 42) OR "
                  "region_code IN ('xx', 'nowhere')"));
}

}  // namespace
}  // namespace enrich::processor
