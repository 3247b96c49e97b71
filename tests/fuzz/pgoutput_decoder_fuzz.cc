// libFuzzer target for the pgoutput core: walsender framing, the pgoutput
// decoder (with its stream state across messages) and the relation cache.
// Input format: pgoutput_fuzz_input.h.
//
// Oracle: no crash, no sanitizer report, and every rejection is DataLoss
// (the handler below never fails, so nothing else may come back).
//
// Built with clang by tests/fuzz/CMakeLists.txt; under g++ the unit test
// pgoutput_fuzz_replay_test links this file and drives it with the real
// captures and seeded mutations of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cdc/pgoutput/decoder.h"
#include "cdc/pgoutput/relation_cache.h"
#include "cdc/pgoutput/walsender_protocol.h"

namespace enrich::pgoutput {
namespace {

// Exercises what a real consumer does with each message: cache relations,
// look them up for changes and check the tuple shapes.
class CheckingHandler : public Handler {
 public:
  absl::Status OnBegin(const Begin&) override { return absl::OkStatus(); }
  absl::Status OnCommit(const Commit&) override { return absl::OkStatus(); }
  absl::Status OnOrigin(const Origin&) override { return absl::OkStatus(); }
  absl::Status OnType(const TypeInfo&) override { return absl::OkStatus(); }
  absl::Status OnRelation(const RelationMessage& m) override {
    cache_.Put(m.relation);
    return absl::OkStatus();
  }
  absl::Status OnInsert(const Insert& m) override {
    Check(m.relation_oid, m.new_tuple);
    return absl::OkStatus();
  }
  absl::Status OnUpdate(const Update& m) override {
    if (m.old_tuple.has_value()) Check(m.relation_oid, *m.old_tuple);
    Check(m.relation_oid, m.new_tuple);
    return absl::OkStatus();
  }
  absl::Status OnDelete(const Delete& m) override {
    Check(m.relation_oid, m.old_tuple);
    return absl::OkStatus();
  }
  absl::Status OnTruncate(const Truncate& m) override {
    for (uint32_t oid : m.relation_oids) (void)cache_.Get(oid);
    return absl::OkStatus();
  }
  absl::Status OnMessage(const LogicalMessage&) override {
    return absl::OkStatus();
  }
  absl::Status OnStreamStart(const StreamStart&) override {
    return absl::OkStatus();
  }
  absl::Status OnStreamStop(const StreamStop&) override {
    return absl::OkStatus();
  }
  absl::Status OnStreamCommit(const StreamCommit&) override {
    return absl::OkStatus();
  }
  absl::Status OnStreamAbort(const StreamAbort&) override {
    return absl::OkStatus();
  }

 private:
  void Check(uint32_t oid, const Tuple& tuple) {
    absl::StatusOr<const Relation*> relation = cache_.Get(oid);
    if (relation.ok()) (void)CheckTupleShape(**relation, tuple);
  }
  RelationCache cache_;
};

void RequireDataLossOrOk(const absl::Status& status) {
  if (!status.ok() && status.code() != absl::StatusCode::kDataLoss) {
    std::abort();
  }
}

}  // namespace
}  // namespace enrich::pgoutput

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace enrich::pgoutput;  // NOLINT(build/namespaces)
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  PgoutputDecoder decoder((input[0] & 1) != 0 ? 2 : 1);
  CheckingHandler handler;
  input.remove_prefix(1);
  while (!input.empty()) {
    size_t frame_size = static_cast<uint8_t>(input[0]) << 8;
    if (input.size() > 1) frame_size |= static_cast<uint8_t>(input[1]);
    input.remove_prefix(input.size() > 1 ? 2 : 1);
    absl::string_view frame = input.substr(0, frame_size);
    input.remove_prefix(frame.size());

    auto copy_data = ParseCopyData(frame);
    RequireDataLossOrOk(copy_data.status());
    absl::string_view payload = frame;
    if (copy_data.ok()) {
      const XLogData* xlog = std::get_if<XLogData>(&*copy_data);
      if (xlog == nullptr) continue;  // a keepalive
      payload = xlog->payload;
    }
    bool was_in_stream = decoder.in_stream();
    absl::Status status = decoder.Decode(payload, &handler);
    RequireDataLossOrOk(status);
    // A rejected message must not move the stream state.
    if (!status.ok() && decoder.in_stream() != was_in_stream) std::abort();
  }
  return 0;
}
