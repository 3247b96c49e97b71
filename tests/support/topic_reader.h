// Reads a topic of change events back for end-to-end tests: every
// partition from the beginning, assigned directly (no consumer-group
// coordination to wait for), keeping its position between ReadUntil calls.
#ifndef ENRICH_TESTS_SUPPORT_TOPIC_READER_H_
#define ENRICH_TESTS_SUPPORT_TOPIC_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/change_event.pb.h"

namespace RdKafka {
class KafkaConsumer;
}  // namespace RdKafka

namespace enrich::testing {

struct Record {
  int32_t partition;
  int64_t offset;
  std::string key;
  bool tombstone;
  v1::ChangeEvent event;
};

class TopicReader {
 public:
  // `keep`: store the records in records(); otherwise only `on_record` sees
  // them (for topics too large to hold). Uses Services().kafka_brokers.
  TopicReader(int partitions, const std::string& topic, bool keep = true);
  ~TopicReader();

  // Consumes until `done()` holds or `timeout` passes; returns done().
  bool ReadUntil(const std::function<bool()>& done, absl::Duration timeout);

  const std::vector<Record>& records() const { return records_; }
  std::function<void(const Record&)> on_record;

 private:
  bool keep_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<Record> records_;
};

// The column `name` of `row`, or nullptr.
const v1::Column* FindColumn(const v1::Row& row, const std::string& name);
// Its text, or "<missing>", "<null>", "<toast>".
std::string ColumnText(const v1::Row& row, const std::string& name);

}  // namespace enrich::testing

#endif  // ENRICH_TESTS_SUPPORT_TOPIC_READER_H_
