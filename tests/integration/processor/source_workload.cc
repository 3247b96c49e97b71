#include "tests/integration/processor/source_workload.h"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
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

// Adversarial values: what a text, text[] or jsonb column's encodings
// (pgoutput's text format, array literals, JSON) must carry unharmed.
constexpr const char* kNastyTexts[] = {
    "''",
    "'NULL'",
    "'null'",
    "'it''s ''quoted'''",
    "'\"double\" quotes'",
    "'a,b,,c'",
    "'{braces}'",
    "'{a,\"b\",NULL}'",
    "'{}'",
    "'back\\slash \\N \\\\'",
    "E'line\\nbreak\\r\\nand\\ttab'",
    "' padded '",
    "'(1,2)'",
    "'ünïcödé ✓ 日本語 русский'",
    "'emoji 🎉 ok'",
    "E'all: ''q'' \"d\" ,{x}\\\\ \\n NULL ü'",
};

class Adversarial {
 public:
  explicit Adversarial(Values& v) : v_(v) {}
  std::string Nasty() {
    const std::string text =
        kNastyTexts[v_.Int(0, static_cast<int>(std::size(kNastyTexts)) - 1)];
    return v_.Chance(0.3) ? absl::StrCat(text, " || ' ", v_.Int(0, 9), "'")
                          : text;
  }
  // NULL, an adversarial value or a plain one.
  std::string Text(const std::string& prefix) {
    if (v_.Chance(0.15)) return "NULL";
    if (v_.Chance(0.55)) return Nasty();
    return Quote(absl::StrCat(prefix, v_.Int(0, 99)));
  }
  // 20 kB that does not compress (TOASTed out of line), sometimes ending in
  // an adversarial value.
  std::string Large() {
    std::string large =
        "(SELECT string_agg(md5(random()::text), '') FROM "
        "generate_series(1, 625))";
    return v_.Chance(0.5) ? absl::StrCat(large, " || ", Nasty()) : large;
  }
  std::string Body() {
    if (v_.Chance(0.1)) return Large();
    if (v_.Chance(0.5)) return Text("body ");
    return v_.Body();
  }
  std::string Tags() {
    if (v_.Chance(0.15)) return "NULL";
    if (v_.Chance(0.1)) return "'{}'::text[]";
    std::string out = "ARRAY[";
    const int n = v_.Int(1, 4);
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&out, i > 0 ? ", " : "",
                      v_.Chance(0.1) ? "NULL" : Nasty());
    }
    return absl::StrCat(out, "]::text[]");
  }
  std::string Json() {
    switch (v_.Int(0, 6)) {
      case 0:
        return "NULL";
      case 1:
        return "'null'::jsonb";  // JSON null, not SQL NULL
      case 2:
        return absl::StrCat("to_jsonb(", Nasty(), "::text)");
      case 3:
        return "'[]'::jsonb";
      default:
        return absl::StrCat("jsonb_build_object(", Nasty(), "::text, ", Nasty(),
                            "::text, 'list', jsonb_build_array(", Nasty(),
                            "::text, NULL::text, 1.5, true), 'nested', "
                            "jsonb_build_object('k', ",
                            Nasty(), "::text))");
    }
  }
  // The user pool of RandomStatement, ids that do not exist, and ids that
  // are adversarial values themselves (the text 'NULL', the empty string).
  std::string UserId() {
    if (v_.Chance(0.15)) {
      const char* odd[] = {"'NULL'", "''", "'u,{1}\"'", "'ü-user'"};
      return odd[v_.Int(0, 3)];
    }
    return v_.UserId();
  }
  std::string LinearIssueId() {
    if (v_.Chance(0.1)) return v_.Chance(0.5) ? "'NULL'" : "''";
    return v_.LinearIssueId();
  }

 private:
  Values& v_;
};

constexpr char kLargeMessage[] =
    "(SELECT id FROM support_conversation_messages WHERE octet_length(body) "
    "> 10000 ORDER BY random() LIMIT 1)";
constexpr char kLargeConversation[] =
    "(SELECT id FROM raw_support_conversations WHERE octet_length("
    "description) > 10000 OR id IN (SELECT conversation_id FROM "
    "support_conversation_messages WHERE octet_length(body) > 10000) ORDER BY "
    "random() LIMIT 1)";

std::string AdversarialStatement(Values& v) {
  Adversarial a(v);
  switch (v.Int(0, 13)) {
    case 0:
      return absl::StrCat(
          "INSERT INTO raw_support_conversations (id, source, external_id, "
          "title, description, status, priority, created_at, updated_at, "
          "resolved_at, user_uuid, user_id, assignee_id, tags, custom_fields, "
          "raw_data, has_linear_ticket, linear_issue_id, "
          "linear_custom_field_id) VALUES (gen_random_uuid(), ",
          a.Nasty(), ", ", a.Nasty(), " || gen_random_uuid()::text, ",
          a.Text("title "), ", ", v.Chance(0.2) ? a.Large() : a.Text("desc "),
          ", ", a.Text("status "), ", ", a.Text("p"), ", now(), now(), ",
          v.Chance(0.3) ? "now()" : "NULL", ", ",
          v.Chance(0.5) ? "gen_random_uuid()" : "NULL", ", ", a.UserId(), ", ",
          a.Text("agent "), ", ", a.Tags(), ", ", a.Json(), ", ", a.Json(),
          ", ", v.Chance(0.5) ? "true" : "false", ", ", a.LinearIssueId(), ", ",
          a.Text("cf "), ")");
    case 1:
      // Other columns of a row with a TOASTed value: the unchanged value is
      // not in the new tuple of the WAL record.
      return absl::StrCat(
          "UPDATE raw_support_conversations SET status = ", a.Text("status "),
          ", priority = ", a.Text("p"), ", tags = ", a.Tags(),
          ", custom_fields = ", a.Json(),
          ", updated_at = now() WHERE id = ", kLargeConversation);
    case 2:
      return absl::StrCat(
          "UPDATE support_conversation_messages SET author_type = ",
          a.Text("author "), ", created_at = ", v.MessageTime(),
          ", updated_at = now() WHERE id = ", kLargeMessage);
    case 3:
      if (v.Chance(0.5)) {
        return absl::StrCat("UPDATE support_conversation_messages SET body = ",
                            v.Chance(0.7) ? "body || " : "", a.Nasty(),
                            " WHERE id = ", kLargeMessage);
      }
      return absl::StrCat(
          "UPDATE raw_support_conversations SET description = description "
          "|| ",
          a.Nasty(), ", title = ", a.Text("title "),
          " WHERE id = ", kLargeConversation);
    case 4:
    case 5:
      return absl::StrCat(
          "INSERT INTO support_conversation_messages (id, conversation_id, "
          "author_type, body, created_at) SELECT gen_random_uuid(), id, ",
          a.Text("author "), ", ", a.Body(), ", ", v.MessageTime(),
          " FROM raw_support_conversations ORDER BY random() LIMIT 1");
    case 6:
      // Every message of one conversation moved to another.
      return absl::StrCat(
          "UPDATE support_conversation_messages SET conversation_id = ",
          kRandomConversation,
          " WHERE conversation_id = ", kRandomConversation);
    case 7:
      return absl::StrCat(
          "UPDATE raw_support_conversations SET user_id = ", a.UserId(),
          " WHERE id IN (SELECT id FROM raw_support_conversations ORDER BY "
          "random() LIMIT ",
          v.Int(1, 5), ")");
    case 8:
      return absl::StrCat(
          "UPDATE raw_support_conversations SET linear_issue_id = ",
          a.LinearIssueId(), ", has_linear_ticket = NOT has_linear_ticket",
          " WHERE id IN (SELECT id FROM raw_support_conversations ORDER BY "
          "random() LIMIT ",
          v.Int(1, 5), ")");
    case 9:
      return absl::StrCat(
          "INSERT INTO subscribers_insights (distinct_id, income, net_worth, "
          "investing_activity, total_copies, total_subscriptions, "
          "app_sessions) VALUES (",
          v.Chance(0.2) ? a.UserId() : Quote(absl::StrCat("u", v.Int(0, 29))),
          ", ", a.Text("income "), ", ", a.Text("nw "), ", ", a.Text("act "),
          ", ", v.Int(0, 50), ", ", v.Int(0, 5), ", ", v.Int(0, 500),
          ") ON CONFLICT (distinct_id) DO UPDATE SET income = "
          "EXCLUDED.income, net_worth = EXCLUDED.net_worth, "
          "investing_activity = EXCLUDED.investing_activity, updated_at = "
          "now()");
    case 10: {
      const int k = v.Int(0, 19);
      return absl::StrCat(
          "INSERT INTO linear_issues (id, identifier, title, state_name, url) "
          "VALUES ('lin-",
          k, "', ", v.Chance(0.5) ? a.Nasty() : absl::StrCat("'SUP-", k, "'"),
          ", ", a.Text("issue "), ", ", a.Text("state "), ", ",
          a.Text("https://linear.app/"),
          ") ON CONFLICT (id) DO UPDATE SET identifier = EXCLUDED.identifier, "
          "title = EXCLUDED.title, state_name = EXCLUDED.state_name, url = "
          "EXCLUDED.url, updated_at = now()");
    }
    case 11: {
      // A Linear issue re-keyed; sometimes its conversations follow in the
      // same transaction, sometimes they are left dangling.
      const std::string from = absl::StrCat("'lin-", v.Int(0, 19), "'");
      const std::string to = absl::StrCat("'lin-", v.Int(0, 25), "'");
      std::string sql = absl::StrCat(
          "UPDATE linear_issues SET id = ", to, " WHERE id = ", from,
          " AND NOT EXISTS (SELECT 1 FROM linear_issues WHERE id = ", to, ")");
      if (v.Chance(0.6)) {
        absl::StrAppend(&sql,
                        "; UPDATE raw_support_conversations SET "
                        "linear_issue_id = ",
                        to, " WHERE linear_issue_id = ", from);
      }
      return sql;
    }
    case 12:
      // Truncate-and-reload with adversarial values in one transaction.
      return absl::StrCat(
          "CREATE TEMP TABLE test_si_copy ON COMMIT DROP AS "
          "SELECT * FROM subscribers_insights; "
          "TRUNCATE subscribers_insights; "
          "INSERT INTO subscribers_insights SELECT distinct_id, "
          "CASE WHEN random() < 0.3 THEN ",
          a.Nasty(),
          " ELSE income END, net_worth, investing_activity, total_copies + 1, "
          "total_subscriptions, app_sessions, now() FROM test_si_copy "
          "WHERE random() < 0.95");
    case 13:
      return absl::StrCat(
          "DELETE FROM support_conversation_messages WHERE conversation_id = ",
          kRandomConversation);
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

absl::Status RunAdversarialWorkload(PgTestConnection& conn,
                                    std::mt19937_64& rng, int transactions,
                                    WorkloadStats* stats) {
  WorkloadStats ignored;
  if (stats == nullptr) stats = &ignored;
  Values v(rng);
  RETURN_IF_ERROR(conn.Exec(
      absl::StrCat("SELECT setseed(",
                   std::uniform_real_distribution<double>(-1, 1)(rng), ")")));
  for (int t = 0; t < transactions; ++t) {
    RETURN_IF_ERROR(conn.Exec("BEGIN"));
    const bool large = v.Chance(0.04);
    const int statements = large ? v.Int(80, 250) : v.Int(1, 3);
    bool failed = false;
    for (int s = 0; s < statements && !failed; ++s) {
      std::string sql =
          v.Chance(0.5) ? AdversarialStatement(v) : RandomStatement(v);
      if (absl::StrContains(sql, "CREATE TEMP TABLE")) {
        // A reload earlier in the same transaction left its copy.
        sql = absl::StrCat("DROP TABLE IF EXISTS test_si_copy, test_li_copy; ",
                           sql);
      }
      if (!v.Chance(0.15)) {
        // A failed statement (a concurrent writer's unique key, say) rolls
        // the transaction back like any failed one.
        ++stats->statements;
        failed = !conn.Exec(sql).ok();
        stats->statements_failed += failed;
        continue;
      }
      // In a subtransaction, rolled back half of the time (and when it
      // failed): its changes must never reach the table.
      RETURN_IF_ERROR(conn.Exec("SAVEPOINT chaos"));
      ++stats->statements;
      const bool ok = conn.Exec(sql).ok();
      stats->statements_failed += !ok;
      if (!ok || v.Chance(0.5)) {
        RETURN_IF_ERROR(conn.Exec("ROLLBACK TO SAVEPOINT chaos"));
        ++stats->savepoints_rolled_back;
      } else {
        RETURN_IF_ERROR(conn.Exec("RELEASE SAVEPOINT chaos"));
      }
    }
    const bool commit = !failed && !v.Chance(0.08);
    RETURN_IF_ERROR(conn.Exec(commit ? "COMMIT" : "ROLLBACK"));
    ++(commit ? stats->committed : stats->rolled_back);
    if (large) ++stats->large;
  }
  return absl::OkStatus();
}

}  // namespace enrich::processor::testing
