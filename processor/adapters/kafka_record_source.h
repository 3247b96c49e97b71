// KafkaRecordSource: the processor's RecordSource over a librdkafka
// KafkaConsumer in a consumer group (rdkafkacpp.h stays in the .cc).
//
//   KafkaRecordSource::Options o;
//   o.brokers = "127.0.0.1:9092";
//   o.group_id = "enrich-processor";
//   o.topics = {"support.public.raw_support_conversations", ...};
//   o.start_offsets = [&](const std::vector<PartitionOffset>& assigned) {
//     return StoredOffsetsFromTheDatabase(assigned);
//   };
//   ASSIGN_OR_RETURN(auto source, KafkaRecordSource::Create(o, &registry,
//                                                          &log));
//
// Offsets live ONLY in the target database, written in the transaction of
// the rows they produced: enable.auto.commit and enable.auto.offset.store
// are false and nothing is ever committed to Kafka. The group is used for
// partition assignment only.
//
// Rebalancing is EAGER (the default range,roundrobin assignors): on every
// rebalance all partitions are revoked, then the new set is assigned. The
// rebalance callback runs on the thread calling Poll(); on assignment it
// asks `start_offsets` for the next offset of every assigned partition (the
// database's stored offsets; a partition with none starts at the beginning)
// and assigns at exactly those positions. Every revoke and assignment bumps
// assignment_generation(), so the loop drops records it has not applied yet:
// their partitions restart from the stored offsets, wherever they went.
// While `start_offsets` fails with a retriable error it is retried with
// backoff inside the callback (the group waits; max.poll.interval.ms is the
// bound); any other error makes the next Poll() return it.
//
// Lag: enrich_processor_consumer_lag{topic,partition} = the partition's high
// watermark (as last fetched) minus the next offset committed to the
// database (or the assigned start before the first commit).
//
// Not thread-safe: one thread polls.
#ifndef ENRICH_PROCESSOR_ADAPTERS_KAFKA_RECORD_SOURCE_H_
#define ENRICH_PROCESSOR_ADAPTERS_KAFKA_RECORD_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/kafka_properties.h"
#include "processor/core/loop_seams.h"

namespace enrich::processor {

class KafkaRecordSource : public RecordSource {
 public:
  struct Options {
    std::string brokers;
    std::string group_id = "enrich-processor";
    std::string client_id = "enrich-processor";
    std::vector<std::string> topics;
    // Fills next_offset of each assigned partition (kOffsetBeginning when
    // nothing is stored).
    std::function<absl::Status(std::vector<PartitionOffset>* assigned)>
        start_offsets;
    kafka::KafkaProperties extra_properties;
    // Replay: when non-empty, these partitions are assigned directly (no
    // group subscription, no rebalances) at the offsets start_offsets fills
    // in; with `start_time` set, each partition then starts at its first
    // record at or after that time instead.
    std::vector<PartitionOffset> assign_directly;
    std::optional<absl::Time> start_time;
  };

  // `registry` and `log` must outlive the source.
  static absl::StatusOr<std::unique_ptr<KafkaRecordSource>> Create(
      Options options, MetricsRegistry* registry, Logger* log);
  ~KafkaRecordSource() override;
  KafkaRecordSource(const KafkaRecordSource&) = delete;
  KafkaRecordSource& operator=(const KafkaRecordSource&) = delete;

  absl::StatusOr<std::optional<ConsumedRecord>> Poll(
      absl::Duration timeout) override;
  uint64_t assignment_generation() const override;
  void Committed(const std::vector<PartitionOffset>& offsets) override;

  // The partitions currently assigned, with the next offset to apply.
  std::vector<PartitionOffset> Assignment() const;
  // Sum over the assignment of (high watermark - next offset), from cached
  // watermarks; nullopt until every assigned partition has one.
  std::optional<int64_t> TotalLag() const;

  // The current end (high watermark) of every assigned partition, asked of
  // the brokers.
  absl::StatusOr<std::vector<PartitionOffset>> EndOffsets(
      absl::Duration timeout);

  // Leaves the group (revoking the assignment). Idempotent.
  void Close();

 private:
  struct Impl;
  explicit KafkaRecordSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_KAFKA_RECORD_SOURCE_H_
