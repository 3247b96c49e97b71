#include "cdc/core/event_builder.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/source_tables.h"
#include "cdc/common/status_macros.h"
#include "cdc/kafka/topic_naming.h"
#include "proto/change_event.pb.h"
#include "proto/change_event_wire.h"

namespace enrich::cdc {
namespace {

using pgoutput::Relation;
using pgoutput::Tuple;
using pgoutput::ValueKind;

constexpr char kKeySeparator = '\x1f';

absl::Status CheckArity(const Relation& relation, const Tuple& tuple,
                        absl::string_view which) {
  if (tuple.size() != relation.columns.size()) {
    return absl::DataLossError(
        absl::StrCat(which, " tuple of ", relation.schema, ".", relation.table,
                     " has ", tuple.size(), " columns, its Relation message ",
                     relation.columns.size()));
  }
  return absl::OkStatus();
}

// A binary value cannot be represented (enrich-cdc asks for text).
absl::Status CheckText(const Relation& relation, size_t i,
                       const pgoutput::Value& value) {
  if (value.kind != ValueKind::kBinary) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("column ", relation.columns[i].name,
                   " arrived in binary format; enrich-cdc requests text"));
}

}  // namespace

// The per-table part of building events, worked out once per Relation.
struct EventBuilder::RelationPlan {
  Relation relation;  // the Relation this plan was made for
  std::string topic;
  std::vector<size_t> key_order;  // key columns' indices, in key order
  std::vector<bool> is_key;       // by column index
  int routing_index = -1;         // -1: route by the key
};

namespace {

bool SameRelation(const Relation& a, const Relation& b) {
  if (a.oid != b.oid || a.schema != b.schema || a.table != b.table ||
      a.columns.size() != b.columns.size()) {
    return false;
  }
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (a.columns[i].name != b.columns[i].name ||
        a.columns[i].type_oid != b.columns[i].type_oid) {
      return false;
    }
  }
  return true;
}

// Finds the key columns in the relation: by name, or, when a name is missing
// (the key column was renamed since, or before, the catalog was read), by the
// catalog's positions if the column count and the key columns' types still
// match.
absl::StatusOr<std::vector<size_t>> ResolveKeyColumns(
    const Relation& relation, const TableRouting& routing) {
  std::vector<size_t> key_order;
  for (const std::string& name : routing.primary_key) {
    for (size_t i = 0; i < relation.columns.size(); ++i) {
      if (relation.columns[i].name == name) key_order.push_back(i);
    }
  }
  if (key_order.size() == routing.primary_key.size()) return key_order;
  key_order.clear();
  const bool same_shape =
      routing.column_count == relation.columns.size() &&
      routing.key_positions.size() == routing.primary_key.size();
  for (size_t k = 0; same_shape && k < routing.key_positions.size(); ++k) {
    size_t i = routing.key_positions[k];
    if (i < relation.columns.size() &&
        relation.columns[i].type_oid == routing.key_types[k]) {
      key_order.push_back(i);
    }
  }
  if (key_order.size() != routing.primary_key.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the primary key (", absl::StrJoin(routing.primary_key, ", "), ") of ",
        relation.schema, ".", relation.table,
        " is not in its Relation message by name or position"));
  }
  return key_order;
}

// The value of column i of an UPDATE's new row: an unchanged TOAST value is
// the old row's when the server sent the old row in full (`toast_source`).
const pgoutput::Value& ValueAt(const Tuple& tuple, const Tuple* toast_source,
                               size_t i) {
  if (toast_source != nullptr && tuple[i].kind == ValueKind::kUnchangedToast) {
    return (*toast_source)[i];
  }
  return tuple[i];
}

// The Column oneof member a decoded value is written as. A binary value
// has none: CheckText rejects it before any column is written.
wire::ValueKind WireKind(ValueKind kind) {
  switch (kind) {
    case ValueKind::kText:
      return wire::ValueKind::kText;
    case ValueKind::kNull:
      return wire::ValueKind::kNull;
    case ValueKind::kUnchangedToast:
      return wire::ValueKind::kUnchangedToast;
    case ValueKind::kBinary:
      return wire::ValueKind::kNotSet;
  }
  return wire::ValueKind::kNotSet;
}

wire::ColumnValue ColumnAt(const EventBuilder::RelationPlan& plan,
                           const pgoutput::Value& value, size_t i) {
  wire::ColumnValue column;
  column.name = plan.relation.columns[i].name;
  column.type_oid = plan.relation.columns[i].type_oid;
  column.key = plan.is_key[i];
  column.kind = WireKind(value.kind);
  column.text = value.data;
  return column;
}

// Appends `tuple` as Row field `field`; with key_only, only the key columns.
absl::Status AppendRow(int field, const EventBuilder::RelationPlan& plan,
                       const Tuple& tuple, const Tuple* toast_source,
                       bool key_only, std::string* out) {
  size_t body = 0;
  for (size_t i = 0; i < tuple.size(); ++i) {
    if (key_only && !plan.is_key[i]) continue;
    const pgoutput::Value& value = ValueAt(tuple, toast_source, i);
    RETURN_IF_ERROR(CheckText(plan.relation, i, value));
    body += wire::ColumnFieldSize(ColumnAt(plan, value, i));
  }
  wire::AppendMessageHeader(field, body, out);
  for (size_t i = 0; i < tuple.size(); ++i) {
    if (key_only && !plan.is_key[i]) continue;
    wire::AppendColumn(wire::kRowColumns,
                       ColumnAt(plan, ValueAt(tuple, toast_source, i), i), out);
  }
  return absl::OkStatus();
}

// The key columns (ChangeEvent.key), Kafka key and routing value from a row
// that has them.
absl::Status AppendKeyAndRouting(const EventBuilder::RelationPlan& plan,
                                 const Tuple& tuple, const Tuple* toast_source,
                                 BuiltEvent* out) {
  const Relation& relation = plan.relation;
  out->key.clear();
  bool first = true;
  for (size_t i : plan.key_order) {
    const pgoutput::Value& value = ValueAt(tuple, toast_source, i);
    RETURN_IF_ERROR(CheckText(relation, i, value));
    if (value.kind != ValueKind::kText) {
      return absl::DataLossError(
          absl::StrCat("primary-key column ", relation.columns[i].name, " of ",
                       relation.table, " has no value in the change"));
    }
    wire::ColumnValue column = ColumnAt(plan, value, i);
    column.key = true;
    wire::AppendColumn(wire::kKey, column, &out->partial_event);
    if (!first) out->key.push_back(kKeySeparator);
    out->key.append(value.data);
    first = false;
  }
  const pgoutput::Value* routing =
      plan.routing_index >= 0
          ? &ValueAt(tuple, toast_source,
                     static_cast<size_t>(plan.routing_index))
          : nullptr;
  if (routing != nullptr && routing->kind == ValueKind::kText) {
    out->routing_value.assign(routing->data);
  } else {
    out->routing_value.assign(out->key);
  }
  return absl::OkStatus();
}

}  // namespace

absl::flat_hash_map<std::string, std::string> DefaultRoutingColumns() {
  auto in_public = [](absl::string_view table) {
    return absl::StrCat("public.", table);
  };
  return {{in_public(kConversationsTable), "id"},
          {in_public(kMessagesTable), "conversation_id"},
          {in_public(kSubscribersInsightsTable), ""},
          {in_public(kLinearIssuesTable), ""}};
}

EventBuilder::EventBuilder(
    std::string topic_prefix,
    absl::flat_hash_map<std::string, TableRouting> tables)
    : topic_prefix_(std::move(topic_prefix)), tables_(std::move(tables)) {}

EventBuilder::~EventBuilder() = default;

absl::StatusOr<std::string> EventBuilder::TopicFor(
    const Relation& relation) const {
  return kafka::TopicNameFor(topic_prefix_, relation.schema, relation.table);
}

absl::StatusOr<const EventBuilder::RelationPlan*> EventBuilder::PlanFor(
    const Relation& relation) const {
  auto cached = plans_.find(relation.oid);
  if (cached != plans_.end() &&
      SameRelation(cached->second->relation, relation)) {
    return cached->second.get();
  }
  auto routing =
      tables_.find(absl::StrCat(relation.schema, ".", relation.table));
  if (routing == tables_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("change for table ", relation.schema, ".", relation.table,
                     " which is not configured for publishing"));
  }
  auto plan = std::make_unique<RelationPlan>();
  ASSIGN_OR_RETURN(plan->key_order,
                   ResolveKeyColumns(relation, routing->second));
  plan->relation = relation;
  ASSIGN_OR_RETURN(plan->topic, TopicFor(relation));
  plan->is_key.assign(relation.columns.size(), false);
  for (size_t i : plan->key_order) plan->is_key[i] = true;
  const std::string& routing_column = routing->second.routing_column;
  for (size_t i = 0; !routing_column.empty() && i < relation.columns.size();
       ++i) {
    if (relation.columns[i].name == routing_column) {
      plan->routing_index = static_cast<int>(i);
    }
  }
  const RelationPlan* result = plan.get();
  plans_[relation.oid] = std::move(plan);
  return result;
}

absl::StatusOr<const EventBuilder::RelationPlan*> EventBuilder::Start(
    const Relation& relation, int op, BuiltEvent* out) const {
  ASSIGN_OR_RETURN(const RelationPlan* plan, PlanFor(relation));
  out->topic.assign(plan->topic);
  out->key.clear();
  out->routing_value.clear();
  out->tombstone_after = false;
  out->all_partitions = false;
  out->operation = op;
  // Fields in number order: op, schema, table, relation_oid, then the
  // caller's key, rows and flags.
  out->partial_event.clear();
  wire::AppendVarintField(wire::kOp, static_cast<uint64_t>(op),
                          &out->partial_event);
  wire::AppendStringField(wire::kSchema, relation.schema, &out->partial_event);
  wire::AppendStringField(wire::kTable, relation.table, &out->partial_event);
  wire::AppendVarintField(wire::kRelationOid, relation.oid,
                          &out->partial_event);
  return plan;
}

absl::Status EventBuilder::Insert(const Relation& relation,
                                  const Tuple& new_tuple,
                                  BuiltEvent* out) const {
  ASSIGN_OR_RETURN(const RelationPlan* plan, Start(relation, v1::INSERT, out));
  RETURN_IF_ERROR(CheckArity(relation, new_tuple, "new"));
  RETURN_IF_ERROR(AppendKeyAndRouting(*plan, new_tuple, nullptr, out));
  return AppendRow(wire::kNewRow, *plan, new_tuple, nullptr,
                   /*key_only=*/false, &out->partial_event);
}

absl::Status EventBuilder::SnapshotRead(const Relation& relation,
                                        const Tuple& row,
                                        BuiltEvent* out) const {
  RETURN_IF_ERROR(Insert(relation, row, out));
  // Same content as an insert, other operation: a later field wins when
  // protobuf parses concatenated messages.
  wire::AppendVarintField(wire::kOp, v1::SNAPSHOT_READ, &out->partial_event);
  out->operation = v1::SNAPSHOT_READ;
  return absl::OkStatus();
}

absl::Status EventBuilder::Update(const Relation& relation,
                                  const pgoutput::Update& update,
                                  BuiltEvent* out) const {
  ASSIGN_OR_RETURN(const RelationPlan* plan, Start(relation, v1::UPDATE, out));
  RETURN_IF_ERROR(CheckArity(relation, update.new_tuple, "new"));
  // REPLICA IDENTITY FULL: the old row is complete, so an unchanged TOAST
  // value is exactly the old one.
  const Tuple* toast_source = nullptr;
  if (update.old_tuple.has_value()) {
    RETURN_IF_ERROR(CheckArity(relation, *update.old_tuple, "old"));
    if (!update.old_is_key_only) toast_source = &*update.old_tuple;
  }
  RETURN_IF_ERROR(
      AppendKeyAndRouting(*plan, update.new_tuple, toast_source, out));
  RETURN_IF_ERROR(AppendRow(wire::kNewRow, *plan, update.new_tuple,
                            toast_source, /*key_only=*/false,
                            &out->partial_event));
  if (!update.old_tuple.has_value()) return absl::OkStatus();
  return AppendRow(wire::kOldRow, *plan, *update.old_tuple, nullptr,
                   update.old_is_key_only, &out->partial_event);
}

absl::Status EventBuilder::Delete(const Relation& relation,
                                  const pgoutput::Delete& del,
                                  BuiltEvent* out) const {
  ASSIGN_OR_RETURN(const RelationPlan* plan, Start(relation, v1::DELETE, out));
  RETURN_IF_ERROR(CheckArity(relation, del.old_tuple, "old"));
  RETURN_IF_ERROR(AppendKeyAndRouting(*plan, del.old_tuple, nullptr, out));
  out->tombstone_after = true;
  return AppendRow(wire::kOldRow, *plan, del.old_tuple, nullptr,
                   del.old_is_key_only, &out->partial_event);
}

absl::Status EventBuilder::SnapshotBoundary(const Relation& relation,
                                            BuiltEvent* out) const {
  RETURN_IF_ERROR(Start(relation, v1::SNAPSHOT_BOUNDARY, out).status());
  // Every partition: each consumer of the topic sees the boundary before
  // the changes that follow it on its partitions.
  out->all_partitions = true;
  return absl::OkStatus();
}

absl::Status EventBuilder::Truncate(const Relation& relation, bool cascade,
                                    bool restart_identity,
                                    BuiltEvent* out) const {
  RETURN_IF_ERROR(Start(relation, v1::TRUNCATE, out).status());
  wire::AppendVarintField(wire::kTruncateCascade, cascade ? 1 : 0,
                          &out->partial_event);
  wire::AppendVarintField(wire::kTruncateRestartIdentity,
                          restart_identity ? 1 : 0, &out->partial_event);
  out->all_partitions = true;
  return absl::OkStatus();
}

}  // namespace enrich::cdc
