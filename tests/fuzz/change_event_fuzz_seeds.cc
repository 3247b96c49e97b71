// Writes the seed corpus of change_event_view_fuzz: the same seeds the replay
// test starts from (ChangeEventFuzzSeeds, change_event_fuzz_input.h), one
// file per seed.
//
//   change_event_fuzz_seeds OUT_DIR
//
// OUT_DIR must exist; files already there with the same names are replaced.
// Used by run_libfuzzer.sh.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tests/fuzz/change_event_fuzz_input.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT_DIR\n";
    return 2;
  }
  std::vector<std::string> seeds = enrich::fuzz::ChangeEventFuzzSeeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::string path = absl::StrFormat("%s/seed-%03d", argv[1], i);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(seeds[i].data(), static_cast<std::streamsize>(seeds[i].size()));
    if (!out.flush()) {
      std::cerr << "cannot write " << path << "\n";
      return 1;
    }
  }
  std::cout << "change_event_fuzz_seeds: " << seeds.size() << " seeds in "
            << argv[1] << "\n";
  return 0;
}
