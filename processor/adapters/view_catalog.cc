#include "processor/adapters/view_catalog.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"
#include "processor/core/view_requirements.h"

namespace enrich::processor {
namespace {

// $1 a relation name as written: its kind, its qualified name and its
// view definition (NULL unless a view); no row when nothing has the name.
constexpr char kViewDefinitionSql[] =
    "SELECT c.relkind::text, format('%I.%I', n.nspname, c.relname),"
    "       CASE WHEN c.relkind IN ('v', 'm')"
    "            THEN pg_get_viewdef(c.oid, true) END"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = to_regclass($1)";

// $1 a table name as written, $2 a column, $3 whether the index must be a
// unique one on exactly that column: whether the table exists, whether
// the column does, whether a valid, non-partial index on it (as first key
// column) exists, and the statement that would create one.
constexpr char kRequirementSql[] =
    "WITH rel AS (SELECT to_regclass($1) AS oid),"
    " col AS (SELECT a.attnum FROM pg_attribute a, rel"
    "          WHERE a.attrelid = rel.oid AND a.attname = $2"
    "            AND a.attnum > 0 AND NOT a.attisdropped)"
    " SELECT rel.oid IS NOT NULL, EXISTS (SELECT 1 FROM col),"
    "        EXISTS (SELECT 1 FROM pg_index i, col"
    "                 WHERE i.indrelid = rel.oid AND i.indisvalid"
    "                   AND i.indpred IS NULL AND i.indkey[0] = col.attnum"
    "                   AND (NOT $3::bool"
    "                        OR (i.indisunique AND i.indnkeyatts = 1))),"
    "        format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %s (%I)',"
    "               left((SELECT relname FROM pg_class WHERE oid = rel.oid)"
    "                    || '_' || $2 || '_idx', 63),"
    "               rel.oid::regclass::text, $2)"
    "   FROM rel";

// $1 a table name as written, $2 a column: the column's type as SQL
// names it; no row when either is missing.
constexpr char kColumnTypeSql[] =
    "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
    " WHERE a.attrelid = to_regclass($1) AND a.attname = $2"
    "   AND a.attnum > 0 AND NOT a.attisdropped";

// $1 a table name as written: the column of its single-column primary key;
// no row when it has none.
constexpr char kPrimaryKeyColumnSql[] =
    "SELECT a.attname FROM pg_index i"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid"
    "   AND a.attnum = i.indkey[0]"
    " WHERE i.indrelid = to_regclass($1) AND i.indisprimary"
    "   AND i.indnkeyatts = 1";

absl::StatusOr<std::string> ColumnType(pg::PgConnection& conn,
                                       const std::string& table,
                                       const std::string& column) {
  ASSIGN_OR_RETURN(std::vector<pg::Row> rows,
                   conn.QueryParams(kColumnTypeSql, {table, column},
                                    "reading a view column's type"));
  if (rows.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("column ", table, ".", column,
                     " does not exist (the view joins on "
                     "it)"));
  }
  return pg::TextOrEmpty(rows[0], 0);
}

std::string RelationKindName(const std::string& relkind) {
  if (relkind == "r" || relkind == "p") return "a table";
  if (relkind == "i" || relkind == "I") return "an index";
  if (relkind == "S") return "a sequence";
  if (relkind == "f") return "a foreign table";
  return absl::StrCat("a relation of kind '", relkind, "'");
}

// Adds what `requirement` lacks in the catalog to `check`.
absl::Status CheckOne(pg::PgConnection& conn,
                      const CatalogRequirement& requirement,
                      CatalogCheck* check) {
  const bool unique = requirement.kind == CatalogRequirement::Kind::kUniqueKey;
  ASSIGN_OR_RETURN(
      std::vector<pg::Row> rows,
      conn.QueryParams(
          kRequirementSql,
          {requirement.table, requirement.column, unique ? "true" : "false"},
          "reading the catalog for a view's keys and indexes"));
  const pg::Row& row = rows.at(0);
  const std::string place =
      absl::StrCat(requirement.table, ".", requirement.column);
  if (pg::TextOrEmpty(row, 0) != "t") {
    check->problems.push_back(absl::StrCat("table ", requirement.table,
                                           " does not exist (needed for ",
                                           requirement.why, ")"));
  } else if (pg::TextOrEmpty(row, 1) != "t") {
    check->problems.push_back(absl::StrCat("column ", place,
                                           " does not exist (needed for ",
                                           requirement.why, ")"));
  } else if (pg::TextOrEmpty(row, 2) != "t") {
    if (unique) {
      check->problems.push_back(absl::StrCat(
          place, " is neither the primary key nor a unique index of ",
          requirement.table, ", but the view needs ", requirement.why,
          "; add one (ALTER TABLE ", requirement.table, " ADD PRIMARY KEY (",
          requirement.column, ")) or join on a key"));
    } else {
      check->missing_indexes.push_back(pg::TextOrEmpty(row, 3));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ViewKeyFacts> ReadViewKeyFacts(pg::PgConnection& conn,
                                              const ViewDefinition& view) {
  ViewKeyFacts facts;
  ASSIGN_OR_RETURN(facts.root_key_type, ColumnType(conn, view.root.table.name,
                                                   view.root.key_column));
  for (const LookupJoin& lookup : view.lookups) {
    ASSIGN_OR_RETURN(std::string type, ColumnType(conn, view.root.table.name,
                                                  lookup.root_column));
    facts.lookup_join_types.push_back(std::move(type));
  }
  if (!view.child.has_value()) return facts;
  const std::string& child = view.child->table.name;
  ASSIGN_OR_RETURN(std::vector<pg::Row> rows,
                   conn.QueryParams(kPrimaryKeyColumnSql, {child},
                                    "reading a view child's primary key"));
  if (rows.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(child,
                     " has no single-column primary key: the view's arrays are "
                     "ordered and edited in place by it; add one (ALTER TABLE ",
                     child, " ADD PRIMARY KEY (...))"));
  }
  facts.child_key_column = pg::TextOrEmpty(rows[0], 0);
  return facts;
}

absl::StatusOr<std::string> ReadViewDefinition(pg::PgConnection& conn,
                                               const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<pg::Row> rows,
                   conn.QueryParams(kViewDefinitionSql, {name},
                                    "reading a view's definition"));
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no view or materialized view named ", name,
                     " in the database (names resolve through the "
                     "search_path; qualify it as schema.name)"));
  }
  const std::string relkind = pg::TextOrEmpty(rows[0], 0);
  const std::string qualified = pg::TextOrEmpty(rows[0], 1);
  if (relkind != "v" && relkind != "m") {
    return absl::FailedPreconditionError(
        absl::StrCat(qualified, " is ", RelationKindName(relkind),
                     ", not a view or materialized view"));
  }
  return absl::StrCat("CREATE ", relkind == "m" ? "MATERIALIZED " : "", "VIEW ",
                      qualified, " AS\n", pg::TextOrEmpty(rows[0], 2));
}

absl::StatusOr<CatalogCheck> CheckCatalog(pg::PgConnection& conn,
                                          const ViewDefinition& view) {
  CatalogCheck check;
  for (const CatalogRequirement& requirement : CatalogRequirements(view)) {
    RETURN_IF_ERROR(CheckOne(conn, requirement, &check));
  }
  return check;
}

}  // namespace enrich::processor
