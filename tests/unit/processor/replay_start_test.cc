#include "processor/core/replay_start.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ReplayModesGivenTest, CountsEachWayGiven) {
  EXPECT_EQ(ReplayModesGiven({}), 0);
  EXPECT_EQ(ReplayModesGiven({true, "", ""}), 1);
  EXPECT_EQ(ReplayModesGiven({false, "2024-05-01T12:00:00Z", ""}), 1);
  EXPECT_EQ(ReplayModesGiven({false, "", "t:0:1"}), 1);
  EXPECT_EQ(ReplayModesGiven({true, "", "t:0:1"}), 2);
  EXPECT_EQ(ReplayModesGiven({true, "2024-05-01T12:00:00Z", "t:0:1"}), 3);
}

TEST(ParseReplayTimestampTest, AcceptsRfc3339) {
  absl::StatusOr<absl::Time> t = ParseReplayTimestamp("2024-05-01T12:00:00Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, absl::FromUnixSeconds(1714564800));
  t = ParseReplayTimestamp("2024-05-01T14:00:00.250+02:00");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, absl::FromUnixSeconds(1714564800) + absl::Milliseconds(250));
}

TEST(ParseReplayTimestampTest, RejectsOtherText) {
  for (const char* text :
       {"yesterday", "2024-05-01", "2024-05-01 12:00:00", "1714564800", ""}) {
    absl::StatusOr<absl::Time> t = ParseReplayTimestamp(text);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_FALSE(t.status().message().empty()) << text;
  }
}

TEST(ParseReplayOffsetsTest, ParsesEveryItem) {
  auto offsets = ParseReplayOffsets("s.public.a:0:5,,s.public.b:3:0,");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_THAT(*offsets, ElementsAre(PartitionOffset{"s.public.a", 0, 5},
                                    PartitionOffset{"s.public.b", 3, 0}));
}

TEST(ParseReplayOffsetsTest, APartitionNamedTwiceTakesItsLastOffset) {
  auto offsets = ParseReplayOffsets("a:0:5,b:1:2,a:0:3");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_THAT(*offsets, ElementsAre(PartitionOffset{"a", 0, 3},
                                    PartitionOffset{"b", 1, 2}));
}

TEST(ParseReplayOffsetsTest, NamesTheMalformedItem) {
  for (const char* item : {"a:0", "a:0:1:2", "a:x:1", "a:0:y", "a:0:-1",
                           "a:99999999999:1", "a::1"}) {
    auto offsets = ParseReplayOffsets(absl::StrCat("ok:0:1,", item));
    EXPECT_EQ(offsets.status().code(), absl::StatusCode::kInvalidArgument)
        << item;
    EXPECT_EQ(offsets.status().message(),
              absl::StrCat("--from-offsets: '", item,
                           "' is not topic:partition:offset"));
  }
}

TEST(ParseReplayOffsetsTest, NothingGivenIsAnError) {
  for (const char* text : {"", ",", ",,"}) {
    auto offsets = ParseReplayOffsets(text);
    EXPECT_EQ(offsets.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(offsets.status().message(), HasSubstr("no offsets given"));
  }
}

TEST(FirstMissingTopicTest, TheFirstInOrder) {
  const std::vector<std::string> topics = {"a", "b", "c"};
  EXPECT_EQ(FirstMissingTopic(topics, {{"a", 1}, {"b", 2}, {"c", 3}}),
            std::nullopt);
  EXPECT_EQ(FirstMissingTopic(topics, {{"a", 1}}), "b");
  EXPECT_EQ(FirstMissingTopic(topics, {{"c", 1}}), "a");
}

TEST(ReplayPartitionsTest, EveryPartitionFromTheBeginningByDefault) {
  EXPECT_THAT(ReplayPartitions({"a", "b"}, {{"b", 1}, {"a", 2}}, {}),
              ElementsAre(PartitionOffset{"a", 0, kOffsetBeginning},
                          PartitionOffset{"a", 1, kOffsetBeginning},
                          PartitionOffset{"b", 0, kOffsetBeginning}));
}

TEST(ReplayPartitionsTest, OnlyThePartitionsFromOffsetsNames) {
  // The start offsets come later (on assignment); here only the choice.
  EXPECT_THAT(ReplayPartitions({"a", "b"}, {{"a", 3}, {"b", 2}},
                               {{"b", 1, 40}, {"a", 2, 7}, {"a", 0, 0}}),
              ElementsAre(PartitionOffset{"a", 0, kOffsetBeginning},
                          PartitionOffset{"a", 2, kOffsetBeginning},
                          PartitionOffset{"b", 1, kOffsetBeginning}));
}

TEST(ReplayPartitionsTest, NamesOutsideTheTopicsChooseNothing) {
  EXPECT_THAT(
      ReplayPartitions({"a"}, {{"a", 2}}, {{"other", 0, 1}, {"a", 2, 1}}),
      IsEmpty());
}

TEST(ReplayPartitionsTest, MissingTopicsContributeNothing) {
  EXPECT_THAT(ReplayPartitions({"a", "b"}, {{"b", 1}}, {}),
              ElementsAre(PartitionOffset{"b", 0, kOffsetBeginning}));
}

}  // namespace
}  // namespace enrich::processor
