#include "cdc/core/replication_session.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "cdc/core/partitioned_sink.h"
#include "cdc/kafka/fake_event_sink.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_relations.h"

namespace enrich::cdc {
namespace {

using testing::ContractRouting;

constexpr char kTopic[] = "support.public.support_conversation_messages";
constexpr uint64_t kStartLsn = 0x100;

// Big-endian writers for the server's bytes (walsender framing, pgoutput v1).
void PutU8(std::string* out, uint8_t v) {
  out->push_back(static_cast<char>(v));
}
void PutU16(std::string* out, uint16_t v) {
  PutU8(out, v >> 8);
  PutU8(out, v & 0xff);
}
void PutU32(std::string* out, uint32_t v) {
  PutU16(out, v >> 16);
  PutU16(out, v & 0xffff);
}
void PutU64(std::string* out, uint64_t v) {
  PutU32(out, v >> 32);
  PutU32(out, v & 0xffffffff);
}
void PutCString(std::string* out, const std::string& s) {
  out->append(s);
  out->push_back('\0');
}

std::string Keepalive(uint64_t wal_end, bool reply_requested) {
  std::string m = "k";
  PutU64(&m, wal_end);
  PutU64(&m, 0);  // send time
  PutU8(&m, reply_requested ? 1 : 0);
  return m;
}

std::string XLogData(uint64_t wal_end, const std::string& payload) {
  std::string m = "w";
  PutU64(&m, wal_end);  // wal_start (not used by the session)
  PutU64(&m, wal_end);
  PutU64(&m, 0);  // send time
  return m + payload;
}

// support_conversation_messages (id, conversation_id, body), as in
// test_relations.h.
std::string RelationMessage() {
  std::string m = "R";
  PutU32(&m, 16400);
  PutCString(&m, "public");
  PutCString(&m, "support_conversation_messages");
  PutU8(&m, 'f');
  PutU16(&m, 3);
  for (const char* name : {"id", "conversation_id", "body"}) {
    PutU8(&m, std::string(name) == "body" ? 0 : 1);
    PutCString(&m, name);
    PutU32(&m, std::string(name) == "body" ? 25 : 2950);
    PutU32(&m, 0xffffffff);  // typmod -1
  }
  return m;
}

std::string BeginMessage(uint64_t final_lsn, uint32_t xid) {
  std::string m = "B";
  PutU64(&m, final_lsn);
  PutU64(&m, 0);  // commit time
  PutU32(&m, xid);
  return m;
}

std::string InsertMessage(const std::string& id) {
  std::string m = "I";
  PutU32(&m, 16400);
  PutU8(&m, 'N');
  PutU16(&m, 3);
  for (const std::string& value : {id, std::string("c1"), std::string("hi")}) {
    PutU8(&m, 't');
    PutU32(&m, static_cast<uint32_t>(value.size()));
    m += value;
  }
  return m;
}

std::string CommitMessage(uint64_t commit_lsn, uint64_t end_lsn) {
  std::string m = "C";
  PutU8(&m, 0);
  PutU64(&m, commit_lsn);
  PutU64(&m, end_lsn);
  PutU64(&m, 0);  // commit time
  return m;
}

std::string HeartbeatMessage(uint64_t lsn) {
  std::string m = "M";
  PutU8(&m, 0);  // not transactional
  PutU64(&m, lsn);
  PutCString(&m, kHeartbeatPrefix);
  PutU32(&m, 0);
  return m;
}

// A walsender that plays a script. Each step is a message, a quiet read
// (nothing within the timeout; the fake clock moves on by `elapsed`), or a
// failure; `before` runs when the step is read. When the script is done, it
// sets the stop flag and reads quiet.
class ScriptedWalsender : public pgoutput::WalsenderStream {
 public:
  struct Step {
    std::optional<std::string> message;
    absl::Duration elapsed = absl::ZeroDuration();
    absl::Status error;
    std::function<void()> before;
  };
  struct Status {
    uint64_t write;
    uint64_t flush;
    int after_read;  // how many reads had been made when it was sent
    absl::Time at;
  };

  ScriptedWalsender(absl::Time* now, std::atomic<bool>* stop)
      : now_(now), stop_(stop) {}

  ScriptedWalsender& Message(std::string bytes) {
    steps_.push_back({std::move(bytes), absl::ZeroDuration(), {}, nullptr});
    return *this;
  }
  ScriptedWalsender& Quiet(absl::Duration elapsed) {
    steps_.push_back({std::nullopt, elapsed, {}, nullptr});
    return *this;
  }
  ScriptedWalsender& Fail(absl::Status error) {
    steps_.push_back({std::nullopt, absl::ZeroDuration(), error, nullptr});
    return *this;
  }
  // Attaches `action` to the step added last: it runs when that step is
  // read, before the clock moves.
  ScriptedWalsender& When(std::function<void()> action) {
    steps_.back().before = std::move(action);
    return *this;
  }

  absl::StatusOr<std::optional<absl::string_view>> Read(
      absl::Duration timeout) override {
    ++reads_;
    timeouts.push_back(timeout);
    if (steps_.empty()) {
      stop_->store(true);
      return std::nullopt;
    }
    current_ = std::move(steps_.front());
    steps_.pop_front();
    if (current_.before) current_.before();
    *now_ += current_.elapsed;
    if (!current_.error.ok()) return current_.error;
    if (!current_.message) return std::nullopt;
    return absl::string_view(*current_.message);
  }

  absl::Status SendStatus(uint64_t write, uint64_t flush,
                          bool reply_requested) override {
    EXPECT_FALSE(reply_requested);
    EXPECT_FALSE(finished);
    statuses.push_back({write, flush, reads_, *now_});
    return status_error;
  }

  absl::Status Finish(absl::Duration) override {
    finished = true;
    return absl::OkStatus();
  }

  int reads() const { return reads_; }

  std::vector<Status> statuses;
  std::vector<absl::Duration> timeouts;
  bool finished = false;
  absl::Status status_error;  // what SendStatus returns

 private:
  absl::Time* now_;
  std::atomic<bool>* stop_;
  std::deque<Step> steps_;
  Step current_;
  int reads_ = 0;
};

class ReplicationSessionTest : public ::testing::Test {
 protected:
  ReplicationSessionTest()
      : log_("test",
             [this](const std::string& line) { lines_.push_back(line); }),
        builder_("support", ContractRouting()),
        partitioned_(&sink_),
        acks_(kStartLsn),
        publisher_(&builder_, &partitioned_, &acks_,
                   {::testing::TempDir(), 1 << 20}),
        deliveries_(&sink_, &acks_,
                    metrics_.AddCounter("delivered_total", "test")),
        errors_(metrics_.AddCounter("errors_total", "test")),
        stream_(&now_, &stop_) {
    partitioned_.SetPartitionCount(kTopic, 2);
    options_.start_lsn = kStartLsn;
    options_.status_interval = absl::Seconds(1);
    options_.heartbeat_interval = absl::Seconds(10);
    options_.clock = [this] { return now_; };
    options_.emit_heartbeat = [this] {
      heartbeats_.push_back(now_);
      return heartbeat_result_;
    };
  }

  absl::Status RunSession() {
    ReplicationSession session(&stream_, &publisher_, &acks_, &sink_,
                               &deliveries_, &log_, &metrics_, errors_,
                               options_);
    return session.Run(stop_);
  }

  // A one-row transaction ending at `end_lsn`.
  void Transaction(uint64_t end_lsn, const std::string& id) {
    stream_.Message(XLogData(end_lsn, BeginMessage(end_lsn - 8, 7)))
        .Message(XLogData(end_lsn, InsertMessage(id)))
        .Message(XLogData(end_lsn, CommitMessage(end_lsn - 8, end_lsn)));
  }

  bool Logged(absl::string_view text) const {
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, text)) return true;
    }
    return false;
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::atomic<bool> stop_{false};
  std::vector<std::string> lines_;
  Logger log_;
  MetricsRegistry metrics_;
  EventBuilder builder_;
  kafka::FakeEventSink sink_;
  PartitionedSink partitioned_;
  AckTracker acks_;
  ReplicationPublisher publisher_;
  DeliveryReports deliveries_;
  Counter* errors_;
  ScriptedWalsender stream_;
  ReplicationSessionOptions options_;
  std::vector<absl::Time> heartbeats_;
  absl::Status heartbeat_result_;
};

TEST_F(ReplicationSessionTest, KeepaliveRequestingReplyIsAnsweredAtOnce) {
  options_.status_interval = absl::Hours(1);
  stream_
      .Quiet(absl::Milliseconds(100))  // read 1: the first status
      .Message(Keepalive(kStartLsn, /*reply_requested=*/false))  // read 2
      .Message(Keepalive(kStartLsn, /*reply_requested=*/true))   // read 3
      .Message(Keepalive(0x400, /*reply_requested=*/true));      // read 4
  ASSERT_TRUE(RunSession().ok());

  // The first housekeeping reports once. Nothing moved and the interval is
  // an hour, so only a request is answered, before the next read (no
  // housekeeping runs after a message), with the position it carried.
  ASSERT_EQ(stream_.statuses.size(), 4u);  // the last one: on stop
  EXPECT_EQ(stream_.statuses[0].after_read, 1);
  EXPECT_EQ(stream_.statuses[1].after_read, 3);
  EXPECT_EQ(stream_.statuses[2].after_read, 4);
  EXPECT_EQ(stream_.statuses[2].write, 0x400u);
  // Idle (nothing open, nothing in flight): the slot may move to it.
  EXPECT_EQ(stream_.statuses[2].flush, 0x400u);
}

TEST_F(ReplicationSessionTest, NoStatusMoreOftenThanTheIntervalUnlessForced) {
  for (int i = 0; i < 25; ++i) stream_.Quiet(absl::Milliseconds(100));
  stream_.Message(Keepalive(kStartLsn, /*reply_requested=*/true));
  ASSERT_TRUE(RunSession().ok());

  // 2.5 s of quiet reads, a housekeeping after each: one status at the
  // first, then one per full second; the requested reply comes on top, and
  // the final one on stop.
  std::vector<int> after_reads;
  for (const auto& status : stream_.statuses) {
    after_reads.push_back(status.after_read);
  }
  EXPECT_EQ(absl::StrJoin(after_reads, ","), "1,11,21,26,27")
      << "statuses after these reads";
  for (size_t i = 1; i + 2 < stream_.statuses.size(); ++i) {
    EXPECT_GE(stream_.statuses[i].at - stream_.statuses[i - 1].at,
              absl::Seconds(1));
  }
}

TEST_F(ReplicationSessionTest, StatusGoesOutEarlyWhenTheConfirmableLsnMoves) {
  options_.status_interval = absl::Hours(1);
  stream_.Quiet(absl::Milliseconds(100))
      .Message(Keepalive(0x300, /*reply_requested=*/false))
      .Quiet(absl::Milliseconds(100));
  ASSERT_TRUE(RunSession().ok());
  ASSERT_GE(stream_.statuses.size(), 2u);
  EXPECT_EQ(stream_.statuses[1].after_read, 3);
  EXPECT_EQ(stream_.statuses[1].flush, 0x300u);
}

TEST_F(ReplicationSessionTest,
       ConfirmedLsnNeverPassesAnUnacknowledgedTransaction) {
  sink_.HoldDeliveries(true);
  stream_.Message(XLogData(0, RelationMessage()));
  Transaction(0x200, "m1");
  stream_.Message(Keepalive(0x300, /*reply_requested=*/true))
      .Quiet(absl::Seconds(2))
      .Quiet(absl::Seconds(2))
      .When([this] { sink_.HoldDeliveries(false); })
      .Message(Keepalive(0x300, /*reply_requested=*/true));
  ASSERT_TRUE(RunSession().ok());

  ASSERT_EQ(sink_.produced().size(), 1u);
  ASSERT_GE(stream_.statuses.size(), 4u);
  // Held: the server's position is reported as written, never as flushed.
  EXPECT_EQ(stream_.statuses[0].write, 0x300u);
  EXPECT_EQ(stream_.statuses[0].flush, kStartLsn);
  EXPECT_EQ(stream_.statuses[1].flush, kStartLsn);
  // Acknowledged: the slot moves to the transaction's end, and, idle again,
  // to the next keepalive's position.
  EXPECT_EQ(stream_.statuses[2].flush, 0x200u);
  EXPECT_EQ(stream_.statuses[3].flush, 0x300u);
  // Records in flight shorten the wait for the next message.
  EXPECT_EQ(stream_.timeouts[5], absl::Milliseconds(5));
}

TEST_F(ReplicationSessionTest, KeepaliveInsideATransactionDoesNotMoveTheSlot) {
  stream_.Message(XLogData(0, RelationMessage()))
      .Message(XLogData(0x200, BeginMessage(0x1f8, 7)))
      .Message(Keepalive(0x300, /*reply_requested=*/true));
  ASSERT_TRUE(RunSession().ok());
  ASSERT_FALSE(stream_.statuses.empty());
  EXPECT_EQ(stream_.statuses[0].flush, kStartLsn);
  EXPECT_EQ(stream_.statuses.back().flush, kStartLsn);
}

TEST_F(ReplicationSessionTest, HeartbeatAfterTheIntervalOfIdlenessNotBefore) {
  stream_.Quiet(absl::Seconds(5))
      .Quiet(absl::Seconds(5))       // 10 s: not more than the interval
      .Quiet(absl::Milliseconds(1))  // past it: a heartbeat
      .Quiet(absl::Seconds(9))
      .Quiet(absl::Seconds(1))        // 10 s after the last: not yet
      .Quiet(absl::Milliseconds(1));  // a second one
  const absl::Time start = now_;
  ASSERT_TRUE(RunSession().ok());
  ASSERT_EQ(heartbeats_.size(), 2u);
  EXPECT_EQ(heartbeats_[0] - start, absl::Seconds(10) + absl::Milliseconds(1));
  EXPECT_EQ(heartbeats_[1] - start, absl::Seconds(20) + absl::Milliseconds(2));
}

TEST_F(ReplicationSessionTest, NoHeartbeatWhenTheIntervalIsZero) {
  options_.heartbeat_interval = absl::ZeroDuration();
  stream_.Quiet(absl::Hours(1)).Quiet(absl::Hours(1));
  ASSERT_TRUE(RunSession().ok());
  EXPECT_TRUE(heartbeats_.empty());
}

TEST_F(ReplicationSessionTest, HeartbeatMessageAdvancesAnIdleSlot) {
  options_.status_interval = absl::Hours(1);
  stream_.Quiet(absl::Milliseconds(100))
      .Message(XLogData(0x500, HeartbeatMessage(0x480)))
      .Quiet(absl::Milliseconds(100));
  ASSERT_TRUE(RunSession().ok());
  ASSERT_GE(stream_.statuses.size(), 2u);
  EXPECT_EQ(stream_.statuses[1].after_read, 3);
  EXPECT_EQ(stream_.statuses[1].flush, 0x480u);
  EXPECT_EQ(stream_.statuses[1].write, 0x500u);
}

TEST_F(ReplicationSessionTest,
       HeartbeatFailureIsLoggedUnlessTheConnectionIsGone) {
  heartbeat_result_ = absl::FailedPreconditionError("permission denied");
  stream_.Quiet(absl::Seconds(11)).Quiet(absl::Seconds(11));
  ASSERT_TRUE(RunSession().ok());
  EXPECT_EQ(heartbeats_.size(), 2u);
  EXPECT_TRUE(Logged("heartbeat failed"));

  heartbeat_result_ = absl::UnavailableError("server closed the connection");
  stop_ = false;
  stream_.finished = false;
  heartbeats_.clear();
  stream_.Quiet(absl::Seconds(11)).Quiet(absl::Seconds(11));
  absl::Status status = RunSession();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_EQ(heartbeats_.size(), 1u);
  EXPECT_TRUE(Logged("replication stream interrupted; reconnecting"));
}

TEST_F(ReplicationSessionTest,
       StopFlushesAndTheFinalStatusCarriesTheConfirmableLsn) {
  // Reported only after many polls: a plain poll on the way out would not
  // see them, the flush does.
  sink_.DelayDelivery(0, 1000);
  sink_.DelayDelivery(1, 1000);
  stream_.Message(XLogData(0, RelationMessage()));
  Transaction(0x200, "m1");
  Transaction(0x280, "m2");
  stream_.Quiet(absl::Milliseconds(5)).Quiet(absl::Milliseconds(5));
  ASSERT_TRUE(RunSession().ok());

  ASSERT_GE(stream_.statuses.size(), 2u);
  for (size_t i = 0; i + 1 < stream_.statuses.size(); ++i) {
    EXPECT_EQ(stream_.statuses[i].flush, kStartLsn);
  }
  EXPECT_EQ(acks_.confirmable_lsn(), 0x280u);
  EXPECT_EQ(stream_.statuses.back().flush, 0x280u);
  EXPECT_TRUE(stream_.finished);
  EXPECT_TRUE(Logged("msg=confirmed"));
  EXPECT_TRUE(Logged("lsn=0/280"));
}

TEST_F(ReplicationSessionTest, ALostConnectionIsUnavailableAndStillConfirms) {
  stream_.Message(XLogData(0, RelationMessage()));
  Transaction(0x200, "m1");
  stream_.Quiet(absl::Milliseconds(5))
      .Fail(absl::InternalError("socket closed"));
  absl::Status status = RunSession();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_EQ(errors_->Value(), 1u);
  EXPECT_EQ(stream_.statuses.back().flush, 0x200u);
  EXPECT_TRUE(Logged("replication stream interrupted; reconnecting"));
}

TEST_F(ReplicationSessionTest, AFailedStatusUpdateIsAlsoALostConnection) {
  stream_.status_error = absl::InternalError("broken pipe");
  stream_.Quiet(absl::Milliseconds(100));
  absl::Status status = RunSession();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_EQ(stream_.reads(), 1);
  EXPECT_TRUE(Logged("final confirmation not acknowledged"));
}

TEST_F(ReplicationSessionTest, AMalformedStreamStops) {
  stream_.Message("x-not-a-walsender-message");
  absl::Status status = RunSession();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_EQ(errors_->Value(), 1u);
  EXPECT_TRUE(Logged("msg=stopping"));
  EXPECT_TRUE(stream_.finished);  // what was confirmable is still confirmed
}

TEST_F(ReplicationSessionTest, AFailedDeliveryStopsWithoutConfirmingIt) {
  sink_.FailDelivery(0, absl::InvalidArgumentError("record too large"));
  stream_.Message(XLogData(0, RelationMessage()));
  Transaction(0x200, "m1");
  stream_.Quiet(absl::Milliseconds(5)).Quiet(absl::Milliseconds(5));
  absl::Status status = RunSession();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  for (const auto& sent : stream_.statuses) EXPECT_EQ(sent.flush, kStartLsn);
}

}  // namespace
}  // namespace enrich::cdc
