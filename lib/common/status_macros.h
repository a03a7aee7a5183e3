// Internal: early-return helpers for absl::Status / absl::StatusOr (abseil
// 20220623 ships none).
#ifndef QG_LIB_COMMON_STATUS_MACROS_H_
#define QG_LIB_COMMON_STATUS_MACROS_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/strings.h"

#define QG_STATUS_CONCAT_INNER_(a, b) a##b
#define QG_STATUS_CONCAT_(a, b) QG_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define QG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status qg_status_ = (expr);      \
    if (!qg_status_.ok()) return qg_status_; \
  } while (0)

// QG_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define QG_ASSIGN_OR_RETURN(lhs, rexpr) \
  QG_ASSIGN_OR_RETURN_IMPL_(QG_STATUS_CONCAT_(qg_statusor_, __LINE__), lhs, rexpr)
#define QG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(*tmp)

namespace qg {

// Returns `s` with `prefix` prepended to its message, same code.
inline absl::Status Annotate(const absl::Status& s, std::string_view prefix) {
  if (s.ok()) return s;
  std::string msg(prefix);
  msg.append(s.message().data(), s.message().size());
  return absl::Status(s.code(), msg);
}

}  // namespace qg

#endif  // QG_LIB_COMMON_STATUS_MACROS_H_
