#include "tests/integration/processor/source_workload.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/status_macros.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/migrations.h"
#include "tests/support/services_environment.h"

namespace enrich::processor::testing {
namespace {

constexpr char kEnrichedColumns[] =
    "id, source, external_id, title, description, status, priority, "
    "created_at, updated_at, resolved_at, user_uuid, user_id, assignee_id, "
    "tags, custom_fields, raw_data, synced_at, has_linear_ticket, "
    "linear_issue_id, linear_custom_field_id, income, net_worth, "
    "investing_activity, total_copies, total_subscriptions, app_sessions, "
    "message_count, last_message_at, all_messages, linear_identifier, "
    "linear_title, linear_state_name, linear_url";

constexpr char kCaptureSql[] = R"sql(
CREATE TABLE IF NOT EXISTS test_captured_changes (
  seq bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL,
  old_row jsonb, new_row jsonb);
CREATE OR REPLACE FUNCTION test_capture_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_captured_changes (tbl, op, old_row, new_row) VALUES (
    TG_TABLE_NAME, TG_OP,
    CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
    CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION test_capture_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_captured_changes (tbl, op) VALUES (TG_TABLE_NAME, TG_OP);
  RETURN NULL;
END $$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['raw_support_conversations',
      'support_conversation_messages', 'subscribers_insights',
      'linear_issues'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS test_capture_row ON %I', t);
    EXECUTE format('CREATE TRIGGER test_capture_row AFTER INSERT OR UPDATE '
                   'OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION '
                   'test_capture_row()', t);
    EXECUTE format('DROP TRIGGER IF EXISTS test_capture_truncate ON %I', t);
    EXECUTE format('CREATE TRIGGER test_capture_truncate AFTER TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION '
                   'test_capture_truncate()', t);
  END LOOP;
END $$;
)sql";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

enrich::v1::Operation OperationFromTg(const std::string& op) {
  if (op == "INSERT") return enrich::v1::INSERT;
  if (op == "UPDATE") return enrich::v1::UPDATE;
  if (op == "DELETE") return enrich::v1::DELETE;
  if (op == "TRUNCATE") return enrich::v1::TRUNCATE;
  return enrich::v1::OPERATION_UNSPECIFIED;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// Random SQL values.
class Values {
 public:
  explicit Values(std::mt19937_64& rng) : rng_(rng) {}
  int Int(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::string UserId() {
    if (Chance(0.2)) return "NULL";
    if (Chance(0.15)) return Quote(absl::StrCat("ghost-", Int(0, 5)));
    return Quote(absl::StrCat("u", Int(0, 29)));
  }
  std::string LinearIssueId() {
    if (Chance(0.4)) return "NULL";
    if (Chance(0.15)) return Quote(absl::StrCat("lin-ghost-", Int(0, 3)));
    return Quote(absl::StrCat("lin-", Int(0, 19)));
  }
  std::string Body() {
    if (Chance(0.15)) return "NULL";
    if (Chance(0.1)) return "''";
    if (Chance(0.05)) {
      // 20 kB that does not compress: TOASTed out of line.
      return "(SELECT string_agg(md5(random()::text), '') FROM "
             "generate_series(1, 625))";
    }
    return Quote(absl::StrCat("message ", Int(0, 1000000), " it's fine"));
  }
  // Ten distinct instants: many ties on created_at.
  std::string MessageTime() {
    return absl::StrCat("timestamptz '2024-01-01 00:00:00+00' + ", Int(0, 9),
                        " * interval '1 minute'");
  }
  std::string MaybeText(const std::string& prefix) {
    return Chance(0.2) ? "NULL" : Quote(absl::StrCat(prefix, Int(0, 99)));
  }

 private:
  std::mt19937_64& rng_;
};

constexpr char kRandomConversation[] =
    "(SELECT id FROM raw_support_conversations ORDER BY random() LIMIT 1)";
constexpr char kRandomMessage[] =
    "(SELECT id FROM support_conversation_messages ORDER BY random() LIMIT 1)";

std::string RandomStatement(Values& v) {
  switch (v.Int(0, 21)) {
    case 0:
    case 1:
    case 2:
      return absl::StrCat(
          "INSERT INTO raw_support_conversations (id, source, external_id, "
          "title, description, status, priority, created_at, updated_at, "
          "resolved_at, user_uuid, user_id, assignee_id, tags, custom_fields, "
          "raw_data, has_linear_ticket, linear_issue_id, "
          "linear_custom_field_id) VALUES (gen_random_uuid(), 'zendesk', "
          "gen_random_uuid()::text, ",
          v.MaybeText("title "), ", ", v.MaybeText("desc "), ", ",
          v.MaybeText("status-"), ", 'p", v.Int(1, 4),
          "', now(), now(), NULL, ",
          v.Chance(0.5) ? "gen_random_uuid()" : "NULL", ", ", v.UserId(), ", ",
          v.MaybeText("agent-"), ", ",
          v.Chance(0.3) ? "NULL" : "ARRAY['billing', 'vip']", ", ",
          v.Chance(0.3) ? "NULL" : absl::StrCat("'{\"k\": ", v.Int(0, 9), "}'"),
          ", '{\"raw\": true}', ", v.Chance(0.5) ? "true" : "false", ", ",
          v.LinearIssueId(), ", ", v.MaybeText("cf-"), ")");
    case 3:
    case 4:
      return absl::StrCat("UPDATE raw_support_conversations SET title = ",
                          v.MaybeText("retitled "), ", user_id = ", v.UserId(),
                          ", linear_issue_id = ", v.LinearIssueId(),
                          ", updated_at = now(), tags = ARRAY['t", v.Int(0, 3),
                          "'] WHERE id = ", kRandomConversation);
    case 5:
      return absl::StrCat(
          "UPDATE raw_support_conversations SET id = gen_random_uuid() "
          "WHERE id = (SELECT c.id FROM raw_support_conversations c WHERE NOT "
          "EXISTS (SELECT 1 FROM support_conversation_messages m WHERE "
          "m.conversation_id = c.id) ORDER BY random() LIMIT 1)");
    case 6:
      return absl::StrCat("DELETE FROM raw_support_conversations WHERE id = ",
                          kRandomConversation);
    case 7:
    case 8:
    case 9:
    case 10:
      return absl::StrCat(
          "INSERT INTO support_conversation_messages (id, conversation_id, "
          "author_type, body, created_at) SELECT gen_random_uuid(), id, "
          "'agent', ",
          v.Body(), ", ", v.MessageTime(),
          " FROM raw_support_conversations ORDER BY random() LIMIT 1");
    case 11:
      return absl::StrCat(
          "UPDATE support_conversation_messages SET body = ", v.Body(),
          ", created_at = ", v.MessageTime(), " WHERE id = ", kRandomMessage);
    case 12:
      return absl::StrCat(
          "UPDATE support_conversation_messages SET conversation_id = ",
          kRandomConversation, " WHERE id = ", kRandomMessage);
    case 13:
      return absl::StrCat(
          "DELETE FROM support_conversation_messages WHERE id = ",
          kRandomMessage);
    case 14:
      return absl::StrCat(
          "UPDATE support_conversation_messages SET id = gen_random_uuid() "
          "WHERE id = ",
          kRandomMessage);
    case 15:
    case 16:
      return absl::StrCat(
          "INSERT INTO subscribers_insights (distinct_id, income, net_worth, "
          "investing_activity, total_copies, total_subscriptions, "
          "app_sessions) VALUES ('u",
          v.Int(0, 29), "', ", v.MaybeText("income-"), ", ", v.MaybeText("nw-"),
          ", ", v.MaybeText("act-"), ", ", v.Int(0, 50), ", ", v.Int(0, 5),
          ", ", v.Int(0, 500),
          ") ON CONFLICT (distinct_id) DO UPDATE SET income = "
          "EXCLUDED.income, total_copies = EXCLUDED.total_copies, "
          "app_sessions = EXCLUDED.app_sessions, updated_at = now()");
    case 17:
      return absl::StrCat(
          "DELETE FROM subscribers_insights WHERE distinct_id = 'u",
          v.Int(0, 29), "'");
    case 18: {
      const int to = v.Int(0, 29);
      return absl::StrCat(
          "UPDATE subscribers_insights SET distinct_id = 'u", to,
          "' WHERE distinct_id = 'u", v.Int(0, 29),
          "' AND NOT EXISTS (SELECT 1 FROM subscribers_insights WHERE "
          "distinct_id = 'u",
          to, "')");
    }
    case 19: {
      const int k = v.Int(0, 19);
      return absl::StrCat(
          "INSERT INTO linear_issues (id, identifier, title, state_name, url) "
          "VALUES ('lin-",
          k, "', 'SUP-", k, "', ", v.MaybeText("issue "), ", ",
          v.MaybeText("state-"), ", ", v.MaybeText("https://linear.app/"),
          ") ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, "
          "state_name = EXCLUDED.state_name, updated_at = now()");
    }
    case 20: {
      const int to = v.Int(0, 19);
      if (v.Chance(0.5)) {
        return absl::StrCat("DELETE FROM linear_issues WHERE id = 'lin-",
                            v.Int(0, 19), "'");
      }
      return absl::StrCat(
          "UPDATE linear_issues SET id = 'lin-", to, "' WHERE id = 'lin-",
          v.Int(0, 19),
          "' AND NOT EXISTS (SELECT 1 FROM linear_issues WHERE id = 'lin-", to,
          "')");
    }
    case 21:
      if (v.Chance(0.5)) {
        // Truncate-and-reload in one transaction, as the insights export
        // does.
        return "CREATE TEMP TABLE test_si_copy ON COMMIT DROP AS "
               "SELECT * FROM subscribers_insights; "
               "TRUNCATE subscribers_insights; "
               "INSERT INTO subscribers_insights SELECT distinct_id, "
               "CASE WHEN random() < 0.3 THEN 'reloaded' ELSE income END, "
               "net_worth, investing_activity, total_copies + 1, "
               "total_subscriptions, app_sessions, now() FROM test_si_copy "
               "WHERE random() < 0.9";
      }
      return "CREATE TEMP TABLE test_li_copy ON COMMIT DROP AS "
             "SELECT * FROM linear_issues; "
             "TRUNCATE linear_issues; "
             "INSERT INTO linear_issues SELECT id, identifier, "
             "coalesce(title, '') || '*', state_name, url, now() "
             "FROM test_li_copy WHERE random() < 0.9";
  }
  return "SELECT 1";
}

}  // namespace

std::string ReadContractFile(const std::string& name) {
  return ReadFile(absl::StrCat(enrich::testing::ContractDir(), "/", name));
}

absl::Status PrepareTargetDatabase(PgTestConnection& conn) {
  ASSIGN_OR_RETURN(std::vector<Migration> migrations,
                   OrderMigrations(EmbeddedMigrations()));
  ASSIGN_OR_RETURN(
      MigrationReport report,
      ApplyMigrations(enrich::testing::Services().pg_dsn, migrations));
  return conn.Exec(ReadFile(
      absl::StrCat(enrich::testing::ContractDir(), "/enriched_reference.sql")));
}

absl::Status PrepareDatabase(PgTestConnection& conn) {
  RETURN_IF_ERROR(PrepareTargetDatabase(conn));
  return conn.Exec(kCaptureSql);
}

absl::Status ResetDatabase(PgTestConnection& conn) {
  return conn.Exec(
      "TRUNCATE raw_support_conversations, support_conversation_messages, "
      "subscribers_insights, linear_issues, enriched_support_conversations, "
      "enrich_processor_offsets, enrich_processor_snapshots; "
      "DROP TABLE IF EXISTS enrich_cdc_snapshots; "
      "DELETE FROM test_captured_changes");
}

absl::StatusOr<std::vector<enrich::v1::ChangeEvent>> DrainChangeEvents(
    PgTestConnection& conn, int64_t* cursor) {
  ASSIGN_OR_RETURN(
      std::vector<enrich::testing::SqlRow> rows,
      conn.Query(absl::StrCat(
          "SELECT c.seq, c.tbl, c.op, kv.side, kv.key, kv.value "
          "FROM test_captured_changes c LEFT JOIN LATERAL ("
          " SELECT 'old' AS side, e.key, e.value FROM "
          " jsonb_each_text(c.old_row) e UNION ALL"
          " SELECT 'new', e.key, e.value FROM jsonb_each_text(c.new_row) e"
          ") kv ON true WHERE c.seq > ",
          *cursor, " ORDER BY c.seq")));
  std::vector<enrich::v1::ChangeEvent> events;
  int64_t current = -1;
  for (const enrich::testing::SqlRow& row : rows) {
    const int64_t seq = std::stoll(*row[0]);
    if (seq != current) {
      current = seq;
      *cursor = seq;
      enrich::v1::ChangeEvent& event = events.emplace_back();
      event.set_op(OperationFromTg(*row[2]));
      event.set_schema("public");
      event.set_table(*row[1]);
      event.set_commit_lsn(static_cast<uint64_t>(seq));
      event.set_commit_time_us(1700000000000000 + seq);
    }
    enrich::v1::ChangeEvent& event = events.back();
    if (!row[3]) continue;  // TRUNCATE: no columns
    enrich::v1::Row* target =
        *row[3] == "old" ? event.mutable_old_row() : event.mutable_new_row();
    enrich::v1::Column* column = target->add_columns();
    column->set_name(*row[4]);
    if (row[5]) {
      column->set_text(*row[5]);
    } else {
      column->mutable_null();
    }
    const std::string key_name =
        event.table() == "subscribers_insights" ? "distinct_id" : "id";
    const bool key_side =
        event.op() == enrich::v1::DELETE ? *row[3] == "old" : *row[3] == "new";
    if (*row[4] == key_name && key_side && row[5]) {
      column->set_key(true);
      *event.add_key() = *column;
    }
  }
  return events;
}

absl::StatusOr<int64_t> DifferenceFromReference(PgTestConnection& conn) {
  ASSIGN_OR_RETURN(
      std::string count,
      conn.QueryValue(absl::StrCat(
          "SELECT (SELECT count(*) FROM (SELECT * FROM "
          "enriched_support_conversations_reference EXCEPT ALL SELECT ",
          kEnrichedColumns,
          " FROM enriched_support_conversations) a) + (SELECT count(*) FROM "
          "(SELECT ",
          kEnrichedColumns,
          " FROM enriched_support_conversations EXCEPT ALL SELECT * FROM "
          "enriched_support_conversations_reference) b)")));
  return std::stoll(count);
}

std::string DescribeDifference(PgTestConnection& conn) {
  auto rows = conn.Query(absl::StrCat(
      "(SELECT 'missing' AS side, id, message_count, user_id, income, "
      "linear_issue_id, linear_title, left(array_to_string(all_messages, "
      "'|'), 80) FROM (SELECT * FROM enriched_support_conversations_reference "
      "EXCEPT ALL SELECT ",
      kEnrichedColumns,
      " FROM enriched_support_conversations) a LIMIT 5) UNION ALL "
      "(SELECT 'extra', id, message_count, user_id, income, linear_issue_id, "
      "linear_title, left(array_to_string(all_messages, '|'), 80) FROM "
      "(SELECT ",
      kEnrichedColumns,
      " FROM enriched_support_conversations EXCEPT ALL SELECT * FROM "
      "enriched_support_conversations_reference) b LIMIT 5)"));
  if (!rows.ok()) return rows.status().ToString();
  std::string out;
  for (const auto& row : *rows) {
    absl::StrAppend(&out,
                    absl::StrJoin(row, " | ",
                                  [](std::string* o, const auto& cell) {
                                    o->append(cell ? *cell : "NULL");
                                  }),
                    "\n");
  }
  return out;
}

absl::Status RunRandomWorkload(PgTestConnection& conn, std::mt19937_64& rng,
                               int transactions) {
  Values v(rng);
  RETURN_IF_ERROR(conn.Exec(
      absl::StrCat("SELECT setseed(",
                   std::uniform_real_distribution<double>(-1, 1)(rng), ")")));
  for (int t = 0; t < transactions; ++t) {
    RETURN_IF_ERROR(conn.Exec("BEGIN"));
    const int statements = v.Int(1, 4);
    bool failed = false;
    for (int s = 0; s < statements && !failed; ++s) {
      // A statement may fail (a concurrent writer's unique key, say); the
      // transaction is then rolled back like any failed one.
      failed = !conn.Exec(RandomStatement(v)).ok();
    }
    RETURN_IF_ERROR(conn.Exec(failed || v.Chance(0.1) ? "ROLLBACK" : "COMMIT"));
  }
  return absl::OkStatus();
}

}  // namespace enrich::processor::testing
