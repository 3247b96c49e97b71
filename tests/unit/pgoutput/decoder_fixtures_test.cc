// Decodes the real PostgreSQL 15 captures in tests/data/pgoutput (see the
// header of each file for the workload) and checks what came out.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cdc/pgoutput/decoder.h"
#include "cdc/pgoutput/relation_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/pgoutput/fixtures.h"

namespace enrich::pgoutput {
namespace {

using testing::AllFixtures;
using testing::Decoded;
using testing::DecodeFixture;
using ::testing::ElementsAre;
using testing::FixturePayloads;
using ::testing::HasSubstr;
using testing::OfType;

constexpr int64_t k2020 = 1577836800LL * 1000000;
constexpr int64_t k2100 = 4102444800LL * 1000000;
// md5('1'): the start of the 20,000-character TOASTed value.
constexpr char kBigTextPrefix[] = "c4ca4238a0b923820dcc509a6f75849b";

Value Text(const std::string& s) { return {ValueKind::kText, s}; }
Value Null() { return {ValueKind::kNull, ""}; }
Value Binary(const std::string& s) { return {ValueKind::kBinary, s}; }

std::vector<Decoded> MustDecode(const std::string& name, int version) {
  auto decoded = DecodeFixture(name, version);
  EXPECT_TRUE(decoded.ok()) << name << ": " << decoded.status();
  return decoded.ok() ? *decoded : std::vector<Decoded>{};
}

const Relation* FindRelation(const std::vector<Decoded>& decoded,
                             const std::string& table) {
  for (const Decoded& d : decoded) {
    if (auto* r = std::get_if<RelationMessage>(&d.message)) {
      if (r->relation.table == table) return &r->relation;
    }
  }
  return nullptr;
}

std::vector<std::string> ColumnNames(const Relation& relation) {
  std::vector<std::string> names;
  for (const ColumnDef& c : relation.columns) names.push_back(c.name);
  return names;
}

// Every fixture decodes, message by message, with one handler call each,
// and the relation cache agrees with every tuple.
TEST(DecoderFixturesTest, EveryCaptureDecodesCompletely) {
  for (const auto& fixture : AllFixtures()) {
    std::vector<Decoded> decoded =
        MustDecode(fixture.name, fixture.protocol_version);
    EXPECT_EQ(decoded.size(), FixturePayloads(fixture.name).size())
        << fixture.name;
    RelationCache cache;
    for (const Decoded& d : decoded) {
      if (auto* r = std::get_if<RelationMessage>(&d.message)) {
        cache.Put(r->relation);
      }
      auto check = [&](uint32_t oid, const Tuple& tuple) {
        auto relation = cache.Get(oid);
        ASSERT_TRUE(relation.ok()) << fixture.name << ": " << relation.status();
        EXPECT_TRUE(CheckTupleShape(**relation, tuple).ok()) << fixture.name;
      };
      if (auto* i = std::get_if<Insert>(&d.message)) {
        check(i->relation_oid, i->new_tuple);
      } else if (auto* u = std::get_if<Update>(&d.message)) {
        check(u->relation_oid, u->new_tuple);
        if (u->old_tuple) check(u->relation_oid, *u->old_tuple);
      } else if (auto* del = std::get_if<Delete>(&d.message)) {
        check(del->relation_oid, del->old_tuple);
      }
    }
  }
}

TEST(DecoderFixturesTest, EveryMessageKindIsCovered) {
  std::set<size_t> kinds;
  for (const auto& fixture : AllFixtures()) {
    for (const Decoded& d :
         MustDecode(fixture.name, fixture.protocol_version)) {
      kinds.insert(d.message.index());
    }
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<testing::Message>);
}

TEST(DecoderFixturesTest, ProtocolOneCapturesAlsoDecodeAsVersionTwo) {
  for (const auto& fixture : AllFixtures()) {
    if (fixture.protocol_version != 1) continue;
    EXPECT_TRUE(DecodeFixture(fixture.name, 2).ok()) << fixture.name;
  }
}

TEST(DecoderFixturesTest, TransactionsAreBracketedWithIncreasingLsns) {
  std::vector<Decoded> decoded = MustDecode("v1_dml", 1);
  std::vector<Begin> begins = OfType<Begin>(decoded);
  std::vector<Commit> commits = OfType<Commit>(decoded);
  ASSERT_EQ(begins.size(), 8u);
  ASSERT_EQ(commits.size(), 8u);
  bool open = false;
  for (const Decoded& d : decoded) {
    if (std::holds_alternative<Begin>(d.message)) {
      EXPECT_FALSE(open);
      open = true;
    } else if (std::holds_alternative<Commit>(d.message)) {
      EXPECT_TRUE(open);
      open = false;
      // The XLogData of a Commit starts at the end of the commit record.
      EXPECT_EQ(d.wal_start, std::get<Commit>(d.message).end_lsn);
    } else {
      EXPECT_TRUE(open);
    }
  }
  for (size_t i = 0; i < begins.size(); ++i) {
    EXPECT_EQ(begins[i].final_lsn, commits[i].commit_lsn);
    EXPECT_GT(commits[i].end_lsn, commits[i].commit_lsn);
    EXPECT_EQ(begins[i].commit_time_us, commits[i].commit_time_us);
    EXPECT_GT(commits[i].commit_time_us, k2020);
    EXPECT_LT(commits[i].commit_time_us, k2100);
    EXPECT_EQ(commits[i].flags, 0);
    EXPECT_NE(begins[i].xid, 0u);
    if (i > 0) {
      EXPECT_GT(begins[i].xid, begins[i - 1].xid);
      EXPECT_GT(commits[i].commit_lsn, commits[i - 1].end_lsn - 1);
      EXPECT_GE(commits[i].commit_time_us, commits[i - 1].commit_time_us);
    }
  }
}

TEST(DecoderFixturesTest, RelationDescribesColumnsKeysAndIdentity) {
  std::vector<Decoded> decoded = MustDecode("v1_dml", 1);
  const Relation* issues = FindRelation(decoded, "linear_issues");
  ASSERT_NE(issues, nullptr);
  EXPECT_EQ(issues->schema, "public");
  EXPECT_EQ(issues->replica_identity, 'd');
  EXPECT_THAT(ColumnNames(*issues),
              ElementsAre("id", "identifier", "title", "state_name", "url",
                          "updated_at"));
  EXPECT_TRUE(issues->columns[0].key);
  EXPECT_FALSE(issues->columns[1].key);
  EXPECT_EQ(issues->columns[0].type_oid, 25u);    // text
  EXPECT_EQ(issues->columns[5].type_oid, 1184u);  // timestamptz
  EXPECT_EQ(issues->columns[0].type_modifier, -1);

  const Relation* conversations =
      FindRelation(decoded, "raw_support_conversations");
  ASSERT_NE(conversations, nullptr);
  EXPECT_EQ(conversations->replica_identity, 'f');
  ASSERT_EQ(conversations->columns.size(), 20u);
  for (const ColumnDef& c : conversations->columns) EXPECT_TRUE(c.key);
  EXPECT_EQ(conversations->columns[0].type_oid, 2950u);  // uuid
  EXPECT_EQ(conversations->columns[13].name, "tags");
  EXPECT_EQ(conversations->columns[13].type_oid, 1009u);  // text[]
  EXPECT_EQ(conversations->columns[14].type_oid, 3802u);  // jsonb
  EXPECT_EQ(conversations->columns[17].type_oid, 16u);    // bool
}

TEST(DecoderFixturesTest, InsertCarriesNullAndEmptyString) {
  std::vector<Decoded> decoded = MustDecode("v1_dml", 1);
  std::vector<Insert> inserts = OfType<Insert>(decoded);
  ASSERT_EQ(inserts.size(), 4u);
  EXPECT_EQ(inserts[0].relation_oid,
            FindRelation(decoded, "linear_issues")->oid);
  EXPECT_EQ(inserts[0].xid, 0u);
  EXPECT_THAT(inserts[0].new_tuple,
              ElementsAre(Text("LIN-1"), Text("SUP-1"), Text("Crash on login"),
                          Null(), Text(""), Text("2024-01-02 03:04:05+00")));
  // raw_support_conversations: array, jsonb, bool as text.
  const Tuple& conversation = inserts[1].new_tuple;
  EXPECT_EQ(conversation[0], Text("11111111-1111-1111-1111-111111111111"));
  EXPECT_EQ(conversation[13], Text("{bug,login}"));
  EXPECT_EQ(conversation[14], Text("{\"plan\": \"pro\"}"));
  EXPECT_EQ(conversation[17], Text("t"));
  EXPECT_EQ(conversation[9], Null());
  // support_conversation_messages: body NULL, then body ''.
  EXPECT_EQ(inserts[2].new_tuple[3], Null());
  EXPECT_EQ(inserts[3].new_tuple[2], Text("agent"));
  EXPECT_EQ(inserts[3].new_tuple[3], Text(""));
}

TEST(DecoderFixturesTest, KeyChangeUnderDefaultIdentitySendsOldKey) {
  std::vector<Update> updates = OfType<Update>(MustDecode("v1_dml", 1));
  ASSERT_EQ(updates.size(), 3u);
  const Update& key_change = updates[1];
  ASSERT_TRUE(key_change.old_tuple.has_value());
  EXPECT_TRUE(key_change.old_is_key_only);
  EXPECT_THAT(*key_change.old_tuple, ElementsAre(Text("LIN-1"), Null(), Null(),
                                                 Null(), Null(), Null()));
  EXPECT_EQ(key_change.new_tuple[0], Text("LIN-2"));
  EXPECT_EQ(key_change.new_tuple[2], Text("Crash on login"));

  // No key change under DEFAULT: no old tuple at all.
  const Update& body_edit = updates[2];
  EXPECT_FALSE(body_edit.old_tuple.has_value());
  EXPECT_FALSE(body_edit.old_is_key_only);
  EXPECT_EQ(body_edit.new_tuple[3], Text("edited"));
}

TEST(DecoderFixturesTest, FullIdentitySendsWholeOldRow) {
  std::vector<Decoded> decoded = MustDecode("v1_dml", 1);
  std::vector<Update> updates = OfType<Update>(decoded);
  ASSERT_FALSE(updates.empty());
  const Update& update = updates[0];
  ASSERT_TRUE(update.old_tuple.has_value());
  EXPECT_FALSE(update.old_is_key_only);
  EXPECT_EQ((*update.old_tuple)[5], Text("open"));
  EXPECT_EQ(update.new_tuple[5], Text("pending"));
  EXPECT_EQ((*update.old_tuple)[3], Text("Login crash"));

  std::vector<Delete> deletes = OfType<Delete>(decoded);
  ASSERT_EQ(deletes.size(), 4u);
  // DEFAULT identity: the key only.
  EXPECT_TRUE(deletes[0].old_is_key_only);
  EXPECT_THAT(deletes[0].old_tuple,
              ElementsAre(Text("aaaaaaaa-0000-0000-0000-000000000001"), Null(),
                          Null(), Null(), Null(), Null()));
  EXPECT_TRUE(deletes[1].old_is_key_only);
  EXPECT_EQ(deletes[1].old_tuple[0], Text("LIN-2"));
  // FULL identity: the whole row; then the cascaded delete of its message.
  EXPECT_FALSE(deletes[2].old_is_key_only);
  EXPECT_EQ(deletes[2].old_tuple.size(), 20u);
  EXPECT_EQ(deletes[2].old_tuple[5], Text("pending"));
  EXPECT_EQ(deletes[2].old_tuple[11], Text("user-1"));
  EXPECT_TRUE(deletes[3].old_is_key_only);
  EXPECT_EQ(deletes[3].old_tuple[0],
            Text("aaaaaaaa-0000-0000-0000-000000000002"));
}

TEST(DecoderFixturesTest, UnchangedToastUnderDefaultIdentity) {
  std::vector<Decoded> decoded = MustDecode("v1_toast", 1);
  std::vector<Insert> inserts = OfType<Insert>(decoded);
  ASSERT_EQ(inserts.size(), 2u);
  const Value& body = inserts[1].new_tuple[3];
  EXPECT_EQ(body.kind, ValueKind::kText);
  EXPECT_EQ(body.data.size(), 20000u);
  EXPECT_EQ(body.data.substr(0, 32), kBigTextPrefix);

  std::vector<Update> updates = OfType<Update>(decoded);
  ASSERT_EQ(updates.size(), 2u);
  const Update& update = updates[0];
  EXPECT_FALSE(update.old_tuple.has_value());
  EXPECT_EQ(update.new_tuple[2], Text("customer"));
  EXPECT_EQ(update.new_tuple[3].kind, ValueKind::kUnchangedToast);
  EXPECT_TRUE(update.new_tuple[3].data.empty());
}

TEST(DecoderFixturesTest, UnchangedToastUnderFullIdentity) {
  std::vector<Update> updates = OfType<Update>(MustDecode("v1_toast", 1));
  ASSERT_EQ(updates.size(), 2u);
  const Update& update = updates[1];
  ASSERT_TRUE(update.old_tuple.has_value());
  EXPECT_FALSE(update.old_is_key_only);
  // FULL logs the old row with its TOASTed value inline...
  const Value& old_description = (*update.old_tuple)[4];
  EXPECT_EQ(old_description.kind, ValueKind::kText);
  EXPECT_EQ(old_description.data.size(), 20000u);
  EXPECT_EQ(old_description.data.substr(0, 32), kBigTextPrefix);
  // ...but the new row still says "unchanged" for it.
  EXPECT_EQ(update.new_tuple[4].kind, ValueKind::kUnchangedToast);
  EXPECT_EQ(update.new_tuple[5], Text("solved"));
}

TEST(DecoderFixturesTest, AlterTableSendsNewRelationMidStream) {
  std::vector<Decoded> decoded = MustDecode("v1_ddl_truncate_message", 1);
  std::vector<RelationMessage> issues;
  for (const auto& r : OfType<RelationMessage>(decoded)) {
    if (r.relation.table == "linear_issues") issues.push_back(r);
  }
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].relation.oid, issues[1].relation.oid);
  EXPECT_EQ(issues[0].relation.columns.size(), 6u);
  ASSERT_EQ(issues[1].relation.columns.size(), 7u);
  EXPECT_EQ(issues[1].relation.columns[6].name, "priority");
  EXPECT_EQ(issues[1].relation.columns[6].type_oid, 23u);  // int4

  // Applied in order, the cache always matches the tuple that follows.
  RelationCache cache;
  std::vector<size_t> widths;
  for (const Decoded& d : decoded) {
    if (auto* r = std::get_if<RelationMessage>(&d.message)) {
      cache.Put(r->relation);
    } else if (auto* i = std::get_if<Insert>(&d.message)) {
      auto relation = cache.Get(i->relation_oid);
      ASSERT_TRUE(relation.ok());
      ASSERT_TRUE(CheckTupleShape(**relation, i->new_tuple).ok());
      if ((*relation)->table == "linear_issues") {
        widths.push_back(i->new_tuple.size());
      }
    }
  }
  EXPECT_THAT(widths, ElementsAre(6, 7, 7, 7));
  std::vector<Insert> inserts = OfType<Insert>(decoded);
  EXPECT_EQ(inserts[1].new_tuple[0], Text("LIN-11"));
  EXPECT_EQ(inserts[1].new_tuple[6], Text("3"));
}

TEST(DecoderFixturesTest, EnumColumnBringsTypeMessageAndIndexIdentity) {
  std::vector<Decoded> decoded = MustDecode("v1_ddl_truncate_message", 1);
  std::vector<TypeInfo> types = OfType<TypeInfo>(decoded);
  ASSERT_EQ(types.size(), 1u);
  EXPECT_EQ(types[0].schema, "public");
  EXPECT_EQ(types[0].name, "conversation_channel");
  EXPECT_EQ(types[0].xid, 0u);
  const Relation* channels = FindRelation(decoded, "conversation_channels");
  ASSERT_NE(channels, nullptr);
  EXPECT_EQ(channels->replica_identity, 'i');
  ASSERT_EQ(channels->columns.size(), 4u);
  EXPECT_EQ(channels->columns[1].type_oid, types[0].oid);
  // USING INDEX on (code): only that column is part of the key.
  EXPECT_FALSE(channels->columns[0].key);
  EXPECT_TRUE(channels->columns[3].key);

  std::vector<Update> updates = OfType<Update>(decoded);
  ASSERT_FALSE(updates.empty());
  const Update& update = updates[0];
  ASSERT_TRUE(update.old_tuple.has_value());
  EXPECT_TRUE(update.old_is_key_only);
  EXPECT_THAT(*update.old_tuple,
              ElementsAre(Null(), Null(), Null(), Text("7")));
  EXPECT_EQ(update.new_tuple[1], Text("chat"));
  EXPECT_EQ(update.new_tuple[3], Text("8"));

  const Relation* audit = FindRelation(decoded, "audit_log");
  ASSERT_NE(audit, nullptr);
  EXPECT_EQ(audit->replica_identity, 'n');
  for (const ColumnDef& c : audit->columns) EXPECT_FALSE(c.key);
  EXPECT_EQ(audit->columns[0].type_oid, 20u);  // int8
}

TEST(DecoderFixturesTest, LogicalMessagesTransactionalAndNot) {
  std::vector<Decoded> decoded = MustDecode("v1_ddl_truncate_message", 1);
  std::vector<LogicalMessage> messages = OfType<LogicalMessage>(decoded);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_TRUE(messages[0].transactional);
  EXPECT_EQ(messages[0].prefix, "enrich.test");
  EXPECT_EQ(messages[0].content, "transactional payload");
  EXPECT_FALSE(messages[1].transactional);
  EXPECT_EQ(messages[1].content, "non-transactional payload");
  EXPECT_FALSE(messages[2].transactional);
  EXPECT_EQ(messages[2].prefix, "enrich.bytes");
  EXPECT_EQ(messages[2].content, std::string("\0\xff\0", 3));
  EXPECT_GT(messages[1].lsn, messages[0].lsn);
  EXPECT_GT(messages[2].lsn, messages[1].lsn);

  // The transactional one sits inside Begin..Commit, the others outside.
  bool in_transaction = false;
  std::vector<bool> inside;
  for (const Decoded& d : decoded) {
    if (std::holds_alternative<Begin>(d.message)) in_transaction = true;
    if (std::holds_alternative<Commit>(d.message)) in_transaction = false;
    if (std::holds_alternative<LogicalMessage>(d.message)) {
      inside.push_back(in_transaction);
      EXPECT_EQ(d.wal_start, std::get<LogicalMessage>(d.message).lsn);
    }
  }
  EXPECT_THAT(inside, ElementsAre(true, false, false));
}

TEST(DecoderFixturesTest, ReplicationOriginMessage) {
  std::vector<Decoded> decoded = MustDecode("v1_ddl_truncate_message", 1);
  std::vector<Origin> origins = OfType<Origin>(decoded);
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].name, "enrich_upstream");
  EXPECT_EQ(origins[0].commit_lsn,
            0xAB12CD34u);  // pg_replication_origin_xact_setup
  // It follows its Begin, whose commit time is the origin's (2024-01-01).
  for (size_t i = 1; i < decoded.size(); ++i) {
    if (std::holds_alternative<Origin>(decoded[i].message)) {
      const auto* begin = std::get_if<Begin>(&decoded[i - 1].message);
      ASSERT_NE(begin, nullptr);
      EXPECT_EQ(begin->commit_time_us, 1704067200LL * 1000000);
    }
  }
}

TEST(DecoderFixturesTest, TruncateCascadeAndRestartIdentity) {
  std::vector<Decoded> decoded = MustDecode("v1_ddl_truncate_message", 1);
  std::vector<Truncate> truncates = OfType<Truncate>(decoded);
  ASSERT_EQ(truncates.size(), 2u);
  EXPECT_TRUE(truncates[0].cascade);
  EXPECT_FALSE(truncates[0].restart_identity);
  EXPECT_THAT(
      truncates[0].relation_oids,
      ElementsAre(FindRelation(decoded, "raw_support_conversations")->oid,
                  FindRelation(decoded, "support_conversation_messages")->oid));
  EXPECT_FALSE(truncates[1].cascade);
  EXPECT_TRUE(truncates[1].restart_identity);
  EXPECT_THAT(truncates[1].relation_oids,
              ElementsAre(FindRelation(decoded, "audit_log")->oid));
}

TEST(DecoderFixturesTest, BinaryValues) {
  std::vector<Decoded> decoded = MustDecode("v1_binary", 1);
  std::vector<Insert> inserts = OfType<Insert>(decoded);
  ASSERT_EQ(inserts.size(), 1u);
  const Tuple& row = inserts[0].new_tuple;
  ASSERT_EQ(row.size(), 8u);
  EXPECT_EQ(row[0], Binary("user-1"));  // text: its bytes
  EXPECT_EQ(row[1], Binary("100k"));
  EXPECT_EQ(row[2], Null());
  EXPECT_EQ(row[4], Binary(std::string("\0\0\0\x2a", 4)));  // int4 42
  EXPECT_EQ(row[5], Null());
  EXPECT_EQ(row[6], Binary("\xff\xff\xff\xf9"));  // int4 -7
  // timestamptz: int64 microseconds since 2000-01-01, 2024-01-02 03:04:05.
  ASSERT_EQ(row[7].kind, ValueKind::kBinary);
  ASSERT_EQ(row[7].data.size(), 8u);
  int64_t pg_micros = 0;
  for (char c : row[7].data)
    pg_micros = (pg_micros << 8) | static_cast<uint8_t>(c);
  EXPECT_EQ(pg_micros, (1704164645LL - 946684800LL) * 1000000);
}

TEST(DecoderFixturesTest, StreamedTransactionCommits) {
  std::vector<std::string> payloads = FixturePayloads("v2_stream_commit");
  PgoutputDecoder decoder(2);
  testing::RecordingHandler handler;
  std::vector<bool> in_stream_after;
  for (const std::string& payload : payloads) {
    ASSERT_TRUE(decoder.Decode(payload, &handler).ok());
    in_stream_after.push_back(decoder.in_stream());
  }
  std::vector<Decoded> decoded = MustDecode("v2_stream_commit", 2);

  std::vector<StreamStart> starts = OfType<StreamStart>(decoded);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_TRUE(starts[0].first_segment);
  EXPECT_FALSE(starts[1].first_segment);
  EXPECT_EQ(starts[0].xid, starts[1].xid);
  const uint32_t xid = starts[0].xid;
  EXPECT_NE(xid, 0u);
  EXPECT_EQ(OfType<StreamStop>(decoded).size(), 2u);

  std::vector<StreamCommit> commits = OfType<StreamCommit>(decoded);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].xid, xid);
  EXPECT_EQ(commits[0].flags, 0);
  EXPECT_GT(commits[0].end_lsn, commits[0].commit_lsn);
  EXPECT_GT(commits[0].commit_time_us, k2020);

  // Every change inside the blocks carries the streamed xid, and the 400
  // rows arrive in order; outside the blocks xid is 0.
  bool inside = false;
  int row = 0;
  for (size_t i = 0; i < decoded.size(); ++i) {
    const auto& m = decoded[i].message;
    if (std::holds_alternative<StreamStart>(m)) inside = true;
    if (std::holds_alternative<StreamStop>(m)) inside = false;
    EXPECT_EQ(in_stream_after[i], inside) << i;
    if (auto* insert = std::get_if<Insert>(&m)) {
      if (inside) {
        EXPECT_EQ(insert->xid, xid);
        ++row;
        EXPECT_EQ(insert->new_tuple[3],
                  Text("streamed " + std::to_string(row)));
      } else {
        EXPECT_EQ(insert->xid, 0u);
      }
    }
    if (auto* r = std::get_if<RelationMessage>(&m)) {
      EXPECT_EQ(r->xid, inside ? xid : 0u);
    }
    if (auto* u = std::get_if<Update>(&m)) {
      EXPECT_EQ(u->xid, 0u);
    }
  }
  EXPECT_EQ(row, 400);

  std::vector<LogicalMessage> messages = OfType<LogicalMessage>(decoded);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].xid, xid);
  EXPECT_TRUE(messages[0].transactional);
  EXPECT_EQ(messages[0].content, "inside stream");

  // The ordinary transactions before and after are not streamed.
  std::vector<Begin> begins = OfType<Begin>(decoded);
  ASSERT_EQ(begins.size(), 2u);
  EXPECT_LT(begins[0].xid, xid);
  EXPECT_GT(begins[1].xid, xid);
  EXPECT_GT(begins[1].final_lsn, commits[0].commit_lsn);
  EXPECT_EQ(OfType<Update>(decoded)[0].new_tuple[5], Text("after stream"));
}

TEST(DecoderFixturesTest, StreamedTransactionRolledBack) {
  std::vector<Decoded> decoded = MustDecode("v2_stream_abort", 2);
  std::vector<StreamStart> starts = OfType<StreamStart>(decoded);
  ASSERT_EQ(starts.size(), 1u);
  std::vector<StreamAbort> aborts = OfType<StreamAbort>(decoded);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(aborts[0].xid, starts[0].xid);
  EXPECT_EQ(aborts[0].subxid, starts[0].xid);  // the whole transaction
  EXPECT_TRUE(std::holds_alternative<StreamAbort>(decoded.back().message));
  std::vector<Insert> inserts = OfType<Insert>(decoded);
  EXPECT_GT(inserts.size(), 100u);
  for (const Insert& insert : inserts) {
    EXPECT_EQ(insert.xid, starts[0].xid);
    EXPECT_THAT(insert.new_tuple[3].data, HasSubstr("rolled back"));
  }
  EXPECT_TRUE(OfType<Begin>(decoded).empty());
  EXPECT_TRUE(OfType<StreamCommit>(decoded).empty());
}

TEST(DecoderFixturesTest, SubtransactionRolledBackInsideStream) {
  std::vector<Decoded> decoded = MustDecode("v2_stream_subxact_abort", 2);
  std::vector<StreamStart> starts = OfType<StreamStart>(decoded);
  ASSERT_EQ(starts.size(), 2u);
  const uint32_t xid = starts[0].xid;
  std::vector<StreamAbort> aborts = OfType<StreamAbort>(decoded);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(aborts[0].xid, xid);
  EXPECT_NE(aborts[0].subxid, xid);

  // Changes carry the subtransaction's xid: the rolled-back rows exactly
  // the aborted subxid.
  std::map<std::string, std::set<uint32_t>> xids_by_body;
  for (const Insert& insert : OfType<Insert>(decoded)) {
    if (insert.xid == 0) continue;  // the parent conversation, not streamed
    std::string body = insert.new_tuple[3].data;
    xids_by_body[body.substr(0, body.rfind(' '))].insert(insert.xid);
  }
  EXPECT_THAT(xids_by_body["kept"], ElementsAre(xid));
  EXPECT_THAT(xids_by_body["undone"], ElementsAre(aborts[0].subxid));
  ASSERT_EQ(xids_by_body["after savepoint"].size(), 1u);
  EXPECT_NE(*xids_by_body["after savepoint"].begin(), xid);
  EXPECT_NE(*xids_by_body["after savepoint"].begin(), aborts[0].subxid);

  std::vector<StreamCommit> commits = OfType<StreamCommit>(decoded);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].xid, xid);
  // Abort, then the last block, then the commit.
  EXPECT_TRUE(std::holds_alternative<StreamCommit>(decoded.back().message));
}

TEST(DecoderFixturesTest, VersionOneDecoderRejectsStreamCaptures) {
  std::vector<std::string> payloads = FixturePayloads("v2_stream_abort");
  PgoutputDecoder decoder(1);
  testing::RecordingHandler handler;
  absl::Status status = decoder.Decode(payloads[0], &handler);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("Stream Start ('S')"));
  EXPECT_THAT(status.message(), HasSubstr("protocol version 1"));
  EXPECT_FALSE(decoder.in_stream());
  EXPECT_TRUE(handler.messages().empty());
  // Inside a stream a change has a leading xid a v1 decoder does not
  // expect: the Relation that follows Stream Start cannot parse.
  EXPECT_FALSE(decoder.Decode(payloads[1], &handler).ok());
}

}  // namespace
}  // namespace enrich::pgoutput
