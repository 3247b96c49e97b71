#include "cdc/pgoutput/byte_reader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::pgoutput {
namespace {

using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(ByteReaderTest, ReadsBigEndianIntegers) {
  std::string data =
      Bytes({0x7f, 0x01, 0x02, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff,
             0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
             0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  ByteReader reader(data);
  EXPECT_EQ(*reader.ReadU8("a"), 0x7f);
  EXPECT_EQ(*reader.ReadU16("b"), 0x0102);
  EXPECT_EQ(*reader.ReadU32("c"), 0xdeadbeefu);
  EXPECT_EQ(*reader.ReadI32("d"), -2);
  EXPECT_EQ(*reader.ReadU64("e"), 0x0102030405060708u);
  EXPECT_EQ(*reader.ReadI64("f"), -1);
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_TRUE(reader.ExpectEnd().ok());
}

TEST(ByteReaderTest, ReadsCStringsAndByteRuns) {
  std::string data = std::string("public\0\0xyz", 11);
  ByteReader reader(data);
  EXPECT_EQ(*reader.ReadCString("schema"), "public");
  EXPECT_EQ(*reader.ReadCString("empty"), "");
  EXPECT_EQ(reader.offset(), 8u);
  auto bytes = reader.ReadBytes(3, "tail");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, "xyz");
  EXPECT_EQ(*reader.ReadBytes(0, "nothing"), "");
}

TEST(ByteReaderTest, TruncationIsDataLossNamingWhatAndOffset) {
  std::string data = Bytes({1, 2, 3});
  ByteReader reader(data, "pgoutput Insert ('I')");
  ASSERT_TRUE(reader.ReadU8("kind").ok());
  auto value = reader.ReadU32("relation OID");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(value.status().message(),
              HasSubstr("pgoutput Insert ('I'): truncated reading relation "
                        "OID (need 4 bytes, 2 left) at offset 1"));
  // A failed read does not move the cursor.
  EXPECT_EQ(reader.offset(), 1u);
  EXPECT_EQ(*reader.ReadU16("rest"), 0x0203);
}

TEST(ByteReaderTest, EveryReadFailsCleanlyOnAnEmptyBuffer) {
  ByteReader reader("");
  EXPECT_FALSE(reader.ReadU8("x").ok());
  EXPECT_FALSE(reader.ReadU16("x").ok());
  EXPECT_FALSE(reader.ReadU32("x").ok());
  EXPECT_FALSE(reader.ReadI32("x").ok());
  EXPECT_FALSE(reader.ReadU64("x").ok());
  EXPECT_FALSE(reader.ReadI64("x").ok());
  EXPECT_FALSE(reader.ReadCString("x").ok());
  EXPECT_FALSE(reader.ReadBytes(1, "x").ok());
  EXPECT_TRUE(reader.ReadBytes(0, "x").ok());
  EXPECT_TRUE(reader.ExpectEnd().ok());
}

TEST(ByteReaderTest, UnterminatedStringAndHugeByteRunFail) {
  ByteReader reader("abc");
  auto text = reader.ReadCString("relation name");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("unterminated string"));
  EXPECT_THAT(text.status().message(), HasSubstr("relation name"));
  auto bytes = reader.ReadBytes(~size_t{0}, "value");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reader.offset(), 0u);
}

TEST(ByteReaderTest, ExpectEndReportsTrailingBytes) {
  ByteReader reader("abcd", "ctx");
  ASSERT_TRUE(reader.ReadU8("a").ok());
  absl::Status status = reader.ExpectEnd();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("ctx: 3 trailing bytes at offset 1"));
}

}  // namespace
}  // namespace enrich::pgoutput
