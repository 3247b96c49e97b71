// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Abseil 20220623 ships neither.
#ifndef ENRICH_CDC_COMMON_STATUS_MACROS_H_
#define ENRICH_CDC_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ENRICH_CONCAT_INNER_(a, b) a##b
#define ENRICH_CONCAT_(a, b) ENRICH_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status enrich_status_ = (expr);          \
    if (!enrich_status_.ok()) return enrich_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Foo()); declares/assigns x from a StatusOr or
// returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(ENRICH_CONCAT_(enrich_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // ENRICH_CDC_COMMON_STATUS_MACROS_H_
