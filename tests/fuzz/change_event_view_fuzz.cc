// libFuzzer target for the processor's reading of events: record values
// through ChangeEventView::Parse (proto/change_event_view.h) and, when they
// parse, through AffectedConversationsPlanner::Add
// (processor/core/affected_conversations.h), one batch per input with the
// view reused as the batch builder reuses it. Input format:
// change_event_fuzz_input.h.
//
// Oracle: no crash, no sanitizer report, no leak, and the contracts the
// headers state:
//  * Parse fails only with InvalidArgument, and every string the view
//    returns lies inside the record it read;
//  * Add fails only with InvalidArgument, and then leaves the plan as it
//    was;
//  * the plan's conversation and message ids are canonical uuid text, and a
//    conversation has one kind of work at most (full rewrite, body edit,
//    append or column update).
//
// Built with clang by tests/fuzz/CMakeLists.txt; under g++ the unit test
// change_event_view_fuzz_replay_test (tests/unit/processor) links this file
// and drives it with the seeds and seeded mutations of them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "processor/adapters/declared_views.h"
#include "processor/core/affected_conversations.h"
#include "proto/change_event_view.h"

namespace enrich::processor {
namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

void RequireInside(absl::string_view part, absl::string_view whole) {
  if (part.empty()) return;
  Require(part.data() >= whole.data() &&
          part.data() + part.size() <= whole.data() + whole.size());
}

void RequireInside(const std::vector<ColumnView>& columns,
                   absl::string_view whole) {
  for (const ColumnView& column : columns) {
    RequireInside(column.name, whole);
    RequireInside(column.text, whole);
    if (column.value != ColumnView::Value::kText) Require(column.text.empty());
  }
}

bool SamePlan(const AffectedConversations& a, const AffectedConversations& b) {
  return a.full_rewrites == b.full_rewrites && a.body_edits == b.body_edits &&
         a.appends == b.appends && a.column_updates == b.column_updates &&
         a.lookup_keys == b.lookup_keys && a.truncated == b.truncated &&
         a.snapshot_lsns == b.snapshot_lsns &&
         a.max_commit_lsn == b.max_commit_lsn &&
         a.max_commit_time_us == b.max_commit_time_us &&
         a.event_count == b.event_count;
}

void RequireCanonical(const std::string& id) {
  absl::StatusOr<std::string> canonical = CanonicalUuid(id);
  Require(canonical.ok() && *canonical == id);
}

// AffectedConversations' field comments: canonical ids, and no
// conversation in two kinds of work.
void RequireConsistent(const AffectedConversations& plan) {
  for (const std::string& id : plan.full_rewrites) RequireCanonical(id);
  for (const auto& [conversation, message] : plan.body_edits) {
    RequireCanonical(conversation);
    RequireCanonical(message);
    Require(!plan.full_rewrites.contains(conversation));
  }
  for (const auto& [conversation, message] : plan.appends) {
    RequireCanonical(conversation);
    RequireCanonical(message);
    Require(!plan.full_rewrites.contains(conversation));
    Require(!plan.body_edits.contains(conversation));
  }
  for (const std::string& id : plan.column_updates) {
    RequireCanonical(id);
    Require(!plan.full_rewrites.contains(id));
    Require(!plan.body_edits.contains(id));
    Require(!plan.appends.contains(id));
  }
}

}  // namespace
}  // namespace enrich::processor

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace enrich::processor;  // NOLINT(build/namespaces)
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  enrich::ChangeEventView view;
  AffectedConversationsPlanner planner(
      EnrichedSupportConversationsRoutes("public"));
  while (!input.empty()) {
    size_t record_size = static_cast<uint8_t>(input[0]) << 8;
    if (input.size() > 1) record_size |= static_cast<uint8_t>(input[1]);
    input.remove_prefix(input.size() > 1 ? 2 : 1);
    // A copy of its own, so ASan sees a read past the record.
    const std::string record(input.substr(0, record_size));
    input.remove_prefix(record.size());

    absl::Status parsed = view.Parse(record);
    if (!parsed.ok()) {
      Require(parsed.code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    RequireInside(view.schema(), record);
    RequireInside(view.table(), record);
    RequireInside(view.key(), record);
    RequireInside(view.new_row(), record);
    RequireInside(view.old_row(), record);
    if (!view.has_old_row()) Require(view.old_row().empty());

    const AffectedConversations before = planner.plan();
    absl::Status added = planner.Add(view);
    if (!added.ok()) {
      Require(added.code() == absl::StatusCode::kInvalidArgument);
      Require(SamePlan(before, planner.plan()));
    }
    RequireConsistent(planner.plan());
  }
  AffectedConversations plan = planner.Take();
  RequireConsistent(plan);
  Require(planner.plan().empty());
  return 0;
}
