#include "processor/pipeline_wiring.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/kafka/topic_naming.h"
#include "cdc/postgres/pg_connection.h"
#include "processor/adapters/processor_session.h"
#include "processor/adapters/view_tables.h"
#include "processor/core/database_errors.h"
#include "processor/core/retry.h"
#include "processor/operator_errors.h"
#include "processor/stop_signal.h"

namespace enrich::processor {

PipelineWiring::PipelineWiring(const ProcessorFlags& flags,
                               MaintainedView* view, Logger* log)
    : flags_(flags),
      view_(view),
      log_(log),
      health_(absl::Seconds(60)),
      endpoint_(&metrics_, health_.LivenessCheck(), health_.ReadinessCheck()) {}

std::optional<int> PipelineWiring::Start() {
  if (flags_.pg_dsn.empty()) {
    log_->Error(
        "--pg-dsn (or ENRICH_PG_DSN or ENRICH_PG_DSN_FILE) is required");
    return 2;
  }
  auto properties = kafka::ParseKafkaProperties(flags_.kafka_properties);
  if (!properties.ok()) {
    log_->Error("bad --kafka-properties",
                {{"error", std::string(properties.status().message())}});
    return 2;
  }
  properties_ = *std::move(properties);
  if (auto exit = ReadTopics()) return exit;
  if (auto exit = ServeMetrics()) return exit;
  StopOnSigtermAndSigint();
  return std::nullopt;
}

std::optional<int> PipelineWiring::ReadTopics() {
  auto topics = view_->Topics(flags_.topic_prefix, flags_.source_schema);
  if (!topics.ok()) {
    log_->Error("bad topic name", {{"error", topics.status().ToString()}});
    return 2;
  }
  topics_ = *std::move(topics);
  dead_letter_topic_ = flags_.topic_prefix.empty()
                           ? std::string("dead_letter")
                           : absl::StrCat(flags_.topic_prefix, ".dead_letter");
  return std::nullopt;
}

std::optional<int> PipelineWiring::ServeMetrics() {
  std::string host;
  int port = 0;
  if (absl::Status s = ParseHostPort(flags_.metrics_addr, &host, &port);
      !s.ok()) {
    log_->Error("bad --metrics-addr", {{"error", std::string(s.message())}});
    return 2;
  }
  if (absl::Status s = endpoint_.Start(host, port); !s.ok()) {
    log_->Error("cannot serve metrics", {{"error", std::string(s.message())}});
    return 1;
  }
  log_->Info("metrics listening",
             {{"addr", absl::StrCat(host, ":", endpoint_.port())}});
  return std::nullopt;
}

void PipelineWiring::ObserveStatement(absl::string_view name,
                                      absl::Duration d) {
  auto it = statement_latency_.find(name);
  if (it == statement_latency_.end()) {
    it = statement_latency_
             .emplace(
                 std::string(name),
                 metrics_.AddHistogram("enrich_processor_statement_seconds",
                                       "Latency of the writer's statements.",
                                       LatencyBucketsSeconds(),
                                       {{"statement", std::string(name)}}))
             .first;
  }
  it->second->Observe(absl::ToDoubleSeconds(d));
  statements_time_ += d;
}

absl::Duration PipelineWiring::TakeStatementsTime() {
  return std::exchange(statements_time_, absl::ZeroDuration());
}

std::optional<int> PipelineWiring::ConnectDatabase(
    const std::string& offsets_group, bool rewrite_each_id_once) {
  EnrichedRowWriter::Options writer_options;
  writer_options.consumer_group = offsets_group;
  writer_options.rewrite_each_id_once = rewrite_each_id_once;
  writer_options.statement_observer = [this](absl::string_view name,
                                             absl::Duration d) {
    ObserveStatement(name, d);
  };
  RetryPolicy connect_policy;
  connect_policy.max_backoff = absl::Seconds(5);
  absl::Status connected = RetryWithBackoff(
      [&]() -> absl::Status {
        // The view is compiled in the first attempt that reaches the
        // database.
        if (absl::Status s = CompileView(); !s.ok()) return s;
        writer_options.statements = &view_->statements();
        auto w = EnrichedRowWriter::Connect(flags_.pg_dsn, writer_options);
        if (!w.ok()) return w.status();
        writer_ = *std::move(w);
        return absl::OkStatus();
      },
      connect_policy, [](absl::Duration d) { absl::SleepFor(d); },
      [] { return StopRequested().load(); },
      [&](const absl::Status& error, absl::Duration backoff) {
        health_.SetNotReady("connecting to PostgreSQL");
        log_->Warn("connecting to PostgreSQL failed; retrying",
                   {{"error", error.ToString()},
                    {"backoff", absl::FormatDuration(backoff)}});
      });
  if (!connected.ok() && view_refused_) {
    LogViewError(*log_, "cannot maintain the view", view_->name(), connected);
    return 1;
  }
  if (!connected.ok()) {
    log_->Error(
        "cannot connect to PostgreSQL",
        {{"error", StatusText(connected)}, {"action", ActionFor(connected)}});
    return 1;
  }
  if (!SchemaIsCurrent(flags_.pg_dsn, *log_)) return 1;
  if (!ViewIsRegistered()) return 1;
  // Fail early, with the action to take, when the schema is not there.
  if (auto stored = writer_->StoredOffsets(topics_[0]); !stored.ok()) {
    log_->Error("cannot read the offsets table",
                {{"error", StatusText(stored.status())},
                 {"action", ActionFor(stored.status())}});
    return 1;
  }
  return std::nullopt;
}

std::optional<int> PipelineWiring::StartDeadLetters() {
  auto admin =
      kafka::TopicAdmin::Create(flags_.kafka_brokers, properties_, log_);
  if (!admin.ok()) {
    log_->Error("cannot create the Kafka admin client",
                {{"error", admin.status().ToString()}});
    return 2;
  }
  admin_ = *std::move(admin);
  auto dl_state =
      admin_->EnsureTopics({{dead_letter_topic_, 1, 1, {}}}, absl::Seconds(60));
  if (!dl_state.ok()) {
    // The first request to Kafka: a refused login or TLS failure surfaces
    // here, and knows its action (ActionFor's guesses by code are about the
    // database).
    const std::string action = OperatorAction(dl_state.status());
    if (action.empty()) {
      log_->Error("cannot create the dead-letter topic",
                  {{"topic", dead_letter_topic_},
                   {"error", StatusText(dl_state.status())}});
    } else {
      log_->Error("cannot create the dead-letter topic",
                  {{"topic", dead_letter_topic_},
                   {"error", StatusText(dl_state.status())},
                   {"action", action}});
    }
    return 1;
  }
  KafkaDeadLetterSink::Options dl_options;
  dl_options.brokers = flags_.kafka_brokers;
  dl_options.topic = dead_letter_topic_;
  dl_options.extra_properties = properties_;
  auto dead_letters = KafkaDeadLetterSink::Create(dl_options);
  if (!dead_letters.ok()) {
    log_->Error("cannot create the dead-letter producer",
                {{"error", dead_letters.status().ToString()}});
    return 2;
  }
  dead_letters_ = *std::move(dead_letters);
  return std::nullopt;
}

absl::Status PipelineWiring::CompileView() {
  if (compiled_ || view_->built_in()) return absl::OkStatus();
  auto conn = OpenProcessorSession(flags_.pg_dsn);
  if (!conn.ok()) return conn.status();
  auto missing_indexes = view_->Compile(**conn);
  if (!missing_indexes.ok()) {
    view_refused_ = !IsRetriable(missing_indexes.status());
    return missing_indexes.status();
  }
  compiled_ = true;
  if (!view_->built_in()) {
    log_->Info("maintaining a declared view",
               {{"view", view_->name()},
                {"key", view_->statements().view().key_column()},
                {"message_paths",
                 view_->statements().has_message_paths() ? "true" : "false"}});
  }
  for (const std::string& statement : *missing_indexes) {
    log_->Warn(
        "a join column of the view has no index: every change "
        "through it scans the table",
        {{"view", view_->name()}, {"action", statement}});
  }
  return absl::OkStatus();
}

bool PipelineWiring::ViewIsRegistered() {
  if (view_->built_in()) return true;  // migrations 002 and 005 made it
  auto conn = OpenProcessorSession(flags_.pg_dsn);
  absl::Status registered =
      conn.ok() ? CheckViewRegistered(**conn, view_->name(),
                                      view_->definition_sql(), flags_.group_id)
                : conn.status();
  if (!registered.ok()) {
    LogViewError(*log_, "cannot maintain the view", view_->name(), registered);
    return false;
  }
  return true;
}

KafkaRecordSource::Options PipelineWiring::SourceOptions() const {
  KafkaRecordSource::Options options;
  options.brokers = flags_.kafka_brokers;
  options.group_id = flags_.group_id;
  options.topics = topics_;
  options.extra_properties = properties_;
  return options;
}

std::unique_ptr<KafkaRecordSource> PipelineWiring::CreateSource(
    KafkaRecordSource::Options options) {
  auto source = KafkaRecordSource::Create(std::move(options), &metrics_, log_);
  if (!source.ok()) {
    log_->Error("cannot create the Kafka consumer",
                {{"error", source.status().ToString()}});
    return nullptr;
  }
  return *std::move(source);
}

ProcessorLoopOptions PipelineWiring::LoopOptions() {
  ProcessorLoopOptions options;
  options.routes = view_->Routes(flags_.source_schema);
  options.max_batch_records =
      static_cast<size_t>(std::max<int64_t>(1, flags_.batch_max_records));
  options.max_batch_wait =
      absl::Milliseconds(std::max<int64_t>(1, flags_.batch_max_wait_ms));
  options.on_iteration = [this] { health_.MarkLoopAlive(); };
  options.on_readiness = [this](bool ready, const std::string& reason) {
    if (ready) {
      health_.SetReady();
    } else {
      health_.SetNotReady(reason);
    }
  };
  return options;
}

absl::Status PipelineWiring::Consume(RecordSource* loop_source,
                                     KafkaRecordSource* kafka_source,
                                     ProcessorProbe* probe,
                                     ProcessorLoopOptions options) {
  ProcessorLoop loop(loop_source, writer_.get(), dead_letters_.get(), probe,
                     log_, std::move(options));
  log_->Info("consuming", {{"group", flags_.group_id},
                           {"topics", absl::StrJoin(topics_, ",")},
                           {"dead_letter_topic", dead_letter_topic_}});
  absl::Status status = loop.Run(StopRequested());
  health_.MarkLoopStopped("shutting down");
  kafka_source->Close();
  endpoint_.Stop();
  return status;
}

int LogLoopFailure(const absl::Status& status, Logger& log) {
  log.Error("enrich-processor stopped",
            {{"error", StatusText(status)}, {"action", ActionFor(status)}});
  return 1;
}

void LogStopped(const ProcessorProbe& probe, Logger& log) {
  log.Info("stopped", {{"batches", absl::StrCat(probe.batches->Value())},
                       {"records", absl::StrCat(probe.records->Value())}});
}

}  // namespace enrich::processor
