#include "tests/unit/pgoutput/fixtures.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/fuzz/pgoutput_fuzz_input.h"

namespace enrich::pgoutput::testing {

std::vector<std::string> LoadFixture(const std::string& name) {
  std::string path =
      absl::StrCat(ENRICH_PGOUTPUT_FIXTURE_DIR, "/", name, ".hex");
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot open fixture " << path << "\n";
    std::abort();
  }
  std::vector<std::string> messages;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    if (text.size() % 2 != 0 ||
        text.find_first_not_of("0123456789abcdefABCDEF") != text.npos) {
      std::cerr << "fixture " << path << " has a line that is not hex\n";
      std::abort();
    }
    messages.push_back(absl::HexStringToBytes(text));
  }
  return messages;
}

std::vector<FixtureInfo> AllFixtures() {
  return {{"v1_dml", 1},
          {"v1_toast", 1},
          {"v1_ddl_truncate_message", 1},
          {"v1_binary", 1},
          {"v2_stream_commit", 2},
          {"v2_stream_abort", 2},
          {"v2_stream_subxact_abort", 2}};
}

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  for (const FixtureInfo& fixture : AllFixtures()) {
    std::vector<std::string> frames = LoadFixture(fixture.name);
    const size_t kWindow = 24;
    for (size_t start = 0; start < frames.size(); start += kWindow) {
      size_t end = std::min(frames.size(), start + kWindow);
      seeds.push_back(fuzz::EncodeFuzzInput(
          fixture.protocol_version,
          std::vector<std::string>(frames.begin() + start,
                                   frames.begin() + end)));
    }
  }
  seeds.push_back(fuzz::EncodeFuzzInput(2, LoadFixture("walsender_keepalive")));
  return seeds;
}

absl::StatusOr<std::vector<Decoded>> DecodeFixture(const std::string& name,
                                                   int protocol_version) {
  PgoutputDecoder decoder(protocol_version);
  std::vector<Decoded> out;
  for (const std::string& copy_data : LoadFixture(name)) {
    auto parsed = ParseCopyData(copy_data);
    if (!parsed.ok()) return parsed.status();
    const XLogData* xlog = std::get_if<XLogData>(&*parsed);
    if (xlog == nullptr) {
      return absl::InternalError("fixture holds a keepalive");
    }
    RecordingHandler handler;
    absl::Status status = decoder.Decode(xlog->payload, &handler);
    if (!status.ok()) return status;
    if (handler.messages().size() != 1) {
      return absl::InternalError("expected one handler call per message");
    }
    out.push_back({xlog->wal_start, xlog->wal_end, xlog->send_time_us,
                   handler.messages()[0]});
  }
  return out;
}

std::vector<std::string> FixturePayloads(const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& copy_data : LoadFixture(name)) {
    auto parsed = ParseCopyData(copy_data);
    if (!parsed.ok() || !std::holds_alternative<XLogData>(*parsed)) {
      std::cerr << "fixture " << name << " has a bad CopyData\n";
      std::abort();
    }
    out.emplace_back(std::get<XLogData>(*parsed).payload);
  }
  return out;
}

}  // namespace enrich::pgoutput::testing
