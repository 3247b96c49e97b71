// Drives the libFuzzer target tests/fuzz/change_event_view_fuzz.cc without
// libFuzzer: first its seeds, then seeded random mutations of them (bit
// flips, byte overwrites, insertions, deletions, truncations, splices, and
// varints or lengths overwritten with extreme values). The target aborts on
// a broken contract; a crash fails this test. Deterministic: fixed seed.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "processor/adapters/declared_views.h"
#include "processor/core/affected_conversations.h"
#include "proto/change_event_view.h"
#include "tests/fuzz/change_event_fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace enrich::processor {
namespace {

int RunTarget(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

// The records of a fuzz input (change_event_fuzz_input.h).
std::vector<std::string> Records(absl::string_view input) {
  std::vector<std::string> records;
  while (input.size() >= 2) {
    const size_t size =
        (static_cast<uint8_t>(input[0]) << 8) | static_cast<uint8_t>(input[1]);
    input.remove_prefix(2);
    records.emplace_back(input.substr(0, size));
    input.remove_prefix(records.back().size());
  }
  return records;
}

std::string Mutate(std::string input, const std::vector<std::string>& seeds,
                   std::mt19937_64& rng) {
  auto pick = [&](size_t n) -> size_t {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  for (int rounds = 1 + static_cast<int>(pick(4)); rounds > 0; --rounds) {
    switch (pick(6)) {
      case 0:  // flip a bit
        if (!input.empty()) input[pick(input.size())] ^= 1 << pick(8);
        break;
      case 1:  // overwrite a byte: a tag, a wire type, a length
        if (!input.empty()) {
          static const char kValues[] = {'\0',   '\x01', '\x02', '\x07', '\x0a',
                                         '\x12', '\x7f', '\x80', '\xff'};
          input[pick(input.size())] = kValues[pick(sizeof(kValues))];
        }
        break;
      case 2:  // insert random bytes
        input.insert(pick(input.size() + 1),
                     std::string(1 + pick(8), static_cast<char>(pick(256))));
        break;
      case 3:  // delete a run
        if (!input.empty()) input.erase(pick(input.size()), 1 + pick(16));
        break;
      case 4:  // truncate
        input.resize(pick(input.size() + 1));
        break;
      case 5: {  // splice in part of another seed
        const std::string& other = seeds[pick(seeds.size())];
        input.insert(pick(input.size() + 1),
                     other.substr(pick(other.size()), 1 + pick(256)));
        break;
      }
    }
  }
  return input;
}

TEST(ChangeEventViewFuzzReplayTest, SeedsAreEventsThePlannerTakes) {
  const std::vector<std::string> seeds = fuzz::ChangeEventFuzzSeeds();
  // The first four seeds are batches of valid events, the fifth a batch of
  // events for the dead-letter topic (change_event_fuzz_input.h).
  ASSERT_GE(seeds.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    AffectedConversationsPlanner planner(
        EnrichedSupportConversationsRoutes("public"));
    ChangeEventView view;
    const std::vector<std::string> records = Records(seeds[i]);
    ASSERT_GE(records.size(), 3u);
    for (const std::string& record : records) {
      ASSERT_TRUE(view.Parse(record).ok()) << "seed " << i;
      EXPECT_EQ(planner.Add(view).ok(), i < 4) << "seed " << i;
    }
  }
}

TEST(ChangeEventViewFuzzReplayTest, SeedsPassTheTarget) {
  for (const std::string& seed : fuzz::ChangeEventFuzzSeeds()) {
    EXPECT_EQ(RunTarget(seed), 0);
  }
}

TEST(ChangeEventViewFuzzReplayTest, SeededMutationsNeverCrash) {
  const std::vector<std::string> seeds = fuzz::ChangeEventFuzzSeeds();
  std::mt19937_64 rng(20260131);
  for (int i = 0; i < 100000; ++i) {
    const std::string& seed = seeds[rng() % seeds.size()];
    ASSERT_EQ(RunTarget(Mutate(seed, seeds, rng)), 0);
  }
}

TEST(ChangeEventViewFuzzReplayTest, DegenerateInputs) {
  for (const std::string& input :
       {std::string(), std::string(1, '\0'), std::string(1, '\xff'),
        std::string("\x00\x00", 2), std::string("\xff\xff", 2),
        std::string(70000, '\xff'), std::string(70000, '\0'),
        std::string(70000, '\x80')}) {
    EXPECT_EQ(RunTarget(input), 0);
  }
}

}  // namespace
}  // namespace enrich::processor
