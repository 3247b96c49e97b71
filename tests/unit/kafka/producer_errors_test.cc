// The classification is exhaustive by construction (a switch with no
// default); these tests pin the decisions the pipeline relies on.
#include "cdc/kafka/producer_errors.h"

#include <librdkafka/rdkafka.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::kafka {
namespace {

using ::testing::HasSubstr;

TEST(ProducerErrorsTest, Classes) {
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR_NO_ERROR),
            ProducerErrorClass::kNone);
  for (int code :
       {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT}) {
    EXPECT_EQ(ClassifyProducerError(code), ProducerErrorClass::kRetriable)
        << rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
  }
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR__QUEUE_FULL),
            ProducerErrorClass::kQueueFull);
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE),
            ProducerErrorClass::kRecordTooLarge);
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE),
            ProducerErrorClass::kRecordTooLarge);
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR_INVALID_RECORD),
            ProducerErrorClass::kInvalidRecord);
  for (int code :
       {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
        RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR}) {
    EXPECT_EQ(ClassifyProducerError(code), ProducerErrorClass::kConfiguration)
        << rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
  }
  for (int code : {RD_KAFKA_RESP_ERR__FATAL,
                   RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                   RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
                   RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH}) {
    EXPECT_EQ(ClassifyProducerError(code), ProducerErrorClass::kFatal)
        << rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
  }
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR__PURGE_QUEUE),
            ProducerErrorClass::kCancelled);
  EXPECT_EQ(ClassifyProducerError(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS),
            ProducerErrorClass::kUnexpected);
  EXPECT_EQ(ClassifyProducerError(123456), ProducerErrorClass::kUnexpected);
}

TEST(ProducerErrorsTest, EveryCodeHasAClassWithAConsistentStatus) {
  // Walk the whole range librdkafka 2.0.2 knows, including gaps.
  for (int code = RD_KAFKA_RESP_ERR__BEGIN; code < RD_KAFKA_RESP_ERR_END_ALL;
       ++code) {
    ProducerErrorClass error_class = ClassifyProducerError(code);
    absl::Status status = ProducerErrorToStatus(code, "ctx");
    EXPECT_EQ(status.code(), StatusCodeFor(error_class)) << code;
    EXPECT_EQ(status.ok(), code == RD_KAFKA_RESP_ERR_NO_ERROR) << code;
  }
}

TEST(ProducerErrorsTest, StatusCodesSayWhatToDo) {
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kRetriable),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kQueueFull),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kRecordTooLarge),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kConfiguration),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kFatal),
            absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCodeFor(ProducerErrorClass::kCancelled),
            absl::StatusCode::kCancelled);
}

TEST(ProducerErrorsTest, MessageNamesCodeAndClass) {
  absl::Status status = ProducerErrorToStatus(
      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "delivery to t partition 0");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("delivery to t partition 0: MSG_SIZE_TOO_LARGE (10)"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("[record_too_large]"));
  EXPECT_EQ(ProducerErrorName(RD_KAFKA_RESP_ERR__QUEUE_FULL), "_QUEUE_FULL");
}

}  // namespace
}  // namespace enrich::kafka
