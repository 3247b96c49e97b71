// Test support: the real pgoutput captures in tests/data/pgoutput and a
// Handler that records what a decoder delivers.
#ifndef ENRICH_TESTS_UNIT_PGOUTPUT_FIXTURES_H_
#define ENRICH_TESTS_UNIT_PGOUTPUT_FIXTURES_H_

#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdc/pgoutput/decoder.h"
#include "cdc/pgoutput/messages.h"
#include "cdc/pgoutput/walsender_protocol.h"

namespace enrich::pgoutput::testing {

// The raw CopyData messages of one fixture file (e.g. "v1_dml"), in order.
// Aborts the test binary when the file is missing or not hex.
std::vector<std::string> LoadFixture(const std::string& name);

// Every fixture name with pgoutput data (not the keepalives) and the
// protocol version it was captured with.
struct FixtureInfo {
  std::string name;
  int protocol_version;
};
std::vector<FixtureInfo> AllFixtures();

// Seeds for the fuzz target tests/fuzz/pgoutput_decoder_fuzz.cc, in its input
// format (tests/fuzz/pgoutput_fuzz_input.h): each capture in windows of
// consecutive CopyData messages (so stream state is exercised), plus the
// keepalives. Shared by the replay test and the libFuzzer seed corpus.
std::vector<std::string> FuzzSeeds();

using Message =
    std::variant<Begin, Commit, Origin, TypeInfo, RelationMessage, Insert,
                 Update, Delete, Truncate, LogicalMessage, StreamStart,
                 StreamStop, StreamCommit, StreamAbort>;

// Records every message; optionally fails on the Nth call (0-based).
class RecordingHandler : public Handler {
 public:
  absl::Status OnBegin(const Begin& m) override { return Record(m); }
  absl::Status OnCommit(const Commit& m) override { return Record(m); }
  absl::Status OnOrigin(const Origin& m) override { return Record(m); }
  absl::Status OnType(const TypeInfo& m) override { return Record(m); }
  absl::Status OnRelation(const RelationMessage& m) override {
    return Record(m);
  }
  absl::Status OnInsert(const Insert& m) override { return Record(m); }
  absl::Status OnUpdate(const Update& m) override { return Record(m); }
  absl::Status OnDelete(const Delete& m) override { return Record(m); }
  absl::Status OnTruncate(const Truncate& m) override { return Record(m); }
  absl::Status OnMessage(const LogicalMessage& m) override { return Record(m); }
  absl::Status OnStreamStart(const StreamStart& m) override {
    return Record(m);
  }
  absl::Status OnStreamStop(const StreamStop& m) override { return Record(m); }
  absl::Status OnStreamCommit(const StreamCommit& m) override {
    return Record(m);
  }
  absl::Status OnStreamAbort(const StreamAbort& m) override {
    return Record(m);
  }

  void FailOnCall(int n, absl::Status status) {
    fail_on_ = n;
    failure_ = std::move(status);
  }
  const std::vector<Message>& messages() const { return messages_; }

 private:
  absl::Status Record(Message m) {
    if (calls_++ == fail_on_) return failure_;
    messages_.push_back(std::move(m));
    return absl::OkStatus();
  }
  std::vector<Message> messages_;
  int calls_ = 0;
  int fail_on_ = -1;
  absl::Status failure_;
};

// One decoded XLogData: its framing and the message it carried.
struct Decoded {
  Lsn wal_start;
  Lsn wal_end;
  int64_t send_time_us;
  Message message;
};

// Parses and decodes a whole fixture with a fresh decoder of its protocol
// version; the first error stops it.
absl::StatusOr<std::vector<Decoded>> DecodeFixture(const std::string& name,
                                                   int protocol_version);

// The pgoutput payload of each CopyData of a fixture.
std::vector<std::string> FixturePayloads(const std::string& name);

// Messages of type T, in order.
template <typename T>
std::vector<T> OfType(const std::vector<Decoded>& decoded) {
  std::vector<T> out;
  for (const Decoded& d : decoded) {
    if (const T* m = std::get_if<T>(&d.message)) out.push_back(*m);
  }
  return out;
}

}  // namespace enrich::pgoutput::testing

#endif  // ENRICH_TESTS_UNIT_PGOUTPUT_FIXTURES_H_
