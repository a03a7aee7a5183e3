// Small string helpers every module uses.
//
// Debian's abseil 20220623 has its own absl::string_view (not an alias of
// std::string_view), so absl::StrCat & co. do not take std::string_view:
// Av() converts at the call site, Cat() concatenates anything fmt prints.
#ifndef QG_LIB_COMMON_STRINGS_H_
#define QG_LIB_COMMON_STRINGS_H_

#include <cctype>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

namespace qg {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Concatenates anything fmt can print (strings, string_views, numbers).
template <typename... A>
std::string Cat(const A&... a) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", a), ...);
  return out;
}

// `s` without ASCII whitespace at either end.
inline std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// An ASCII lower-cased copy of `s`.
inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// True when `s` is exactly one JSON number (RFC 8259: no leading zeros, no
// NaN/Infinity, no '+', digits after '.' and in the exponent).
inline bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digit = [&] { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  auto digits = [&] {
    const size_t start = i;
    while (digit()) ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// `name` as a quoted SQL identifier: wrapped in `quote` with every `quote`
// inside doubled ('"' for SQLite and standard SQL, '`' for MySQL/MariaDB).
inline std::string QuoteIdent(std::string_view name, char quote = '"') {
  std::string out(1, quote);
  for (char c : name) {
    if (c == quote) out += quote;
    out += c;
  }
  out += quote;
  return out;
}

// How much of a piece of input an error message quotes.
inline constexpr size_t kMaxQuotedBytes = 200;

// `s` as an error message may quote it: whole when it is at most `max`
// bytes, else its first `max` bytes (never cutting a UTF-8 sequence) then
// "…(N bytes)" with the total length, so a hostile 10 MB key costs an error
// ~200 bytes, not 10 MB.
inline std::string Clip(std::string_view s, size_t max = kMaxQuotedBytes) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("{}…({} bytes)", s.substr(0, cut), s.size());
}

}  // namespace qg

#endif  // QG_LIB_COMMON_STRINGS_H_
