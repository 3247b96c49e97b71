// Affected-row planning: from the change events of one batch, the coalesced
// set of enriched rows that may have changed. Pure: no libpq, no librdkafka.
//
// Which source changes reach which enriched rows is the view's routes
// (view_routes.h), derived from its definition: a root change names its key
// before and after, a child change its foreign key before and after (a moved
// message touches two conversations), a lookup change its key before and
// after as fan-out keys of that lookup (resolved later to every row whose
// join column equals one), a TRUNCATE its role in `truncated`. For today's
// view (sql/views/enriched_support_conversations.sql):
//
//   raw_support_conversations      root: id
//   support_conversation_messages  child: conversation_id
//   subscribers_insights           lookup 0: distinct_id (c.user_id)
//   linear_issues                  lookup 1: id (c.linear_issue_id)
//
// The root's key has the routes' form (ViewRoutes::root_key_form: a uuid
// today, an integer or text for other views); the plan holds its canonical
// text (RootKeyForm, view_routes.h), so a key named twice in different
// spellings ("ABC..." and "abc...", "007" and "7") is one row. A root or
// child value that is not a key of that form is refused.
//
// The plan only names keys; the writer recomputes each named row from the
// source tables as they are when it runs. That is why duplicates, late and
// out-of-order events are harmless here: an event only says "look again".
//
// The in-place child paths below (body edits and appends) read today's
// message columns (id, created_at, body; the foreign key comes from the
// routes), and the writer's body edit and append statements are written for
// today's view (VIEWS.md). So they are planned only when the routes say so
// (ViewRoutes::child_in_place, set by EnrichedSupportConversationsRoutes
// alone, processor/adapters/declared_views.h); for any other view every
// child INSERT, UPDATE and DELETE is a full rewrite of its old and new
// parent. The column update path (a root UPDATE keeping its key) is planned
// for every view: the writer's joined-column rewrite is compiled for any.
//
// One narrower kind of work: a message UPDATE that keeps the message's id,
// conversation_id and created_at and whose body is non-NULL before and after
// (both rows known: REPLICA IDENTITY FULL) changes only that message's element
// of all_messages, never the order, count or last_message_at. Such an edit is
// planned as a body edit (conversation -> message) instead of a full rewrite,
// as long as it is the conversation's only work in the batch: a second edited
// message, or any other event reaching the conversation, makes it a full
// rewrite (which covers the edit). The writer applies a body edit by reading
// that one message (enriched_row_writer.h).
//
// Likewise a message INSERT with a non-NULL body is planned as an append
// (conversation -> message): the writer adds it at the end of the arrays when
// it sorts after every message the row counts, and rewrites in full
// otherwise. A conversation gets at most one of these per batch: a second
// one of either kind, or any other event reaching it, makes it a full
// rewrite.
//
// And an UPDATE of a conversation that keeps its id (a status, an assignee,
// synced_at...) cannot change the conversation's message aggregate, which
// depends only on the messages whose conversation_id is that id. It is
// planned as a column update: the writer re-reads the conversation, its
// subscriber and its Linear issue and leaves the messages alone
// (enriched_row_writer.h, step 4c). Any number of them per conversation and
// batch is one column update; a message change of the same conversation in
// the batch, or any event planned in full (an insert, a delete, an id
// change), makes it a full rewrite.
//
// Snapshot rows (SNAPSHOT_READ) name no rows at all. A snapshot is the
// state of the source at its slot's consistent point, published as one row
// event after another, all with that point as commit_lsn. The plan keeps
// only the snapshots it saw (snapshot_lsns); the writer answers the first
// batch of a consumer group that holds a snapshot with a rebuild of every
// row from the source state after the snapshot was taken
// (enriched_row_writer.h), which covers the snapshot's rows and also
// removes rows whose conversation was deleted before the slot existed, a
// change no event will ever name. The snapshot's rows are then redundant,
// and every change committed after its consistent point is a streamed
// event of its own. A snapshot row is still validated like any row, so a
// malformed one goes to the dead-letter topic. A snapshot published as a
// boundary only (SNAPSHOT_BOUNDARY, enrich-cdc's default) is kept the same
// way: the rebuild never needed its rows.
//
//   AffectedConversationsPlanner planner;
//   for (const ChangeEventView& e : events) {  // proto/change_event_view.h
//     absl::Status s = planner.Add(e);
//     if (!s.ok()) SendToDeadLetter(e, s.message());  // plan unchanged
//   }
//   AffectedConversations plan = planner.Take();
//
// Not thread-safe; one planner per batch builder.
#ifndef ENRICH_PROCESSOR_CORE_AFFECTED_CONVERSATIONS_H_
#define ENRICH_PROCESSOR_CORE_AFFECTED_CONVERSATIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "change_event.pb.h"
#include "processor/core/view_routes.h"
#include "proto/change_event_view.h"

namespace enrich::processor {

// Which of the view's tables a batch saw truncated (by role, ViewRoutes). A
// truncate leaves no per-row events behind, so the affected rows are "every
// row the table reached":
//   root       every view row (deleted unless the root row was reloaded in
//              the meantime)
//   child      every root row
//   lookup i   every root row whose join column of lookup i is not NULL
// CompiledView::ListRebuildIdsSql lists them (view_statements.h).
struct TruncatedTables {
  bool root = false;
  bool child = false;
  // Lookup indexes, FROM order (ViewDefinition::lookups).
  absl::btree_set<size_t> lookups;

  bool any() const { return root || child || !lookups.empty(); }

  friend bool operator==(const TruncatedTables& a, const TruncatedTables& b) {
    return a.root == b.root && a.child == b.child && a.lookups == b.lookups;
  }
};

// The work one batch requires. Sets are ordered, so iterating them yields the
// key order the writer locks in.
struct AffectedConversations {
  // Conversations (root keys) to rewrite in full (every column recomputed
  // from the source), as canonical text of the routes' key form
  // (RootKeyForm: today raw_support_conversations ids as lower-case
  // 8-4-4-4-12 uuid text).
  absl::btree_set<std::string> full_rewrites;
  // Body edits (file comment): conversation id -> the id of its one edited
  // message (a uuid), both canonical. No key is in full_rewrites.
  absl::btree_map<std::string, std::string> body_edits;
  // Appends (file comment): conversation id -> the id of its one inserted
  // message. No key is in full_rewrites or body_edits.
  absl::btree_map<std::string, std::string> appends;
  // Column updates (file comment): conversation ids, canonical. None is in
  // full_rewrites, body_edits or appends.
  absl::btree_set<std::string> column_updates;
  // Fan-out keys per lookup, FROM order (ViewDefinition::lookups): values
  // of lookup i's key; rewrite every row whose root join column of lookup i
  // is one of them (today's view: [0] subscribers_insights.distinct_id
  // against user_id, [1] linear_issues.id against linear_issue_id). The
  // planner sizes it to the view's lookups; a shorter vector (a plan built
  // by hand) means no keys for the lookups past its end.
  std::vector<absl::btree_set<std::string>> lookup_keys;
  TruncatedTables truncated;
  // The snapshots whose rows the batch held: their commit_lsn (the slot's
  // consistent point), which identifies a snapshot (file comment).
  absl::btree_set<uint64_t> snapshot_lsns;

  // Over the events planned (dead-lettered ones excluded): the highest source
  // commit LSN and commit time (microseconds since the Unix epoch).
  uint64_t max_commit_lsn = 0;
  int64_t max_commit_time_us = 0;
  size_t event_count = 0;

  // True when no row needs rewriting.
  bool empty() const {
    return full_rewrites.empty() && body_edits.empty() && appends.empty() &&
           column_updates.empty() && !has_lookup_keys() && !truncated.any() &&
           snapshot_lsns.empty();
  }
  // True when some lookup has fan-out keys.
  bool has_lookup_keys() const {
    for (const absl::btree_set<std::string>& keys : lookup_keys) {
      if (!keys.empty()) return true;
    }
    return false;
  }
};

// Builds the AffectedConversations of one batch, one event at a time.
class AffectedConversationsPlanner {
 public:
  // Events are planned by `routes` (view_routes.h): today's view's come
  // from its definition file (processor/adapters/declared_views.h). Their
  // tables name the source schema (enrich-cdc publishes it, "public" by
  // default).
  explicit AffectedConversationsPlanner(ViewRoutes routes);
  AffectedConversationsPlanner(const AffectedConversationsPlanner&) = delete;
  AffectedConversationsPlanner& operator=(const AffectedConversationsPlanner&) =
      delete;

  // Adds the rows `event` affects. InvalidArgument, with the plan unchanged,
  // when the event cannot be planned and belongs on the dead-letter topic:
  // another schema, an unknown table, an unspecified operation, a required
  // column missing (a message UPDATE or DELETE without its old
  // conversation_id means the table is not REPLICA IDENTITY FULL), a NULL
  // primary key (a NULL foreign key of the child is no error: that side
  // reaches no row, e.g. a conversation without a user), or a
  // root key (of the root or the child) not of the routes' form: not a
  // uuid, not a 64-bit integer. Columns the planner does not need
  // are ignored, so a column added to a source table is not an error.
  absl::Status Add(const ChangeEventView& event);
  // The same for an event held as a message (tests, tools): serializes it
  // and reads it back as a view, so it is planned exactly as consumed.
  absl::Status Add(const enrich::v1::ChangeEvent& event);

  const AffectedConversations& plan() const { return plan_; }

  // Returns the plan and starts an empty one.
  AffectedConversations Take();

 private:
  // A root key an event carries: its text (pointing into the event) and,
  // for the uuid and integer forms, its bits (equal bits <=> equal canonical
  // text; 0 for text keys, told apart by their text).
  struct RootKey {
    absl::string_view text;
    absl::uint128 bits = 0;
  };
  // `text` read as a root key of the routes' form, or nullopt when it is
  // not one.
  std::optional<RootKey> ReadRootKey(absl::string_view text) const;
  // The text the plan holds for `key`.
  std::string CanonicalRootKey(const RootKey& key) const;
  // Whether `key` is in plan_.full_rewrites.
  bool PlannedInFull(const RootKey& key) const;

  // Plans `event` (a message UPDATE or INSERT; `foreign_key` the child's
  // route column) as a body edit or an append when it is one (file
  // comment): true when it did, false when the caller plans it in full.
  bool AddMessageChange(const ChangeEventView& event,
                        absl::string_view foreign_key);
  // Plans conversation `key` as a column update (file comment).
  void AddColumnUpdate(const RootKey& key);
  // Erases conversation `id` (canonical) from the body edits, appends and
  // column updates; returns how many entries it had (0 or 1).
  size_t DropPartialWork(const std::string& id);
  // Moves conversation `id` (canonical) from the body edits, appends or
  // column updates to the full rewrites, if it has partial work.
  void MakeFull(const std::string& id);

  // Plans the root keys `keys` of an event of the root (`root_update`: an
  // UPDATE that kept the key) or of the child.
  void AddRootIds(absl::Span<const RootKey> keys, bool root_update);
  // An empty plan with one fan-out key set per lookup.
  AffectedConversations EmptyPlan() const;

  ViewRoutes routes_;
  AffectedConversations plan_;
  // The bits of every key in plan_.full_rewrites, for the uuid and integer
  // forms (a text key's text is its canonical text: the set itself
  // answers).
  absl::flat_hash_set<absl::uint128> full_rewrite_bits_;
};

// `text` as PostgreSQL prints a uuid (lower-case 8-4-4-4-12 hex), accepting
// upper-case hex; InvalidArgument for anything else.
absl::StatusOr<std::string> CanonicalUuid(absl::string_view text);

// The 128 bits of a uuid in the text form CanonicalUuid accepts (either
// case), or nullopt for anything else. Equal bits <=> equal canonical text.
std::optional<absl::uint128> UuidBits(absl::string_view text);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_AFFECTED_CONVERSATIONS_H_
