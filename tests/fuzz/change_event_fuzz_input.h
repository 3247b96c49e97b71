// The input format of change_event_view_fuzz.cc, and its seeds.
//
// An input is one batch of Kafka record values: frames, each a 2-byte
// big-endian length and that many bytes (a last frame cut short takes what
// is left). Each frame is one record value, read by ChangeEventView and,
// when it parses, planned by AffectedConversationsPlanner, as the
// processor's batch builder does.
//
// The seeds are events shaped like the contract tables' as enrich-cdc
// publishes them (built here through protobuf's generated API, the format's
// reference): inserts, updates with full and key-only old rows, deletes,
// truncates and snapshot rows of the four tables, message edits, appends and
// moves, upper-case uuids, and a few an operator would find on the
// dead-letter topic (another schema, an unknown table, a NULL key, an id
// that is not a uuid).
#ifndef ENRICH_TESTS_FUZZ_CHANGE_EVENT_FUZZ_INPUT_H_
#define ENRICH_TESTS_FUZZ_CHANGE_EVENT_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/change_event.pb.h"

namespace enrich::fuzz {

inline constexpr size_t kMaxRecordSize = 0xffff;

// Records longer than kMaxRecordSize are cut to it.
inline std::string EncodeChangeEventFuzzInput(
    const std::vector<std::string>& records) {
  std::string out;
  for (const std::string& record : records) {
    size_t size = std::min(record.size(), kMaxRecordSize);
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
    out.append(record, 0, size);
  }
  return out;
}

namespace seeds {

// A column: its text, or NULL (`null`), or an unchanged TOAST (`toast`).
struct Col {
  std::string name;
  std::string text;
  bool null = false;
  bool toast = false;
};

inline void FillColumn(const Col& col, bool key, v1::Column* c) {
  c->set_name(col.name);
  c->set_type_oid(col.name == "id" || col.name == "conversation_id" ? 2950
                                                                    : 25);
  c->set_key(key);
  if (col.toast) {
    c->mutable_unchanged_toast();
  } else if (col.null) {
    c->mutable_null();
  } else {
    c->set_text(col.text);
  }
}

inline std::string Event(v1::Operation op, const std::string& table,
                         const std::vector<Col>& key,
                         const std::vector<Col>& new_row,
                         const std::vector<Col>& old_row, bool has_old_row,
                         uint64_t lsn, const std::string& schema = "public") {
  v1::ChangeEvent e;
  e.set_op(op);
  e.set_schema(schema);
  e.set_table(table);
  e.set_relation_oid(16400);
  for (const Col& col : key) FillColumn(col, true, e.add_key());
  for (const Col& col : new_row) {
    FillColumn(col, false, e.mutable_new_row()->add_columns());
  }
  if (has_old_row) e.mutable_old_row();
  for (const Col& col : old_row) {
    FillColumn(col, false, e.mutable_old_row()->add_columns());
  }
  e.set_commit_lsn(lsn);
  e.set_end_lsn(lsn + 8);
  e.set_xid(771);
  e.set_commit_time_us(1732440000123456);
  e.set_index_in_tx(1);
  e.set_last_in_tx(true);
  return e.SerializeAsString();
}

}  // namespace seeds

// Seed inputs: batches, then every record of them on its own.
inline std::vector<std::string> ChangeEventFuzzSeeds() {
  using seeds::Col;
  using seeds::Event;
  const std::string conv = "6f1c2b9e-3d4a-4b5c-8d6e-7f8091a2b3c4";
  const std::string conv2 = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D";
  const std::string msg = "11111111-2222-4333-8444-555555555555";
  const std::string msg2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
  const std::string created = "2024-11-24 09:00:00+00";
  const std::string messages = "support_conversation_messages";
  const std::string conversations = "raw_support_conversations";
  const std::vector<Col> message = {{"id", msg},
                                    {"conversation_id", conv},
                                    {"created_at", created},
                                    {"body", "hello, \"world\"\n\\"}};
  const std::vector<Col> edited = {{"id", msg},
                                   {"conversation_id", conv},
                                   {"created_at", created},
                                   {"body", "caf\xC3\xA9"}};
  const std::vector<Col> moved = {{"id", msg},
                                  {"conversation_id", conv2},
                                  {"created_at", created},
                                  {"body", "", false, true}};
  const std::vector<Col> conversation = {{"id", conv},
                                         {"user_id", "user-1"},
                                         {"linear_issue_id", "LIN-1"},
                                         {"status", "open"}};
  const std::vector<Col> closed = {{"id", conv},
                                   {"user_id", "user-1"},
                                   {"linear_issue_id", "", true},
                                   {"status", "closed"}};

  std::vector<std::vector<std::string>> batches = {
      // A conversation and its messages: append, edit, move, delete.
      {Event(v1::INSERT, conversations, {{"id", conv}}, conversation, {}, false,
             100),
       Event(v1::INSERT, messages, {{"id", msg}}, message, {}, false, 101),
       Event(v1::UPDATE, messages, {{"id", msg}}, edited, message, true, 102),
       Event(v1::UPDATE, messages, {{"id", msg}}, moved, edited, true, 103),
       Event(v1::DELETE, messages, {{"id", msg}}, {}, moved, true, 104)},
      // Column updates of a conversation, then an id change and a delete.
      {Event(v1::UPDATE, conversations, {{"id", conv}}, closed, conversation,
             true, 200),
       Event(v1::UPDATE, conversations, {{"id", conv2}},
             {{"id", conv2}, {"status", "open"}}, {{"id", conv}}, true, 201),
       Event(v1::DELETE, conversations, {{"id", conv2}}, {}, {{"id", conv2}},
             true, 202)},
      // Fan-out keys and truncates.
      {Event(v1::INSERT, "subscribers_insights", {{"distinct_id", "user-1"}},
             {{"distinct_id", "user-1"}, {"plan", "pro"}}, {}, false, 300),
       Event(v1::UPDATE, "linear_issues", {{"id", "LIN-2"}},
             {{"id", "LIN-2"}, {"title", "t"}}, {{"id", "LIN-1"}}, true, 301),
       Event(v1::TRUNCATE, "subscribers_insights", {}, {}, {}, false, 302),
       Event(v1::TRUNCATE, messages, {}, {}, {}, false, 303)},
      // A snapshot: rows of every table at one consistent point.
      {Event(v1::SNAPSHOT_READ, conversations, {{"id", conv}}, conversation, {},
             false, 400),
       Event(v1::SNAPSHOT_READ, messages, {{"id", msg2}},
             {{"id", msg2}, {"conversation_id", conv}, {"body", "x"}}, {},
             false, 400),
       Event(v1::SNAPSHOT_READ, "linear_issues", {{"id", "LIN-1"}},
             {{"id", "LIN-1"}}, {}, false, 400)},
      // For the dead-letter topic.
      {Event(v1::INSERT, messages, {{"id", msg}}, message, {}, false, 500,
             "other_schema"),
       Event(v1::INSERT, "no_such_table", {{"id", "1"}}, {{"id", "1"}}, {},
             false, 501),
       // A NULL primary key (a NULL foreign key is no error: it reaches
       // no row, affected_conversations.h).
       Event(v1::DELETE, "subscribers_insights", {}, {},
             {{"distinct_id", "", true}}, true, 502),
       Event(v1::INSERT, conversations, {{"id", "not-a-uuid"}},
             {{"id", "not-a-uuid"}}, {}, false, 503),
       Event(v1::OPERATION_UNSPECIFIED, messages, {}, {}, {}, false, 504),
       Event(static_cast<v1::Operation>(42), messages, {}, {}, {}, false, 505)},
  };
  std::vector<std::string> out;
  for (const std::vector<std::string>& batch : batches) {
    out.push_back(EncodeChangeEventFuzzInput(batch));
  }
  for (const std::vector<std::string>& batch : batches) {
    for (const std::string& record : batch) {
      out.push_back(EncodeChangeEventFuzzInput({record}));
    }
  }
  return out;
}

}  // namespace enrich::fuzz

#endif  // ENRICH_TESTS_FUZZ_CHANGE_EVENT_FUZZ_INPUT_H_
