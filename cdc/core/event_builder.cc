#include "cdc/core/event_builder.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/status_macros.h"
#include "proto/change_event.pb.h"

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

// Fills one protobuf column from a decoded value.
absl::Status SetValue(const pgoutput::Value& value, v1::Column* column) {
  switch (value.kind) {
    case ValueKind::kNull:
      column->mutable_null();
      return absl::OkStatus();
    case ValueKind::kUnchangedToast:
      column->mutable_unchanged_toast();
      return absl::OkStatus();
    case ValueKind::kText:
      column->set_text(value.data);
      return absl::OkStatus();
    case ValueKind::kBinary:
      return absl::FailedPreconditionError(
          absl::StrCat("column ", column->name(),
                       " arrived in binary format; enrich-cdc requests text"));
  }
  return absl::InternalError("unknown value kind");
}

class Assembler {
 public:
  Assembler(const Relation& relation, const TableRouting& routing)
      : relation_(relation), routing_(routing) {}

  // Finds the key columns in the relation: by name, or, when a name is
  // missing (the key column was renamed since, or before, the catalog was
  // read), by the catalog's positions if the column count and the key
  // columns' types still match.
  absl::Status ResolveKeyColumns() {
    key_index_.assign(relation_.columns.size(), false);
    key_order_.clear();
    for (const std::string& name : routing_.primary_key) {
      for (size_t i = 0; i < relation_.columns.size(); ++i) {
        if (relation_.columns[i].name == name) key_order_.push_back(i);
      }
    }
    if (key_order_.size() != routing_.primary_key.size()) {
      key_order_.clear();
      const bool same_shape =
          routing_.column_count == relation_.columns.size() &&
          routing_.key_positions.size() == routing_.primary_key.size();
      for (size_t k = 0; same_shape && k < routing_.key_positions.size(); ++k) {
        size_t i = routing_.key_positions[k];
        if (i < relation_.columns.size() &&
            relation_.columns[i].type_oid == routing_.key_types[k]) {
          key_order_.push_back(i);
        }
      }
      if (key_order_.size() != routing_.primary_key.size()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the primary key (", absl::StrJoin(routing_.primary_key, ", "),
            ") of ", relation_.schema, ".", relation_.table,
            " is not in its Relation message by name or position"));
      }
    }
    for (size_t i : key_order_) key_index_[i] = true;
    return absl::OkStatus();
  }

  // Writes `tuple` into `row`; with key_only, only the key columns.
  absl::Status FillRow(const Tuple& tuple, bool key_only, v1::Row* row) const {
    for (size_t i = 0; i < tuple.size(); ++i) {
      if (key_only && !key_index_[i]) continue;
      v1::Column* column = row->add_columns();
      column->set_name(relation_.columns[i].name);
      column->set_type_oid(relation_.columns[i].type_oid);
      column->set_key(key_index_[i]);
      absl::Status status = SetValue(tuple[i], column);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Key columns, Kafka key and routing value from a row that has them.
  absl::Status FillKeyAndRouting(const Tuple& tuple, v1::ChangeEvent* event,
                                 BuiltEvent* built) const {
    std::string key;
    bool first = true;
    for (size_t i : key_order_) {
      if (tuple[i].kind != ValueKind::kText) {
        return absl::DataLossError(absl::StrCat(
            "primary-key column ", relation_.columns[i].name, " of ",
            relation_.table, " has no value in the change"));
      }
      v1::Column* column = event->add_key();
      column->set_name(relation_.columns[i].name);
      column->set_type_oid(relation_.columns[i].type_oid);
      column->set_key(true);
      column->set_text(tuple[i].data);
      if (!first) key.push_back(kKeySeparator);
      key += tuple[i].data;
      first = false;
    }
    built->key = std::move(key);
    built->routing_value = built->key;
    if (!routing_.routing_column.empty()) {
      for (size_t i = 0; i < tuple.size(); ++i) {
        if (relation_.columns[i].name == routing_.routing_column &&
            tuple[i].kind == ValueKind::kText) {
          built->routing_value = tuple[i].data;
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  const Relation& relation_;
  const TableRouting& routing_;
  std::vector<bool> key_index_;
  std::vector<size_t> key_order_;  // key columns' indices, in key order
};

}  // namespace

absl::flat_hash_map<std::string, std::string> DefaultRoutingColumns() {
  return {{"public.raw_support_conversations", "id"},
          {"public.support_conversation_messages", "conversation_id"},
          {"public.subscribers_insights", ""},
          {"public.linear_issues", ""}};
}

EventBuilder::EventBuilder(
    std::string topic_prefix,
    absl::flat_hash_map<std::string, TableRouting> tables)
    : topic_prefix_(std::move(topic_prefix)),
      tables_(std::move(tables)),
      scratch_(std::make_unique<v1::ChangeEvent>()) {}

EventBuilder::~EventBuilder() = default;

std::string EventBuilder::TopicFor(const Relation& relation) const {
  return absl::StrCat(topic_prefix_, ".", relation.schema, ".", relation.table);
}

namespace {

absl::StatusOr<const TableRouting*> RoutingFor(
    const absl::flat_hash_map<std::string, TableRouting>& tables,
    const Relation& relation) {
  auto it = tables.find(absl::StrCat(relation.schema, ".", relation.table));
  if (it == tables.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("change for table ", relation.schema, ".", relation.table,
                     " which is not configured for publishing"));
  }
  return &it->second;
}

}  // namespace

struct EventBuilder::Draft {
  Draft(const Relation& relation, const TableRouting& routing, v1::Operation op,
        std::string topic, v1::ChangeEvent* scratch)
      : assembler(relation, routing), event(*scratch) {
    event.Clear();
    event.set_op(op);
    event.set_schema(relation.schema);
    event.set_table(relation.table);
    event.set_relation_oid(relation.oid);
    built.topic = std::move(topic);
    built.operation = op;
  }
  BuiltEvent Finish() {
    built.partial_event = event.SerializeAsString();
    return std::move(built);
  }
  Assembler assembler;
  v1::ChangeEvent& event;
  BuiltEvent built;
};

absl::StatusOr<std::unique_ptr<EventBuilder::Draft>> EventBuilder::Start(
    const Relation& relation, int op) const {
  ASSIGN_OR_RETURN(const TableRouting* routing, RoutingFor(tables_, relation));
  auto draft = std::make_unique<Draft>(relation, *routing,
                                       static_cast<v1::Operation>(op),
                                       TopicFor(relation), scratch_.get());
  RETURN_IF_ERROR(draft->assembler.ResolveKeyColumns());
  return draft;
}

absl::StatusOr<BuiltEvent> EventBuilder::Insert(const Relation& relation,
                                                const Tuple& new_tuple) const {
  ASSIGN_OR_RETURN(std::unique_ptr<Draft> draft, Start(relation, v1::INSERT));
  RETURN_IF_ERROR(CheckArity(relation, new_tuple, "new"));
  RETURN_IF_ERROR(draft->assembler.FillRow(new_tuple, /*key_only=*/false,
                                           draft->event.mutable_new_row()));
  RETURN_IF_ERROR(draft->assembler.FillKeyAndRouting(new_tuple, &draft->event,
                                                     &draft->built));
  return draft->Finish();
}

absl::StatusOr<BuiltEvent> EventBuilder::SnapshotRead(const Relation& relation,
                                                      const Tuple& row) const {
  ASSIGN_OR_RETURN(BuiltEvent built, Insert(relation, row));
  // Same content as an insert, other operation: a later field wins when
  // protobuf parses concatenated messages.
  v1::ChangeEvent op_only;
  op_only.set_op(v1::SNAPSHOT_READ);
  built.partial_event += op_only.SerializeAsString();
  built.operation = v1::SNAPSHOT_READ;
  return built;
}

absl::StatusOr<BuiltEvent> EventBuilder::Update(
    const Relation& relation, const pgoutput::Update& update) const {
  ASSIGN_OR_RETURN(std::unique_ptr<Draft> draft, Start(relation, v1::UPDATE));
  RETURN_IF_ERROR(CheckArity(relation, update.new_tuple, "new"));
  Tuple new_tuple = update.new_tuple;
  if (update.old_tuple.has_value()) {
    RETURN_IF_ERROR(CheckArity(relation, *update.old_tuple, "old"));
    if (!update.old_is_key_only) {
      // REPLICA IDENTITY FULL: the old row is complete, so an unchanged TOAST
      // value is exactly the old one.
      for (size_t i = 0; i < new_tuple.size(); ++i) {
        if (new_tuple[i].kind == ValueKind::kUnchangedToast) {
          new_tuple[i] = (*update.old_tuple)[i];
        }
      }
    }
    RETURN_IF_ERROR(draft->assembler.FillRow(*update.old_tuple,
                                             update.old_is_key_only,
                                             draft->event.mutable_old_row()));
  }
  RETURN_IF_ERROR(draft->assembler.FillRow(new_tuple, /*key_only=*/false,
                                           draft->event.mutable_new_row()));
  RETURN_IF_ERROR(draft->assembler.FillKeyAndRouting(new_tuple, &draft->event,
                                                     &draft->built));
  return draft->Finish();
}

absl::StatusOr<BuiltEvent> EventBuilder::Delete(
    const Relation& relation, const pgoutput::Delete& del) const {
  ASSIGN_OR_RETURN(std::unique_ptr<Draft> draft, Start(relation, v1::DELETE));
  RETURN_IF_ERROR(CheckArity(relation, del.old_tuple, "old"));
  RETURN_IF_ERROR(draft->assembler.FillRow(del.old_tuple, del.old_is_key_only,
                                           draft->event.mutable_old_row()));
  RETURN_IF_ERROR(draft->assembler.FillKeyAndRouting(
      del.old_tuple, &draft->event, &draft->built));
  draft->built.tombstone_after = true;
  return draft->Finish();
}

absl::StatusOr<BuiltEvent> EventBuilder::Truncate(const Relation& relation,
                                                  bool cascade,
                                                  bool restart_identity) const {
  ASSIGN_OR_RETURN(std::unique_ptr<Draft> draft, Start(relation, v1::TRUNCATE));
  draft->event.set_truncate_cascade(cascade);
  draft->event.set_truncate_restart_identity(restart_identity);
  draft->built.all_partitions = true;
  return draft->Finish();
}

}  // namespace enrich::cdc
