// Internal: status helpers for the postgres provider.
//
// Debian's abseil has its own absl::string_view (not std::string_view), so
// this module formats with fmt and keeps absl's string functions away from
// std::string_view. The macros mirror common/status_macros.h.
#ifndef QG_LIB_PROVIDERS_POSTGRES_PG_STATUS_H_
#define QG_LIB_PROVIDERS_POSTGRES_PG_STATUS_H_

#include <cctype>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

#define PG_CONCAT_INNER_(a, b) a##b
#define PG_CONCAT_(a, b) PG_CONCAT_INNER_(a, b)

#define PG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status pg_status_ = (expr);      \
    if (!pg_status_.ok()) return pg_status_; \
  } while (0)

#define PG_ASSIGN_OR_RETURN(lhs, rexpr) \
  PG_ASSIGN_OR_RETURN_IMPL_(PG_CONCAT_(pg_statusor_, __LINE__), lhs, rexpr)
#define PG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(*tmp)

namespace qg::pg {

// `s` with `prefix` prepended to its message, same code.
inline absl::Status Prefixed(const absl::Status& s, std::string_view prefix) {
  if (s.ok()) return s;
  std::string msg(prefix);
  msg.append(s.message().data(), s.message().size());
  return absl::Status(s.code(), msg);
}

// Concatenates anything fmt can print (StrCat for std::string_view).
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", args), ...);
  return out;
}

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.starts_with(prefix);
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace qg::pg

#endif  // QG_LIB_PROVIDERS_POSTGRES_PG_STATUS_H_
