// How the decoder fails: truncated, corrupted and out-of-place messages.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "cdc/pgoutput/decoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/pgoutput/fixtures.h"

namespace enrich::pgoutput {
namespace {

using testing::FixturePayloads;
using ::testing::HasSubstr;
using testing::RecordingHandler;

// Builds synthetic messages in wire order.
class Wire {
 public:
  explicit Wire(char kind) { bytes_.push_back(kind); }
  Wire& U8(uint8_t v) {
    bytes_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& U16(uint16_t v) { return Int(v, 2); }
  Wire& U32(uint32_t v) { return Int(v, 4); }
  Wire& U64(uint64_t v) { return Int(v, 8); }
  Wire& Str(const std::string& s) {
    bytes_ += s;
    bytes_.push_back('\0');
    return *this;
  }
  Wire& Raw(const std::string& s) {
    bytes_ += s;
    return *this;
  }
  std::string bytes() const { return bytes_; }

 private:
  Wire& Int(uint64_t v, int size) {
    for (int i = size - 1; i >= 0; --i) {
      bytes_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    return *this;
  }
  std::string bytes_;
};

std::string StreamStartBytes(uint32_t xid) {
  return Wire('S').U32(xid).U8(1).bytes();
}

absl::Status DecodeOne(int version, const std::string& message,
                       bool in_stream = false) {
  PgoutputDecoder decoder(version);
  RecordingHandler handler;
  if (in_stream) {
    absl::Status started = decoder.Decode(StreamStartBytes(7), &handler);
    if (!started.ok()) return started;
  }
  return decoder.Decode(message, &handler);
}

void ExpectDataLoss(const absl::Status& status, const std::string& substring) {
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr(substring));
  EXPECT_THAT(status.message(), HasSubstr("offset"));
}

// One real message of every kind, with whether it needs an open stream.
struct RealMessage {
  std::string bytes;
  int version;
  bool in_stream;
};

std::vector<RealMessage> RealMessages() {
  std::vector<RealMessage> out;
  std::string seen;
  for (const auto& fixture : testing::AllFixtures()) {
    bool in_stream = false;
    for (const std::string& payload : FixturePayloads(fixture.name)) {
      char kind = payload[0];
      // Keep the first of each kind per stream state, and every TOASTed or
      // binary tuple (long values, 'u' and 'b' markers).
      std::string key = std::string(1, kind) + (in_stream ? "s" : "");
      bool interesting =
          payload.size() > 10000 || fixture.name == std::string("v1_binary");
      if (seen.find(key) == std::string::npos || interesting) {
        seen += key + ",";
        out.push_back({payload, fixture.protocol_version, in_stream});
      }
      if (kind == 'S') in_stream = true;
      if (kind == 'E') in_stream = false;
    }
  }
  return out;
}

TEST(DecoderErrorsTest, RealMessagesCoverEveryKind) {
  std::string kinds;
  for (const RealMessage& m : RealMessages()) kinds.push_back(m.bytes[0]);
  for (char kind : std::string("BCOYRIUDTMSEcA")) {
    EXPECT_NE(kinds.find(kind), std::string::npos) << kind;
  }
}

TEST(DecoderErrorsTest, EveryPrefixOfRealMessagesFails) {
  for (const RealMessage& m : RealMessages()) {
    ASSERT_TRUE(DecodeOne(m.version, m.bytes, m.in_stream).ok())
        << absl::BytesToHexString(m.bytes.substr(0, 64));
    for (size_t n = 0; n < m.bytes.size(); ++n) {
      absl::Status status =
          DecodeOne(m.version, m.bytes.substr(0, n), m.in_stream);
      ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss)
          << "kind " << m.bytes[0] << " prefix " << n << ": " << status;
    }
  }
}

TEST(DecoderErrorsTest, TrailingBytesFail) {
  for (const RealMessage& m : RealMessages()) {
    ExpectDataLoss(DecodeOne(m.version, m.bytes + '\0', m.in_stream),
                   "1 trailing bytes");
  }
}

TEST(DecoderErrorsTest, TruncationNamesKindAndOffset) {
  std::string insert;
  for (const std::string& p : FixturePayloads("v1_dml")) {
    if (p[0] == 'I') insert = p;
  }
  absl::Status status = DecodeOne(1, insert.substr(0, 11));
  ExpectDataLoss(status, "pgoutput Insert ('I')");
  EXPECT_THAT(status.message(),
              HasSubstr("truncated reading new tuple column 0 length (need 4 "
                        "bytes, 2 left) at offset 9"));
}

TEST(DecoderErrorsTest, SingleByteCorruptionsNeverCrash) {
  // Every byte of every real message, replaced by a few values: the decoder
  // either accepts it (a different but well-formed message) or says
  // DataLoss.
  for (const RealMessage& m : RealMessages()) {
    if (m.bytes.size() > 4000) continue;  // the TOASTed ones: too slow
    for (size_t i = 0; i < m.bytes.size(); ++i) {
      for (char replacement : {'\x00', '\x7f', '\x80', '\xff', 't'}) {
        std::string corrupt = m.bytes;
        corrupt[i] = replacement;
        absl::Status status = DecodeOne(m.version, corrupt, m.in_stream);
        if (!status.ok()) {
          ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
        }
      }
    }
  }
}

TEST(DecoderErrorsTest, RejectsEmptyAndUnknownMessages) {
  ExpectDataLoss(DecodeOne(1, ""), "message kind");
  ExpectDataLoss(DecodeOne(1, "Z"), "unknown message kind 0x5a ('Z')");
  ExpectDataLoss(DecodeOne(2, std::string(1, '\0')), "unknown message kind");
  // Protocol 3's two-phase messages are not accepted under 1 or 2.
  ExpectDataLoss(DecodeOne(2, "P"), "unknown message kind");
}

TEST(DecoderErrorsTest, RejectsUnsupportedProtocolVersion) {
  for (int version : {0, 3, 4, -1}) {
    EXPECT_EQ(DecodeOne(version, Wire('E').bytes()).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

std::string InsertWithTuple(const std::string& tuple) {
  return Wire('I').U32(16393).U8('N').Raw(tuple).bytes();
}

TEST(DecoderErrorsTest, RejectsBadTuples) {
  ExpectDataLoss(DecodeOne(1, InsertWithTuple(std::string("\0\1x", 3))),
                 "unknown marker 0x78 for new tuple column 0");
  ExpectDataLoss(
      DecodeOne(1, InsertWithTuple(std::string("\0\1t\xff\xff\xff\xfe", 7))),
      "negative length -2 of new tuple column 0");
  ExpectDataLoss(
      DecodeOne(1, InsertWithTuple(std::string("\0\1b\x7f\xff\xff\xff", 7))),
      "truncated reading new tuple column 0 value");
  ExpectDataLoss(DecodeOne(1, InsertWithTuple(std::string("\xff\xffn", 3))),
                 "truncated");
  // A correct tuple is accepted: 2 columns, null and text "ab".
  RecordingHandler handler;
  PgoutputDecoder decoder(1);
  ASSERT_TRUE(decoder
                  .Decode(InsertWithTuple(std::string("\0\2nt\0\0\0\2ab", 10)),
                          &handler)
                  .ok());
  const auto& insert = std::get<Insert>(handler.messages()[0]);
  EXPECT_EQ(insert.new_tuple[1].data, "ab");
}

TEST(DecoderErrorsTest, RejectsBadTupleActions) {
  ExpectDataLoss(DecodeOne(1, Wire('I').U32(1).U8('K').U16(0).bytes()),
                 "tuple action 0x4b where 'N' was expected");
  ExpectDataLoss(DecodeOne(1, Wire('U').U32(1).U8('X').U16(0).bytes()),
                 "'K', 'O' or 'N'");
  ExpectDataLoss(
      DecodeOne(1, Wire('U').U32(1).U8('K').U16(0).U8('O').U16(0).bytes()),
      "where 'N' was expected");
  ExpectDataLoss(DecodeOne(1, Wire('D').U32(1).U8('N').U16(0).bytes()),
                 "'K' or 'O'");
  EXPECT_TRUE(
      DecodeOne(1, Wire('U').U32(1).U8('O').U16(0).U8('N').U16(0).bytes())
          .ok());
}

TEST(DecoderErrorsTest, RejectsBadRelations) {
  auto relation = [](uint8_t identity, uint8_t flags) {
    return Wire('R')
        .U32(16393)
        .Str("public")
        .Str("t")
        .U8(identity)
        .U16(1)
        .U8(flags)
        .Str("id")
        .U32(25)
        .U32(0xffffffff)
        .bytes();
  };
  EXPECT_TRUE(DecodeOne(1, relation('d', 1)).ok());
  ExpectDataLoss(DecodeOne(1, relation('x', 1)), "unknown replica identity");
  ExpectDataLoss(DecodeOne(1, relation('f', 2)),
                 "unknown flags 0x02 on column 0");
  // A column count larger than the message.
  ExpectDataLoss(
      DecodeOne(1,
                Wire('R').U32(1).Str("").Str("t").U8('d').U16(0xffff).bytes()),
      "column 0 flags");
  // "" is the wire's shorthand for pg_catalog.
  RecordingHandler handler;
  PgoutputDecoder decoder(1);
  ASSERT_TRUE(
      decoder
          .Decode(Wire('R').U32(1).Str("").Str("t").U8('n').U16(0).bytes(),
                  &handler)
          .ok());
  EXPECT_EQ(std::get<RelationMessage>(handler.messages()[0]).relation.schema,
            "pg_catalog");
}

TEST(DecoderErrorsTest, RejectsBadFlagsCountsAndLengths) {
  // Commit and Stream Commit flags must be 0.
  ExpectDataLoss(DecodeOne(1, Wire('C').U8(1).U64(1).U64(2).U64(3).bytes()),
                 "unknown flags 0x01");
  ExpectDataLoss(
      DecodeOne(2, Wire('c').U32(7).U8(4).U64(1).U64(2).U64(3).bytes()),
      "unknown flags 0x04");
  // Begin without a final LSN.
  ExpectDataLoss(DecodeOne(1, Wire('B').U64(0).U64(0).U32(5).bytes()),
                 "final LSN is 0/0");
  // Timestamps that do not fit UNIX microseconds.
  ExpectDataLoss(
      DecodeOne(1, Wire('B').U64(1).U64(0x7fffffffffffffff).U32(5).bytes()),
      "commit timestamp out of range");
  // Truncate: negative count, count beyond the message, unknown flag bits.
  ExpectDataLoss(DecodeOne(1, Wire('T').U32(0xffffffff).U8(0).bytes()),
                 "negative relation count -1");
  ExpectDataLoss(DecodeOne(1, Wire('T').U32(0x10000000).U8(0).U32(1).bytes()),
                 "relation count 268435456 needs");
  ExpectDataLoss(DecodeOne(1, Wire('T').U32(1).U8(4).U32(1).bytes()),
                 "unknown truncate flags 0x04");
  // Message: negative or overlong length, unknown flags.
  ExpectDataLoss(
      DecodeOne(1, Wire('M').U8(0).U64(1).Str("p").U32(0xfffffff0).bytes()),
      "negative message length");
  ExpectDataLoss(
      DecodeOne(1, Wire('M').U8(0).U64(1).Str("p").U32(5).Raw("abc").bytes()),
      "truncated reading message content");
  ExpectDataLoss(DecodeOne(1, Wire('M').U8(3).U64(1).Str("p").U32(0).bytes()),
                 "unknown message flags 0x03");
  // Stream Start's first-segment flag is 0 or 1.
  ExpectDataLoss(DecodeOne(2, Wire('S').U32(7).U8(2).bytes()),
                 "first segment flag");
}

TEST(DecoderErrorsTest, VersionOneRejectsEveryStreamMessage) {
  for (const std::string& message :
       {StreamStartBytes(7), Wire('E').bytes(),
        Wire('c').U32(7).U8(0).U64(1).U64(2).U64(3).bytes(),
        Wire('A').U32(7).U32(7).bytes()}) {
    ExpectDataLoss(DecodeOne(1, message),
                   "stream message under protocol "
                   "version 1");
    EXPECT_TRUE(DecodeOne(2, message, message[0] == 'E').ok()) << message[0];
  }
}

TEST(DecoderErrorsTest, StreamBlocksMustBeWellNested) {
  ExpectDataLoss(DecodeOne(2, StreamStartBytes(8), /*in_stream=*/true),
                 "Stream Start inside the open stream block of xid 7");
  ExpectDataLoss(DecodeOne(2, Wire('E').bytes()), "Stream Stop outside");
  ExpectDataLoss(DecodeOne(2, Wire('B').U64(1).U64(0).U32(5).bytes(), true),
                 "pgoutput Begin ('B'): inside the open stream block");
  ExpectDataLoss(
      DecodeOne(2, Wire('C').U8(0).U64(1).U64(2).U64(3).bytes(), true),
      "pgoutput Commit ('C')");
  ExpectDataLoss(
      DecodeOne(2, Wire('c').U32(7).U8(0).U64(1).U64(2).U64(3).bytes(), true),
      "pgoutput Stream Commit ('c')");
  ExpectDataLoss(DecodeOne(2, Wire('A').U32(7).U32(9).bytes(), true),
                 "pgoutput Stream Abort ('A')");
}

TEST(DecoderErrorsTest, ChangesInsideStreamsCarryTheXid) {
  PgoutputDecoder decoder(2);
  RecordingHandler handler;
  ASSERT_TRUE(decoder.Decode(StreamStartBytes(700), &handler).ok());
  EXPECT_TRUE(decoder.in_stream());
  EXPECT_EQ(decoder.stream_xid(), 700u);
  ASSERT_TRUE(decoder
                  .Decode(Wire('I').U32(701).U32(16393).U8('N').U16(0).bytes(),
                          &handler)
                  .ok());
  ASSERT_TRUE(
      decoder.Decode(Wire('T').U32(701).U32(1).U8(3).U32(5).bytes(), &handler)
          .ok());
  ASSERT_TRUE(decoder.Decode(Wire('E').bytes(), &handler).ok());
  EXPECT_FALSE(decoder.in_stream());
  EXPECT_EQ(decoder.stream_xid(), 0u);
  // The same Insert without an xid now has 4 bytes too few.
  ExpectDataLoss(
      decoder.Decode(Wire('I').U32(701).U32(16393).U8('N').U16(0).bytes(),
                     &handler),
      "");
  ASSERT_EQ(handler.messages().size(), 4u);
  const auto& insert = std::get<Insert>(handler.messages()[1]);
  EXPECT_EQ(insert.xid, 701u);
  EXPECT_EQ(insert.relation_oid, 16393u);
  const auto& truncate = std::get<Truncate>(handler.messages()[2]);
  EXPECT_EQ(truncate.xid, 701u);
  EXPECT_TRUE(truncate.cascade);
  EXPECT_TRUE(truncate.restart_identity);
}

TEST(DecoderErrorsTest, FailedMessageLeavesStreamStateAlone) {
  PgoutputDecoder decoder(2);
  RecordingHandler handler;
  EXPECT_FALSE(decoder.Decode(Wire('S').U32(7).bytes(), &handler).ok());
  EXPECT_FALSE(decoder.in_stream());
  ASSERT_TRUE(decoder.Decode(StreamStartBytes(7), &handler).ok());
  EXPECT_FALSE(decoder.Decode(Wire('E').U8(0).bytes(), &handler).ok());
  EXPECT_TRUE(decoder.in_stream());
  EXPECT_EQ(handler.messages().size(), 1u);
}

TEST(DecoderErrorsTest, HandlerErrorIsReturnedUnchanged) {
  PgoutputDecoder decoder(2);
  RecordingHandler handler;
  handler.FailOnCall(0, absl::UnavailableError("kafka is down"));
  absl::Status status = decoder.Decode(StreamStartBytes(7), &handler);
  EXPECT_EQ(status, absl::UnavailableError("kafka is down"));
  // The message itself was fine: the stream state moved on.
  EXPECT_TRUE(decoder.in_stream());
}

}  // namespace
}  // namespace enrich::pgoutput
