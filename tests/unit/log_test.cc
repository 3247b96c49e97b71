#include "cdc/common/log.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace enrich {
namespace {

TEST(LoggerTest, WritesOneLogfmtLinePerEventWithQuotingAndEscapes) {
  std::vector<std::string> lines;
  Logger log(
      "cdc", [&](const std::string& line) { lines.push_back(line); },
      [] { return absl::FromUnixMillis(1764000000123); });
  log.Info("slot created", {{"slot", "enrich_cdc"}, {"detail", "a \"b\"\nc"}});
  log.Warn("empty", {{"value", ""}});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(
      lines[0],
      "ts=2025-11-24T16:00:00.123Z level=info component=cdc "
      "msg=\"slot created\" slot=enrich_cdc detail=\"a \\\"b\\\"\\nc\"\n");
  EXPECT_EQ(lines[1],
            "ts=2025-11-24T16:00:00.123Z level=warn component=cdc msg=empty "
            "value=\"\"\n");
}

}  // namespace
}  // namespace enrich
