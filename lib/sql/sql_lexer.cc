#include "sql/sql_lexer.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace qg::sql {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsIdentStart(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsWordChar(char c) {
  return IsIdentStart(c) || absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '$';
}
bool IsNameChar(char c) {  // placeholder and dollar-quote tag characters
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool IsOperatorChar(char c) {
  switch (c) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '<':
    case '>':
    case '=':
    case '~':
    case '!':
    case '@':
    case '#':
    case '%':
    case '^':
    case '&':
    case '|':
    case '?':
      return true;
    default:
      return false;
  }
}

absl::Status Unterminated(std::string_view what, size_t at) {
  return absl::InvalidArgumentError(
      absl::StrCat("unterminated ", Av(what), " starting at byte ", at));
}

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  absl::StatusOr<std::vector<Token>> Run() {
    size_t i = 0;
    const size_t n = s_.size();
    while (i < n) {
      const char c = s_[i];
      size_t j = i + 1;
      TokenKind kind = TokenKind::kPunct;
      if (IsSpace(c)) {
        while (j < n && IsSpace(s_[j])) ++j;
        kind = TokenKind::kSpace;
      } else if (c == '-' && At(i + 1) == '-') {
        while (j < n && s_[j] != '\n') ++j;
        kind = TokenKind::kComment;
      } else if (c == '/' && At(i + 1) == '*') {
        int depth = 1;
        j = i + 2;
        while (j < n && depth > 0) {
          if (s_[j] == '/' && At(j + 1) == '*') {
            ++depth;
            j += 2;
          } else if (s_[j] == '*' && At(j + 1) == '/') {
            --depth;
            j += 2;
          } else {
            ++j;
          }
        }
        if (depth > 0) return Unterminated("/* comment", i);
        kind = TokenKind::kComment;
      } else if (c == '\'') {
        auto end = QuotedEnd(i, '\'', /*backslash=*/false);
        if (!end.ok()) return end.status();
        j = *end;
        kind = TokenKind::kString;
      } else if (c == '"' || c == '`') {
        auto end = QuotedEnd(i, c, /*backslash=*/false);
        if (!end.ok()) return end.status();
        j = *end;
        kind = TokenKind::kQuotedIdent;
      } else if (c == '[' && BracketIsIdentifier(i)) {
        while (j < n && s_[j] != ']') ++j;
        if (j >= n) return Unterminated("[bracketed] identifier", i);
        ++j;
        kind = TokenKind::kQuotedIdent;
      } else if (c == '$') {
        if (absl::ascii_isdigit(static_cast<unsigned char>(At(i + 1)))) {
          while (j < n && absl::ascii_isdigit(static_cast<unsigned char>(s_[j]))) ++j;
          kind = TokenKind::kPositional;
        } else {
          size_t k = i + 1;
          if (k < n && (absl::ascii_isalpha(static_cast<unsigned char>(s_[k])) || s_[k] == '_')) {
            while (k < n && IsNameChar(s_[k])) ++k;
          }
          if (k < n && s_[k] == '$') {
            std::string_view tag = s_.substr(i, k - i + 1);
            size_t close = s_.find(tag, k + 1);
            if (close == std::string_view::npos) return Unterminated("dollar-quoted string", i);
            j = close + tag.size();
            kind = TokenKind::kString;
          }
        }
      } else if (c == ':') {
        if (At(i + 1) == ':') {
          while (j < n && s_[j] == ':') ++j;
          kind = TokenKind::kOperator;
        } else if ((absl::ascii_isalpha(static_cast<unsigned char>(At(i + 1))) ||
                    At(i + 1) == '_') &&
                   (i == 0 || s_[i - 1] != ':')) {
          j = i + 1;
          while (j < n && IsNameChar(s_[j])) ++j;
          kind = TokenKind::kPlaceholder;
        }
      } else if (IsIdentStart(c) || absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        while (j < n && IsWordChar(s_[j])) ++j;
        kind = TokenKind::kWord;
        if (j - i == 1 && (c == 'E' || c == 'e') && At(j) == '\'') {
          auto end = QuotedEnd(j, '\'', /*backslash=*/true);
          if (!end.ok()) return end.status();
          j = *end;
          kind = TokenKind::kString;
        }
      } else if (IsOperatorChar(c)) {
        // A run of operator characters, stopping before a comment start.
        while (j < n && IsOperatorChar(s_[j]) && !(s_[j] == '-' && At(j + 1) == '-') &&
               !(s_[j] == '/' && At(j + 1) == '*')) {
          ++j;
        }
        kind = TokenKind::kOperator;
      }
      tokens_.push_back(Token{kind, i, j});
      i = j;
    }
    return std::move(tokens_);
  }

 private:
  char At(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  // End (one past the closing quote) of a quoted run starting at `begin`; a
  // doubled quote is an escaped quote, and with `backslash` so is \x.
  absl::StatusOr<size_t> QuotedEnd(size_t begin, char quote, bool backslash) const {
    size_t j = begin + 1;
    while (j < s_.size()) {
      if (backslash && s_[j] == '\\') {
        j += 2;
        continue;
      }
      if (s_[j] == quote) {
        if (At(j + 1) == quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      ++j;
    }
    std::string_view what = quote == '\''  ? "string literal"
                            : quote == '"' ? "\"quoted\" identifier"
                                           : "`backquoted` identifier";
    return Unterminated(what, backslash ? begin - 1 : begin);
  }

  // `[` opens a SQL Server/SQLite bracketed identifier unless it is a
  // PostgreSQL array constructor (ARRAY[...]) or subscript (a[1], f(x)[1]).
  bool BracketIsIdentifier(size_t i) const {
    for (auto it = tokens_.rbegin(); it != tokens_.rend(); ++it) {
      if (!IsSignificant(*it)) continue;
      std::string_view text = s_.substr(it->begin, it->end - it->begin);
      if (it->kind == TokenKind::kWord && EqualsNoCase(text, "ARRAY")) return false;
      if (it->end != i) return true;  // not adjacent: a new operand
      if (it->kind == TokenKind::kWord || it->kind == TokenKind::kQuotedIdent) return false;
      if (it->kind == TokenKind::kPunct && (text == ")" || text == "]")) return false;
      return true;
    }
    return true;
  }

  std::string_view s_;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Lex(std::string_view sql) { return Lexer(sql).Run(); }

}  // namespace qg::sql
