#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns early with the error of an expression that yields an absl::Status.
#define MAST_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status mast_status_ = (expr);        \
    if (!mast_status_.ok()) return mast_status_; \
  } while (false)

#define MAST_STATUS_CONCAT_INNER_(a, b) a##b
#define MAST_STATUS_CONCAT_(a, b) MAST_STATUS_CONCAT_INNER_(a, b)

// `MAST_ASSIGN_OR_RETURN(auto x, F());` assigns the value of an
// absl::StatusOr or returns its error.
#define MAST_ASSIGN_OR_RETURN(lhs, expr) \
  MAST_ASSIGN_OR_RETURN_IMPL_(MAST_STATUS_CONCAT_(mast_statusor_, __LINE__), lhs, expr)
#define MAST_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
