// Which errors the processor retries. The codes come from the one
// classification of PostgreSQL errors both executables share
// (cdc/common/pg_error_class.h, ClassifyPgError) and from the Kafka
// adapters; they follow absl::Status's guidance, as everywhere in this
// project:
//   kAborted            retry the whole transaction
//   kUnavailable        reconnect and retry
//   anything else       stop, with the action for the code (processor/main.cc)
//
//   if (IsRetriable(status)) { back off, then retry the batch }
#ifndef ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_
#define ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_

#include "absl/status/status.h"

namespace enrich::processor {

// True for the codes a caller retries with backoff (kAborted, kUnavailable).
bool IsRetriable(const absl::Status& status);

}  // namespace enrich::processor

#endif  // ENRICH_PROCESSOR_CORE_DATABASE_ERRORS_H_
