// Internal: status helpers for the postgres provider.
//
// Debian's abseil has its own absl::string_view (not std::string_view), so
// this module formats with fmt and keeps absl's string functions away from
// std::string_view. Error macros come from common/status_macros.h.
#ifndef QG_LIB_PROVIDERS_POSTGRES_PG_STATUS_H_
#define QG_LIB_PROVIDERS_POSTGRES_PG_STATUS_H_

#include <cctype>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace qg::pg {

using qg::Cat;  // common/strings.h

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
