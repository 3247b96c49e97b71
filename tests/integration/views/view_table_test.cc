// A declared view's table created from its definition, registered and
// dropped (processor/adapters/view_tables.h, processor/core/view_table.h),
// against a real PostgreSQL. Source tables are copies of the contract's in
// a scratch schema first on the search_path, so the views' unqualified
// names resolve there and their tables are created there:
//   * today's view gives exactly the table migrations 002 and 005 give
//     (columns, types, NOT NULL, defaults, primary key, grants);
//   * the per-user rollup of sql/views/support_user_rollup.sql, and one
//     whose count(*) and unfiltered array_agg see the NULL-extended row,
//     give tables whose columns are their materialized view's (names and
//     types), then the key array and the bookkeeping; the set-based
//     recompute of every key fills them with the materialized view's rows;
//   * creating twice is harmless; another definition or group under a
//     registered name, a group of another view, and a relation of the name
//     that is not a registered view's table are refused, changing nothing;
//   * a drop removes the table, the registry row and its group's offsets
//     and snapshots, nothing of another group; unknown names are NotFound
//     and never drop an unregistered table.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/adapters/view_catalog.h"
#include "processor/adapters/view_parser.h"
#include "processor/adapters/view_tables.h"
#include "processor/core/compiled_view.h"
#include "tests/integration/processor/source_workload.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::PgTestConnection;
using ::enrich::testing::Services;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSchema[] = "view_table_test";

constexpr char kScratchTables[] =
    "DROP SCHEMA IF EXISTS view_table_test CASCADE;"
    "CREATE SCHEMA view_table_test;"
    "CREATE TABLE view_table_test.subscribers_insights"
    "  (LIKE public.subscribers_insights INCLUDING ALL);"
    "CREATE TABLE view_table_test.linear_issues"
    "  (LIKE public.linear_issues INCLUDING ALL);"
    "CREATE TABLE view_table_test.raw_support_conversations"
    "  (LIKE public.raw_support_conversations INCLUDING ALL);"
    "CREATE TABLE view_table_test.support_conversation_messages"
    "  (LIKE public.support_conversation_messages INCLUDING ALL);";

// Subscribers with several conversations (open and not, an untitled one),
// one without, one whose id needs quoting; conversations without a
// subscriber, or naming one that does not exist. No two conversations of a
// subscriber share created_at: the materialized view leaves such ties in
// any order, the table breaks them by id.
constexpr char kRollupData[] = R"sql(
INSERT INTO subscribers_insights (distinct_id, income) VALUES
  ('u1', 'high'), ('u2', NULL), ('u3', 'low'), ('it''s', NULL);
INSERT INTO raw_support_conversations
  (id, source, external_id, title, status, created_at, updated_at, user_id)
VALUES
  ('00000000-0000-0000-0000-000000000001', 'zendesk', 'z1', 'Login fails',
   'open', '2026-01-01 10:00+00', '2026-01-03 09:00+00', 'u1'),
  ('00000000-0000-0000-0000-000000000002', 'zendesk', 'z2', NULL,
   'closed', '2026-01-02 10:00+00', '2026-01-02 11:00+00', 'u1'),
  ('00000000-0000-0000-0000-000000000003', 'intercom', 'i3', 'Refund',
   'open', '2026-01-05 10:00+00', '2026-01-06 08:00+00', 'u1'),
  ('00000000-0000-0000-0000-000000000004', 'intercom', 'i4', 'Card',
   'pending', '2026-01-04 10:00+00', '2026-01-04 10:30+00', 'u3'),
  ('00000000-0000-0000-0000-000000000005', 'intercom', 'i5', 'Quote''s',
   'open', '2026-01-04 12:00+00', '2026-01-04 12:30+00', 'it''s'),
  ('00000000-0000-0000-0000-000000000006', 'zendesk', 'z6', 'Nobody',
   'open', '2026-01-04 12:00+00', '2026-01-04 12:30+00', NULL),
  ('00000000-0000-0000-0000-000000000007', 'zendesk', 'z7', 'Ghost',
   'open', '2026-01-04 12:00+00', '2026-01-04 12:30+00', 'ghost');
)sql";

// The rollup as first sketched (issue 16): count(*) and an unfiltered
// array_agg, which count and collect the NULL-extended row of a subscriber
// without conversations (1 and {NULL}), the compiler's other aggregate
// path.
constexpr char kNullRowRollup[] =
    "CREATE MATERIALIZED VIEW support_user_rows AS "
    "SELECT u.distinct_id, count(*) AS joined_rows, "
    "count(c.id) FILTER (WHERE c.status = 'open') AS open_conversations, "
    "max(c.updated_at) AS last_activity_at, "
    "array_agg(c.title ORDER BY c.created_at DESC) AS latest_titles "
    "FROM subscribers_insights u "
    "LEFT JOIN raw_support_conversations c ON u.distinct_id = c.user_id "
    "GROUP BY u.distinct_id";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string RollupDefinition() {
  return ReadFile(absl::StrCat(enrich::testing::RepoRoot(),
                               "/sql/views/support_user_rollup.sql"));
}

// A view defined and compiled as the product would: the text parsed, the
// facts read from the catalog.
struct DeclaredView {
  std::string definition;
  CompiledView compiled;
};

class ViewTableTest : public ::testing::Test {
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
    ASSERT_TRUE(sql_->Exec(kScratchTables).ok());
    ASSERT_TRUE(sql_->Exec(kSearchPath).ok());
    ASSERT_TRUE(sql_->Exec(kRollupData).ok());
    auto conn = pg::PgConnection::Connect(Services().pg_dsn, "view_table");
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
    ASSERT_TRUE(conn_->Exec(kSearchPath).ok());
  }

  void TearDown() override {
    if (sql_ == nullptr) return;
    EXPECT_TRUE(sql_->Exec("DELETE FROM enrich_processor_views"
                           " WHERE consumer_group LIKE 'view-table-%';"
                           "DELETE FROM enrich_processor_offsets"
                           " WHERE consumer_group LIKE 'view-table-%';"
                           "DELETE FROM enrich_processor_snapshots"
                           " WHERE consumer_group LIKE 'view-table-%';"
                           "DROP SCHEMA view_table_test CASCADE")
                    .ok());
  }

  DeclaredView Declare(const std::string& definition) {
    absl::StatusOr<ViewDefinition> view = ParseViewDefinition(definition);
    EXPECT_TRUE(view.ok()) << view.status();
    absl::StatusOr<ViewKeyFacts> facts =
        ReadViewKeyFacts(*conn_, view.value_or(ViewDefinition{}));
    EXPECT_TRUE(facts.ok()) << facts.status();
    absl::StatusOr<CompiledView> compiled = CompiledView::Compile(
        view.value_or(ViewDefinition{}), facts.value_or(ViewKeyFacts{}));
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return {definition, *std::move(compiled)};
  }

  absl::StatusOr<ViewTableCreation> Create(const DeclaredView& view,
                                           const std::string& group) {
    return CreateViewTable(*conn_, view.compiled, view.definition, group);
  }

  std::string Value(const std::string& sql) {
    absl::StatusOr<std::string> value = sql_->QueryValue(sql);
    EXPECT_TRUE(value.ok()) << value.status() << "\n" << sql;
    return value.value_or("");
  }

  std::vector<std::string> Column(const std::string& sql) {
    absl::StatusOr<std::vector<::enrich::testing::SqlRow>> rows =
        sql_->Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status() << "\n" << sql;
    std::vector<std::string> values;
    if (!rows.ok()) return values;
    for (const ::enrich::testing::SqlRow& row : *rows) {
      values.push_back(row.at(0).value_or("NULL"));
    }
    return values;
  }

  // "name type [NOT NULL] [DEFAULT expr]" per column of `relation`.
  std::vector<std::string> Columns(const std::string& relation) {
    return Column(absl::StrCat(
        "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)"
        "       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END"
        "       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid),"
        "                   '')"
        "  FROM pg_attribute a LEFT JOIN pg_attrdef d"
        "    ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = '",
        relation,
        "'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum"));
  }

  // "name type" per column of `relation`.
  std::vector<std::string> NamesAndTypes(const std::string& relation) {
    return Column(absl::StrCat(
        "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)"
        "  FROM pg_attribute a WHERE a.attrelid = '",
        relation,
        "'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum"));
  }

  // "constraint name: columns" of the primary key of `relation`.
  std::string PrimaryKey(const std::string& relation) {
    return Value(
        absl::StrCat("SELECT c.conname || ': ' || pg_get_constraintdef(c.oid)"
                     "  FROM pg_constraint c WHERE c.conrelid = '",
                     relation, "'::regclass AND c.contype = 'p'"));
  }

  // The rights of the roles sql/004 creates on `relation`.
  std::string Rights(const std::string& relation) {
    return Value(absl::StrCat(
        "SELECT string_agg(r || ':' || p || '=' ||"
        "                  has_table_privilege(r, '",
        relation,
        "', p)::text, ' ' ORDER BY r, p)"
        "  FROM unnest(ARRAY['enrich_processor', 'enrich_reader']) r,"
        "       unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE',"
        "                    'TRUNCATE']) p"));
  }

  // The materialized view of `view`'s own text, beside its table.
  std::string CreateMaterialized(const DeclaredView& view) {
    const std::string name =
        absl::StrCat(kSchema, ".", view.compiled.table(), "_mv");
    EXPECT_TRUE(
        sql_->Exec(absl::StrReplaceAll(
                       view.definition,
                       {{absl::StrCat("MATERIALIZED VIEW ",
                                      view.compiled.table(), " "),
                         absl::StrCat("MATERIALIZED VIEW ", name, " ")}}))
            .ok());
    return name;
  }

  std::vector<std::string> Registry() {
    return Column(
        "SELECT name || ' ' || consumer_group FROM enrich_processor_views"
        " WHERE consumer_group LIKE 'view-table-%' ORDER BY name");
  }

  static constexpr char kSearchPath[] =
      "SET search_path TO view_table_test, public";

  std::unique_ptr<PgTestConnection> sql_;
  std::unique_ptr<pg::PgConnection> conn_;
};

// Today's view, created from its definition in the scratch schema (its
// name qualified: unqualified, it names public's table, which the
// migrations made and no registration owns), is the table migrations 002
// and 005 made in public, down to the NOT NULLs, the default, the primary
// key's name and the roles' rights.
TEST_F(ViewTableTest, TodaysViewMakesTheTableTheMigrationsMade) {
  const DeclaredView today = Declare(absl::StrReplaceAll(
      EnrichedSupportConversationsDefinition(),
      {{"VIEW enriched_support_conversations AS",
        "VIEW view_table_test.enriched_support_conversations AS"}}));
  EXPECT_EQ(DescribeViewDefinition(today.compiled.definition()),
            absl::StrReplaceAll(
                DescribeViewDefinition(
                    EnrichedSupportConversationsView().definition()),
                {{"view enriched_support_conversations",
                  "view view_table_test.enriched_support_conversations"}}));
  absl::StatusOr<ViewTableCreation> created = Create(today, "view-table-today");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->table, "view_table_test.enriched_support_conversations");
  const std::string made = "view_table_test.enriched_support_conversations";
  const std::string migrated = "public.enriched_support_conversations";
  const std::vector<std::string> columns = Columns(made);
  EXPECT_EQ(columns.size(), 37u);
  EXPECT_EQ(columns, Columns(migrated));
  EXPECT_EQ(PrimaryKey(made), PrimaryKey(migrated));
  EXPECT_EQ(PrimaryKey(made),
            "enriched_support_conversations_pkey: PRIMARY KEY (id)");
  EXPECT_EQ(Rights(made), Rights(migrated));
  EXPECT_THAT(Rights(made), HasSubstr("enrich_reader:SELECT=true"));
  EXPECT_THAT(Rights(made), HasSubstr("enrich_processor:DELETE=true"));
  EXPECT_THAT(Rights(made), HasSubstr("enrich_processor:TRUNCATE=false"));
  EXPECT_EQ(Value("SELECT count(*) FROM " + made), "0");
}

// For each rollup: its table's columns are its materialized view's, then
// the key array and the bookkeeping; the set-based recompute of every
// subscriber fills it with exactly the materialized view's rows; a second
// create finds it there and keeps its rows.
TEST_F(ViewTableTest, RollupTablesHoldTheirMaterializedViewsRows) {
  struct Case {
    std::string definition;
    std::string group;
  };
  for (const Case& test : {Case{RollupDefinition(), "view-table-rollup"},
                           Case{kNullRowRollup, "view-table-rows"}}) {
    const DeclaredView view = Declare(test.definition);
    const std::string table = absl::StrCat(kSchema, ".", view.compiled.table());
    SCOPED_TRACE(table);
    absl::StatusOr<ViewTableCreation> created = Create(view, test.group);
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_TRUE(created->created);
    const std::string materialized = CreateMaterialized(view);

    std::vector<std::string> expected = NamesAndTypes(materialized);
    ASSERT_EQ(expected.size(), 5u);
    EXPECT_EQ(expected[0], "distinct_id text");
    EXPECT_EQ(expected[4], "latest_titles text[]");
    expected.push_back("source_commit_lsn pg_lsn");
    expected.push_back("source_commit_at timestamp with time zone");
    expected.push_back("enriched_at timestamp with time zone");
    expected.push_back("latest_title_ids uuid[]");
    EXPECT_EQ(NamesAndTypes(table), expected);
    EXPECT_EQ(PrimaryKey(table),
              absl::StrCat(view.compiled.table(),
                           "_pkey: PRIMARY KEY (distinct_id)"));
    EXPECT_EQ(Rights(table), Rights("public.enriched_support_conversations"));

    const std::string columns =
        absl::StrJoin(view.compiled.RewrittenColumns(), ", ");
    auto filled = conn_->QueryParams(
        absl::StrCat("INSERT INTO ", table, " (", columns, ") ",
                     view.compiled.RecomputeSetSelect(1)),
        {Value("SELECT array_agg(distinct_id)::text FROM "
               "view_table_test.subscribers_insights")},
        "filling");
    ASSERT_TRUE(filled.ok()) << filled.status();
    const std::string outputs =
        absl::StrJoin(view.compiled.OutputColumns(), ", ");
    const std::string table_rows =
        absl::StrCat("SELECT ", outputs, " FROM ", table);
    const std::string view_rows =
        absl::StrCat("SELECT ", outputs, " FROM ", materialized);
    EXPECT_EQ(Value(absl::StrCat("SELECT count(*) FROM (", table_rows,
                                 " EXCEPT ALL ", view_rows, ") d")),
              "0");
    EXPECT_EQ(Value(absl::StrCat("SELECT count(*) FROM (", view_rows,
                                 " EXCEPT ALL ", table_rows, ") d")),
              "0");
    EXPECT_EQ(Value("SELECT count(*) FROM " + table), "4");
    EXPECT_EQ(Value(absl::StrCat("SELECT count(*) FROM ", table,
                                 " WHERE enriched_at IS NULL")),
              "0");

    absl::StatusOr<ViewTableCreation> again = Create(view, test.group);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(again->created);
    EXPECT_EQ(NamesAndTypes(table), expected);
    EXPECT_EQ(Value("SELECT count(*) FROM " + table), "4");
  }
  // The file's view says what a support team expects of a subscriber
  // without conversations.
  EXPECT_EQ(Value("SELECT format('%s %s %s %s', conversations,"
                  " open_conversations, last_activity_at, latest_titles)"
                  " FROM support_user_rollup WHERE distinct_id = 'u2'"),
            "0 0  ");
  EXPECT_EQ(Value("SELECT format('%s %s %s', conversations,"
                  " open_conversations, latest_titles)"
                  " FROM support_user_rollup WHERE distinct_id = 'u1'"),
            "3 2 {Refund,NULL,\"Login fails\"}");
  EXPECT_THAT(Registry(), ElementsAre("support_user_rollup view-table-rollup",
                                      "support_user_rows view-table-rows"));
}

// Another definition or group under a registered name, or the group of
// another view, is refused with the registration named; nothing changes.
TEST_F(ViewTableTest, ConflictingRegistrationsAreRefused) {
  const DeclaredView rollup = Declare(RollupDefinition());
  ASSERT_TRUE(Create(rollup, "view-table-rollup").ok());

  const DeclaredView redefined = Declare(absl::StrReplaceAll(
      RollupDefinition(), {{"c.created_at DESC", "c.created_at"}}));
  absl::StatusOr<ViewTableCreation> refused =
      Create(redefined, "view-table-rollup");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("declared view support_user_rollup is registered for "
                        "consumer group view-table-rollup with a different "
                        "definition; to declare it anew, drop it first"));

  refused = Create(rollup, "view-table-other");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("declared view support_user_rollup is registered for "
                        "consumer group view-table-rollup, not "
                        "view-table-other"));

  refused = Create(Declare(kNullRowRollup), "view-table-rollup");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("consumer group view-table-rollup maintains declared "
                        "view support_user_rollup already"));

  EXPECT_THAT(Registry(), ElementsAre("support_user_rollup view-table-rollup"));
  EXPECT_EQ(Value("SELECT to_regclass('support_user_rows') IS NULL"), "t");
  EXPECT_EQ(Value("SELECT definition FROM enrich_processor_views"
                  " WHERE name = 'support_user_rollup'"),
            RollupDefinition());
}

// A table or materialized view of the name that no registration owns is
// left alone: refused, saying so and what to do, and not registered.
TEST_F(ViewTableTest, ARelationOfTheNameThatIsNotAViewsTableIsRefused) {
  const DeclaredView rollup = Declare(RollupDefinition());
  ASSERT_TRUE(
      sql_->Exec("CREATE TABLE view_table_test.support_user_rollup (note text)")
          .ok());
  absl::StatusOr<ViewTableCreation> refused = Create(rollup, "view-table-x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("view_table_test.support_user_rollup exists as a table "
                        "that is not a declared view's table"));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("rename or drop it yourself, or declare the view "
                        "under another name"));
  EXPECT_THAT(NamesAndTypes("view_table_test.support_user_rollup"),
              ElementsAre("note text"));

  ASSERT_TRUE(
      sql_->Exec("DROP TABLE view_table_test.support_user_rollup").ok());
  CreateMaterialized(rollup);
  ASSERT_TRUE(sql_->Exec("ALTER MATERIALIZED VIEW "
                         "view_table_test.support_user_rollup_mv "
                         "RENAME TO support_user_rollup")
                  .ok());
  refused = Create(rollup, "view-table-x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("view_table_test.support_user_rollup exists as a "
                        "materialized view that is not a declared view's "
                        "table"));
  EXPECT_THAT(Registry(), ::testing::IsEmpty());
}

// A drop takes the table, the registration and the group's offsets and
// snapshots; another view's group keeps its own. Unknown names are
// NotFound, and an unregistered table of the name is not dropped.
TEST_F(ViewTableTest, DropCleansUpItsGroupOnly) {
  ASSERT_TRUE(Create(Declare(RollupDefinition()), "view-table-rollup").ok());
  ASSERT_TRUE(Create(Declare(kNullRowRollup), "view-table-rows").ok());
  ASSERT_TRUE(
      sql_->Exec("INSERT INTO enrich_processor_offsets"
                 " (consumer_group, topic, partition, next_offset) VALUES"
                 " ('view-table-rollup', 'support.public.x', 0, 10),"
                 " ('view-table-rollup', 'support.public.x', 1, 20),"
                 " ('view-table-rows', 'support.public.x', 0, 30);"
                 "INSERT INTO enrich_processor_snapshots"
                 " (consumer_group, snapshot_lsn) VALUES"
                 " ('view-table-rollup', '0/10'),"
                 " ('view-table-rows', '0/20')")
          .ok());

  absl::StatusOr<ViewTableDrop> dropped =
      DropViewTable(*conn_, "support_user_rollup");
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(dropped->table, "support_user_rollup");
  EXPECT_EQ(dropped->consumer_group, "view-table-rollup");
  EXPECT_TRUE(dropped->table_dropped);
  EXPECT_EQ(dropped->offset_rows, 2);
  EXPECT_EQ(dropped->snapshot_rows, 1);
  EXPECT_EQ(Value("SELECT to_regclass('support_user_rollup') IS NULL"), "t");
  EXPECT_THAT(Registry(), ElementsAre("support_user_rows view-table-rows"));
  EXPECT_THAT(Column("SELECT consumer_group || ' ' || next_offset"
                     "  FROM enrich_processor_offsets"
                     " WHERE consumer_group LIKE 'view-table-%'"),
              ElementsAre("view-table-rows 30"));
  EXPECT_THAT(Column("SELECT consumer_group || ' ' || snapshot_lsn"
                     "  FROM enrich_processor_snapshots"
                     " WHERE consumer_group LIKE 'view-table-%'"),
              ElementsAre("view-table-rows 0/20"));
  EXPECT_EQ(Value("SELECT to_regclass('support_user_rows') IS NOT NULL"), "t");

  absl::StatusOr<ViewTableDrop> again =
      DropViewTable(*conn_, "support_user_rollup");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.status().message(),
              HasSubstr("no declared view named support_user_rollup is "
                        "registered"));
  EXPECT_EQ(DropViewTable(*conn_, "no_such_view").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(DropViewTable(*conn_, "public.enriched_support_conversations")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Value("SELECT to_regclass('public.enriched_support_conversations')"
                  " IS NOT NULL"),
            "t");

  // Dropped by hand meanwhile: the drop still forgets the view.
  ASSERT_TRUE(sql_->Exec("DROP TABLE view_table_test.support_user_rows").ok());
  dropped = DropViewTable(*conn_, "support_user_rows");
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_FALSE(dropped->table_dropped);
  EXPECT_EQ(dropped->offset_rows, 1);
  EXPECT_EQ(dropped->snapshot_rows, 1);
  EXPECT_THAT(Registry(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace enrich::processor
