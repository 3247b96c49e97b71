// Captures real pgoutput bytes from a PostgreSQL 15 server into fixture files
// for tests/unit/pgoutput (run it through capture_pgoutput.sh, which starts a
// throwaway cluster).
//
//   capture_pgoutput --dsn DSN --schema source_schema.sql --out DIR
//
// For each scenario it creates a pgoutput slot, runs a scripted workload,
// ends it with a non-transactional logical message prefixed "capture-end",
// then streams the slot over a replication connection and writes every
// CopyData 'w' (XLogData) message before that marker, hex encoded, one per
// line, to DIR/<scenario>.hex. A few real 'k' keepalives go to
// DIR/walsender_keepalive.hex. Test tooling, not product code: it exits on
// the first error.
#include <libpq-fe.h>
#include <sys/select.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using PgConn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "capture_pgoutput: " << what << "\n";
  std::exit(1);
}

PgConn Connect(const std::string& dsn) {
  PgConn conn(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    Die("connect '" + dsn + "': " + PQerrorMessage(conn.get()));
  }
  return conn;
}

std::string Exec(PGconn* conn, const std::string& sql) {
  PgResult result(PQexec(conn, sql.c_str()), &PQclear);
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Die("SQL failed: " + sql + "\n" + PQerrorMessage(conn));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 &&
      PQnfields(result.get()) > 0) {
    return PQgetvalue(result.get(), 0, 0);
  }
  return "";
}

std::string ToHex(const char* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    auto byte = static_cast<unsigned char>(data[i]);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<unsigned char>(p[i]);
  }
  return value;
}

void PutBigEndian64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Answers a keepalive that asks for a reply, confirming nothing (flush and
// apply stay 0/0: the slot is dropped after the capture anyway).
void SendStandbyStatus(PGconn* conn, uint64_t write_lsn) {
  std::string message = "r";
  PutBigEndian64(&message, write_lsn);
  PutBigEndian64(&message, 0);
  PutBigEndian64(&message, 0);
  const int64_t kPgEpochOffsetUs = 946684800LL * 1000000;
  PutBigEndian64(
      &message,
      static_cast<uint64_t>(static_cast<int64_t>(std::time(nullptr)) * 1000000 -
                            kPgEpochOffsetUs));
  message.push_back(0);
  if (PQputCopyData(conn, message.data(), static_cast<int>(message.size())) !=
          1 ||
      PQflush(conn) != 0) {
    Die(std::string("standby status update: ") + PQerrorMessage(conn));
  }
}

struct Scenario {
  std::string name;
  std::string description;
  int proto_version;
  bool streaming;
  bool binary;
  std::vector<std::string> workload;
  // Stream while the workload runs, so the server decodes an open
  // transaction (a rollback is only streamed if its changes were decoded
  // before the abort; decoded afterwards, PostgreSQL 15 discards them).
  bool concurrent = false;
};

// 20,000 characters of md5 hex: pglz cannot shrink it by 25%, so it is
// stored out of line (TOASTed, uncompressed).
const char kBigText[] =
    "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 625) g)";

const char kConversation1[] = "'11111111-1111-1111-1111-111111111111'";
const char kConversation2[] = "'22222222-2222-2222-2222-222222222222'";

std::string Rows(const std::string& conversation, int first, int count,
                 const std::string& body_prefix) {
  // Message ids 00000000-0000-0000-0000-<12-digit n> so tests can check them.
  return "INSERT INTO support_conversation_messages "
         "(id, conversation_id, author_type, body, created_at) "
         "SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, "
         "'0'))::uuid, " +
         conversation + ", 'user', '" + body_prefix +
         " ' || g, timestamptz '2024-03-01 00:00:00+00' + g * interval '1 "
         "second' FROM generate_series(" +
         std::to_string(first) + ", " + std::to_string(first + count - 1) +
         ") g";
}

std::vector<Scenario> Scenarios() {
  std::string conv1 = kConversation1;
  std::string conv2 = kConversation2;
  std::vector<Scenario> scenarios;

  scenarios.push_back(
      {"v1_dml",
       "proto_version 1: inserts with NULL and empty strings, a primary-key "
       "change under REPLICA IDENTITY DEFAULT ('K' old key), updates and "
       "deletes under FULL ('O' old tuple) and DEFAULT ('K')",
       1,
       false,
       false,
       {
           "INSERT INTO linear_issues (id, identifier, title, state_name, url, "
           "updated_at) VALUES ('LIN-1', 'SUP-1', 'Crash on login', NULL, '', "
           "'2024-01-02 03:04:05+00')",
           "INSERT INTO raw_support_conversations (id, source, external_id, "
           "title, description, status, created_at, updated_at, user_id, "
           "tags, custom_fields, linear_issue_id, has_linear_ticket) VALUES "
           "(" +
               conv1 +
               ", 'zendesk', 'ZD-1', 'Login crash', 'cannot log in', 'open', "
               "'2024-01-02 03:04:05+00', '2024-01-02 03:04:05+00', 'user-1', "
               "ARRAY['bug','login'], '{\"plan\": \"pro\"}', 'LIN-1', true)",
           "BEGIN; INSERT INTO support_conversation_messages (id, "
           "conversation_id, author_type, body, created_at) VALUES "
           "('aaaaaaaa-0000-0000-0000-000000000001', " +
               conv1 +
               ", 'user', NULL, '2024-01-02 03:05:00+00'), "
               "('aaaaaaaa-0000-0000-0000-000000000002', " +
               conv1 +
               ", 'agent', '', '2024-01-02 03:06:00+00'); "
               "UPDATE raw_support_conversations SET status = 'pending' WHERE "
               "id = " +
               conv1 + "; COMMIT",
           "UPDATE linear_issues SET id = 'LIN-2' WHERE id = 'LIN-1'",
           "UPDATE support_conversation_messages SET body = 'edited' WHERE id "
           "= 'aaaaaaaa-0000-0000-0000-000000000002'",
           "DELETE FROM support_conversation_messages WHERE id = "
           "'aaaaaaaa-0000-0000-0000-000000000001'",
           "DELETE FROM linear_issues WHERE id = 'LIN-2'",
           "DELETE FROM raw_support_conversations WHERE id = " + conv1,
       }});

  scenarios.push_back(
      {"v1_toast",
       "proto_version 1: a 20 kB TOASTed text left unchanged by an UPDATE, "
       "under REPLICA IDENTITY DEFAULT (support_conversation_messages.body) "
       "and FULL (raw_support_conversations.description)",
       1,
       false,
       false,
       {
           "INSERT INTO raw_support_conversations (id, source, external_id, "
           "title, description, status, created_at, updated_at) VALUES (" +
               conv2 + ", 'intercom', 'IC-2', 'Big one', " + kBigText +
               ", 'open', '2024-02-01 00:00:00+00', '2024-02-01 "
               "00:00:00+00')",
           "INSERT INTO support_conversation_messages (id, conversation_id, "
           "author_type, body, created_at) VALUES "
           "('bbbbbbbb-0000-0000-0000-000000000001', " +
               conv2 + ", 'user', " + kBigText + ", '2024-02-01 00:01:00+00')",
           "UPDATE support_conversation_messages SET author_type = 'customer' "
           "WHERE id = 'bbbbbbbb-0000-0000-0000-000000000001'",
           "UPDATE raw_support_conversations SET status = 'solved' WHERE id "
           "= " +
               conv2,
       }});

  scenarios.push_back(
      {"v1_ddl_truncate_message",
       "proto_version 1: a custom enum type (Type message), ALTER TABLE ADD "
       "COLUMN mid-stream (a second Relation for the same OID), REPLICA "
       "IDENTITY USING INDEX and NOTHING, logical messages (transactional, "
       "non-transactional, bytes with NUL), a replication origin (Origin "
       "message), TRUNCATE CASCADE and TRUNCATE RESTART IDENTITY",
       1,
       false,
       false,
       {
           "INSERT INTO linear_issues (id, identifier, title) VALUES "
           "('LIN-10', 'SUP-10', 'before alter')",
           "ALTER TABLE linear_issues ADD COLUMN priority integer",
           "INSERT INTO linear_issues (id, identifier, title, priority) "
           "VALUES ('LIN-11', 'SUP-11', 'after alter', 3)",
           "CREATE TYPE conversation_channel AS ENUM ('email', 'chat', "
           "'phone')",
           "CREATE TABLE conversation_channels (conversation_id uuid PRIMARY "
           "KEY, channel conversation_channel NOT NULL, note text, code "
           "integer NOT NULL UNIQUE)",
           "ALTER TABLE conversation_channels REPLICA IDENTITY USING INDEX "
           "conversation_channels_code_key",
           "INSERT INTO conversation_channels VALUES (" + conv1 +
               ", 'chat', 'via widget', 7)",
           "UPDATE conversation_channels SET code = 8 WHERE code = 7",
           "CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY, "
           "note text)",
           "ALTER TABLE audit_log REPLICA IDENTITY NOTHING",
           "INSERT INTO audit_log (note) VALUES ('nothing identity')",
           "BEGIN; SELECT pg_logical_emit_message(true, 'enrich.test', "
           "'transactional payload'); INSERT INTO linear_issues (id, "
           "identifier) VALUES ('LIN-12', 'SUP-12'); COMMIT",
           "SELECT pg_logical_emit_message(false, 'enrich.test', "
           "'non-transactional payload')",
           "SELECT pg_logical_emit_message(false, 'enrich.bytes', "
           "'\\x00ff00'::bytea)",
           "SELECT pg_replication_origin_create('enrich_upstream')",
           "SELECT pg_replication_origin_session_setup('enrich_upstream')",
           "BEGIN; SELECT pg_replication_origin_xact_setup('0/AB12CD34', "
           "'2024-01-01 00:00:00+00'); INSERT INTO linear_issues (id, "
           "identifier) VALUES ('LIN-13', 'SUP-13'); COMMIT",
           "SELECT pg_replication_origin_session_reset()",
           "INSERT INTO raw_support_conversations (id, source, external_id, "
           "created_at, updated_at) VALUES (" +
               conv1 +
               ", 'zendesk', 'ZD-1', '2024-01-02 03:04:05+00', '2024-01-02 "
               "03:04:05+00')",
           "TRUNCATE raw_support_conversations CASCADE",
           "TRUNCATE audit_log RESTART IDENTITY",
       }});

  scenarios.push_back(
      {"v1_binary",
       "proto_version 1 with binary 'true': values in each type's binary "
       "send format ('b' columns)",
       1,
       false,
       true,
       {
           "INSERT INTO subscribers_insights (distinct_id, income, "
           "total_copies, total_subscriptions, app_sessions, updated_at) "
           "VALUES ('user-1', '100k', 42, NULL, -7, '2024-01-02 "
           "03:04:05+00')",
       }});

  scenarios.push_back(
      {"v2_stream_commit",
       "proto_version 2, streaming 'on', logical_decoding_work_mem 64kB: a "
       "large transaction streamed in blocks (Stream Start/Stop) then Stream "
       "Commit, with a transactional logical message inside; then a small "
       "ordinary transaction (Begin/Commit)",
       2,
       true,
       false,
       {
           "INSERT INTO raw_support_conversations (id, source, external_id, "
           "created_at, updated_at) VALUES (" +
               conv1 +
               ", 'zendesk', 'ZD-1', '2024-01-02 03:04:05+00', '2024-01-02 "
               "03:04:05+00')",
           "BEGIN; " + Rows(conv1, 1, 200, "streamed") +
               "; SELECT pg_logical_emit_message(true, 'enrich.test', 'inside "
               "stream'); " +
               Rows(conv1, 201, 200, "streamed") + "; COMMIT",
           "UPDATE raw_support_conversations SET status = 'after stream' "
           "WHERE id = " +
               conv1,
       }});

  scenarios.push_back(
      {"v2_stream_abort",
       "proto_version 2, streaming 'on', logical_decoding_work_mem 64kB: a "
       "large transaction streamed while still open (the capture streams "
       "concurrently), then rolled back (Stream Abort with subxid = xid)",
       2,
       true,
       false,
       {
           "BEGIN; " + Rows(conv1, 1001, 400, "rolled back") +
               "; SELECT pg_sleep(2); ROLLBACK",
       },
       /*concurrent=*/true});

  scenarios.push_back(
      {"v2_stream_subxact_abort",
       "proto_version 2, streaming 'on', logical_decoding_work_mem 64kB: a "
       "streamed transaction whose subtransaction is rolled back (ROLLBACK "
       "TO SAVEPOINT => Stream Abort with subxid != xid), then committed",
       2,
       true,
       false,
       {
           "INSERT INTO raw_support_conversations (id, source, external_id, "
           "created_at, updated_at) VALUES (" +
               conv2 +
               ", 'intercom', 'IC-2', '2024-02-01 00:00:00+00', '2024-02-01 "
               "00:00:00+00')",
           "BEGIN; " + Rows(conv2, 2001, 120, "kept") +
               "; SAVEPOINT before_mistake; " +
               Rows(conv2, 3001, 300, "undone") +
               "; ROLLBACK TO SAVEPOINT before_mistake; " +
               Rows(conv2, 4001, 3, "after savepoint") + "; COMMIT",
       }});
  return scenarios;
}

struct Capture {
  std::vector<std::string> xlogdata_hex;
  std::vector<std::string> keepalive_hex;
};

bool IsEndMarker(const char* payload, size_t size) {
  static const char kMarker[] = "capture-end";
  return size > 0 && payload[0] == 'M' &&
         std::string(payload, size).find(kMarker) != std::string::npos;
}

PgConn StartStream(const std::string& dsn, const Scenario& scenario,
                   const std::string& slot) {
  PgConn repl = Connect(
      dsn +
      " replication=database options='-c logical_decoding_work_mem=64kB'");
  std::string command = "START_REPLICATION SLOT " + slot +
                        " LOGICAL 0/0 (proto_version '" +
                        std::to_string(scenario.proto_version) +
                        "', publication_names 'capture_pub', messages 'true'";
  if (scenario.streaming) command += ", streaming 'on'";
  if (scenario.binary) command += ", binary 'true'";
  command += ")";
  {
    PgResult started(PQexec(repl.get(), command.c_str()), &PQclear);
    if (PQresultStatus(started.get()) != PGRES_COPY_BOTH) {
      Die(command + ": " + PQerrorMessage(repl.get()));
    }
  }

  return repl;
}

Capture ReadStream(PgConn repl, const std::string& slot, bool want_keepalives) {
  Capture capture;
  bool seen_end = false;
  uint64_t last_wal_end = 0;
  time_t deadline = std::time(nullptr) + 60;
  while (!seen_end || (want_keepalives && capture.keepalive_hex.empty())) {
    if (std::time(nullptr) > deadline) Die("timed out streaming " + slot);
    char* buffer = nullptr;
    int length = PQgetCopyData(repl.get(), &buffer, /*async=*/1);
    if (length == 0) {
      int socket = PQsocket(repl.get());
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(socket, &readable);
      timeval timeout{1, 0};
      if (select(socket + 1, &readable, nullptr, nullptr, &timeout) < 0) {
        Die("select failed");
      }
      if (PQconsumeInput(repl.get()) == 0) {
        Die(std::string("consume: ") + PQerrorMessage(repl.get()));
      }
      continue;
    }
    if (length < 0) Die(std::string("copy: ") + PQerrorMessage(repl.get()));
    std::string message(buffer, static_cast<size_t>(length));
    PQfreemem(buffer);
    if (message[0] == 'k' && message.size() >= 18) {
      if (capture.keepalive_hex.size() < 3) {
        capture.keepalive_hex.push_back(ToHex(message.data(), message.size()));
      }
      if (message[17] != 0) SendStandbyStatus(repl.get(), last_wal_end);
      continue;
    }
    if (message[0] != 'w' || message.size() < 25) Die("unexpected CopyData");
    last_wal_end = ReadBigEndian64(message.data() + 9);
    if (seen_end) continue;
    if (IsEndMarker(message.data() + 25, message.size() - 25)) {
      seen_end = true;
      continue;
    }
    capture.xlogdata_hex.push_back(ToHex(message.data(), message.size()));
  }
  PQputCopyEnd(repl.get(), nullptr);
  return capture;
}

void WriteFixture(const std::string& path, const std::string& header,
                  const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) Die("cannot write " + path);
  out << header;
  for (const std::string& line : lines) out << line << "\n";
  if (!out.flush()) Die("write failed: " + path);
}

std::string CommentLines(const std::string& text) {
  std::string out = "# ";
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') out += "# ";
  }
  return out + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn, schema_path, out_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dsn") {
      dsn = argv[i + 1];
    } else if (flag == "--schema") {
      schema_path = argv[i + 1];
    } else if (flag == "--out") {
      out_dir = argv[i + 1];
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (dsn.empty() || schema_path.empty() || out_dir.empty()) {
    Die("usage: capture_pgoutput --dsn DSN --schema SQL --out DIR");
  }
  std::ifstream schema_file(schema_path);
  if (!schema_file) Die("cannot read " + schema_path);
  std::stringstream schema;
  schema << schema_file.rdbuf();

  PgConn sql = Connect(dsn);
  std::string version = Exec(sql.get(), "SELECT version()");
  Exec(sql.get(), schema.str());
  Exec(sql.get(),
       "ALTER TABLE raw_support_conversations REPLICA IDENTITY FULL; "
       "ALTER TABLE subscribers_insights REPLICA IDENTITY FULL");
  Exec(sql.get(), "CREATE PUBLICATION capture_pub FOR ALL TABLES");

  bool keepalives_written = false;
  for (const Scenario& scenario : Scenarios()) {
    std::string slot = "capture_" + scenario.name;
    // A slot decodes only what is written after it exists, so each scenario
    // sees its own workload (and fresh Relation messages on its connection).
    Exec(sql.get(), "SELECT pg_create_logical_replication_slot('" + slot +
                        "', 'pgoutput')");
    PgConn repl(nullptr, &PQfinish);
    if (scenario.concurrent) repl = StartStream(dsn, scenario, slot);
    for (const std::string& statement : scenario.workload) {
      Exec(sql.get(), statement);
    }
    Exec(sql.get(), "SELECT pg_logical_emit_message(false, 'capture-end', '" +
                        scenario.name + "')");
    if (!scenario.concurrent) repl = StartStream(dsn, scenario, slot);
    Capture capture = ReadStream(std::move(repl), slot, !keepalives_written);
    // The walsender exits asynchronously after the client goes away.
    for (int i = 0; Exec(sql.get(),
                         "SELECT active FROM pg_replication_slots "
                         "WHERE slot_name = '" +
                             slot + "'") == "t";
         ++i) {
      if (i > 100) Die("slot " + slot + " stays active");
      usleep(100000);
    }
    Exec(sql.get(), "SELECT pg_drop_replication_slot('" + slot + "')");

    std::string options = "proto_version '" +
                          std::to_string(scenario.proto_version) +
                          "', publication_names 'capture_pub', messages 'true'";
    if (scenario.streaming) options += ", streaming 'on'";
    if (scenario.binary) options += ", binary 'true'";
    std::string header =
        "# Real pgoutput output captured by tests/tools/capture_pgoutput.sh\n"
        "# (tests/tools/capture_pgoutput.cc) from: " +
        version +
        "\n"
        "# Scenario " +
        scenario.name + ": " + scenario.description +
        "\n"
        "# START_REPLICATION SLOT ... LOGICAL 0/0 (" +
        options +
        ")\n"
        "# Tables: shared/contract/source_schema.sql, raw_support_conversations"
        " and\n# subscribers_insights REPLICA IDENTITY FULL, the others "
        "DEFAULT.\n"
        "# Each data line is one whole CopyData 'w' (XLogData) message in hex:"
        "\n# 'w', wal_start, wal_end, send_time (8 bytes each), then one "
        "pgoutput\n# message. Workload, in order:\n";
    for (const std::string& statement : scenario.workload) {
      header += CommentLines(statement);
    }
    WriteFixture(out_dir + "/" + scenario.name + ".hex", header,
                 capture.xlogdata_hex);
    std::cout << scenario.name << ": " << capture.xlogdata_hex.size()
              << " XLogData messages\n";
    if (!keepalives_written && !capture.keepalive_hex.empty()) {
      WriteFixture(out_dir + "/walsender_keepalive.hex",
                   "# Real walsender CopyData 'k' (Primary keepalive) "
                   "messages in hex, captured by\n"
                   "# tests/tools/capture_pgoutput.sh from: " +
                       version +
                       "\n# 'k', wal_end, send_time (8 bytes each), "
                       "reply_requested (1 byte).\n",
                   capture.keepalive_hex);
      keepalives_written = true;
    }
  }
  return 0;
}
