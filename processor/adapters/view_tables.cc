#include "processor/adapters/view_tables.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"
#include "processor/core/view_table.h"

namespace enrich::processor {
namespace {

using Rows = std::vector<pg::Row>;

// Serializes every create and drop of one name (until the transaction
// ends), so the registry checks below and the DDL after them see the same
// registry and catalog.
constexpr char kLockNameSql[] =
    "SELECT pg_advisory_xact_lock(hashtext('enrich_processor_views'), "
    "hashtext($1))";

constexpr char kRegistryExistsSql[] =
    "SELECT to_regclass('enrich_processor_views') IS NOT NULL";

// $1 a name as written: the relation's kind and qualified name; no row
// when nothing has the name.
constexpr char kRelationSql[] =
    "SELECT c.relkind::text, format('%I.%I', n.nspname, c.relname)"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = to_regclass($1)";

struct Registration {
  std::string definition;
  std::string consumer_group;
};

struct Relation {
  std::string kind;  // pg_class.relkind
  std::string qualified_name;
};

bool IsTable(const Relation& relation) {
  return relation.kind == "r" || relation.kind == "p";
}

std::string KindName(const std::string& relkind) {
  if (relkind == "r" || relkind == "p") return "a table";
  if (relkind == "m") return "a materialized view";
  if (relkind == "v") return "a view";
  if (relkind == "f") return "a foreign table";
  if (relkind == "S") return "a sequence";
  if (relkind == "i" || relkind == "I") return "an index";
  return absl::StrCat("a relation of kind '", relkind, "'");
}

// Runs `body` between BEGIN and COMMIT; rolls back when either fails.
template <typename Body>
auto InTransaction(pg::PgConnection& conn, Body body) -> decltype(body()) {
  RETURN_IF_ERROR(
      conn.QueryParams("BEGIN", {}, "beginning a view table change").status());
  auto result = body();
  if (result.ok()) {
    absl::Status committed =
        conn.QueryParams("COMMIT", {}, "committing a view table change")
            .status();
    if (!committed.ok()) result = committed;
  }
  if (!result.ok()) conn.RollBack();
  return result;
}

absl::Status LockAndCheckRegistry(pg::PgConnection& conn,
                                  const std::string& name) {
  RETURN_IF_ERROR(
      conn.QueryParams(kLockNameSql, {name}, "locking a declared view's name")
          .status());
  ASSIGN_OR_RETURN(Rows exists, conn.QueryParams(kRegistryExistsSql, {},
                                                 "looking for the registry"));
  if (pg::TextOrEmpty(exists.at(0), 0) != "t") {
    return absl::FailedPreconditionError(
        "the registry of declared views (enrich_processor_views) does not "
        "exist: run `enrich-processor migrate` first");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Registration>> ReadRegistration(
    pg::PgConnection& conn, const std::string& name, bool for_update) {
  ASSIGN_OR_RETURN(
      Rows rows, conn.QueryParams(
                     absl::StrCat("SELECT definition, consumer_group "
                                  "FROM enrich_processor_views WHERE name = $1",
                                  for_update ? " FOR UPDATE" : ""),
                     {name}, "reading a declared view's registration"));
  if (rows.empty()) return std::nullopt;
  return Registration{pg::TextOrEmpty(rows[0], 0), pg::TextOrEmpty(rows[0], 1)};
}

absl::StatusOr<std::optional<Relation>> ReadRelation(pg::PgConnection& conn,
                                                     const std::string& name) {
  ASSIGN_OR_RETURN(Rows rows, conn.QueryParams(kRelationSql, {name},
                                               "looking for a view's table"));
  if (rows.empty()) return std::nullopt;
  return Relation{pg::TextOrEmpty(rows[0], 0), pg::TextOrEmpty(rows[0], 1)};
}

absl::StatusOr<int64_t> DeleteGroupRows(pg::PgConnection& conn,
                                        const std::string& table,
                                        const std::string& group) {
  ASSIGN_OR_RETURN(
      Rows rows,
      conn.QueryParams(absl::StrCat("WITH gone AS (DELETE FROM ", table,
                                    " WHERE consumer_group = $1 RETURNING 1)"
                                    " SELECT count(*) FROM gone"),
                       {group}, absl::StrCat("deleting from ", table)));
  return std::strtoll(pg::TextOrEmpty(rows.at(0), 0).c_str(), nullptr, 10);
}

// Whether the view `name` may be created as (definition, group): OK, or
// FailedPrecondition saying why not and what to do.
absl::Status CheckCreation(pg::PgConnection& conn, const std::string& name,
                           const std::string& definition,
                           const std::string& group,
                           const std::optional<Registration>& registered,
                           const std::optional<Relation>& relation) {
  const std::string drop_first = absl::StrCat(
      "; to declare it anew, drop it first (its table and group ",
      registered.has_value() ? registered->consumer_group : group,
      "'s offsets and snapshots go with it), or declare this one under "
      "another name");
  if (registered.has_value() && registered->definition != definition) {
    return absl::FailedPreconditionError(absl::StrCat(
        "declared view ", name, " is registered for consumer group ",
        registered->consumer_group, " with a different definition",
        drop_first));
  }
  if (registered.has_value() && registered->consumer_group != group) {
    return absl::FailedPreconditionError(absl::StrCat(
        "declared view ", name, " is registered for consumer group ",
        registered->consumer_group, ", not ", group, drop_first));
  }
  if (!registered.has_value()) {
    ASSIGN_OR_RETURN(
        Rows owner,
        conn.QueryParams(
            "SELECT name FROM enrich_processor_views WHERE consumer_group = $1",
            {group}, "reading a consumer group's view"));
    if (!owner.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("consumer group ", group, " maintains declared view ",
                       pg::TextOrEmpty(owner[0], 0),
                       " already (offsets are kept per group): give view ",
                       name, " a consumer group of its own"));
    }
  }
  if (relation.has_value() && !registered.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        relation->qualified_name, " exists as ", KindName(relation->kind),
        " that is not a declared view's table, so declared view ", name,
        " is not created over it (nor would it be dropped with the view): "
        "rename or drop it yourself, or declare the view under another "
        "name"));
  }
  if (relation.has_value() && !IsTable(*relation)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the table of declared view ", name, " was replaced by ",
                     KindName(relation->kind), " ", relation->qualified_name,
                     ": rename or drop that, then create the view again"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ViewTableCreation> CreateViewTable(
    pg::PgConnection& conn, const CompiledView& view,
    const std::string& definition, const std::string& consumer_group) {
  const std::string& name = view.table();
  ASSIGN_OR_RETURN(std::vector<std::string> statements,
                   CreateViewTableStatements(view));
  return InTransaction(conn, [&]() -> absl::StatusOr<ViewTableCreation> {
    RETURN_IF_ERROR(LockAndCheckRegistry(conn, name));
    ASSIGN_OR_RETURN(std::optional<Registration> registered,
                     ReadRegistration(conn, name, /*for_update=*/false));
    ASSIGN_OR_RETURN(std::optional<Relation> relation,
                     ReadRelation(conn, name));
    RETURN_IF_ERROR(CheckCreation(conn, name, definition, consumer_group,
                                  registered, relation));
    // Run even when the table is there: each statement is idempotent
    // and puts back what was lost since (a grant, the primary key).
    for (const std::string& statement : statements) {
      RETURN_IF_ERROR(conn.Exec(
          statement, absl::StrCat("creating the table of view ", name)));
    }
    if (!registered.has_value()) {
      RETURN_IF_ERROR(conn.QueryParams("INSERT INTO enrich_processor_views "
                                       "(name, definition, consumer_group) "
                                       "VALUES ($1, $2, $3)",
                                       {name, definition, consumer_group},
                                       "registering a declared view")
                          .status());
    }
    return ViewTableCreation{name, !relation.has_value()};
  });
}

absl::StatusOr<ViewTableDrop> DropViewTable(pg::PgConnection& conn,
                                            const std::string& name) {
  return InTransaction(conn, [&]() -> absl::StatusOr<ViewTableDrop> {
    RETURN_IF_ERROR(LockAndCheckRegistry(conn, name));
    ASSIGN_OR_RETURN(std::optional<Registration> registered,
                     ReadRegistration(conn, name, /*for_update=*/true));
    if (!registered.has_value()) {
      return absl::NotFoundError(absl::StrCat(
          "no declared view named ", name,
          " is registered (enrich_processor_views): nothing dropped"));
    }
    ASSIGN_OR_RETURN(std::optional<Relation> relation,
                     ReadRelation(conn, name));
    if (relation.has_value() && !IsTable(*relation)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the table of declared view ", name, " was replaced by ",
          KindName(relation->kind), " ", relation->qualified_name,
          ", which is not dropped with the view: rename or drop it "
          "yourself, then drop the view again"));
    }
    for (const std::string& statement : DropViewTableStatements(name)) {
      RETURN_IF_ERROR(conn.Exec(
          statement, absl::StrCat("dropping the table of view ", name)));
    }
    ViewTableDrop dropped;
    dropped.table = name;
    dropped.consumer_group = registered->consumer_group;
    dropped.table_dropped = relation.has_value();
    RETURN_IF_ERROR(
        conn.QueryParams("DELETE FROM enrich_processor_views WHERE name = $1",
                         {name}, "unregistering a declared view")
            .status());
    ASSIGN_OR_RETURN(dropped.offset_rows,
                     DeleteGroupRows(conn, "enrich_processor_offsets",
                                     registered->consumer_group));
    ASSIGN_OR_RETURN(dropped.snapshot_rows,
                     DeleteGroupRows(conn, "enrich_processor_snapshots",
                                     registered->consumer_group));
    return dropped;
  });
}

absl::Status CheckViewRegistered(pg::PgConnection& conn,
                                 const std::string& name,
                                 const std::string& definition,
                                 const std::string& consumer_group) {
  ASSIGN_OR_RETURN(Rows exists, conn.QueryParams(kRegistryExistsSql, {},
                                                 "looking for the registry"));
  ASSIGN_OR_RETURN(std::optional<Registration> registered,
                   pg::TextOrEmpty(exists.at(0), 0) == "t"
                       ? ReadRegistration(conn, name, /*for_update=*/false)
                       : std::optional<Registration>());
  if (!registered) {
    return absl::FailedPreconditionError(absl::StrCat(
        "view ", name,
        " has no table yet: run `enrich-processor migrate --view FILE`"));
  }
  if (registered->consumer_group != consumer_group) {
    return absl::FailedPreconditionError(
        absl::StrCat("view ", name, " is maintained by consumer group ",
                     registered->consumer_group, ", not ", consumer_group,
                     ": run with --group-id=", registered->consumer_group));
  }
  if (registered->definition != definition) {
    return absl::FailedPreconditionError(absl::StrCat(
        "view ", name,
        " was migrated with another definition: migrate the new one under "
        "another name, or `enrich-processor drop-view ",
        name, "` and migrate it again"));
  }
  return absl::OkStatus();
}

}  // namespace enrich::processor
