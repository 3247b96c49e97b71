// enrich-cdc: streams committed changes on the published tables from
// PostgreSQL's write-ahead log to Kafka.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cdc/cdc_config.h"
#include "cdc/cdc_runner.h"
#include "cdc/common/http_endpoint.h"
#include "cdc/common/log.h"
#include "cdc/common/metrics.h"
#include "cdc/common/options.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/common/source_tables.h"
#include "cdc/inspect_command.h"
#include "cdc/kafka/kafka_event_sink.h"
#include "cdc/kafka/kafka_properties.h"
#include "cdc/kafka/topic_admin.h"

namespace {

enrich::cdc::CdcRunner* g_runner = nullptr;

void OnSignal(int) {
  if (g_runner != nullptr) g_runner->Stop();
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

// Fills `config` from `args` and the environment. An exit code when the
// process should stop here (--help: 0; a bad option: 2), nullopt otherwise.
std::optional<int> ParseConfig(const std::vector<std::string>& args,
                               enrich::cdc::CdcConfig& config) {
  std::string tables;
  int64_t partitions, replication, tx_memory, heartbeat_ms;
  enrich::OptionSet opts(
      "enrich-cdc",
      "reads the write-ahead log through a logical replication slot "
      "(pgoutput)\nand publishes every committed change to Kafka as "
      "protobuf.\n\nUsage: enrich-cdc [options]\n       enrich-cdc inspect "
      "--topic T [--from-beginning] [--limit N]");
  opts.AddString("pg-dsn", "ENRICH_PG_DSN", "",
                 "libpq connection string of the source database.",
                 &config.pg_dsn, /*secret=*/true);
  opts.AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                 "Kafka bootstrap servers, comma-separated.",
                 &config.kafka_brokers);
  opts.AddString("slot", "ENRICH_SLOT", "enrich_cdc",
                 "Logical replication slot name.", &config.slot);
  opts.AddString("publication", "ENRICH_PUBLICATION", "enrich_cdc",
                 "Publication name (created with the tables when missing).",
                 &config.publication);
  opts.AddString(
      "tables", "ENRICH_TABLES", absl::StrJoin(enrich::kSourceTables, ","),
      "Tables to publish, comma-separated ([schema.]name).", &tables);
  opts.AddString("topic-prefix", "ENRICH_TOPIC_PREFIX", "support",
                 "Topics are named <prefix>.<schema>.<table>.",
                 &config.topic_prefix);
  opts.AddString("metrics-addr", "ENRICH_METRICS_ADDR", "127.0.0.1:9187",
                 "host:port of /metrics, /healthz, /readyz; port 0 picks a "
                 "free port (logged).",
                 &config.metrics_addr);
  opts.AddChoice("snapshot", "ENRICH_SNAPSHOT", "initial",
                 {"initial", "never", "always"},
                 "initial: snapshot the tables when the slot is created; "
                 "never: stream only; always: snapshot at every start.",
                 &config.snapshot);
  opts.AddChoice(
      "snapshot-content", "ENRICH_SNAPSHOT_CONTENT", "boundary",
      {"boundary", "rows"},
      "boundary: a snapshot publishes one SNAPSHOT_BOUNDARY event per "
      "partition (its consistent LSN, no rows): enrich-processor rebuilds "
      "its table from the source there, so a first start costs one build; "
      "rows: every row of the tables as SNAPSHOT_READ events, for consumers "
      "that need the initial state in Kafka.",
      &config.snapshot_content);
  opts.AddInt("topic-partitions", "ENRICH_TOPIC_PARTITIONS", 6,
              "Partitions of topics created by enrich-cdc.", &partitions);
  opts.AddInt("topic-replication", "ENRICH_TOPIC_REPLICATION", 1,
              "Replication factor of topics created by enrich-cdc.",
              &replication);
  opts.AddChoice("compression", "ENRICH_COMPRESSION", "lz4",
                 {"none", "gzip", "snappy", "lz4", "zstd"},
                 "Kafka compression codec.", &config.compression);
  opts.AddString("kafka-properties", "ENRICH_KAFKA_PROPERTIES", "",
                 "Extra librdkafka properties, key=value;key2=value2.",
                 &config.kafka_properties);
  opts.AddString("spill-dir", "ENRICH_SPILL_DIR", "/tmp",
                 "Where transactions larger than --transaction-memory-mb are "
                 "buffered until their commit.",
                 &config.spill_dir);
  opts.AddInt("transaction-memory-mb", "ENRICH_TRANSACTION_MEMORY_MB", 32,
              "Memory one transaction may use before spilling to disk.",
              &tx_memory);
  opts.AddInt("heartbeat-interval-ms", "ENRICH_HEARTBEAT_INTERVAL_MS", 10000,
              "Heartbeat message period that keeps an idle slot advancing (0 "
              "turns it off).",
              &heartbeat_ms);
  opts.AddBool("streaming", "ENRICH_STREAMING", true,
               "Use pgoutput v2 streaming of large in-progress transactions "
               "(PostgreSQL 14+).",
               &config.streaming);
  auto rest =
      opts.Parse(args, [](const char* name) { return std::getenv(name); });
  if (!rest.ok()) {
    std::fprintf(stderr, "enrich-cdc: %s\n",
                 std::string(rest.status().message()).c_str());
    return 2;
  }
  if (opts.help_requested()) {
    std::fputs(opts.Help().c_str(), stdout);
    return 0;
  }
  if (!rest->empty()) {
    std::fprintf(stderr, "enrich-cdc: unexpected argument '%s'\n",
                 (*rest)[0].c_str());
    return 2;
  }
  if (config.pg_dsn.empty()) {
    std::fputs(
        "enrich-cdc: --pg-dsn (or ENRICH_PG_DSN or ENRICH_PG_DSN_FILE) is "
        "required\n",
        stderr);
    return 2;
  }
  config.tables = SplitList(tables);
  config.topic_partitions = partitions;
  config.topic_replication = replication;
  config.transaction_memory_mb = tx_memory;
  config.heartbeat_interval_ms = heartbeat_ms;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: a lock-order graph update on every lock, measurable on the
  // per-event path. It is a debugging aid; the tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "inspect") {
    return enrich::cdc::RunInspect(
        std::vector<std::string>(args.begin() + 1, args.end()));
  }

  enrich::cdc::CdcConfig config;
  if (std::optional<int> exit = ParseConfig(args, config)) return *exit;

  enrich::Logger log("cdc");
  enrich::MetricsRegistry metrics;
  enrich::HealthState health(absl::Seconds(60));
  enrich::HttpEndpoint endpoint(&metrics, health.LivenessCheck(),
                                health.ReadinessCheck());
  std::vector<std::string> hostport = absl::StrSplit(config.metrics_addr, ':');
  int port = -1;
  if (hostport.size() != 2 || !absl::SimpleAtoi(hostport[1], &port) ||
      port < 0 || port > 65535) {
    std::fprintf(stderr, "enrich-cdc: --metrics-addr '%s' is not host:port\n",
                 config.metrics_addr.c_str());
    return 2;
  }
  if (absl::Status s = endpoint.Start(hostport[0], port); !s.ok()) {
    log.Error("cannot serve metrics", {{"error", std::string(s.message())}});
    return 1;
  }
  log.Info("metrics listening",
           {{"addr", absl::StrCat(hostport[0], ":", endpoint.port())}});

  auto properties =
      enrich::kafka::ParseKafkaProperties(config.kafka_properties);
  if (!properties.ok()) {
    std::fprintf(stderr, "enrich-cdc: --kafka-properties: %s\n",
                 std::string(properties.status().message()).c_str());
    return 2;
  }
  enrich::kafka::KafkaSinkOptions sink_options;
  sink_options.brokers = config.kafka_brokers;
  sink_options.compression = config.compression;
  sink_options.extra_properties = *properties;
  // Bounds the producer's memory: 64 MB came too close to the 128 MB RSS
  // budget (tests/bench/RESULTS.md, section 4.1).
  sink_options.queue_max_kbytes = 32 * 1024;
  auto sink =
      enrich::kafka::KafkaEventSink::Create(sink_options, &metrics, &log);
  if (!sink.ok()) {
    log.Error("cannot create the Kafka producer",
              {{"error", std::string(sink.status().message())}});
    return 2;
  }
  auto admin = enrich::kafka::TopicAdmin::Create(config.kafka_brokers,
                                                 *properties, &log);
  if (!admin.ok()) {
    log.Error("cannot create the Kafka admin client",
              {{"error", std::string(admin.status().message())}});
    return 2;
  }
  auto ensure_topic = [&](const std::string& topic) -> absl::StatusOr<int32_t> {
    auto states =
        (*admin)->EnsureTopics({{topic,
                                 static_cast<int32_t>(config.topic_partitions),
                                 static_cast<int16_t>(config.topic_replication),
                                 {}}},
                               absl::Seconds(30));
    if (!states.ok()) return states.status();
    if (states->size() != 1) return absl::InternalError("no topic state");
    return (*states)[0].partitions;
  };
  enrich::cdc::CdcRunner runner(config, sink->get(), ensure_topic, &log,
                                &metrics, &health);
  g_runner = &runner;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  absl::Status status = runner.Run();
  g_runner = nullptr;
  health.MarkLoopStopped("shutting down");
  endpoint.Stop();
  if (!status.ok()) {
    const std::string action = enrich::OperatorAction(status);
    if (action.empty()) {
      log.Error("enrich-cdc stopped", {{"error", enrich::StatusText(status)}});
    } else {
      log.Error("enrich-cdc stopped",
                {{"error", enrich::StatusText(status)}, {"action", action}});
    }
    return 1;
  }
  log.Info("enrich-cdc stopped cleanly");
  return 0;
}
