// The input format of pgoutput_decoder_fuzz.cc, for seed builders.
//
// Byte 0: bit 0 clear => protocol version 1, set => version 2. Then frames,
// each a 2-byte big-endian length and that many bytes (a last frame cut
// short takes what is left). Each frame is one walsender CopyData message
// ('w' XLogData, 'k' keepalive) or, when it does not parse as one, a bare
// pgoutput message.
#ifndef ENRICH_TESTS_FUZZ_PGOUTPUT_FUZZ_INPUT_H_
#define ENRICH_TESTS_FUZZ_PGOUTPUT_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace enrich::pgoutput::fuzz {

inline constexpr size_t kMaxFrameSize = 0xffff;

// Frames longer than kMaxFrameSize are cut to it.
inline std::string EncodeFuzzInput(int protocol_version,
                                   const std::vector<std::string>& frames) {
  std::string out(1, protocol_version == 2 ? '\x01' : '\x00');
  for (const std::string& frame : frames) {
    size_t size = std::min(frame.size(), kMaxFrameSize);
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
    out.append(frame, 0, size);
  }
  return out;
}

}  // namespace enrich::pgoutput::fuzz

#endif  // ENRICH_TESTS_FUZZ_PGOUTPUT_FUZZ_INPUT_H_
