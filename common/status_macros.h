// Status propagation macros. Abseil 20220623 (Debian bookworm) ships neither
// absl/log nor ABSL_RETURN_IF_ERROR, so the suite defines its own two here.
#ifndef OKR_COMMON_STATUS_MACROS_H_
#define OKR_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OKR_STATUS_CONCAT_INNER_(a, b) a##b
#define OKR_STATUS_CONCAT_(a, b) OKR_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define OKR_RETURN_IF_ERROR(expr)                    \
  do {                                               \
    ::absl::Status okr_status_ = (expr);             \
    if (!okr_status_.ok()) return okr_status_;       \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration).
#define OKR_ASSIGN_OR_RETURN(lhs, rexpr) \
  OKR_ASSIGN_OR_RETURN_IMPL_(OKR_STATUS_CONCAT_(okr_statusor_, __LINE__), lhs, rexpr)

#define OKR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // OKR_COMMON_STATUS_MACROS_H_
