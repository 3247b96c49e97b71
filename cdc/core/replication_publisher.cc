#include "cdc/core/replication_publisher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cdc/common/status_macros.h"
#include "proto/change_event.pb.h"
#include "proto/change_event_wire.h"

namespace enrich::cdc {

ReplicationPublisher::ReplicationPublisher(const EventBuilder* builder,
                                           RecordSink* sink, AckTracker* acks,
                                           Options options)
    : builder_(builder),
      sink_(sink),
      acks_(acks),
      options_(std::move(options)) {}

bool ReplicationPublisher::in_transaction() const {
  return current_ != nullptr || !streams_.empty();
}

absl::Status ReplicationPublisher::OnBegin(const pgoutput::Begin& m) {
  if (current_ != nullptr) {
    return absl::DataLossError(absl::StrCat("Begin of xid ", m.xid,
                                            " inside open transaction ",
                                            current_begin_.xid));
  }
  current_ = NewBuffer();
  current_->set_transaction_xid(m.xid);
  current_begin_ = m;
  current_origin_.clear();
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnCommit(const pgoutput::Commit& m) {
  if (current_ == nullptr) {
    return absl::DataLossError(
        absl::StrCat("Commit at ", m.commit_lsn, " without Begin"));
  }
  std::unique_ptr<TransactionBuffer> buffer = std::move(current_);
  absl::Status published = PublishBuffered(
      buffer.get(), {m.commit_lsn, m.end_lsn, current_begin_.xid,
                     m.commit_time_us, current_origin_});
  if (!published.ok()) {
    current_ = std::move(buffer);  // still open: never confirmed past
    return published;
  }
  spare_ = std::move(buffer);  // replayed, hence empty
  return absl::OkStatus();
}

std::unique_ptr<TransactionBuffer> ReplicationPublisher::NewBuffer() {
  if (spare_ != nullptr) return std::move(spare_);
  return std::make_unique<TransactionBuffer>(TransactionBuffer::Options{
      options_.spill_dir, options_.transaction_memory_budget,
      options_.spill_env});
}

absl::Status ReplicationPublisher::OnOrigin(const pgoutput::Origin& m) {
  current_origin_ = m.name;
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnType(const pgoutput::TypeInfo&) {
  // Columns carry type OIDs; the names are not needed for text values.
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnRelation(
    const pgoutput::RelationMessage& m) {
  relations_.Put(m.relation);
  return absl::OkStatus();
}

absl::StatusOr<TransactionBuffer*> ReplicationPublisher::CurrentBuffer() {
  if (stream_xid_ != 0) {
    auto& buffer = streams_[stream_xid_];
    if (buffer == nullptr) {
      buffer = NewBuffer();
      buffer->set_transaction_xid(stream_xid_);
    }
    return buffer.get();
  }
  if (current_ == nullptr) {
    return absl::DataLossError("row change outside a transaction");
  }
  return current_.get();
}

absl::Status ReplicationPublisher::Buffer(uint32_t xid, absl::Status built) {
  RETURN_IF_ERROR(built);
  ASSIGN_OR_RETURN(TransactionBuffer * buffer, CurrentBuffer());
  return buffer->Append(xid, built_);
}

absl::Status ReplicationPublisher::OnInsert(const pgoutput::Insert& m) {
  ASSIGN_OR_RETURN(const pgoutput::Relation* relation,
                   relations_.Get(m.relation_oid));
  return Buffer(m.xid, builder_->Insert(*relation, m.new_tuple, &built_));
}

absl::Status ReplicationPublisher::OnUpdate(const pgoutput::Update& m) {
  ASSIGN_OR_RETURN(const pgoutput::Relation* relation,
                   relations_.Get(m.relation_oid));
  return Buffer(m.xid, builder_->Update(*relation, m, &built_));
}

absl::Status ReplicationPublisher::OnDelete(const pgoutput::Delete& m) {
  ASSIGN_OR_RETURN(const pgoutput::Relation* relation,
                   relations_.Get(m.relation_oid));
  return Buffer(m.xid, builder_->Delete(*relation, m, &built_));
}

absl::Status ReplicationPublisher::OnTruncate(const pgoutput::Truncate& m) {
  for (uint32_t oid : m.relation_oids) {
    ASSIGN_OR_RETURN(const pgoutput::Relation* relation, relations_.Get(oid));
    RETURN_IF_ERROR(Buffer(
        m.xid,
        builder_->Truncate(*relation, m.cascade, m.restart_identity, &built_)));
  }
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnMessage(
    const pgoutput::LogicalMessage& m) {
  if (!m.transactional && m.prefix == kHeartbeatPrefix) {
    heartbeat_lsn_ = std::max(heartbeat_lsn_, m.lsn);
  }
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnStreamStart(
    const pgoutput::StreamStart& m) {
  if (m.xid == 0) return absl::DataLossError("Stream Start with xid 0");
  stream_xid_ = m.xid;
  return CurrentBuffer().status();
}

absl::Status ReplicationPublisher::OnStreamStop(const pgoutput::StreamStop&) {
  stream_xid_ = 0;
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::OnStreamCommit(
    const pgoutput::StreamCommit& m) {
  auto it = streams_.find(m.xid);
  if (it == streams_.end()) {
    // A streamed transaction whose changes were all on unpublished tables.
    acks_->SealTransaction(m.end_lsn, m.commit_time_us);
    ++counters_.transactions;
    return absl::OkStatus();
  }
  std::unique_ptr<TransactionBuffer> buffer = std::move(it->second);
  streams_.erase(it);
  absl::Status published = PublishBuffered(
      buffer.get(),
      {m.commit_lsn, m.end_lsn, m.xid, m.commit_time_us, std::string()});
  if (!published.ok()) {
    streams_[m.xid] = std::move(buffer);  // still open: never confirmed past
  }
  return published;
}

absl::Status ReplicationPublisher::OnStreamAbort(
    const pgoutput::StreamAbort& m) {
  auto it = streams_.find(m.xid);
  if (it == streams_.end()) return absl::OkStatus();
  if (m.subxid == 0 || m.subxid == m.xid) {
    streams_.erase(it);
    ++counters_.aborted_streams;
  } else {
    it->second->Abort(m.subxid);
  }
  return absl::OkStatus();
}

absl::Status ReplicationPublisher::PublishBuffered(
    TransactionBuffer* buffer, const Coordinates& coordinates) {
  if (buffer->spilled()) ++counters_.spilled_transactions;
  wire::Coordinates coords;
  coords.commit_lsn = coordinates.commit_lsn;
  coords.end_lsn = coordinates.end_lsn;
  coords.xid = coordinates.xid;
  coords.commit_time_us = coordinates.commit_time_us;
  coords.origin = coordinates.origin;
  RETURN_IF_ERROR(buffer->Replay([&](const BufferedEvent& event, uint64_t index,
                                     bool last) -> absl::Status {
    coords.index_in_tx = index;
    coords.last_in_tx = last;
    if (on_progress_ && index > 0 && index % kProgressInterval == 0) {
      RETURN_IF_ERROR(on_progress_());
    }
    // Concatenated serializations parse as one merged message.
    value_.assign(event.partial_event.data(), event.partial_event.size());
    wire::AppendCoordinates(coords, &value_);
    return ProduceEvent(event, value_);
  }));
  acks_->SealTransaction(coordinates.end_lsn, coordinates.commit_time_us);
  ++counters_.transactions;
  return absl::OkStatus();
}

ReplicationPublisher::EventCounters& ReplicationPublisher::CountersFor(
    absl::string_view topic, int operation) {
  if (last_counters_ == nullptr || topic != last_counters_topic_) {
    auto it = event_counters_.find(topic);
    if (it == event_counters_.end()) {
      it = event_counters_.try_emplace(std::string(topic)).first;
    }
    last_counters_ = &it->second;
    last_counters_topic_.assign(topic.data(), topic.size());
  }
  EventCounters& counters =
      (*last_counters_)[static_cast<size_t>(operation) % kOperations];
  if (counters.events != nullptr) return counters;
  MetricLabels labels = {
      {"topic", std::string(topic)},
      {"op", v1::Operation_Name(static_cast<v1::Operation>(operation))}};
  counters.events = options_.metrics->AddCounter(
      "enrich_cdc_events_total",
      "Change events published, by topic and operation.", labels);
  counters.bytes = options_.metrics->AddCounter(
      "enrich_cdc_event_bytes_total",
      "Serialized event bytes published, by topic and operation.", labels);
  return counters;
}

absl::Status ReplicationPublisher::ProduceEvent(const BufferedEvent& event,
                                                absl::string_view value) {
  ++counters_.events;
  if (options_.metrics != nullptr) {
    EventCounters& counters = CountersFor(event.topic, event.operation);
    counters.events->Increment();
    counters.bytes->Increment(value.size());
  }
  if (event.all_partitions) {
    const int32_t partitions = sink_->PartitionCount(event.topic);
    for (int32_t p = 0; p < partitions; ++p) {
      RETURN_IF_ERROR(sink_->Produce(
          {event.topic, p, event.key, value, acks_->NextSequence()}));
    }
    return absl::OkStatus();
  }
  const int32_t partition =
      sink_->PartitionFor(event.topic, event.routing_value);
  RETURN_IF_ERROR(sink_->Produce(
      {event.topic, partition, event.key, value, acks_->NextSequence()}));
  if (!event.tombstone_after) return absl::OkStatus();
  return sink_->Produce(
      {event.topic, partition, event.key, std::nullopt, acks_->NextSequence()});
}

absl::Status ReplicationPublisher::PublishSnapshotRow(
    const pgoutput::Relation& relation, const pgoutput::Tuple& row,
    uint64_t consistent_lsn, uint64_t index, bool last) {
  RETURN_IF_ERROR(builder_->SnapshotRead(relation, row, &built_));
  return ProduceSnapshotEvent(consistent_lsn, index, last);
}

absl::Status ReplicationPublisher::PublishSnapshotBoundary(
    const pgoutput::Relation& relation, uint64_t consistent_lsn, uint64_t index,
    bool last) {
  RETURN_IF_ERROR(builder_->SnapshotBoundary(relation, &built_));
  return ProduceSnapshotEvent(consistent_lsn, index, last);
}

absl::Status ReplicationPublisher::ProduceSnapshotEvent(uint64_t consistent_lsn,
                                                        uint64_t index,
                                                        bool last) {
  wire::Coordinates coords;
  coords.commit_lsn = consistent_lsn;
  coords.end_lsn = consistent_lsn;
  coords.index_in_tx = index;
  coords.last_in_tx = last;
  value_.assign(built_.partial_event);
  wire::AppendCoordinates(coords, &value_);
  return ProduceEvent(ViewOf(built_), value_);
}

}  // namespace enrich::cdc
