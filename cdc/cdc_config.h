// The settings of one enrich-cdc process (flags and ENRICH_* variables, see
// main.cc and `enrich-cdc --help`).
#ifndef ENRICH_CDC_CDC_CONFIG_H_
#define ENRICH_CDC_CDC_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace enrich::cdc {

struct CdcConfig {
  std::string pg_dsn;
  std::string kafka_brokers;
  std::string slot = "enrich_cdc";
  std::string publication = "enrich_cdc";
  std::vector<std::string> tables;
  std::string topic_prefix = "support";
  std::string metrics_addr = "127.0.0.1:9187";
  std::string snapshot = "initial";  // initial | never | always
  // boundary: a snapshot is one SNAPSHOT_BOUNDARY event per partition;
  // rows: every row as a SNAPSHOT_READ event (snapshot_publisher.h).
  std::string snapshot_content = "boundary";
  int64_t topic_partitions = 6;
  int64_t topic_replication = 1;
  std::string compression = "lz4";
  std::string spill_dir = "/tmp";
  int64_t transaction_memory_mb = 32;
  int64_t heartbeat_interval_ms = 10000;
  int64_t status_interval_ms = 1000;
  int64_t standby_retry_ms = 1000;
  bool streaming = true;  // pgoutput v2 streaming where the server has it
  std::string kafka_properties;  // extra librdkafka "k=v;k2=v2"
};

}  // namespace enrich::cdc

#endif  // ENRICH_CDC_CDC_CONFIG_H_
