#include "cdc/pgoutput/lsn.h"

#include "gtest/gtest.h"

namespace enrich::pgoutput {
namespace {

TEST(LsnTest, FormatsLikePostgres) {
  EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn(0x195EC90), "0/195EC90");
  EXPECT_EQ(FormatLsn(~uint64_t{0}), "FFFFFFFF/FFFFFFFF");
}

TEST(LsnTest, ParsesWhatItFormatsInEitherCase) {
  for (Lsn lsn : {Lsn{0}, Lsn{1}, Lsn{0x16B374D848}, Lsn{0xAB12CD34},
                  Lsn{0x100000000}, ~Lsn{0}}) {
    auto parsed = ParseLsn(FormatLsn(lsn));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, lsn);
  }
  auto lower = ParseLsn("16/b374d848");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(*lower, 0x16B374D848u);
  auto padded = ParseLsn("00000000/0000000A");
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(*padded, 10u);
}

TEST(LsnTest, RejectsGarbage) {
  for (const char* text :
       {"", "/", "1/", "/1", "16", "16B374D848", "123456789/0", "0/123456789",
        "1/2/3", " 1/2", "1/2 ", "g/1", "+1/2", "1/-2", "0x1/2", "1 /2",
        "1/2\n"}) {
    auto parsed = ParseLsn(text);
    EXPECT_FALSE(parsed.ok()) << "accepted \"" << text << "\"";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ParseLsn(absl::string_view("1/2\0", 4)).ok());
}

}  // namespace
}  // namespace enrich::pgoutput
