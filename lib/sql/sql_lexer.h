// Internal: a small SQL lexer shared by the placeholder tokenizer, the
// batched rewriter and SQL providers (docs/design.md §4).
//
// It knows exactly enough SQL to never mistake text inside a string literal,
// quoted identifier, comment or dollar quote for a placeholder, and to give
// the batched rewriter a token stream with parenthesis depth. It does not
// parse SQL.
#ifndef QG_LIB_SQL_SQL_LEXER_H_
#define QG_LIB_SQL_SQL_LEXER_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "common/strings.h"

namespace qg::sql {

enum class TokenKind {
  kSpace,        // whitespace
  kComment,      // -- ... or /* ... */ (nested)
  kWord,         // identifier, keyword or number
  kQuotedIdent,  // "x", `x`, [x]
  kString,       // 'x', E'x' (the E is part of the token), $tag$x$tag$
  kPlaceholder,  // :name
  kPositional,   // $1 (a native PostgreSQL placeholder)
  kOperator,     // a run of operator characters: = <> >= :: || ? ...
  kPunct,        // ( ) [ ] , ; . and anything else, one byte
};

struct Token {
  TokenKind kind;
  size_t begin;
  size_t end;  // one past the last byte
};

// Splits `sql` into tokens covering every byte. Fails with kInvalidArgument
// naming the byte offset of an unterminated string, identifier, comment or
// dollar quote.
absl::StatusOr<std::vector<Token>> Lex(std::string_view sql);

using qg::Av;  // common/strings.h

inline bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

inline bool IsSignificant(const Token& t) {
  return t.kind != TokenKind::kSpace && t.kind != TokenKind::kComment;
}

}  // namespace qg::sql

#endif  // QG_LIB_SQL_SQL_LEXER_H_
