#include "processor/core/affected_conversations.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"

namespace enrich::processor {
namespace {

using ::enrich::v1::Operation;

// A link column's value on one side of a change.
struct LinkValue {
  // kAbsent: the row does not carry the column, or carries it as an
  // unchanged TOAST marker (the value is then the old row's). kNull: a
  // known NULL, which links to no row.
  enum class Kind { kAbsent, kNull, kText };
  Kind kind = Kind::kAbsent;
  absl::string_view text;

  bool known() const { return kind != Kind::kAbsent; }
  friend bool operator==(const LinkValue& a, const LinkValue& b) {
    return a.kind == b.kind && a.text == b.text;
  }
};

// The value of `name` in `columns`. A NULL is an error when `nullable` is
// false (a primary key: such an event is malformed); a nullable link (a
// child's foreign key: a conversation without a user) reaches no row.
absl::StatusOr<LinkValue> ColumnText(const std::vector<ColumnView>& columns,
                                     absl::string_view name,
                                     absl::string_view side, bool nullable) {
  for (const ColumnView& column : columns) {
    if (column.name != name) continue;
    switch (column.value) {
      case ColumnView::Value::kText:
        return LinkValue{LinkValue::Kind::kText, column.text};
      case ColumnView::Value::kNull:
        if (nullable) return LinkValue{LinkValue::Kind::kNull, {}};
        return absl::InvalidArgumentError(
            absl::StrCat(side, " column ", name, " is NULL"));
      case ColumnView::Value::kUnchangedToast:
        return LinkValue{};
      case ColumnView::Value::kNotSet:
        return absl::InvalidArgumentError(
            absl::StrCat(side, " column ", name, " carries no value"));
    }
  }
  return LinkValue{};
}

std::optional<absl::string_view> KeyText(const ChangeEventView& event,
                                         absl::string_view name) {
  for (const ColumnView& column : event.key()) {
    if (column.name == name && column.value == ColumnView::Value::kText) {
      return column.text;
    }
  }
  return std::nullopt;
}

// The values of the column that links `event`'s row to conversations, before
// and after the change (one value when they are equal or only one exists).
// `is_primary_key`: the column is the table's primary key, so under REPLICA
// IDENTITY DEFAULT the event's key and an absent old row still tell its old
// value; otherwise (messages.conversation_id) the old value needs REPLICA
// IDENTITY FULL, and may be NULL (no row on that side). The values point
// into the event's bytes.
using LinkValueList = absl::InlinedVector<absl::string_view, 2>;
absl::StatusOr<LinkValueList> LinkValues(const ChangeEventView& event,
                                         absl::string_view column,
                                         bool is_primary_key) {
  LinkValue before, after;
  const Operation op = event.op();
  const bool has_new = op == enrich::v1::INSERT || op == enrich::v1::UPDATE ||
                       op == enrich::v1::SNAPSHOT_READ;
  const bool has_old = op == enrich::v1::UPDATE || op == enrich::v1::DELETE;
  const bool nullable = !is_primary_key;
  if (has_new) {
    ASSIGN_OR_RETURN(after,
                     ColumnText(event.new_row(), column, "new", nullable));
  }
  if (has_old && event.has_old_row()) {
    ASSIGN_OR_RETURN(before,
                     ColumnText(event.old_row(), column, "old", nullable));
  }
  if (!before.known() && has_old && is_primary_key) {
    // DEFAULT identity: DELETE carries the key; an UPDATE without an old
    // row did not change the key.
    if (std::optional<absl::string_view> key = KeyText(event, column)) {
      before = LinkValue{LinkValue::Kind::kText, *key};
    } else if (op == enrich::v1::UPDATE) {
      before = after;
    }
  }
  if (!after.known() && has_new) {
    // An unchanged TOAST value in the new row equals the old value.
    after = before;
  }
  if ((has_new && !after.known()) || (has_old && !before.known())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no ", has_old && !before.known() ? "old" : "new", " value of ", column,
        is_primary_key ? ""
                       : " (UPDATE and DELETE need the old row: set REPLICA "
                         "IDENTITY FULL on the source table)"));
  }
  LinkValueList values;
  if (before.kind == LinkValue::Kind::kText) values.push_back(before.text);
  if (after.kind == LinkValue::Kind::kText && !(after == before)) {
    values.push_back(after.text);
  }
  return values;
}

// The column `name` of `columns`, or nullptr when the row does not carry it.
const ColumnView* FindColumn(const std::vector<ColumnView>& columns,
                             absl::string_view name) {
  for (const ColumnView& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

// The text of column `name` after an UPDATE whose old row had `before` (a
// text value): the new row's text, the old text when the new row marks the
// value an unchanged TOAST value, nullopt when it is NULL, missing or unset.
std::optional<absl::string_view> TextAfter(const ChangeEventView& event,
                                           absl::string_view name,
                                           absl::string_view before) {
  const ColumnView* after = FindColumn(event.new_row(), name);
  if (after == nullptr) return std::nullopt;
  if (after->value == ColumnView::Value::kText) return after->text;
  if (after->value == ColumnView::Value::kUnchangedToast) return before;
  return std::nullopt;
}

bool IsHex(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
}

// The bits of an int64 (equal bits <=> equal value), for the hash set of
// planned keys; the sign is kept by the two's complement.
absl::uint128 IntegerBits(int64_t value) {
  return absl::MakeUint128(0, static_cast<uint64_t>(value));
}

// Why `text` is not a root key of form `form`.
std::string NotARootKey(RootKeyForm form, absl::string_view text) {
  switch (form) {
    case RootKeyForm::kUuid: {
      absl::StatusOr<std::string> uuid = CanonicalUuid(text);
      return uuid.ok() ? "not a uuid" : std::string(uuid.status().message());
    }
    case RootKeyForm::kInteger:
      return absl::StrCat("not a 64-bit integer: \"",
                          absl::CEscape(text.substr(0, 64)), "\"");
    case RootKeyForm::kText:
      break;
  }
  return "not a root key";  // unreachable: every text is a text key
}

}  // namespace

absl::StatusOr<std::string> CanonicalUuid(absl::string_view text) {
  bool ok = text.size() == 36;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash_position ? text[i] == '-' : IsHex(text[i]);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a uuid: \"", absl::CEscape(text.substr(0, 64)), "\""));
  }
  return absl::AsciiStrToLower(text);
}

std::optional<absl::uint128> UuidBits(absl::string_view text) {
  if (text.size() != 36) return std::nullopt;
  uint64_t high = 0, low = 0;
  int digits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    uint64_t& half = digits < 16 ? high : low;
    half = (half << 4) | static_cast<uint64_t>(v);
    ++digits;
  }
  return absl::MakeUint128(high, low);
}

AffectedConversationsPlanner::AffectedConversationsPlanner(ViewRoutes routes)
    : routes_(std::move(routes)), plan_(EmptyPlan()) {}

std::optional<AffectedConversationsPlanner::RootKey>
AffectedConversationsPlanner::ReadRootKey(absl::string_view text) const {
  switch (routes_.root_key_form()) {
    case RootKeyForm::kUuid: {
      const std::optional<absl::uint128> bits = UuidBits(text);
      if (!bits) return std::nullopt;
      return RootKey{text, *bits};
    }
    case RootKeyForm::kInteger: {
      int64_t value;
      if (!absl::SimpleAtoi(text, &value)) return std::nullopt;
      return RootKey{text, IntegerBits(value)};
    }
    case RootKeyForm::kText:
      return RootKey{text, 0};
  }
  return std::nullopt;
}

std::string AffectedConversationsPlanner::CanonicalRootKey(
    const RootKey& key) const {
  switch (routes_.root_key_form()) {
    case RootKeyForm::kUuid:
      return absl::AsciiStrToLower(key.text);
    case RootKeyForm::kInteger:
      return absl::StrCat(static_cast<int64_t>(absl::Uint128Low64(key.bits)));
    case RootKeyForm::kText:
      break;
  }
  return std::string(key.text);
}

bool AffectedConversationsPlanner::PlannedInFull(const RootKey& key) const {
  if (routes_.root_key_form() == RootKeyForm::kText) {
    return plan_.full_rewrites.contains(key.text);
  }
  return full_rewrite_bits_.contains(key.bits);
}

AffectedConversations AffectedConversationsPlanner::EmptyPlan() const {
  AffectedConversations plan;
  plan.lookup_keys.resize(routes_.lookup_count());
  return plan;
}

bool AffectedConversationsPlanner::AddMessageChange(
    const ChangeEventView& event, absl::string_view foreign_key) {
  // The columns that place the message in the arrays: today's message
  // columns (header), the foreign key from the routes.
  const absl::string_view kPlacing[3] = {"id", foreign_key, "created_at"};
  absl::string_view placing[3];
  const bool append = event.op() == enrich::v1::INSERT;
  if (append) {
    // A new message with a body.
    for (int i = 0; i < 3; ++i) {
      const ColumnView* column = FindColumn(event.new_row(), kPlacing[i]);
      if (column == nullptr || column->value != ColumnView::Value::kText) {
        return false;
      }
      placing[i] = column->text;
    }
    const ColumnView* body = FindColumn(event.new_row(), "body");
    if (body == nullptr || body->value != ColumnView::Value::kText) {
      return false;
    }
  } else {
    // An edit: the placing columns unchanged, the body non-NULL before and
    // after.
    if (event.op() != enrich::v1::UPDATE || !event.has_old_row()) return false;
    for (int i = 0; i < 3; ++i) {
      const ColumnView* before = FindColumn(event.old_row(), kPlacing[i]);
      if (before == nullptr || before->value != ColumnView::Value::kText) {
        return false;
      }
      if (TextAfter(event, kPlacing[i], before->text) != before->text) {
        return false;
      }
      placing[i] = before->text;
    }
    const ColumnView* body = FindColumn(event.old_row(), "body");
    if (body == nullptr || body->value != ColumnView::Value::kText ||
        !TextAfter(event, "body", body->text)) {
      return false;
    }
  }
  const std::optional<absl::uint128> message_bits = UuidBits(placing[0]);
  const std::optional<RootKey> key = ReadRootKey(placing[1]);
  if (!message_bits || !key) return false;
  // Planned in full already: the full rewrite covers the change.
  if (PlannedInFull(*key)) return true;
  std::string conversation = CanonicalRootKey(*key);
  std::string message = absl::AsciiStrToLower(placing[0]);
  absl::btree_map<std::string, std::string>& mine =
      append ? plan_.appends : plan_.body_edits;
  const absl::btree_map<std::string, std::string>& other =
      append ? plan_.body_edits : plan_.appends;
  // One kind of partial work per conversation and batch.
  if (other.contains(conversation) ||
      plan_.column_updates.contains(conversation)) {
    MakeFull(conversation);
    return true;
  }
  auto [it, inserted] = mine.try_emplace(std::move(conversation), message);
  // The same edit twice is one edit; anything else is a full rewrite.
  if (!inserted && (append || it->second != message)) {
    MakeFull(it->first);
  }
  return true;
}

void AffectedConversationsPlanner::AddColumnUpdate(const RootKey& key) {
  // Planned in full already: the full rewrite covers the update.
  if (PlannedInFull(key)) return;
  std::string conversation = CanonicalRootKey(key);
  if (plan_.body_edits.contains(conversation) ||
      plan_.appends.contains(conversation)) {
    MakeFull(conversation);
    return;
  }
  plan_.column_updates.insert(std::move(conversation));
}

size_t AffectedConversationsPlanner::DropPartialWork(const std::string& id) {
  // The emptiness checks keep a replay's millions of full events cheap.
  size_t erased = 0;
  if (!plan_.body_edits.empty()) erased += plan_.body_edits.erase(id);
  if (!plan_.appends.empty()) erased += plan_.appends.erase(id);
  if (!plan_.column_updates.empty()) erased += plan_.column_updates.erase(id);
  return erased;
}

void AffectedConversationsPlanner::MakeFull(const std::string& id) {
  std::string conversation = id;  // `id` may be a key erased below
  if (DropPartialWork(conversation) == 0) return;
  if (routes_.root_key_form() != RootKeyForm::kText) {
    // Canonical text reads back as the same key, with the same bits.
    full_rewrite_bits_.insert(ReadRootKey(conversation)->bits);
  }
  plan_.full_rewrites.insert(std::move(conversation));
}

void AffectedConversationsPlanner::AddRootIds(absl::Span<const RootKey> keys,
                                              bool root_update) {
  // A root UPDATE that keeps the key: a column update.
  if (root_update) {
    AddColumnUpdate(keys[0]);
    return;
  }
  if (routes_.root_key_form() == RootKeyForm::kText) {
    // The text is the canonical text: the ordered set alone dedupes.
    for (const RootKey& key : keys) {
      if (plan_.full_rewrites.contains(key.text)) continue;
      DropPartialWork(*plan_.full_rewrites.emplace(key.text).first);
    }
    return;
  }
  // A batch of millions of events (a replay) names the same rows over and
  // over: a hash set of their bits answers "already planned" without
  // building the canonical text or searching the ordered set of strings.
  for (const RootKey& key : keys) {
    if (full_rewrite_bits_.insert(key.bits).second) {
      auto id = plan_.full_rewrites.insert(CanonicalRootKey(key));
      // A full rewrite covers the row's partial work.
      DropPartialWork(*id.first);
    }
  }
}

absl::Status AffectedConversationsPlanner::Add(const ChangeEventView& event) {
  // The error prefix, built only for an error (this runs once per record).
  auto where = [&event] {
    return absl::StrCat(event.schema(), ".", event.table(), " ",
                        enrich::v1::Operation_Name(event.op()), ": ");
  };
  const std::vector<TableRoute>* routes =
      routes_.Find(event.schema(), event.table());
  if (routes == nullptr) {
    if (!routes_.ReadsSchema(event.schema())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "unexpected schema (the processor reads ",
                       routes_.SchemasText(), ")"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where(), "unknown table ", event.table()));
  }

  switch (event.op()) {
    case enrich::v1::OPERATION_UNSPECIFIED:
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "operation unspecified"));
    case enrich::v1::TRUNCATE:
      for (const TableRoute& route : *routes) {
        switch (route.role) {
          case TableRole::kRoot:
            plan_.truncated.root = true;
            break;
          case TableRole::kChild:
            plan_.truncated.child = true;
            break;
          case TableRole::kLookup:
            plan_.truncated.lookups.insert(route.lookup);
            break;
        }
      }
      break;
    case enrich::v1::SNAPSHOT_BOUNDARY:
      // A snapshot published without its rows: the same rebuild as for a
      // snapshot's rows (header).
      plan_.snapshot_lsns.insert(event.commit_lsn());
      break;
    case enrich::v1::INSERT:
    case enrich::v1::UPDATE:
    case enrich::v1::DELETE:
    case enrich::v1::SNAPSHOT_READ: {
      const bool snapshot = event.op() == enrich::v1::SNAPSHOT_READ;
      if (!snapshot && routes_.child_in_place() && routes->size() == 1 &&
          routes->front().role == TableRole::kChild &&
          AddMessageChange(event, routes->front().column)) {
        break;
      }
      // Validate every route's values before touching the plan, so a bad
      // event leaves it unchanged.
      absl::InlinedVector<LinkValueList, 1> values;
      absl::InlinedVector<absl::InlinedVector<RootKey, 2>, 1> keys;
      for (const TableRoute& route : *routes) {
        absl::StatusOr<LinkValueList> linked =
            LinkValues(event, route.column, route.column_is_key);
        if (!linked.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), linked.status().message()));
        }
        keys.emplace_back();
        if (route.role != TableRole::kLookup) {
          for (absl::string_view value : *linked) {
            std::optional<RootKey> key = ReadRootKey(value);
            if (!key) {
              return absl::InvalidArgumentError(absl::StrCat(
                  where(), NotARootKey(routes_.root_key_form(), value)));
            }
            keys.back().push_back(*key);
          }
        }
        values.push_back(*std::move(linked));
      }
      // A snapshot row names no row of its own: its snapshot's rebuild
      // covers every row (header).
      if (snapshot) {
        plan_.snapshot_lsns.insert(event.commit_lsn());
        break;
      }
      for (size_t i = 0; i < routes->size(); ++i) {
        const TableRoute& route = (*routes)[i];
        if (route.role == TableRole::kLookup) {
          absl::btree_set<std::string>& keys = plan_.lookup_keys[route.lookup];
          for (absl::string_view value : values[i]) keys.emplace(value);
          continue;
        }
        const bool root_update = route.role == TableRole::kRoot &&
                                 event.op() == enrich::v1::UPDATE &&
                                 keys[i].size() == 1;
        AddRootIds(keys[i], root_update);
      }
      break;
    }
    default:
      // Operation values a newer proto adds (proto3 enums are open).
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "unknown operation ", event.op()));
  }
  if (event.commit_lsn() > plan_.max_commit_lsn) {
    plan_.max_commit_lsn = event.commit_lsn();
  }
  if (event.commit_time_us() > plan_.max_commit_time_us) {
    plan_.max_commit_time_us = event.commit_time_us();
  }
  ++plan_.event_count;
  return absl::OkStatus();
}

absl::Status AffectedConversationsPlanner::Add(
    const enrich::v1::ChangeEvent& event) {
  const std::string bytes = event.SerializeAsString();
  ChangeEventView view;
  RETURN_IF_ERROR(view.Parse(bytes));
  return Add(view);
}

AffectedConversations AffectedConversationsPlanner::Take() {
  AffectedConversations plan = std::move(plan_);
  plan_ = EmptyPlan();
  full_rewrite_bits_.clear();
  return plan;
}

}  // namespace enrich::processor
