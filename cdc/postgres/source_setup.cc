#include "cdc/postgres/source_setup.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cdc/common/status_macros.h"

namespace enrich::pg {
namespace {

absl::Status Refuse(absl::string_view what) {
  return absl::FailedPreconditionError(what);
}

std::string Value(const Row& row, size_t i) { return row[i].value_or(""); }

}  // namespace

absl::StatusOr<SourceInfo> InspectSource(
    PgConnection& conn, const std::vector<std::string>& tables) {
  SourceInfo info;
  ASSIGN_OR_RETURN(
      std::vector<Row> settings,
      conn.Query("SELECT current_setting('wal_level'), "
                 "current_setting('server_version_num'), "
                 "current_setting('server_encoding'), "
                 "(SELECT rolreplication OR rolsuper FROM pg_roles "
                 " WHERE rolname = current_user), current_user"));
  const Row& s = settings.at(0);
  if (Value(s, 0) != "logical") {
    return Refuse(absl::StrCat(
        "wal_level is '", Value(s, 0), "' on ", conn.describe(),
        "; enrich-cdc needs wal_level = logical "
        "(set it in postgresql.conf or with ALTER SYSTEM and restart)"));
  }
  if (!absl::SimpleAtoi(Value(s, 1), &info.server_version_num)) {
    return absl::InternalError("unreadable server_version_num");
  }
  if (info.server_version_num < 100000) {
    return Refuse("PostgreSQL 10 or newer is required for pgoutput");
  }
  if (Value(s, 2) != "UTF8") {
    return Refuse(absl::StrCat("the database encoding is ", Value(s, 2),
                               "; enrich-cdc publishes text as UTF-8 and "
                               "needs a UTF8 database"));
  }
  if (Value(s, 3) != "t") {
    return Refuse(absl::StrCat("role ", Value(s, 4),
                               " lacks the REPLICATION attribute; run: ALTER "
                               "ROLE ",
                               Value(s, 4), " REPLICATION"));
  }
  for (const std::string& name : tables) {
    std::vector<std::string> parts = absl::StrSplit(name, '.');
    std::string schema = parts.size() == 2 ? parts[0] : "public";
    std::string table = parts.back();
    ASSIGN_OR_RETURN(
        std::vector<Row> found,
        conn.QueryParams(
            "SELECT c.oid, c.relreplident, "
            "has_table_privilege(c.oid, 'SELECT') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN "
            "('r','p')",
            {schema, table}));
    if (found.empty()) {
      return Refuse(absl::StrCat("table ", schema, ".", table,
                                 " does not exist (check --tables)"));
    }
    if (Value(found[0], 2) != "t") {
      return Refuse(absl::StrCat("role ", Value(s, 4), " lacks SELECT on ",
                                 schema, ".", table, "; run: GRANT SELECT ON ",
                                 schema, ".", table, " TO ", Value(s, 4)));
    }
    PublishedTable published;
    published.schema = schema;
    published.table = table;
    published.replica_identity_full = Value(found[0], 1) == "f";
    const std::string oid = Value(found[0], 0);
    ASSIGN_OR_RETURN(
        std::vector<Row> key,
        conn.QueryParams(
            "SELECT a.attname FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, "
            "n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = k.attnum "
            "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.n",
            {oid}));
    if (key.empty()) {
      return Refuse(absl::StrCat(
          "table ", schema, ".", table,
          " has no primary key; enrich-cdc "
          "keys every event by it (add one: ALTER TABLE ... ADD PRIMARY KEY)"));
    }
    for (const Row& k : key) published.primary_key.push_back(Value(k, 0));
    ASSIGN_OR_RETURN(
        std::vector<Row> columns,
        conn.QueryParams("SELECT attname, atttypid, atttypmod FROM "
                         "pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
                         "AND NOT attisdropped ORDER BY attnum",
                         {oid}));
    pgoutput::Relation& relation = published.relation;
    uint32_t parsed_oid = 0;
    (void)absl::SimpleAtoi(oid, &parsed_oid);
    relation.oid = parsed_oid;
    relation.schema = schema;
    relation.table = table;
    relation.replica_identity =
        Value(found[0], 1).empty() ? 'd' : Value(found[0], 1)[0];
    for (const Row& c : columns) {
      pgoutput::ColumnDef def;
      def.name = Value(c, 0);
      (void)absl::SimpleAtoi(Value(c, 1), &def.type_oid);
      (void)absl::SimpleAtoi(Value(c, 2), &def.type_modifier);
      def.key = false;
      for (const std::string& k : published.primary_key)
        def.key |= k == def.name;
      relation.columns.push_back(std::move(def));
    }
    info.tables.push_back(std::move(published));
  }
  return info;
}

absl::StatusOr<std::vector<std::string>> MissingFromPublication(
    PgConnection& conn, const std::string& publication,
    const std::vector<PublishedTable>& tables) {
  ASSIGN_OR_RETURN(std::vector<Row> exists,
                   conn.QueryParams("SELECT puballtables FROM pg_publication "
                                    "WHERE pubname = $1",
                                    {publication}));
  std::vector<std::string> missing;
  if (!exists.empty() && Value(exists[0], 0) == "t") return missing;
  for (const PublishedTable& t : tables) {
    if (!exists.empty()) {
      ASSIGN_OR_RETURN(
          std::vector<Row> member,
          conn.QueryParams("SELECT 1 FROM pg_publication_tables WHERE pubname "
                           "= $1 AND schemaname = $2 AND tablename = $3",
                           {publication, t.schema, t.table}));
      if (!member.empty()) continue;
    }
    missing.push_back(absl::StrCat(t.schema, ".", t.table));
  }
  return missing;
}

absl::Status EnsurePublication(PgConnection& conn,
                               const std::string& publication,
                               const std::vector<PublishedTable>& tables) {
  ASSIGN_OR_RETURN(std::vector<std::string> missing,
                   MissingFromPublication(conn, publication, tables));
  if (missing.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<Row> exists,
                   conn.QueryParams("SELECT 1 FROM pg_publication "
                                    "WHERE pubname = $1",
                                    {publication}));
  std::vector<std::string> names;
  for (const PublishedTable& t : tables) {
    if (std::find(missing.begin(), missing.end(),
                  absl::StrCat(t.schema, ".", t.table)) == missing.end()) {
      continue;
    }
    names.push_back(absl::StrCat(conn.QuoteIdentifier(t.schema), ".",
                                 conn.QuoteIdentifier(t.table)));
  }
  return conn.Exec(
      exists.empty() ? absl::StrCat("CREATE PUBLICATION ",
                                    conn.QuoteIdentifier(publication),
                                    " FOR TABLE ", absl::StrJoin(names, ", "))
                     : absl::StrCat("ALTER PUBLICATION ",
                                    conn.QuoteIdentifier(publication),
                                    " ADD TABLE ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<SlotState> ReadSlot(PgConnection& conn,
                                   const std::string& slot) {
  ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      conn.QueryParams("SELECT plugin, active, confirmed_flush_lsn::text, "
                       "database = current_database() FROM "
                       "pg_replication_slots WHERE slot_name = $1",
                       {slot}));
  SlotState state;
  if (rows.empty()) return state;
  state.exists = true;
  state.plugin = Value(rows[0], 0);
  state.active = Value(rows[0], 1) == "t";
  if (rows[0][2].has_value()) {
    ASSIGN_OR_RETURN(state.confirmed_flush_lsn,
                     pgoutput::ParseLsn(*rows[0][2]));
  }
  if (state.plugin != "pgoutput") {
    return Refuse(absl::StrCat(
        "replication slot ", slot, " uses plugin '", state.plugin,
        "', not pgoutput; drop it (SELECT pg_drop_replication_slot('", slot,
        "')) or choose another with --slot"));
  }
  if (Value(rows[0], 3) != "t") {
    return Refuse(absl::StrCat("replication slot ", slot,
                               " belongs to another database; choose another "
                               "name with --slot"));
  }
  return state;
}

absl::StatusOr<CreatedSlot> CreateSlot(PgConnection& replication,
                                       const std::string& slot,
                                       bool export_snapshot) {
  ASSIGN_OR_RETURN(
      std::vector<Row> rows,
      replication.Query(absl::StrCat(
          "CREATE_REPLICATION_SLOT ", replication.QuoteIdentifier(slot),
          " LOGICAL pgoutput ",
          export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT")));
  if (rows.empty() || rows[0].size() < 3 || !rows[0][1].has_value()) {
    return absl::InternalError("CREATE_REPLICATION_SLOT returned no position");
  }
  CreatedSlot created;
  ASSIGN_OR_RETURN(created.consistent_lsn, pgoutput::ParseLsn(*rows[0][1]));
  created.snapshot_name = rows[0][2].value_or("");
  return created;
}

}  // namespace enrich::pg
