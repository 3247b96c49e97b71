#include "tests/support/topic_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/services_environment.h"

namespace enrich::testing {

TopicReader::TopicReader(int partitions, const std::string& topic, bool keep)
    : keep_(keep) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", Services().kafka_brokers, error);
  conf->set("group.id",
            absl::StrCat("test-", topic, "-", absl::ToUnixNanos(absl::Now())),
            error);
  conf->set("auto.offset.reset", "earliest", error);
  conf->set("enable.auto.commit", "false", error);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  EXPECT_NE(consumer_, nullptr) << error;
  std::vector<RdKafka::TopicPartition*> assigned;
  for (int p = 0; p < partitions; ++p) {
    assigned.push_back(RdKafka::TopicPartition::create(
        topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  EXPECT_EQ(consumer_->assign(assigned), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(assigned);
}

TopicReader::~TopicReader() {
  if (consumer_ != nullptr) consumer_->close();
}

bool TopicReader::ReadUntil(const std::function<bool()>& done,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Record r;
    r.partition = m->partition();
    r.offset = m->offset();
    r.key = m->key() ? *m->key() : "";
    r.tombstone = m->payload() == nullptr;
    if (!r.tombstone) {
      EXPECT_TRUE(r.event.ParseFromArray(m->payload(), m->len()));
    }
    if (on_record) on_record(r);
    if (keep_) records_.push_back(std::move(r));
  }
  return true;
}

const v1::Column* FindColumn(const v1::Row& row, const std::string& name) {
  for (const v1::Column& c : row.columns()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

std::string ColumnText(const v1::Row& row, const std::string& name) {
  const v1::Column* c = FindColumn(row, name);
  if (c == nullptr) return "<missing>";
  return c->has_text() ? c->text() : c->has_null() ? "<null>" : "<toast>";
}

}  // namespace enrich::testing
