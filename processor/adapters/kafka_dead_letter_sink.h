// KafkaDeadLetterSink: writes dead letters to "<prefix>.dead_letter" with an
// idempotent librdkafka producer (acks=all; rdkafkacpp.h stays in the .cc).
//
// Each dead letter is produced with the original record's key and value
// bytes unchanged (a tombstone stays a null value) and headers saying where
// it came from and why:
//   enrich-dead-letter-reason   the planner's or decoder's message
//   enrich-source-topic         topic of the original record
//   enrich-source-partition     its partition (decimal)
//   enrich-source-offset        its offset (decimal)
// Send() returns only when every record of the call is acknowledged by the
// broker; on any failure it returns kUnavailable (the loop retries the whole
// call, so a dead letter may appear twice, never zero times) or, for a
// configuration problem, kFailedPrecondition.
//
// Not thread-safe.
#ifndef ENRICH_PROCESSOR_ADAPTERS_KAFKA_DEAD_LETTER_SINK_H_
#define ENRICH_PROCESSOR_ADAPTERS_KAFKA_DEAD_LETTER_SINK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdc/kafka/kafka_properties.h"
#include "processor/core/loop_seams.h"

namespace enrich::processor {

class KafkaDeadLetterSink : public DeadLetterSink {
 public:
  struct Options {
    std::string brokers;
    std::string topic;  // "<prefix>.dead_letter"
    std::string client_id = "enrich-processor-dead-letters";
    absl::Duration delivery_timeout = absl::Seconds(30);
    kafka::KafkaProperties extra_properties;
  };
  // InvalidArgument when extra_properties would weaken durability below the
  // event sink's (kafka::CheckProducerDurability: idempotence, acks=all) or
  // librdkafka rejects a setting.
  static absl::StatusOr<std::unique_ptr<KafkaDeadLetterSink>> Create(
      Options options);
  ~KafkaDeadLetterSink() override;
  KafkaDeadLetterSink(const KafkaDeadLetterSink&) = delete;
  KafkaDeadLetterSink& operator=(const KafkaDeadLetterSink&) = delete;

  absl::Status Send(const std::vector<DeadLetter>& dead_letters) override;

 private:
  struct Impl;
  explicit KafkaDeadLetterSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_ADAPTERS_KAFKA_DEAD_LETTER_SINK_H_
