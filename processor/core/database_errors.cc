#include "processor/core/database_errors.h"

namespace enrich::processor {

bool IsRetriable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted ||
         status.code() == absl::StatusCode::kUnavailable;
}

}  // namespace enrich::processor
