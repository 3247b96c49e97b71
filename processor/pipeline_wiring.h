// What `enrich-processor run` and `replay` share: the wiring from flags to
// a running ProcessorLoop. Each step logs its own error and returns the exit
// code to stop with (nullopt: go on); the steps run in this order:
//
//   PipelineWiring wiring(flags, &view, &log);
//   if (auto exit = wiring.Start()) return *exit;  // flags, /metrics
//   if (auto exit = wiring.ConnectDatabase(group, once)) return *exit;
//   if (auto exit = wiring.StartDeadLetters()) return *exit;
//   KafkaRecordSource::Options o = wiring.SourceOptions();
//   o.start_offsets = ...;
//   std::unique_ptr<KafkaRecordSource> source = wiring.CreateSource(o);
//   if (source == nullptr) return 2;
//   ProcessorProbe probe(wiring.metrics());
//   absl::Status s = wiring.Consume(source.get(), source.get(), &probe,
//                                   wiring.LoopOptions());
//   if (!s.ok()) return LogLoopFailure(s, log);
//   LogStopped(probe, log);
//
// Exit codes: 2 for bad options (and clients that cannot be created from
// them), 1 for a server that refuses or fails.
//
// Owns the metrics registry, health state and HTTP endpoint, the row writer,
// the Kafka admin client and the dead-letter producer; everything built on
// them (record source, probe, loop) must be destroyed first. Not
// thread-safe; one thread wires and runs.
#ifndef ENRICH_PROCESSOR_PIPELINE_WIRING_H_
#define ENRICH_PROCESSOR_PIPELINE_WIRING_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdc/common/http_endpoint.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/kafka/kafka_properties.h"
#include "cdc/kafka/topic_admin.h"
#include "processor/adapters/enriched_row_writer.h"
#include "processor/adapters/kafka_dead_letter_sink.h"
#include "processor/adapters/kafka_record_source.h"
#include "processor/core/processor_loop.h"
#include "processor/maintained_view.h"
#include "processor/processor_flags.h"

namespace enrich::processor {

class PipelineWiring {
 public:
  // `flags`, `view` (the view maintained: maintained_view.h) and `log`
  // must outlive the wiring.
  PipelineWiring(const ProcessorFlags& flags, MaintainedView* view,
                 Logger* log);
  PipelineWiring(const PipelineWiring&) = delete;
  PipelineWiring& operator=(const PipelineWiring&) = delete;

  // Checks --pg-dsn, --kafka-properties and the topic names, serves
  // /metrics on --metrics-addr, and makes SIGTERM/SIGINT request a stop.
  std::optional<int> Start();

  // Compiles the view against the database and connects the writer
  // (retrying with backoff until it succeeds or a stop is requested), then
  // checks the schema and that the offsets table can be read. `offsets_group`:
  // the group whose offsets the writer stores; `rewrite_each_id_once`:
  // EnrichedRowWriter::Options (replay only).
  std::optional<int> ConnectDatabase(const std::string& offsets_group,
                                     bool rewrite_each_id_once);

  // Creates the Kafka admin client, the dead-letter topic (when missing)
  // and its producer.
  std::optional<int> StartDeadLetters();

  // Brokers, --group-id, the source topics and --kafka-properties; the
  // caller adds start_offsets (and a replay its partitions).
  KafkaRecordSource::Options SourceOptions() const;

  // Logs the error and returns nullptr when the consumer cannot be created.
  std::unique_ptr<KafkaRecordSource> CreateSource(
      KafkaRecordSource::Options options);

  // `run`'s loop options: the view's routes, batch limits, liveness and
  // readiness. After ConnectDatabase().
  ProcessorLoopOptions LoopOptions();

  // Runs the loop over `loop_source` until it finishes, fails or a stop is
  // requested, then marks the loop stopped, closes `kafka_source` and stops
  // the endpoint. Returns the loop's status.
  absl::Status Consume(RecordSource* loop_source,
                       KafkaRecordSource* kafka_source, ProcessorProbe* probe,
                       ProcessorLoopOptions options);

  // Time spent in the writer's statements since the last call (or the
  // start), and restarts it (replay's per-batch line).
  absl::Duration TakeStatementsTime();

  const std::vector<std::string>& topics() const { return topics_; }
  const kafka::KafkaProperties& properties() const { return properties_; }
  MetricsRegistry* metrics() { return &metrics_; }
  HealthState& health() { return health_; }
  // After ConnectDatabase().
  EnrichedRowWriter* writer() { return writer_.get(); }
  // After StartDeadLetters().
  kafka::TopicAdmin& admin() { return *admin_; }

 private:
  std::optional<int> ReadTopics();
  // MaintainedView::Compile once, on a session of its own; logs what the
  // view lacks.
  absl::Status CompileView();
  // A declared view must have been migrated for --group-id with this
  // definition (view_tables.h); logs why not.
  bool ViewIsRegistered();
  std::optional<int> ServeMetrics();
  void ObserveStatement(absl::string_view name, absl::Duration d);

  const ProcessorFlags& flags_;
  MaintainedView* view_;
  bool compiled_ = false;
  bool view_refused_ = false;  // the catalog or the compiler refused it
  Logger* const log_;
  kafka::KafkaProperties properties_;
  std::vector<std::string> topics_;
  std::string dead_letter_topic_;
  MetricsRegistry metrics_;
  HealthState health_;
  HttpEndpoint endpoint_;
  // Statement latency, one series per statement of the writer.
  std::map<std::string, Histogram*, std::less<>> statement_latency_;
  absl::Duration statements_time_;
  std::unique_ptr<EnrichedRowWriter> writer_;
  std::unique_ptr<kafka::TopicAdmin> admin_;
  std::unique_ptr<KafkaDeadLetterSink> dead_letters_;
};

// Logs why the loop stopped, with the action to take; returns exit code 1.
int LogLoopFailure(const absl::Status& status, Logger& log);

// The last line of a clean stop: batches and records.
void LogStopped(const ProcessorProbe& probe, Logger& log);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_PIPELINE_WIRING_H_
