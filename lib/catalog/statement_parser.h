// Internal: the lexer behind qg/catalog_statement.h.
#ifndef QG_LIB_CATALOG_STATEMENT_PARSER_H_
#define QG_LIB_CATALOG_STATEMENT_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qg::catalog_internal {

struct Token {
  enum class Kind {
    kWord,        // unquoted identifier or keyword; text as written
    kQuotedWord,  // "quoted identifier"; text unescaped
    kString,      // 'string literal'; text unescaped
    kNumber,      // 12, 1.5, 2e10; text as written
    kPunct,       // ( ) , ; := - =
    kEnd,
  };
  Kind kind = Kind::kEnd;
  std::string text;
  int line = 1;
  int column = 1;
};

// Splits `text` into tokens ending with one kEnd. Errors start "L:C: ".
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text);

}  // namespace qg::catalog_internal

#endif  // QG_LIB_CATALOG_STATEMENT_PARSER_H_
