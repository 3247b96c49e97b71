// RewrittenIds: ids are matched by value whatever their case, kept in order
// otherwise, and only ids added count.
#include "processor/core/rewritten_ids.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::ElementsAre;

const char kA[] = "0000000a-0000-0000-0000-000000000001";
const char kB[] = "0000000b-0000-0000-0000-000000000002";
const char kC[] = "0000000c-0000-0000-0000-000000000003";

TEST(RewrittenIdsTest, NothingAddedRemovesNothing) {
  RewrittenIds done;
  std::vector<std::string> ids = {kC, kA};
  done.RemoveFrom(&ids);
  EXPECT_THAT(ids, ElementsAre(kC, kA));
}

TEST(RewrittenIdsTest, RemovesAddedIdsAndKeepsTheOthersInOrder) {
  RewrittenIds done;
  done.Add({kB});
  std::vector<std::string> ids = {kC, kB, kA};
  done.RemoveFrom(&ids);
  EXPECT_THAT(ids, ElementsAre(kC, kA));
  EXPECT_EQ(done.size(), 1u);
}

TEST(RewrittenIdsTest, MatchesUpperAndLowerCaseAsTheSameUuid) {
  RewrittenIds done;
  done.Add({"0000000A-0000-0000-0000-000000000001"});
  std::vector<std::string> ids = {kA, kB};
  done.RemoveFrom(&ids);
  EXPECT_THAT(ids, ElementsAre(kB));
}

TEST(RewrittenIdsTest, KeepsTextThatIsNotAUuid) {
  RewrittenIds done;
  done.Add({kA, "not-a-uuid"});
  EXPECT_EQ(done.size(), 1u);
  std::vector<std::string> ids = {"not-a-uuid", kA};
  done.RemoveFrom(&ids);
  EXPECT_THAT(ids, ElementsAre("not-a-uuid"));
}

TEST(RewrittenIdsTest, AfterARebuildEveryUuidIsRewritten) {
  RewrittenIds done;
  done.Add({kA});
  done.AddAll();
  EXPECT_TRUE(done.all());
  std::vector<std::string> ids = {kC, "not-a-uuid", kB, kA};
  done.RemoveFrom(&ids);
  EXPECT_THAT(ids, ElementsAre("not-a-uuid"));
  done.Add({kB});  // nothing to remember any more
  EXPECT_EQ(done.size(), 0u);
}

}  // namespace
}  // namespace enrich::processor
