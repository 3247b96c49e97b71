// Drives the libFuzzer target tests/fuzz/pgoutput_decoder_fuzz.cc without
// libFuzzer: first the real captures, then seeded random mutations of them
// (bit flips, byte overwrites, insertions, deletions, truncations, spliced
// and duplicated frames). The target aborts on a broken invariant; a crash
// fails this test. Deterministic: fixed seed.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/pgoutput/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace enrich::pgoutput {
namespace {

int RunTarget(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

std::string Mutate(std::string input, const std::vector<std::string>& seeds,
                   std::mt19937_64& rng) {
  auto pick = [&](size_t n) -> size_t {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!input.empty()) input[pick(input.size())] ^= 1 << pick(8);
        break;
      case 1:  // overwrite a byte with an interesting value
        if (!input.empty()) {
          static const char kValues[] = {'\0', '\x01', '\x7f', '\x80', '\xff',
                                         'S',  'E',    'n',    'u',    't'};
          input[pick(input.size())] = kValues[pick(sizeof(kValues))];
        }
        break;
      case 2:  // insert random bytes
        input.insert(pick(input.size() + 1),
                     std::string(1 + pick(8), static_cast<char>(pick(256))));
        break;
      case 3:  // delete a run
        if (!input.empty()) {
          size_t at = pick(input.size());
          input.erase(at, 1 + pick(16));
        }
        break;
      case 4:  // truncate
        input.resize(pick(input.size() + 1));
        break;
      case 5: {  // splice in part of another seed
        const std::string& other = seeds[pick(seeds.size())];
        size_t from = pick(other.size());
        input.insert(pick(input.size() + 1), other.substr(from, 1 + pick(256)));
        break;
      }
      case 6:  // overwrite 4 bytes (a length or count) with an extreme value
        if (input.size() >= 4) {
          size_t at = pick(input.size() - 3);
          uint32_t value = pick(2) ? 0x7fffffff : 0xffffffff - pick(4);
          for (int i = 0; i < 4; ++i) {
            input[at + i] = static_cast<char>(value >> (24 - 8 * i));
          }
        }
        break;
    }
  }
  return input;
}

TEST(PgoutputFuzzReplayTest, RealCapturesPassTheTarget) {
  for (const std::string& seed : testing::FuzzSeeds())
    EXPECT_EQ(RunTarget(seed), 0);
}

TEST(PgoutputFuzzReplayTest, SeededMutationsNeverCrash) {
  std::vector<std::string> seeds = testing::FuzzSeeds();
  std::mt19937_64 rng(20240601);
  const int kIterations = 100000;
  for (int i = 0; i < kIterations; ++i) {
    const std::string& seed =
        seeds[std::uniform_int_distribution<size_t>(0, seeds.size() - 1)(rng)];
    ASSERT_EQ(RunTarget(Mutate(seed, seeds, rng)), 0);
  }
}

TEST(PgoutputFuzzReplayTest, DegenerateInputs) {
  for (const std::string& input :
       {std::string(), std::string(1, '\0'), std::string(1, '\x01'),
        std::string("\x01\xff", 2), std::string("\x01\xff\xff", 3),
        std::string(70000, '\xff'), std::string(70000, '\0')}) {
    EXPECT_EQ(RunTarget(input), 0);
  }
}

}  // namespace
}  // namespace enrich::pgoutput
