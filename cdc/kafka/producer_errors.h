// What to do about a librdkafka error code, decided in one place.
//
// Codes are librdkafka's rd_kafka_resp_err_t values passed as int, so this
// header does not include rdkafka.h. ClassifyProducerError() is one
// exhaustive switch over every code librdkafka 2.0.2 defines (no default:
// the compiler names any code a newer librdkafka adds); codes it does not know
// are kUnexpected.
//
// Each class maps to the absl::StatusCode that tells the caller what to do:
//
//   class            status code          what the caller does
//   kNone            OK
//   kRetriable       UNAVAILABLE          transient broker/network trouble:
//                                         retry later (for a failed delivery:
//                                         re-send from the last confirmed
//                                         position; never skip the record)
//   kQueueFull       UNAVAILABLE          local queue full: Poll(), then retry
//   kRecordTooLarge  INVALID_ARGUMENT     this record exceeds a size limit and
//                                         never will fit: stop and tell the
//                                         operator (raise message.max.bytes /
//                                         the topic's max.message.bytes)
//   kInvalidRecord   INVALID_ARGUMENT     the broker/client rejects this record
//                                         as such: stop and tell the operator
//   kConfiguration   FAILED_PRECONDITION  missing topic or partition, ACLs,
//                                         authentication, unsupported broker
//                                         feature: stop and tell the operator
//   kFatal           INTERNAL             the producer instance is terminal
//                                         (idempotence guarantees broken,
//                                         fenced): stop without confirming
//                                         anything undelivered; a restart
//                                         resumes from the last confirmed point
//   kCancelled       CANCELLED            purged or destroyed at shutdown: not
//                                         delivered, not an error of its own
//   kUnexpected      INTERNAL             a code a producer should never see
//                                         (consumer-group, admin-only): stop
#ifndef ENRICH_CDC_KAFKA_PRODUCER_ERRORS_H_
#define ENRICH_CDC_KAFKA_PRODUCER_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace enrich::kafka {

enum class ProducerErrorClass {
  kNone,
  kRetriable,
  kQueueFull,
  kRecordTooLarge,
  kInvalidRecord,
  kConfiguration,
  kFatal,
  kCancelled,
  kUnexpected,
};

// `code` is an rd_kafka_resp_err_t value.
ProducerErrorClass ClassifyProducerError(int code);

absl::StatusCode StatusCodeFor(ProducerErrorClass error_class);

// "retriable", "queue_full", ... (stable: used as a metrics label value).
absl::string_view ProducerErrorClassName(ProducerErrorClass error_class);

// librdkafka's symbolic name without the prefix, e.g. "MSG_SIZE_TOO_LARGE",
// "_QUEUE_FULL".
std::string ProducerErrorName(int code);

// A status with the class's code and the message
// "<context>: <NAME> (<code>): <librdkafka description> [<class>]".
// OK for code 0 (NO_ERROR).
absl::Status ProducerErrorToStatus(int code, absl::string_view context);

}  // namespace enrich::kafka

#endif  // ENRICH_CDC_KAFKA_PRODUCER_ERRORS_H_
