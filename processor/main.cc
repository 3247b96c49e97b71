// enrich-processor: consumes change events and keeps
// enriched_support_conversations equal to the reference view by rewriting
// only the affected rows.
//
//   enrich-processor migrate [options]   apply sql/ (compiled in); idempotent
//   enrich-processor run [options]       consume and rewrite until SIGTERM
//   enrich-processor replay --from-beginning|--from-timestamp T|
//                           --from-offsets t:p:o,...   re-apply history, then
//                           exit (progress: events, rate, ETA)
//   enrich-processor reconcile [--chunk-size N] [--max-ids-per-second N]
//                              [--chunk-pause-ms MS] [--dry-run]
//                                        compare with the reference in
//                                        key-ordered chunks, repair the
//                                        differences, report them
//                                        (progress: ids, rate, ETA)
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cdc/common/http_endpoint.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/common/options.h"
#include "cdc/kafka/kafka_properties.h"
#include "cdc/kafka/topic_admin.h"
#include "cdc/kafka/topic_naming.h"
#include "processor/adapters/enriched_row_writer.h"
#include "processor/adapters/kafka_dead_letter_sink.h"
#include "processor/adapters/kafka_record_source.h"
#include "processor/adapters/reconciler.h"
#include "processor/adapters/schema_migrator.h"
#include "processor/core/migrations.h"
#include "processor/core/processor_loop.h"
#include "processor/core/replay_source.h"
#include "processor/core/retry.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

struct RunConfig {
  std::string pg_dsn;
  std::string kafka_brokers;
  std::string topic_prefix;
  std::string group_id;
  std::string metrics_addr;
  std::string source_schema;
  std::string kafka_properties;
  int64_t batch_max_records = 5000;
  int64_t batch_max_wait_ms = 200;
  int64_t replay_batch_max_records = 500000;
  int64_t replay_batch_max_wait_ms = 300000;
  // reconcile only
  int64_t chunk_size = 1000;
  int64_t max_ids_per_second = 0;
  int64_t chunk_pause_ms = 0;
  bool dry_run = false;
  // replay only
  bool from_beginning = false;
  std::string from_timestamp;
  std::string from_offsets;
};

// "topic:partition:offset,..." for --from-offsets.
absl::StatusOr<std::vector<enrich::processor::PartitionOffset>> ParseOffsets(
    const std::string& text) {
  std::vector<enrich::processor::PartitionOffset> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    enrich::processor::PartitionOffset o;
    int32_t partition = 0;
    int64_t offset = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &partition) ||
        !absl::SimpleAtoi(parts[2], &offset) || offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--from-offsets: '", item, "' is not topic:partition:offset"));
    }
    out.push_back({parts[0], partition, offset});
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("--from-offsets: no offsets given");
  }
  return out;
}

// What the operator should do about an error that stops the processor.
std::string ActionFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return "grant the role enrich_processor to the --pg-dsn user (see "
             "sql/README.md, Roles), then restart";
    case absl::StatusCode::kFailedPrecondition:
      return "the target schema is missing or outdated: run `enrich-processor "
             "migrate`, then restart";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
      return "the database or Kafka stayed unavailable; check them and "
             "restart (nothing was skipped)";
    default:
      return "nothing was skipped: the batch's offsets were not stored; fix "
             "the cause and restart";
  }
}

// Whether the database's applied migrations are exactly this binary's
// (logs why not, with the action).
bool SchemaIsCurrent(const std::string& dsn, enrich::Logger& log) {
  absl::StatusOr<std::vector<enrich::processor::Migration>> migrations =
      enrich::processor::OrderMigrations(
          enrich::processor::EmbeddedMigrations());
  absl::Status status = migrations.status();
  if (status.ok()) {
    status = enrich::processor::CheckSchemaIsCurrent(dsn, *migrations);
  }
  if (!status.ok()) {
    log.Error("the database schema does not match this binary",
              {{"error", status.ToString()}, {"action", ActionFor(status)}});
  }
  return status.ok();
}

// `run` (replay false) or `replay`.
int Run(const RunConfig& config, bool replay, enrich::Logger& log) {
  using enrich::processor::EnrichedRowWriter;
  using enrich::processor::KafkaDeadLetterSink;
  using enrich::processor::KafkaRecordSource;
  if (config.pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN) is required");
    return 2;
  }
  auto properties =
      enrich::kafka::ParseKafkaProperties(config.kafka_properties);
  if (!properties.ok()) {
    log.Error("bad --kafka-properties",
              {{"error", std::string(properties.status().message())}});
    return 2;
  }
  std::vector<std::string> topics;
  for (const char* table :
       {"raw_support_conversations", "support_conversation_messages",
        "subscribers_insights", "linear_issues"}) {
    auto topic = enrich::kafka::TopicNameFor(config.topic_prefix,
                                             config.source_schema, table);
    if (!topic.ok()) {
      log.Error("bad topic name", {{"error", topic.status().ToString()}});
      return 2;
    }
    topics.push_back(*topic);
  }
  const std::string dead_letter_topic =
      config.topic_prefix.empty()
          ? std::string("dead_letter")
          : absl::StrCat(config.topic_prefix, ".dead_letter");

  enrich::MetricsRegistry metrics;
  enrich::HealthState health(absl::Seconds(60));
  enrich::HttpEndpoint endpoint(&metrics, health.LivenessCheck(),
                                health.ReadinessCheck());
  std::string host;
  int port = 0;
  if (absl::Status s = enrich::ParseHostPort(config.metrics_addr, &host, &port);
      !s.ok()) {
    log.Error("bad --metrics-addr", {{"error", std::string(s.message())}});
    return 2;
  }
  if (absl::Status s = endpoint.Start(host, port); !s.ok()) {
    log.Error("cannot serve metrics", {{"error", std::string(s.message())}});
    return 1;
  }
  log.Info("metrics listening",
           {{"addr", absl::StrCat(host, ":", endpoint.port())}});
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  // Statement latency, one series per statement of the writer.
  std::map<std::string, enrich::Histogram*, std::less<>> statement_latency;
  // Time spent in the writer's statements since the last committed batch
  // (replay's per-batch log line).
  absl::Duration statements_time;
  EnrichedRowWriter::Options writer_options;
  // A replay stores its progress under a group of its own, so it never
  // moves the offsets of `run`.
  const std::string offsets_group =
      replay ? absl::StrCat(config.group_id, ".replay") : config.group_id;
  writer_options.consumer_group = offsets_group;
  // A replay rewrites each conversation once (rewritten_ids.h: exact because
  // every replayed record was committed before the replay's first write).
  writer_options.rewrite_each_id_once = replay;
  std::optional<absl::Time> start_time;
  std::vector<enrich::processor::PartitionOffset> explicit_offsets;
  if (replay) {
    const int modes = (config.from_beginning ? 1 : 0) +
                      (config.from_timestamp.empty() ? 0 : 1) +
                      (config.from_offsets.empty() ? 0 : 1);
    if (modes != 1) {
      log.Error(
          "replay needs exactly one of --from-beginning, --from-timestamp, "
          "--from-offsets");
      return 2;
    }
    if (!config.from_timestamp.empty()) {
      absl::Time t;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, config.from_timestamp, &t,
                           &error)) {
        log.Error("bad --from-timestamp (RFC 3339, e.g. 2024-05-01T12:00:00Z)",
                  {{"error", error}});
        return 2;
      }
      start_time = t;
    }
    if (!config.from_offsets.empty()) {
      auto parsed = ParseOffsets(config.from_offsets);
      if (!parsed.ok()) {
        log.Error("bad --from-offsets",
                  {{"error", parsed.status().ToString()}});
        return 2;
      }
      explicit_offsets = *std::move(parsed);
    }
  }
  writer_options.statement_observer = [&](absl::string_view name,
                                          absl::Duration d) {
    auto it = statement_latency.find(name);
    if (it == statement_latency.end()) {
      it = statement_latency
               .emplace(
                   std::string(name),
                   metrics.AddHistogram("enrich_processor_statement_seconds",
                                        "Latency of the writer's statements.",
                                        enrich::LatencyBucketsSeconds(),
                                        {{"statement", std::string(name)}}))
               .first;
    }
    it->second->Observe(absl::ToDoubleSeconds(d));
    statements_time += d;
  };
  std::unique_ptr<EnrichedRowWriter> writer;
  enrich::processor::RetryPolicy connect_policy;
  connect_policy.max_backoff = absl::Seconds(5);
  absl::Status connected = enrich::processor::RetryWithBackoff(
      [&]() -> absl::Status {
        auto w = EnrichedRowWriter::Connect(config.pg_dsn, writer_options);
        if (!w.ok()) return w.status();
        writer = *std::move(w);
        return absl::OkStatus();
      },
      connect_policy, [](absl::Duration d) { absl::SleepFor(d); },
      [] { return g_stop.load(); },
      [&](const absl::Status& error, absl::Duration backoff) {
        health.SetNotReady("connecting to PostgreSQL");
        log.Warn("connecting to PostgreSQL failed; retrying",
                 {{"error", error.ToString()},
                  {"backoff", absl::FormatDuration(backoff)}});
      });
  if (!connected.ok()) {
    log.Error(
        "cannot connect to PostgreSQL",
        {{"error", connected.ToString()}, {"action", ActionFor(connected)}});
    return 1;
  }
  if (!SchemaIsCurrent(config.pg_dsn, log)) {
    return 1;
  }
  // Fail early, with the action to take, when the schema is not there.
  if (auto stored = writer->StoredOffsets(topics[0]); !stored.ok()) {
    log.Error("cannot read the offsets table",
              {{"error", stored.status().ToString()},
               {"action", ActionFor(stored.status())}});
    return 1;
  }

  auto admin = enrich::kafka::TopicAdmin::Create(config.kafka_brokers,
                                                 *properties, &log);
  if (!admin.ok()) {
    log.Error("cannot create the Kafka admin client",
              {{"error", admin.status().ToString()}});
    return 2;
  }
  auto dl_state = (*admin)->EnsureTopics({{dead_letter_topic, 1, 1, {}}},
                                         absl::Seconds(60));
  if (!dl_state.ok()) {
    log.Error("cannot create the dead-letter topic",
              {{"topic", dead_letter_topic},
               {"error", dl_state.status().ToString()}});
    return 1;
  }
  KafkaDeadLetterSink::Options dl_options;
  dl_options.brokers = config.kafka_brokers;
  dl_options.topic = dead_letter_topic;
  dl_options.extra_properties = *properties;
  auto dead_letters = KafkaDeadLetterSink::Create(dl_options);
  if (!dead_letters.ok()) {
    log.Error("cannot create the dead-letter producer",
              {{"error", dead_letters.status().ToString()}});
    return 2;
  }

  KafkaRecordSource::Options source_options;
  source_options.brokers = config.kafka_brokers;
  source_options.group_id = config.group_id;
  source_options.topics = topics;
  source_options.extra_properties = *properties;
  if (replay) {
    // A replay reads whole topics as fast as it can plan them. librdkafka
    // stops fetching while its queue is full and then waits
    // fetch.error.backoff.ms (500 ms by default) before it tries again;
    // fetch responses are capped at 4 MB so what one response adds to the
    // queue (decompressed) stays small. On the benchmark's replay (2,270,001
    // snapshot events in 24 partitions) librdkafka's defaults kept the
    // consumer waiting for records about half of the time. (Lowering
    // queued.min.messages to 20,000 as well made that replay 4x slower.)
    // --kafka-properties still override these.
    source_options.extra_properties.insert(
        source_options.extra_properties.begin(),
        {{"fetch.error.backoff.ms", "10"}, {"fetch.max.bytes", "4194304"}});
    auto counts = (*admin)->PartitionCounts(topics, absl::Seconds(30));
    if (!counts.ok()) {
      log.Error("cannot list the topics' partitions",
                {{"error", counts.status().ToString()}});
      return 1;
    }
    for (const std::string& topic : topics) {
      auto it = counts->find(topic);
      if (it == counts->end()) {
        log.Error("topic does not exist (has enrich-cdc run?)",
                  {{"topic", topic}});
        return 1;
      }
      for (int32_t p = 0; p < it->second; ++p) {
        bool wanted = explicit_offsets.empty();
        for (const auto& o : explicit_offsets) {
          if (o.topic == topic && o.partition == p) wanted = true;
        }
        if (wanted) {
          source_options.assign_directly.push_back(
              {topic, p, enrich::processor::kOffsetBeginning});
        }
      }
    }
    if (source_options.assign_directly.empty()) {
      log.Error("--from-offsets names no partition of the topics",
                {{"topics", absl::StrJoin(topics, ",")}});
      return 2;
    }
    source_options.start_time = start_time;
    source_options.group_id = offsets_group;
  }
  source_options.start_offsets =
      [&](std::vector<enrich::processor::PartitionOffset>* assigned)
      -> absl::Status {
    if (replay) {
      for (auto& a : *assigned) {
        a.next_offset = enrich::processor::kOffsetBeginning;
        for (const auto& o : explicit_offsets) {
          if (o.topic == a.topic && o.partition == a.partition) {
            a.next_offset = o.next_offset;
          }
        }
      }
      return absl::OkStatus();
    }
    std::map<std::string, std::vector<enrich::processor::PartitionOffset>>
        stored;
    for (enrich::processor::PartitionOffset& a : *assigned) {
      if (stored.count(a.topic) == 0) {
        auto offsets = writer->StoredOffsets(a.topic);
        if (!offsets.ok()) return offsets.status();
        stored[a.topic] = *std::move(offsets);
      }
      for (const auto& s : stored[a.topic]) {
        if (s.partition == a.partition) a.next_offset = s.next_offset;
      }
    }
    return absl::OkStatus();
  };
  auto source = KafkaRecordSource::Create(source_options, &metrics, &log);
  if (!source.ok()) {
    log.Error("cannot create the Kafka consumer",
              {{"error", source.status().ToString()}});
    return 2;
  }

  enrich::processor::ProcessorProbe probe(&metrics);
  enrich::processor::ProcessorLoopOptions loop_options;
  loop_options.schema = config.source_schema;
  loop_options.max_batch_records =
      static_cast<size_t>(std::max<int64_t>(1, config.batch_max_records));
  loop_options.max_batch_wait =
      absl::Milliseconds(std::max<int64_t>(1, config.batch_max_wait_ms));
  loop_options.on_iteration = [&] { health.MarkLoopAlive(); };
  loop_options.on_readiness = [&](bool ready, const std::string& reason) {
    if (ready) {
      health.SetReady();
    } else {
      health.SetNotReady(reason);
    }
  };
  // Replay: stop once every partition reached the end it had at the start,
  // with a progress line every few seconds.
  std::vector<enrich::processor::PartitionOffset> replay_end;
  std::unique_ptr<enrich::processor::ReplaySource> replay_source;
  int64_t replay_total = 0;
  int64_t replay_done = 0;
  const absl::Time replay_start = absl::Now();
  absl::Time last_progress = absl::Now();
  auto remaining = [&]() -> int64_t {
    int64_t left = 0;
    for (const auto& end : replay_end) {
      for (const auto& at : (*source)->Assignment()) {
        if (at.topic == end.topic && at.partition == end.partition) {
          left += std::max<int64_t>(
              0, end.next_offset - std::max<int64_t>(0, at.next_offset));
        }
      }
    }
    return left;
  };
  if (replay) {
    auto ends = (*source)->EndOffsets(absl::Seconds(30));
    if (!ends.ok()) {
      log.Error("cannot read the end offsets",
                {{"error", ends.status().ToString()}});
      return 1;
    }
    replay_end = *std::move(ends);
    replay_total = remaining();
    // A rebuild is cheapest as few, large batches: every batch recomputes
    // each conversation it names once, however many of its records name it
    // (a snapshot's messages name every conversation in every stretch of the
    // topic). So a replay batch takes everything up to the ends at once,
    // bounded by --replay-batch-max-records / --replay-batch-max-wait-ms,
    // and closes as soon as every partition was consumed to its end.
    loop_options.max_batch_records = static_cast<size_t>(
        std::max<int64_t>(1, config.replay_batch_max_records));
    loop_options.max_batch_wait = absl::Milliseconds(
        std::max<int64_t>(1, config.replay_batch_max_wait_ms));
    replay_source = std::make_unique<enrich::processor::ReplaySource>(
        source->get(), (*source)->Assignment(), replay_end);
    loop_options.batch_complete = [&] {
      return replay_source->ConsumedToEnd();
    };
    // The next batch is consumed and planned while this one is written.
    loop_options.overlap_apply = true;
    // Progress while consuming, every 2 s: batches are large, so waiting for
    // their commits would leave long silences.
    loop_options.on_iteration = [&, calls = uint64_t{0}]() mutable {
      health.MarkLoopAlive();
      if (++calls % 1024 != 0) return;
      const absl::Time now = absl::Now();
      if (now - last_progress < absl::Seconds(2)) return;
      last_progress = now;
      const int64_t consumed =
          replay_total - replay_source->RecordsShortOfEnd();
      const double rate =
          static_cast<double>(consumed) /
          std::max(1e-3, absl::ToDoubleSeconds(now - replay_start));
      const int64_t left = replay_total - consumed;
      log.Info(
          "replay progress",
          {{"consumed", absl::StrCat(consumed)},
           {"applied", absl::StrCat(replay_done)},
           {"remaining", absl::StrCat(left)},
           {"rate_per_s", absl::StrFormat("%.0f", rate)},
           {"eta_s", absl::StrFormat("%.1f", rate > 0 ? left / rate : 0.0)}});
    };
    log.Info("replaying", {{"records", absl::StrCat(replay_total)},
                           {"partitions", absl::StrCat(replay_end.size())},
                           {"offsets_group", offsets_group}});
    loop_options.finished = [&] { return remaining() == 0; };
    loop_options.on_committed = [&](const enrich::processor::ConsumedBatch& b,
                                    const enrich::processor::WriteResult& r) {
      replay_done += static_cast<int64_t>(b.records);
      const absl::Time now = absl::Now();
      // Batches are large in a replay: one line each, with where the time
      // went (collecting = consuming and planning; writing = the writer's
      // statements).
      log.Info(
          "replay batch",
          {{"records", absl::StrCat(b.records)},
           {"conversations", absl::StrCat(r.conversations)},
           {"rows_upserted", absl::StrCat(r.rows_upserted)},
           {"rows_deleted", absl::StrCat(r.rows_deleted)},
           {"write_s",
            absl::StrFormat("%.2f", absl::ToDoubleSeconds(statements_time))},
           {"since_start_s",
            absl::StrFormat("%.2f",
                            absl::ToDoubleSeconds(now - replay_start))}});
      statements_time = absl::ZeroDuration();
    };
  }
  enrich::processor::RecordSource* loop_source =
      replay
          ? static_cast<enrich::processor::RecordSource*>(replay_source.get())
          : source->get();
  enrich::processor::ProcessorLoop loop(loop_source, writer.get(),
                                        dead_letters->get(), &probe, &log,
                                        loop_options);
  log.Info("consuming", {{"group", config.group_id},
                         {"topics", absl::StrJoin(topics, ",")},
                         {"dead_letter_topic", dead_letter_topic}});
  absl::Status status = loop.Run(g_stop);
  health.MarkLoopStopped("shutting down");
  (*source)->Close();
  endpoint.Stop();
  if (!status.ok()) {
    log.Error("enrich-processor stopped",
              {{"error", status.ToString()}, {"action", ActionFor(status)}});
    return 1;
  }
  if (replay) {
    const double seconds = absl::ToDoubleSeconds(absl::Now() - replay_start);
    log.Info("replay finished", {{"events", absl::StrCat(replay_done)},
                                 {"seconds", absl::StrFormat("%.1f", seconds)},
                                 {"remaining", absl::StrCat(remaining())}});
  }
  log.Info("stopped", {{"batches", absl::StrCat(probe.batches->Value())},
                       {"records", absl::StrCat(probe.records->Value())}});
  return 0;
}

// `reconcile`: exit 0 when the walk finished (whatever it repaired), 1 on a
// database error, 2 on bad options.
int Reconcile(const RunConfig& config, enrich::Logger& log) {
  using enrich::processor::Reconciler;
  using enrich::processor::ReconcileReport;
  if (config.pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN) is required");
    return 2;
  }
  if (config.chunk_size < 1 || config.max_ids_per_second < 0 ||
      config.chunk_pause_ms < 0) {
    log.Error(
        "--chunk-size must be >= 1, --max-ids-per-second and "
        "--chunk-pause-ms >= 0");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  Reconciler::Options options;
  options.chunk_size = static_cast<size_t>(config.chunk_size);
  options.pacing.max_ids_per_second = config.max_ids_per_second;
  options.pacing.chunk_pause = absl::Milliseconds(config.chunk_pause_ms);
  options.dry_run = config.dry_run;
  options.stop_requested = [] { return g_stop.load(); };
  // Sleep in short steps so SIGTERM is honoured during a long pause.
  options.sleep = [](absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    while (!g_stop.load() && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(100), until - absl::Now()));
    }
  };
  const absl::Time start = absl::Now();
  absl::Time last_progress = start;
  options.on_chunk = [&](const ReconcileReport& r, int64_t total) {
    const absl::Time now = absl::Now();
    if (now - last_progress < absl::Seconds(2)) return;
    last_progress = now;
    const auto p =
        enrich::processor::EstimateProgress(r.ids_checked, total, now - start);
    log.Info("reconcile progress",
             {{"chunks", absl::StrCat(r.chunks)},
              {"ids", absl::StrCat(r.ids_checked)},
              {"ids_estimate", absl::StrCat(total)},
              {"rate_per_s", absl::StrFormat("%.0f", p.ids_per_second)},
              {"eta_s", absl::StrFormat("%.1f", absl::ToDoubleSeconds(p.eta))},
              {"missing", absl::StrCat(r.missing)},
              {"extra", absl::StrCat(r.extra)},
              {"different", absl::StrCat(r.different)}});
  };
  log.Info("reconciling",
           {{"chunk_size", absl::StrCat(config.chunk_size)},
            {"max_ids_per_second", absl::StrCat(config.max_ids_per_second)},
            {"chunk_pause_ms", absl::StrCat(config.chunk_pause_ms)},
            {"dry_run", config.dry_run ? "true" : "false"}});
  if (!SchemaIsCurrent(config.pg_dsn, log)) return 1;
  auto reconciler = Reconciler::Connect(config.pg_dsn, options);
  if (!reconciler.ok()) {
    log.Error("cannot connect to PostgreSQL",
              {{"error", reconciler.status().ToString()},
               {"action", ActionFor(reconciler.status())}});
    return 1;
  }
  absl::StatusOr<ReconcileReport> report = (*reconciler)->Run();
  if (!report.ok()) {
    log.Error("reconcile failed", {{"error", report.status().ToString()},
                                   {"action", ActionFor(report.status())}});
    return 1;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  log.Info("reconcile finished",
           {{"interrupted", g_stop.load() ? "true" : "false"},
            {"chunks", absl::StrCat(report->chunks)},
            {"ids", absl::StrCat(report->ids_checked)},
            {"missing", absl::StrCat(report->missing)},
            {"extra", absl::StrCat(report->extra)},
            {"different", absl::StrCat(report->different)},
            {"rows_repaired", absl::StrCat(report->rows_repaired)},
            {"dry_run", config.dry_run ? "true" : "false"},
            {"sample_missing", absl::StrJoin(report->sample_missing, ",")},
            {"sample_extra", absl::StrJoin(report->sample_extra, ",")},
            {"sample_different", absl::StrJoin(report->sample_different, ",")},
            {"seconds", absl::StrFormat("%.1f", seconds)}});
  // The one line for humans and scripts, on stdout.
  std::printf(
      "reconcile: %s %lld ids in %lld chunks in %.1f s: missing=%lld "
      "extra=%lld different=%lld %s=%lld\n",
      g_stop.load() ? "interrupted after" : "checked",
      static_cast<long long>(report->ids_checked),
      static_cast<long long>(report->chunks), seconds,
      static_cast<long long>(report->missing),
      static_cast<long long>(report->extra),
      static_cast<long long>(report->different),
      config.dry_run ? "would_repair" : "rows_repaired",
      static_cast<long long>(config.dry_run ? report->differences()
                                            : report->rows_repaired));
  std::fflush(stdout);
  return 0;
}

int Migrate(const std::string& pg_dsn, enrich::Logger& log) {
  if (pg_dsn.empty()) {
    log.Error("--pg-dsn (or ENRICH_PG_DSN) is required");
    return 2;
  }
  absl::StatusOr<std::vector<enrich::processor::Migration>> migrations =
      enrich::processor::OrderMigrations(
          enrich::processor::EmbeddedMigrations());
  if (!migrations.ok()) {
    log.Error("bad migrations", {{"error", migrations.status().ToString()}});
    return 1;
  }
  enrich::processor::MigrationReport report;
  enrich::processor::RetryPolicy policy;
  policy.initial_backoff = absl::Seconds(1);
  policy.max_attempts = 5;  // 003's lock_timeout: readers hold the view
  absl::Status status = enrich::processor::RetryWithBackoff(
      [&]() -> absl::Status {
        absl::StatusOr<enrich::processor::MigrationReport> r =
            enrich::processor::ApplyMigrations(pg_dsn, *migrations);
        if (!r.ok()) return r.status();
        report = *std::move(r);
        return absl::OkStatus();
      },
      policy, [](absl::Duration d) { absl::SleepFor(d); }, nullptr,
      [&](const absl::Status& error, absl::Duration backoff) {
        log.Warn("migration will be retried",
                 {{"error", error.ToString()},
                  {"backoff", absl::FormatDuration(backoff)}});
      });
  if (!status.ok()) {
    log.Error("migration failed", {{"error", status.ToString()}});
    return 1;
  }
  log.Info("migrated",
           {{"applied", absl::StrJoin(report.applied, ",")},
            {"already_applied", absl::StrCat(report.already_applied.size())}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Buffers above 256 KiB (librdkafka's fetch and decompression buffers, a
  // replay's id arrays) are mapped and unmapped each time instead of being
  // kept in the heap: glibc otherwise raises this threshold as such buffers
  // are freed, and a replay's peak RSS held 20-40 MB of freed buffers.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // As in enrich-cdc: Debian's abseil keeps Mutex deadlock detection on (a
  // graph update per lock); a debugging aid the tests keep.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  RunConfig config;
  std::string& pg_dsn = config.pg_dsn;
  std::string& kafka_brokers = config.kafka_brokers;
  std::string& topic_prefix = config.topic_prefix;
  std::string& group_id = config.group_id;
  std::string& metrics_addr = config.metrics_addr;
  enrich::OptionSet opts(
      "enrich-processor",
      "consumes change events from Kafka and rewrites the affected rows of\n"
      "enriched_support_conversations.\n\nUsage: enrich-processor "
      "migrate|run|replay|reconcile [options]");
  opts.AddString("pg-dsn", "ENRICH_PG_DSN", "",
                 "libpq connection string of the target database.", &pg_dsn,
                 /*secret=*/true);
  opts.AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                 "Kafka bootstrap servers, comma-separated.", &kafka_brokers);
  opts.AddString("topic-prefix", "ENRICH_TOPIC_PREFIX", "support",
                 "Topics are named <prefix>.<schema>.<table>.", &topic_prefix);
  opts.AddString("group-id", "ENRICH_GROUP_ID", "enrich-processor",
                 "Kafka consumer group.", &group_id);
  opts.AddString("metrics-addr", "ENRICH_METRICS_ADDR", "127.0.0.1:9188",
                 "host:port of the /metrics endpoint; port 0 picks a free "
                 "port.",
                 &metrics_addr);
  opts.AddString("source-schema", "ENRICH_SOURCE_SCHEMA", "public",
                 "Schema of the source tables (the topics' middle part).",
                 &config.source_schema);
  opts.AddString("kafka-properties", "ENRICH_KAFKA_PROPERTIES", "",
                 "Extra librdkafka properties, key=value;key2=value2.",
                 &config.kafka_properties);
  opts.AddInt("batch-max-records", "ENRICH_BATCH_MAX_RECORDS", 5000,
              "A batch closes after this many records...",
              &config.batch_max_records);
  opts.AddInt("batch-max-wait-ms", "ENRICH_BATCH_MAX_WAIT_MS", 200,
              "...or this long after its first record.",
              &config.batch_max_wait_ms);
  opts.AddInt("replay-batch-max-records", "ENRICH_REPLAY_BATCH_MAX_RECORDS",
              500000,
              "replay: a batch closes after this many records (or later, "
              "while the previous batch is still being written), when "
              "every partition was consumed to its end...",
              &config.replay_batch_max_records);
  opts.AddInt("replay-batch-max-wait-ms", "ENRICH_REPLAY_BATCH_MAX_WAIT_MS",
              300000, "replay: ...or this long after its first record.",
              &config.replay_batch_max_wait_ms);
  opts.AddInt("chunk-size", "ENRICH_RECONCILE_CHUNK_SIZE", 1000,
              "reconcile: ids compared (and repaired) per chunk.",
              &config.chunk_size);
  opts.AddInt("max-ids-per-second", "ENRICH_RECONCILE_MAX_IDS_PER_SECOND", 0,
              "reconcile: rate limit in ids per second (0: none).",
              &config.max_ids_per_second);
  opts.AddInt("chunk-pause-ms", "ENRICH_RECONCILE_CHUNK_PAUSE_MS", 0,
              "reconcile: pause after every chunk.", &config.chunk_pause_ms);
  opts.AddBool("dry-run", "ENRICH_RECONCILE_DRY_RUN", false,
               "reconcile: report the differences, repair nothing.",
               &config.dry_run);
  opts.AddBool("from-beginning", "", false,
               "replay: from the first retained record of every partition "
               "(enrich-cdc's snapshot events make this a full rebuild).",
               &config.from_beginning);
  opts.AddString("from-timestamp", "", "",
                 "replay: from the first record at or after this RFC 3339 "
                 "time.",
                 &config.from_timestamp);
  opts.AddString("from-offsets", "", "",
                 "replay: topic:partition:offset,... (other partitions are "
                 "not replayed).",
                 &config.from_offsets);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto rest =
      opts.Parse(args, [](const char* name) { return std::getenv(name); });
  if (!rest.ok()) {
    std::fprintf(stderr, "enrich-processor: %s\n",
                 std::string(rest.status().message()).c_str());
    return 2;
  }
  if (opts.help_requested()) {
    std::fputs(opts.Help().c_str(), stdout);
    return 0;
  }
  if (rest->size() != 1) {
    std::fprintf(stderr,
                 "enrich-processor: expected one subcommand "
                 "(migrate|run|replay|reconcile); see --help\n");
    return 2;
  }
  enrich::Logger log("processor");
  const std::string& command = rest->front();
  if (command == "migrate") return Migrate(pg_dsn, log);
  if (command == "run") return Run(config, /*replay=*/false, log);
  if (command == "replay") return Run(config, /*replay=*/true, log);
  if (command == "reconcile") return Reconcile(config, log);
  std::fprintf(stderr, "enrich-processor: unknown subcommand %s\n",
               command.c_str());
  return 2;
}
