// A differential test of the view compiler (processor/core/compiled_view.h)
// on random views within the supported class (random_view.h): each is
// created as a MATERIALIZED VIEW over random tables and data, read back from
// the catalog as the product reads a view (ReadViewDefinition,
// ParseViewDefinition, ReadViewKeyFacts), compiled, and the compiled
// statements must give the materialized view's rows, EXCEPT ALL both ways:
// the per-id recompute over every root id and a few ids without a root, the
// set-based recompute over the same ids; the gone conditions of both hold
// for exactly the ids without a row; each key array as long as its array
// and naming its elements; the fan-out of random lookup keys the roots that
// join them. Then every table changes (deletes, inserts, updates of keys
// and foreign keys: children move to other roots), both views are
// refreshed, and the same checks run again.
//
// Ties: a view may leave ties open in an array_agg ORDER BY (or have no
// ORDER BY); the compiler breaks them by the child's key (compiled_view.h).
// So the arrays are compared with a second materialized view of the same
// SQL with that key appended ("tie-broken"), and every other column with
// the view as written too.
//
// Seeds: the fixed kFixedSeed and a fresh one, both printed; each view i of
// seed S has its own generator, seeded by (S, i). Reproduce with
// ENRICH_VIEW_SEED=S (that seed only) and ENRICH_VIEW_INDEX=i (that view
// only); ENRICH_VIEW_COUNT sets the views per seed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cdc/postgres/pg_connection.h"
#include "gtest/gtest.h"
#include "processor/adapters/view_catalog.h"
#include "processor/adapters/view_parser.h"
#include "processor/core/compiled_view.h"
#include "tests/integration/views/random_view.h"
#include "tests/support/pg_test_connection.h"
#include "tests/support/services_environment.h"

namespace enrich::processor {
namespace {

using ::enrich::testing::PgTestConnection;
using ::enrich::testing::RandomView;
using ::enrich::testing::Services;

constexpr uint64_t kFixedSeed = 20261203;
constexpr int kDefaultViewsPerSeed = 150;
constexpr char kSchema[] = "view_differential";
// Failing views reported before the test stops (each prints its SQL).
constexpr int kMaxFailingViews = 3;

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* value = std::getenv(name);
  return value == nullptr ? otherwise : std::strtoull(value, nullptr, 10);
}

std::string ArrayLiteral(const std::vector<std::string>& values,
                         const std::string& type) {
  return absl::StrCat("ARRAY[", absl::StrJoin(values, ", "), "]::", type, "[]");
}

// What the views of one seed covered, as loaded: the cases the generator
// is there to produce, counted so that a generator that stops producing
// one is noticed (the fixed seed must cover each).
struct Coverage {
  int views = 0;
  int inner_lookups = 0;
  int without_child = 0;
  int array_aggs = 0;
  // Rows whose arrays differ between the view as written and the
  // tie-broken one: ties the compiler had to break.
  int rows_with_open_ties = 0;
  int roots_without_children = 0;
  int dangling_child_keys = 0;   // child rows naming no root
  int dangling_lookup_keys = 0;  // root rows naming no lookup row
  int toasted_rows = 0;          // view rows over 2 kB of text

  std::string Describe() const {
    return absl::StrCat(views, " views (", inner_lookups, " INNER lookups, ",
                        without_child, " without child, ", array_aggs,
                        " array_aggs); rows with open ties ",
                        rows_with_open_ties, ", roots without children ",
                        roots_without_children, ", dangling child keys ",
                        dangling_child_keys, ", dangling lookup keys ",
                        dangling_lookup_keys, ", TOASTed rows ", toasted_rows);
  }
};

class ViewDifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = PgTestConnection::Connect(Services().pg_dsn);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
    // The catalog is read without the scratch schema on the search_path,
    // so pg_get_viewdef qualifies the tables, as for a view elsewhere.
    auto catalog = pg::PgConnection::Connect(Services().pg_dsn, "difftest");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
  }

  void TearDown() override {
    if (conn_ != nullptr) {
      EXPECT_TRUE(conn_
                      ->Exec(absl::StrCat("DROP SCHEMA IF EXISTS ", kSchema,
                                          " CASCADE"))
                      .ok());
    }
  }

  // Runs `sql`; on an error, a failure naming the step and the view.
  bool Run(const std::string& sql, const std::string& step) {
    absl::Status status = conn_->Exec(sql);
    if (!status.ok()) {
      ++failures_;
      ADD_FAILURE() << context_ << "\n"
                    << step << ": " << status << "\n"
                    << sql.substr(0, 4000);
    }
    return status.ok();
  }

  std::vector<testing::SqlRow> Rows(const std::string& sql) {
    absl::StatusOr<std::vector<testing::SqlRow>> rows = conn_->Query(sql);
    if (!rows.ok()) {
      ++failures_;
      ADD_FAILURE() << context_ << "\n" << rows.status() << "\n" << sql;
      return {};
    }
    return *std::move(rows);
  }

  // The rows of `query` (after `with`, CTEs) and of the relation
  // `expected` that the other lacks, over `columns`: a failure listing a
  // few of them (cut to 300 characters: values may be TOASTed).
  void ExpectSameRows(const std::string& what, const std::string& with,
                      const std::string& query, const std::string& expected,
                      const std::vector<std::string>& columns) {
    const std::string list = absl::StrJoin(columns, ", ");
    const std::string sql = absl::StrCat(
        "WITH ", with, "q AS (", query, "), only_q AS (SELECT ", list,
        " FROM q EXCEPT ALL SELECT ", list, " FROM ", expected,
        "), only_e AS (SELECT ", list, " FROM ", expected,
        " EXCEPT ALL SELECT ", list,
        " FROM q) SELECT 'compiled only', left(o::text, 300) FROM only_q o "
        "UNION ALL SELECT 'view only', left(o::text, 300) FROM only_e o");
    const std::vector<testing::SqlRow> rows = Rows(sql);
    if (rows.empty()) return;
    std::string shown;
    for (size_t i = 0; i < rows.size() && i < 6; ++i) {
      absl::StrAppend(&shown, "  ", rows[i][0].value_or("?"), ": ",
                      rows[i][1].value_or("NULL"), "\n");
    }
    ++failures_;
    ADD_FAILURE() << context_ << "\n"
                  << what << ": " << rows.size() << " rows differ from "
                  << expected << ", e.g.\n"
                  << shown << "statement: " << query;
  }

  // Rows of `query` whose key arrays do not address their arrays: another
  // length, or other elements than the child's rows they name.
  void ExpectKeyArraysAddressTheirArrays(const std::string& what,
                                         const std::string& with,
                                         const std::string& query,
                                         const CompiledView& compiled,
                                         const std::string& child_key) {
    const ViewDefinition& definition = compiled.definition();
    const std::vector<std::string> rewritten = compiled.RewrittenColumns();
    size_t keys = compiled.OutputColumns().size();
    std::vector<std::string> checks;
    for (const ViewOutputColumn& column : definition.columns) {
      const auto* aggregate = std::get_if<ViewAggregate>(&column.value);
      if (aggregate == nullptr || aggregate->kind != AggregateKind::kArrayAgg) {
        continue;
      }
      const std::string& key_array = rewritten[keys++];
      checks.push_back(absl::StrCat(
          "cardinality(", column.name, ") IS DISTINCT FROM cardinality(",
          key_array, ") OR ", column.name,
          " IS DISTINCT FROM (SELECT array_agg(ch.",
          aggregate->argument->column, " ORDER BY x.o) FROM unnest(", key_array,
          ") WITH ORDINALITY AS x(k, o) LEFT JOIN ",
          definition.child->table.name, " ch ON ch.", child_key, " = x.k)"));
    }
    if (checks.empty()) return;
    const std::vector<testing::SqlRow> rows = Rows(absl::StrCat(
        "WITH ", with, "q AS (", query, ") SELECT count(*) FROM q WHERE ",
        absl::StrJoin(checks, " OR ")));
    if (!rows.empty() && rows[0][0] != "0") {
      ++failures_;
      ADD_FAILURE() << context_ << "\n"
                    << what << ": " << *rows[0][0]
                    << " rows whose key arrays do not address their arrays\n"
                    << query;
    }
  }

  void CheckCompiledView(RandomView& view, const CompiledView& compiled,
                         const ViewKeyFacts& facts, std::mt19937_64& rng,
                         const std::string& when) {
    const ViewDefinition& definition = compiled.definition();
    const std::string& root = definition.root.table.name;
    const std::string& key = definition.root.key_column;
    const std::string missing =
        ArrayLiteral(view.MissingRootKeys(rng), facts.root_key_type);
    const std::string ids =
        absl::StrCat("ids(id) AS (SELECT ", key, " FROM ", root,
                     " UNION ALL SELECT unnest(", missing, ")), ");
    const std::string all_ids = absl::StrCat("(ARRAY(SELECT ", key, " FROM ",
                                             root, ") || ", missing, ")");
    const std::string per_id = compiled.RecomputePerIdSelect();
    const std::string set_based =
        absl::StrReplaceAll(compiled.RecomputeSetSelect(1), {{"$1", all_ids}});
    const std::string tie_broken = absl::StrCat(kSchema, ".v_tie_broken");
    const std::vector<std::string> outputs = compiled.OutputColumns();
    ExpectSameRows(when + ", per-id recompute", ids, per_id, tie_broken,
                   outputs);
    ExpectSameRows(when + ", set-based recompute", "", set_based, tie_broken,
                   outputs);
    // The view as written: every column but the arrays, whose order on
    // ties it leaves open.
    std::vector<std::string> unordered;
    for (const ViewOutputColumn& column : definition.columns) {
      const auto* aggregate = std::get_if<ViewAggregate>(&column.value);
      if (aggregate == nullptr || aggregate->kind != AggregateKind::kArrayAgg) {
        unordered.push_back(column.name);
      }
    }
    ExpectSameRows(when + ", set-based recompute without arrays", "", set_based,
                   absl::StrCat(kSchema, ".v"), unordered);
    ExpectKeyArraysAddressTheirArrays(when + ", per-id recompute", ids, per_id,
                                      compiled, facts.child_key_column);
    ExpectKeyArraysAddressTheirArrays(when + ", set-based recompute", "",
                                      set_based, compiled,
                                      facts.child_key_column);
    // The gone conditions hold for exactly the ids without a view row (no
    // root, or no INNER lookup row), after the per-id recompute as `fresh`
    // and on their own (set-based).
    const std::string gone =
        absl::StrCat("SELECT id FROM ids EXCEPT ALL SELECT ",
                     compiled.key_column(), " FROM ", tie_broken);
    ExpectSameRows(when + ", per-id gone condition",
                   absl::StrCat(ids, "fresh AS (", per_id, "), "),
                   absl::StrCat("SELECT id FROM ids WHERE ",
                                compiled.GoneCondition(false)),
                   absl::StrCat("(", gone, ") g"), {"id"});
    ExpectSameRows(
        when + ", set-based gone condition", ids,
        absl::StrCat("SELECT id FROM ids WHERE ", compiled.GoneCondition(true)),
        absl::StrCat("(", gone, ") g"), {"id"});

    if (definition.lookups.empty()) return;
    std::string fan_out = compiled.ResolveFanOutSql();
    std::vector<std::string> reached;
    for (size_t i = definition.lookups.size(); i-- > 0;) {
      const std::string keys =
          ArrayLiteral(view.FanOutKeys(rng, i), facts.lookup_join_types[i]);
      fan_out =
          absl::StrReplaceAll(fan_out, {{absl::StrCat("$", i + 1), keys}});
      reached.push_back(absl::StrCat(definition.lookups[i].root_column,
                                     " = ANY(", keys, ")"));
    }
    const std::string direct =
        absl::StrCat("SELECT ", key, "::text FROM ", root, " WHERE ",
                     absl::StrJoin(reached, " OR "));
    const std::vector<testing::SqlRow> rows = Rows(absl::StrCat(
        "WITH f AS (", fan_out, "), d AS (", direct,
        ") SELECT (SELECT count(*) FROM (SELECT * FROM f EXCEPT SELECT * "
        "FROM d) a) + (SELECT count(*) FROM (SELECT * FROM d EXCEPT SELECT "
        "* FROM f) b), (SELECT count(*) - count(DISTINCT f) FROM f f)"));
    if (!rows.empty() && (rows[0][0] != "0" || rows[0][1] != "0")) {
      ++failures_;
      ADD_FAILURE() << context_ << "\n"
                    << when << ", fan-out: " << *rows[0][0]
                    << " ids differ from the roots joining the keys, "
                    << *rows[0][1] << " duplicates\n"
                    << fan_out << "\ndirect: " << direct;
    }
  }

  int64_t Number(const std::string& sql) {
    const std::vector<testing::SqlRow> rows = Rows(sql);
    return rows.empty() || !rows[0][0].has_value() ? 0
                                                   : std::stoll(*rows[0][0]);
  }

  // Adds the view just loaded to coverage_.
  void Count(const CompiledView& compiled) {
    const ViewDefinition& definition = compiled.definition();
    const std::string root = definition.root.table.name;
    const std::string key = definition.root.key_column;
    const std::string v = absl::StrCat(kSchema, ".v");
    ++coverage_.views;
    for (const LookupJoin& lookup : definition.lookups) {
      if (lookup.kind == LookupJoinKind::kInner) ++coverage_.inner_lookups;
      coverage_.dangling_lookup_keys += Number(absl::StrCat(
          "SELECT count(*) FROM ", root, " r WHERE r.", lookup.root_column,
          " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ", lookup.table.name,
          " l WHERE l.", lookup.key_column, " = r.", lookup.root_column, ")"));
    }
    coverage_.toasted_rows += Number(absl::StrCat(
        "SELECT count(*) FROM ", v, " x WHERE octet_length(x::text) > 2000"));
    if (!definition.child.has_value()) {
      ++coverage_.without_child;
      return;
    }
    const std::string& child = definition.child->table.name;
    const std::string& fk = definition.child->foreign_key_column;
    coverage_.roots_without_children += Number(absl::StrCat(
        "SELECT count(*) FROM ", root, " r WHERE NOT EXISTS (SELECT 1 FROM ",
        child, " c WHERE c.", fk, " = r.", key, ")"));
    coverage_.dangling_child_keys +=
        Number(absl::StrCat("SELECT count(*) FROM ", child, " c WHERE c.", fk,
                            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ", root,
                            " r WHERE r.", key, " = c.", fk, ")"));
    std::vector<std::string> arrays;
    for (const ViewOutputColumn& column : definition.columns) {
      const auto* aggregate = std::get_if<ViewAggregate>(&column.value);
      if (aggregate != nullptr && aggregate->kind == AggregateKind::kArrayAgg) {
        arrays.push_back(column.name);
      }
    }
    coverage_.array_aggs += static_cast<int>(arrays.size());
    if (arrays.empty()) return;
    coverage_.rows_with_open_ties += Number(absl::StrCat(
        "SELECT count(*) FROM ", v, " a JOIN ", kSchema,
        ".v_tie_broken b ON a.", compiled.key_column(), " = b.",
        compiled.key_column(), " WHERE (a.", absl::StrJoin(arrays, ", a."),
        ") IS DISTINCT FROM (b.", absl::StrJoin(arrays, ", b."), ")"));
  }

  // One random view of `seed`: created, read back, compiled and checked,
  // then changed, refreshed and checked again.
  void CheckRandomView(uint64_t seed, uint64_t index) {
    std::seed_seq sequence{static_cast<uint32_t>(seed),
                           static_cast<uint32_t>(seed >> 32),
                           static_cast<uint32_t>(index)};
    std::mt19937_64 rng(sequence);
    RandomView view = RandomView::Generate(rng, "v");
    const std::string view_sql = view.ViewSql("v", false);
    context_ = absl::StrCat("seed ", seed, " view ", index,
                            " (reproduce: ENRICH_VIEW_SEED=", seed,
                            " ENRICH_VIEW_INDEX=", index, ")\n", view_sql);
    const std::string schema = view.SchemaSql();
    if (!Run(absl::StrCat("DROP SCHEMA IF EXISTS ", kSchema,
                          " CASCADE; CREATE SCHEMA ", kSchema,
                          "; SET search_path TO ", kSchema, ";\n", schema),
             "creating the tables") ||
        !Run(view.InsertSql(rng), "inserting rows") ||
        !Run(view_sql, "creating the view") ||
        !Run(view.ViewSql("v_tie_broken", true),
             "creating the tie-broken view")) {
      return;
    }
    absl::StatusOr<std::string> text =
        ReadViewDefinition(*catalog_, absl::StrCat(kSchema, ".v"));
    ASSERT_TRUE(text.ok()) << context_ << "\n" << text.status();
    absl::StatusOr<ViewDefinition> parsed = ParseViewDefinition(*text);
    if (!parsed.ok()) {
      ++failures_;
      ADD_FAILURE() << context_
                    << "\nrefused as read from the catalog: " << parsed.status()
                    << "\n"
                    << *text;
      return;
    }
    absl::StatusOr<ViewKeyFacts> facts = ReadViewKeyFacts(*catalog_, *parsed);
    ASSERT_TRUE(facts.ok()) << context_ << "\n" << facts.status();
    absl::StatusOr<CompiledView> compiled =
        CompiledView::Compile(*parsed, *facts);
    if (!compiled.ok()) {
      ++failures_;
      ADD_FAILURE() << context_ << "\ncompiler refused: " << compiled.status()
                    << "\n"
                    << DescribeViewDefinition(*parsed);
      return;
    }
    // The text as written (not as the catalog prints it) must classify and
    // compile to the same rows too: it has other spellings (no casts on
    // varchar, unqualified names, casts outside the parentheses).
    absl::StatusOr<ViewDefinition> written = ParseViewDefinition(view_sql);
    if (!written.ok()) {
      ++failures_;
      ADD_FAILURE() << context_ << "\nrefused as written: " << written.status();
      return;
    }
    absl::StatusOr<CompiledView> compiled_written =
        CompiledView::Compile(*written, *facts);
    if (!compiled_written.ok()) {
      ++failures_;
      ADD_FAILURE() << context_ << "\ncompiler refused the text as written: "
                    << compiled_written.status();
      return;
    }
    CheckCompiledView(view, *compiled, *facts, rng, "as loaded");
    CheckAsWritten(*compiled_written, "as loaded");
    Count(*compiled);
    if (!Run(view.ChangeSql(rng), "changing rows") ||
        !Run("REFRESH MATERIALIZED VIEW v; "
             "REFRESH MATERIALIZED VIEW v_tie_broken",
             "refreshing")) {
      return;
    }
    CheckCompiledView(view, *compiled, *facts, rng, "after changes");
    CheckAsWritten(*compiled_written, "after changes");
  }

  // The set-based recompute of every root compiled from the text as
  // written equals the tie-broken view.
  void CheckAsWritten(const CompiledView& compiled, const std::string& when) {
    const ViewDefinition& definition = compiled.definition();
    const std::string all_ids =
        absl::StrCat("ARRAY(SELECT ", definition.root.key_column, " FROM ",
                     definition.root.table.name, ")");
    ExpectSameRows(
        when + ", set-based recompute of the text as written", "",
        absl::StrReplaceAll(compiled.RecomputeSetSelect(1), {{"$1", all_ids}}),
        absl::StrCat(kSchema, ".v_tie_broken"), compiled.OutputColumns());
  }

  std::unique_ptr<PgTestConnection> conn_;
  std::unique_ptr<pg::PgConnection> catalog_;
  std::string context_;
  int failures_ = 0;  // ADD_FAILUREs so far
  Coverage coverage_;
};

TEST_F(ViewDifferentialTest, CompiledStatementsGiveTheMaterializedViewsRows) {
  std::vector<uint64_t> seeds;
  if (std::getenv("ENRICH_VIEW_SEED") != nullptr) {
    seeds.push_back(EnvNumber("ENRICH_VIEW_SEED", kFixedSeed));
  } else {
    seeds = {kFixedSeed,
             std::random_device{}() |
                 (static_cast<uint64_t>(std::random_device{}()) << 32)};
  }
  const uint64_t count = EnvNumber("ENRICH_VIEW_COUNT", kDefaultViewsPerSeed);
  const bool only = std::getenv("ENRICH_VIEW_INDEX") != nullptr;
  const uint64_t first = EnvNumber("ENRICH_VIEW_INDEX", 0);
  int failing = 0;
  for (uint64_t seed : seeds) {
    std::printf(
        "view_differential: seed=%llu views=%llu (reproduce: "
        "ENRICH_VIEW_SEED=%llu)\n",
        static_cast<unsigned long long>(seed),
        static_cast<unsigned long long>(only ? 1 : count),
        static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    coverage_ = Coverage{};
    for (uint64_t index = first; index < (only ? first + 1 : count); ++index) {
      const int failures_before = failures_;
      CheckRandomView(seed, index);
      if (HasFatalFailure()) return;
      if (failures_ > failures_before && ++failing >= kMaxFailingViews) {
        return;
      }
    }
    std::printf("view_differential: seed=%llu covered %s\n",
                static_cast<unsigned long long>(seed),
                coverage_.Describe().c_str());
    std::fflush(stdout);
    if (seed == kFixedSeed && !only && count >= kDefaultViewsPerSeed) {
      for (int covered :
           {coverage_.inner_lookups, coverage_.without_child,
            coverage_.rows_with_open_ties, coverage_.roots_without_children,
            coverage_.dangling_child_keys, coverage_.dangling_lookup_keys,
            coverage_.toasted_rows}) {
        EXPECT_GT(covered, 0) << "the fixed seed no longer covers a case: "
                              << coverage_.Describe();
      }
    }
  }
}

}  // namespace
}  // namespace enrich::processor
