#include "cdc/core/replication_publisher.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/change_event.pb.h"
#include "tests/unit/core/fake_spill_env.h"
#include "tests/unit/core/test_relations.h"

namespace enrich::cdc {
namespace {

using testing::ContractRouting;
using testing::MessagesRelation;
using testing::Text;

// Records what would go to Kafka; two partitions per topic.
class RecordingSink : public RecordSink {
 public:
  int32_t PartitionFor(absl::string_view, absl::string_view routing) override {
    return routing == "c1" ? 0 : 1;
  }
  int32_t PartitionCount(absl::string_view) override { return 2; }
  absl::Status Produce(OutgoingRecord record) override {
    records.emplace_back(record);  // a copy: the views live only this call
    return absl::OkStatus();
  }
  std::vector<kafka::OwnedRecord> records;
};

class ReplicationPublisherTest : public ::testing::Test {
 protected:
  ReplicationPublisherTest()
      : builder_("support", ContractRouting()),
        publisher_(&builder_, &sink_, &acks_, {::testing::TempDir(), 1 << 20}) {
    EXPECT_TRUE(publisher_.OnRelation({0, MessagesRelation()}).ok());
  }
  pgoutput::Insert InsertOf(std::string id, std::string conversation,
                            uint32_t xid = 0) {
    return {xid, 16400, {Text(id), Text(conversation), Text("hello")}};
  }
  v1::ChangeEvent EventAt(size_t i) {
    v1::ChangeEvent event;
    EXPECT_TRUE(event.ParseFromString(*sink_.records.at(i).value));
    return event;
  }

  EventBuilder builder_;
  RecordingSink sink_;
  AckTracker acks_;
  ReplicationPublisher publisher_;
};

TEST_F(ReplicationPublisherTest, PublishesAtCommitWithTransactionCoordinates) {
  ASSERT_TRUE(publisher_.OnBegin({1000, 1700000000000000, 77}).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("m1", "c1")).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("m2", "c2")).ok());
  EXPECT_TRUE(sink_.records.empty());  // nothing before the commit
  EXPECT_TRUE(publisher_.in_transaction());
  ASSERT_TRUE(publisher_.OnCommit({0, 1000, 1100, 1700000000000000}).ok());
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].partition, 0);
  EXPECT_EQ(sink_.records[1].partition, 1);
  v1::ChangeEvent first = EventAt(0), second = EventAt(1);
  EXPECT_EQ(first.op(), v1::INSERT);
  EXPECT_EQ(first.commit_lsn(), 1000u);
  EXPECT_EQ(first.end_lsn(), 1100u);
  EXPECT_EQ(first.xid(), 77u);
  EXPECT_EQ(first.index_in_tx(), 0u);
  EXPECT_FALSE(first.last_in_tx());
  EXPECT_EQ(second.index_in_tx(), 1u);
  EXPECT_TRUE(second.last_in_tx());
  EXPECT_EQ(second.new_row().columns(0).text(), "m2");
  // Confirmable only once both records are acknowledged.
  EXPECT_EQ(acks_.confirmable_lsn(), 0u);
  ASSERT_TRUE(acks_.OnDelivered(sink_.records[1].sequence_number).ok());
  ASSERT_TRUE(acks_.OnDelivered(sink_.records[0].sequence_number).ok());
  EXPECT_EQ(acks_.confirmable_lsn(), 1100u);
}

TEST_F(ReplicationPublisherTest,
       DeleteIsFollowedByTombstoneAndTruncateFansOut) {
  ASSERT_TRUE(publisher_.OnBegin({2000, 0, 5}).ok());
  pgoutput::Delete del{0, 16400, {Text("m1"), Text("c2"), Text("x")}, false};
  ASSERT_TRUE(publisher_.OnDelete(del).ok());
  ASSERT_TRUE(publisher_.OnTruncate({0, false, false, {16400}}).ok());
  ASSERT_TRUE(publisher_.OnCommit({0, 2000, 2100, 0}).ok());
  ASSERT_EQ(sink_.records.size(), 4u);  // delete, tombstone, truncate x2
  EXPECT_TRUE(sink_.records[0].value.has_value());
  EXPECT_FALSE(sink_.records[1].value.has_value());
  EXPECT_EQ(sink_.records[1].key, "m1");
  EXPECT_EQ(sink_.records[1].partition, sink_.records[0].partition);
  EXPECT_EQ(EventAt(2).op(), v1::TRUNCATE);
  EXPECT_EQ(sink_.records[2].partition, 0);
  EXPECT_EQ(sink_.records[3].partition, 1);
  EXPECT_TRUE(EventAt(3).last_in_tx());
  EXPECT_EQ(EventAt(3).index_in_tx(), 1u);  // tombstones are not events
}

TEST_F(ReplicationPublisherTest, StreamedTransactionPublishesOnlyOnCommit) {
  ASSERT_TRUE(publisher_.OnStreamStart({900, true}).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("m1", "c1", 900)).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("m2", "c1", 901)).ok());  // subxact
  ASSERT_TRUE(publisher_.OnStreamStop({}).ok());
  ASSERT_TRUE(publisher_.OnStreamStart({950, true}).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("other", "c1", 950)).ok());
  ASSERT_TRUE(publisher_.OnStreamStop({}).ok());
  ASSERT_TRUE(publisher_.OnStreamStart({900, false}).ok());
  ASSERT_TRUE(publisher_.OnInsert(InsertOf("m3", "c1", 900)).ok());
  ASSERT_TRUE(publisher_.OnStreamStop({}).ok());
  EXPECT_TRUE(sink_.records.empty());
  ASSERT_TRUE(publisher_.OnStreamAbort({900, 901}).ok());  // savepoint rollback
  ASSERT_TRUE(publisher_.OnStreamAbort({950, 950}).ok());  // whole abort
  ASSERT_TRUE(publisher_.OnStreamCommit({900, 0, 5000, 5100, 0}).ok());
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(EventAt(0).new_row().columns(0).text(), "m1");
  EXPECT_EQ(EventAt(1).new_row().columns(0).text(), "m3");
  EXPECT_EQ(EventAt(1).xid(), 900u);
  EXPECT_TRUE(EventAt(1).last_in_tx());
  EXPECT_FALSE(publisher_.in_transaction());
  EXPECT_EQ(publisher_.counters().aborted_streams, 1u);
}

TEST(ReplicationPublisherMetricsTest, CountsEventsAndBytesPerTopicAndOp) {
  MetricsRegistry metrics;
  EventBuilder builder("support", ContractRouting());
  RecordingSink sink;
  AckTracker acks;
  ReplicationPublisher publisher(&builder, &sink, &acks,
                                 {::testing::TempDir(), 1 << 20, &metrics});
  ASSERT_TRUE(publisher.OnRelation({0, MessagesRelation()}).ok());
  ASSERT_TRUE(publisher.OnBegin({1, 0, 1}).ok());
  for (const char* id : {"m1", "m2"}) {
    ASSERT_TRUE(
        publisher.OnInsert({0, 16400, {Text(id), Text("c1"), Text("x")}}).ok());
  }
  ASSERT_TRUE(publisher.OnCommit({0, 1, 2, 0}).ok());
  std::string text = metrics.Render();
  EXPECT_NE(text.find("enrich_cdc_events_total{topic=\"support.public.support_"
                      "conversation_messages\",op=\"INSERT\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("enrich_cdc_event_bytes_total"), std::string::npos);
}

TEST_F(ReplicationPublisherTest,
       LargeTransactionReportsProgressWhileProducing) {
  int progress_calls = 0;
  publisher_.SetProgressCallback([&] {
    ++progress_calls;
    return absl::OkStatus();
  });
  ASSERT_TRUE(publisher_.OnBegin({1, 0, 1}).ok());
  for (int i = 0; i < 25000; ++i) {
    ASSERT_TRUE(publisher_.OnInsert(InsertOf(absl::StrCat("m", i), "c1")).ok());
  }
  ASSERT_TRUE(publisher_.OnCommit({0, 1, 2, 0}).ok());
  EXPECT_EQ(sink_.records.size(), 25000u);
  EXPECT_EQ(progress_calls, 2);  // at records 10,000 and 20,000

  publisher_.SetProgressCallback(
      [] { return absl::UnavailableError("connection lost"); });
  ASSERT_TRUE(publisher_.OnBegin({3, 0, 2}).ok());
  for (int i = 0; i < 10001; ++i) {
    ASSERT_TRUE(publisher_.OnInsert(InsertOf(absl::StrCat("n", i), "c1")).ok());
  }
  EXPECT_EQ(publisher_.OnCommit({0, 3, 4, 0}).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ReplicationPublisherTest, HeartbeatMessagesAreReportedOthersIgnored) {
  ASSERT_TRUE(
      publisher_.OnMessage({0, false, 4242, kHeartbeatPrefix, ""}).ok());
  ASSERT_TRUE(publisher_.OnMessage({0, false, 9999, "someone_else", ""}).ok());
  EXPECT_EQ(publisher_.heartbeat_lsn(), 4242u);
  EXPECT_TRUE(sink_.records.empty());
}

TEST_F(ReplicationPublisherTest, ChangeOutsideTransactionIsAnError) {
  EXPECT_EQ(publisher_.OnInsert(InsertOf("m1", "c1")).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(publisher_.OnInsert({0, 999, {}}).code(),
            absl::StatusCode::kNotFound);
}

// A publisher whose spill files go through a FailingSpillEnv over memory, in
// the spill directory "/spill", with a budget of a few dozen events.
class ReplicationPublisherSpillTest : public ::testing::Test {
 protected:
  ReplicationPublisherSpillTest()
      : builder_("support", ContractRouting()),
        env_(&memory_),
        publisher_(&builder_, &sink_, &acks_,
                   {"/spill", 4096, nullptr, &env_}) {
    EXPECT_TRUE(publisher_.OnRelation({0, MessagesRelation()}).ok());
  }
  pgoutput::Insert InsertOf(int i, uint32_t xid = 0) {
    return {
        xid, 16400, {Text(absl::StrCat("m", i)), Text("c1"), Text("hello")}};
  }
  v1::ChangeEvent EventAt(size_t i) {
    v1::ChangeEvent event;
    EXPECT_TRUE(event.ParseFromString(*sink_.records.at(i).value));
    return event;
  }
  // A committed transaction of two events, delivered: the slot may be
  // confirmed to its end LSN, 1100.
  void PublishEarlierTransaction() {
    ASSERT_TRUE(publisher_.OnBegin({1000, 0, 76}).ok());
    ASSERT_TRUE(publisher_.OnInsert(InsertOf(0)).ok());
    ASSERT_TRUE(publisher_.OnInsert(InsertOf(1)).ok());
    ASSERT_TRUE(publisher_.OnCommit({0, 1000, 1100, 0}).ok());
    ASSERT_EQ(sink_.records.size(), 2u);
    for (const auto& record : sink_.records) {
      ASSERT_TRUE(acks_.OnDelivered(record.sequence_number).ok());
    }
    ASSERT_EQ(acks_.confirmable_lsn(), 1100u);
  }
  // Nothing of the failed transaction went out, its predecessor is intact,
  // and the publisher still holds it open, so the caller cannot confirm the
  // slot past it on a keepalive (CdcRunner advances only when idle).
  void ExpectNothingPublishedAfterEarlierTransaction() {
    EXPECT_EQ(sink_.records.size(), 2u);
    EXPECT_TRUE(publisher_.in_transaction());
    EXPECT_EQ(acks_.in_flight(), 0u);
    EXPECT_EQ(acks_.pending_transactions(), 0u);
    EXPECT_EQ(acks_.confirmable_lsn(), 1100u);
    EXPECT_TRUE(memory_.files().empty());
  }
  void ExpectSpillError(const absl::Status& status, uint32_t xid,
                        absl::string_view reason) {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_NE(status.message().find(absl::StrCat("transaction xid ", xid)),
              std::string::npos)
        << status;
    EXPECT_NE(status.message().find("spill directory /spill"),
              std::string::npos)
        << status;
    EXPECT_NE(status.message().find(reason), std::string::npos) << status;
  }

  EventBuilder builder_;
  RecordingSink sink_;
  AckTracker acks_;
  testing::MemorySpillEnv memory_;
  testing::FailingSpillEnv env_;
  ReplicationPublisher publisher_;
};

TEST_F(ReplicationPublisherSpillTest, SpilledTransactionIsPublishedWhole) {
  PublishEarlierTransaction();
  ASSERT_TRUE(publisher_.OnBegin({2000, 0, 77}).ok());
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(publisher_.OnInsert(InsertOf(i)).ok());
  }
  EXPECT_EQ(memory_.files().size(), 1u);
  ASSERT_TRUE(publisher_.OnCommit({0, 2000, 2100, 0}).ok());
  ASSERT_EQ(sink_.records.size(), 502u);
  EXPECT_EQ(EventAt(501).new_row().columns(0).text(), "m499");
  EXPECT_TRUE(EventAt(501).last_in_tx());
  EXPECT_EQ(publisher_.counters().spilled_transactions, 1u);
  EXPECT_TRUE(memory_.files().empty());
}

TEST_F(ReplicationPublisherSpillTest, FullDiskMidSpillPublishesNothingOfIt) {
  PublishEarlierTransaction();
  env_.FailAppendsFrom(3);  // the disk fills up at the third spill write
  ASSERT_TRUE(publisher_.OnBegin({2000, 0, 77}).ok());
  absl::Status status;
  int appended = 0;
  while (appended < 500 &&
         (status = publisher_.OnInsert(InsertOf(appended))).ok()) {
    ++appended;
  }
  ExpectSpillError(status, 77, "No space left on device");
  EXPECT_EQ(env_.appends(), 3);
  EXPECT_GT(appended, 60);  // two writes went through: the failure is mid-way
  ExpectNothingPublishedAfterEarlierTransaction();
  // A caller that carried on anyway still gets the error, and no record.
  ExpectSpillError(publisher_.OnInsert(InsertOf(999)), 77,
                   "No space left on device");
  ExpectSpillError(publisher_.OnCommit({0, 2000, 2100, 0}), 77,
                   "No space left on device");
  ExpectNothingPublishedAfterEarlierTransaction();
}

TEST_F(ReplicationPublisherSpillTest,
       UnwritableDirectoryFailsAStreamedTransactionAtItsFirstSpill) {
  PublishEarlierTransaction();
  env_.FailCreates();
  ASSERT_TRUE(publisher_.OnStreamStart({900, true}).ok());
  absl::Status status;
  int appended = 0;
  while (appended < 500 &&
         (status = publisher_.OnInsert(InsertOf(appended, 900))).ok()) {
    ++appended;
  }
  ExpectSpillError(status, 900, "Permission denied");
  EXPECT_GT(appended, 10);  // the ones that fit the budget
  ASSERT_TRUE(publisher_.OnStreamStop({}).ok());
  ExpectSpillError(publisher_.OnStreamCommit({900, 0, 2000, 2100, 0}), 900,
                   "Permission denied");
  ExpectNothingPublishedAfterEarlierTransaction();
  EXPECT_EQ(memory_.created(), 0);
}

}  // namespace
}  // namespace enrich::cdc
