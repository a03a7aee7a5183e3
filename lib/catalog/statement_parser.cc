// The lexer and parser of the RFC's catalog statements (qg/catalog_statement.h).
#include "catalog/statement_parser.h"

#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/json_writer.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "qg/catalog_statement.h"

namespace qg {
namespace catalog_internal {

namespace {

bool IsWordStart(unsigned char c) { return absl::ascii_isalpha(c) || c == '_' || c >= 0x80; }
bool IsWordChar(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> out;
    if (text_.starts_with("\xEF\xBB\xBF")) {
      return Error(Token{},
                   "the text starts with a UTF-8 byte-order mark (EF BB BF); save it "
                   "without one");
    }
    QG_RETURN_IF_ERROR(CheckUtf8());
    while (true) {
      QG_RETURN_IF_ERROR(SkipSpaceAndComments());
      Token t;
      t.line = line_;
      t.column = column_;
      if (pos_ >= text_.size()) {
        t.kind = Token::Kind::kEnd;
        out.push_back(std::move(t));
        return out;
      }
      const unsigned char c = text_[pos_];
      if (IsWordStart(c)) {
        t.kind = Token::Kind::kWord;
        while (pos_ < text_.size() && IsWordChar(text_[pos_])) t.text += Advance();
      } else if (c == '"' || c == '\'') {
        t.kind = c == '"' ? Token::Kind::kQuotedWord : Token::Kind::kString;
        Advance();
        bool closed = false;
        while (pos_ < text_.size()) {
          const char d = Advance();
          if (d == static_cast<char>(c)) {
            if (pos_ < text_.size() && text_[pos_] == static_cast<char>(c)) {
              t.text += Advance();
              continue;
            }
            closed = true;
            break;
          }
          t.text += d;
        }
        if (!closed) {
          return Error(t,
                       c == '"' ? "unterminated quoted identifier" : "unterminated string literal");
        }
        if (c == '"' && t.text.empty()) return Error(t, "empty quoted identifier");
        // Statement text, connection strings and names reach C APIs that
        // stop at a NUL: what follows it would be dropped without a word.
        if (t.text.find('\0') != std::string::npos) {
          return Error(t, c == '"' ? "the quoted identifier contains a NUL byte"
                                   : "the string literal contains a NUL byte");
        }
      } else if (absl::ascii_isdigit(c) ||
                 (c == '.' && pos_ + 1 < text_.size() && absl::ascii_isdigit(text_[pos_ + 1]))) {
        t.kind = Token::Kind::kNumber;
        Digits(t.text);
        if (pos_ < text_.size() && text_[pos_] == '.') {
          t.text += Advance();
          Digits(t.text);
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
          size_t k = pos_ + 1;
          if (k < text_.size() && (text_[k] == '+' || text_[k] == '-')) ++k;
          if (k < text_.size() && absl::ascii_isdigit(text_[k])) {
            while (pos_ < k) t.text += Advance();
            Digits(t.text);
          }
        }
        // "2PC", "12abc": one word, so the parser reports it whole.
        if (pos_ < text_.size() && IsWordChar(text_[pos_])) {
          t.kind = Token::Kind::kWord;
          while (pos_ < text_.size() && IsWordChar(text_[pos_])) t.text += Advance();
        }
      } else if (c == ':' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
        t.kind = Token::Kind::kPunct;
        t.text += Advance();
        t.text += Advance();
      } else if (c == '(' || c == ')' || c == ',' || c == ';' || c == '-' || c == '=') {
        t.kind = Token::Kind::kPunct;
        t.text += Advance();
      } else {
        return Error(t, c >= 0x20 && c < 0x7f
                            ? fmt::format("unexpected character '{}'", static_cast<char>(c))
                            : fmt::format("unexpected byte 0x{:02x}", c));
      }
      out.push_back(std::move(t));
    }
  }

 private:
  static absl::Status Error(const Token& at, std::string_view message) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", at.line, at.column, message));
  }

  // Statement text is UTF-8, as a JSON catalog is: names, options and
  // strings end up in the catalog's JSON. Refused at the first byte that
  // does not start a valid code point (each checked by IsValidUtf8).
  absl::Status CheckUtf8() const {
    int line = 1, column = 1;
    for (size_t i = 0; i < text_.size();) {
      const unsigned char c = text_[i];
      const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if (c >= 0x80 && (i + len > text_.size() || !IsValidUtf8(text_.substr(i, len)))) {
        Token at;
        at.line = line;
        at.column = column;
        return Error(at, fmt::format("the text is not valid UTF-8 (byte 0x{:02x})", c));
      }
      if (c == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
      i += len;
    }
    return absl::OkStatus();
  }

  // Columns count characters (UTF-8 code points), not bytes.
  char Advance() {
    const char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column_;
    }
    return c;
  }

  void Digits(std::string& out) {
    while (pos_ < text_.size() && absl::ascii_isdigit(text_[pos_])) out += Advance();
  }

  absl::Status SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        Advance();
      } else if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '-') {
        while (pos_ < text_.size() && text_[pos_] != '\n') Advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        Token start;
        start.line = line_;
        start.column = column_;
        Advance();
        Advance();
        bool closed = false;
        while (pos_ < text_.size()) {
          if (text_[pos_] == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
            Advance();
            Advance();
            closed = true;
            break;
          }
          Advance();
        }
        if (!closed) return Error(start, "unterminated comment");
      } else {
        break;
      }
    }
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text) { return Lexer(text).Run(); }

}  // namespace catalog_internal

namespace {

using catalog_internal::Token;

constexpr std::string_view kCurrentUser = "CURRENT_USER";
constexpr std::string_view kAll = "ALL";

std::string ScopeText(UserMapping::Scope scope, std::string_view local_user) {
  switch (scope) {
    case UserMapping::Scope::kUser:
      return std::string(local_user);
    case UserMapping::Scope::kCurrentUser:
      return std::string(kCurrentUser);
    case UserMapping::Scope::kAll:
      return std::string(kAll);
  }
  return {};
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool SkipSemicolons() {
    bool any = false;
    while (IsPunct(Peek(), ";")) {
      ++i_;
      any = true;
    }
    return any;
  }
  const Token& Peek() const { return tokens_[i_]; }

  absl::StatusOr<CatalogStatement> Statement() {
    const Token& t = Peek();
    absl::StatusOr<CatalogStatement> s;
    if (IsKeyword(t, "CREATE") || IsKeyword(t, "ALTER")) {
      const bool alter = IsKeyword(t, "ALTER");
      ++i_;
      QG_RETURN_IF_ERROR(Expect("EXTERNAL"));
      if (IsKeyword(Peek(), "DATA")) {
        ++i_;
        QG_RETURN_IF_ERROR(Expect("SOURCE"));
        s = CreateSource(alter);
      } else if (IsKeyword(Peek(), "USER")) {
        ++i_;
        s = SetMapping(alter);
      } else {
        return Unexpected("DATA SOURCE or USER");
      }
    } else if (IsKeyword(t, "DROP")) {
      ++i_;
      QG_RETURN_IF_ERROR(Expect("EXTERNAL"));
      if (IsKeyword(Peek(), "DATA")) {
        ++i_;
        QG_RETURN_IF_ERROR(Expect("SOURCE"));
        DropSourceStatement d;
        QG_ASSIGN_OR_RETURN(d.name, Identifier("a data source name"));
        s = CatalogStatement(std::move(d));
      } else if (IsKeyword(Peek(), "USER")) {
        ++i_;
        s = DropMapping();
      } else {
        return Unexpected("DATA SOURCE or USER");
      }
    } else if (IsKeyword(t, "EXECUTE")) {
      ++i_;
      QG_RETURN_IF_ERROR(Expect("STATEMENT"));
      s = PassThrough();
    } else {
      return Unexpected("CREATE, ALTER, DROP or EXECUTE");
    }
    if (!s.ok()) return s.status();
    if (!AtEnd() && !IsPunct(Peek(), ";")) return Unexpected("';' or the end of the text");
    return s;
  }

 private:
  static bool IsKeyword(const Token& t, std::string_view kw) {
    return t.kind == Token::Kind::kWord && absl::EqualsIgnoreCase(Av(t.text), Av(kw));
  }
  static bool IsPunct(const Token& t, std::string_view p) {
    return t.kind == Token::Kind::kPunct && t.text == p;
  }

  static absl::Status ErrorAt(const Token& t, std::string_view message) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", t.line, t.column, message));
  }

  // How a token is shown in an error. String literals are never quoted: one
  // may be a password.
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kWord:
      case Token::Kind::kNumber:
      case Token::Kind::kPunct:
        return fmt::format("'{}'", Clip(t.text));
      case Token::Kind::kQuotedWord:
        return fmt::format("\"{}\"", Clip(t.text));
      case Token::Kind::kString:
        return "a string literal";
      case Token::Kind::kEnd:
        return "the end of the text";
    }
    return "?";
  }

  absl::Status Unexpected(std::string_view expected) const {
    return ErrorAt(Peek(), fmt::format("expected {}, found {}", expected, Describe(Peek())));
  }

  absl::Status Expect(std::string_view keyword) {
    if (!IsKeyword(Peek(), keyword)) return Unexpected(keyword);
    ++i_;
    return absl::OkStatus();
  }

  // SQL identifier rules: unquoted folds to lower case, quoted keeps case.
  absl::StatusOr<std::string> Identifier(std::string_view what) {
    const Token& t = Peek();
    if (t.kind == Token::Kind::kWord && !absl::ascii_isdigit(t.text[0])) {
      ++i_;
      std::string s = t.text;
      for (char& c : s) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      return s;
    }
    if (t.kind == Token::Kind::kQuotedWord) {
      ++i_;
      return t.text;
    }
    return Unexpected(what);
  }

  absl::StatusOr<std::string> String(std::string_view what) {
    const Token& t = Peek();
    if (t.kind != Token::Kind::kString) return Unexpected(fmt::format("{} (a '…' string)", what));
    ++i_;
    return t.text;
  }

  // After PASSWORD. The token found is never shown: an unquoted password
  // would be it.
  absl::StatusOr<Secret> Password() {
    const Token& t = Peek();
    if (t.kind == Token::Kind::kString) {
      ++i_;
      return Secret::Literal(t.text);
    }
    const bool env = IsKeyword(t, "ENV");
    if (env || IsKeyword(t, "FILE")) {
      ++i_;
      const Token& ref = Peek();
      QG_ASSIGN_OR_RETURN(std::string r,
                          String(env ? "an environment variable name" : "a file path"));
      if (r.empty()) {
        return ErrorAt(ref, env ? "empty environment variable name" : "empty file path");
      }
      return env ? Secret::Env(std::move(r)) : Secret::File(std::move(r));
    }
    return ErrorAt(t, "expected a '…' string, ENV '<name>' or FILE '<path>' after PASSWORD");
  }

  absl::Status Options(SourceConfig* source) {
    const Token& at = Peek();
    QG_ASSIGN_OR_RETURN(std::string text, String("the options"));
    std::vector<std::pair<std::string, std::string>> items;
    std::set<std::string> seen;
    size_t n = 0;
    for (std::string_view rest = text; !rest.empty();) {
      const size_t semi = rest.find(';');
      std::string_view item = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      ++n;
      const absl::string_view trimmed = absl::StripAsciiWhitespace(Av(item));
      if (trimmed.empty()) continue;
      const size_t eq = trimmed.find('=');
      if (eq == absl::string_view::npos) {
        return ErrorAt(at, fmt::format("OPTIONS: item {} is not key=value", n));
      }
      std::string key(absl::StripAsciiWhitespace(trimmed.substr(0, eq)));
      std::string value(absl::StripAsciiWhitespace(trimmed.substr(eq + 1)));
      if (key.empty()) return ErrorAt(at, fmt::format("OPTIONS: item {} has no key", n));
      if (!seen.insert(key).second) {
        return ErrorAt(at, fmt::format("OPTIONS: duplicate key {}", Clip(key)));
      }
      items.emplace_back(std::move(key), std::move(value));
    }
    absl::Status st = ApplySourceOptions(items, source);
    if (!st.ok()) {
      return ErrorAt(at, fmt::format("OPTIONS: {}",
                                     std::string_view(st.message().data(), st.message().size())));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CatalogStatement> CreateSource(bool alter) {
    CreateSourceStatement c;
    c.alter = alter;
    SourceConfig& s = c.source;
    QG_ASSIGN_OR_RETURN(s.name, Identifier("a data source name"));
    QG_RETURN_IF_ERROR(Expect("PROVIDER"));
    QG_ASSIGN_OR_RETURN(s.provider, Identifier("a provider name"));
    QG_RETURN_IF_ERROR(Expect("CONNECT"));
    const Token& connect_at = Peek();
    QG_ASSIGN_OR_RETURN(s.connect, String("the connection string"));
    if (absl::Status st = CheckConnectCredentials(s.connect); !st.ok()) {
      return ErrorAt(connect_at,
                     fmt::format("data source {}: {}", Clip(s.name),
                                 std::string_view(st.message().data(), st.message().size())));
    }
    if (IsKeyword(Peek(), "AS")) {
      ++i_;
      if (IsKeyword(Peek(), "USER")) {
        ++i_;
        QG_ASSIGN_OR_RETURN(s.user, String("the external user name"));
        if (IsKeyword(Peek(), "PASSWORD")) {
          ++i_;
          QG_ASSIGN_OR_RETURN(s.password, Password());
        }
      } else if (IsKeyword(Peek(), kCurrentUser)) {
        ++i_;
        s.user_is_current = true;
      } else {
        return Unexpected("USER or CURRENT_USER");
      }
    }
    if (IsKeyword(Peek(), "OPTIONS")) {
      ++i_;
      QG_RETURN_IF_ERROR(Options(&s));
    }
    return CatalogStatement(std::move(c));
  }

  absl::Status Scope(UserMapping::Scope* scope, std::string* local_user) {
    QG_RETURN_IF_ERROR(Expect("FOR"));
    const Token& t = Peek();
    if (IsKeyword(t, kCurrentUser)) {
      ++i_;
      *scope = UserMapping::Scope::kCurrentUser;
    } else if (IsKeyword(t, kAll)) {
      ++i_;
      *scope = UserMapping::Scope::kAll;
    } else {
      QG_ASSIGN_OR_RETURN(*local_user, Identifier("a local user name, CURRENT_USER or ALL"));
      if (t.kind == Token::Kind::kQuotedWord && (t.text == kAll || t.text == kCurrentUser)) {
        return ErrorAt(t,
                       fmt::format("\"{}\" is reserved: write {} without quotes", t.text, t.text));
      }
      *scope = UserMapping::Scope::kUser;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CatalogStatement> SetMapping(bool alter) {
    SetMappingStatement c;
    c.alter = alter;
    UserMapping& m = c.mapping;
    QG_RETURN_IF_ERROR(Expect("ON"));
    QG_ASSIGN_OR_RETURN(m.source, Identifier("a data source name"));
    QG_RETURN_IF_ERROR(Expect("AS"));
    if (IsKeyword(Peek(), kCurrentUser)) {
      ++i_;
      m.user_is_current = true;
    } else {
      if (IsKeyword(Peek(), "USER")) ++i_;  // AS USER '…', as in CREATE EXTERNAL DATA SOURCE
      if (Peek().kind != Token::Kind::kString) {
        return Unexpected("the external user name (a '…' string) or CURRENT_USER");
      }
      QG_ASSIGN_OR_RETURN(m.user, String("the external user name"));
      if (IsKeyword(Peek(), "PASSWORD")) {
        ++i_;
        QG_ASSIGN_OR_RETURN(m.password, Password());
      }
    }
    QG_RETURN_IF_ERROR(Scope(&m.scope, &m.local_user));
    return CatalogStatement(std::move(c));
  }

  absl::StatusOr<CatalogStatement> DropMapping() {
    DropMappingStatement d;
    QG_RETURN_IF_ERROR(Expect("ON"));
    QG_ASSIGN_OR_RETURN(d.source, Identifier("a data source name"));
    QG_RETURN_IF_ERROR(Scope(&d.scope, &d.local_user));
    return CatalogStatement(std::move(d));
  }

  absl::StatusOr<Value> ParamValue(const std::string& name) {
    const Token& t = Peek();
    bool negative = false;
    if (IsPunct(t, "-") && tokens_[i_ + 1].kind == Token::Kind::kNumber) {
      negative = true;
      ++i_;
    }
    const Token& v = Peek();
    if (v.kind == Token::Kind::kNumber) {
      ++i_;
      std::string text = negative ? "-" : "";
      if (v.text[0] == '.') text += '0';
      text += v.text;
      if (text.find_first_of(".eE") == std::string::npos) {
        int64_t n = 0;
        if (absl::SimpleAtoi(Av(text), &n)) return Value::Int(n);
      }
      return Value::Decimal(std::move(text));
    }
    if (v.kind == Token::Kind::kString) {
      ++i_;
      return Value::String(v.text);
    }
    if (IsKeyword(v, "NULL")) {
      ++i_;
      return Value::Null();
    }
    if (IsKeyword(v, "TRUE") || IsKeyword(v, "FALSE")) {
      ++i_;
      return Value::Bool(IsKeyword(v, "TRUE"));
    }
    return Unexpected(
        fmt::format("a value (string, number, NULL, TRUE or FALSE) for parameter {}", Clip(name)));
  }

  absl::StatusOr<CatalogStatement> PassThrough() {
    PassThroughStatement e;
    QG_ASSIGN_OR_RETURN(e.sql, String("the statement text"));
    if (e.sql.empty()) return ErrorAt(tokens_[i_ - 1], "empty statement text");
    if (IsPunct(Peek(), "(")) {
      ++i_;
      std::set<std::string> seen;
      while (true) {
        const Token& n = Peek();
        if (n.kind != Token::Kind::kWord && n.kind != Token::Kind::kQuotedWord) {
          return Unexpected("a parameter name");
        }
        ++i_;
        if (!seen.insert(n.text).second) {
          return ErrorAt(n, fmt::format("duplicate parameter {}", Clip(n.text)));
        }
        if (!IsPunct(Peek(), ":=")) return Unexpected("':='");
        ++i_;
        QG_ASSIGN_OR_RETURN(Value v, ParamValue(n.text));
        e.params.emplace_back(n.text, std::move(v));
        if (IsPunct(Peek(), ",")) {
          ++i_;
          continue;
        }
        if (IsPunct(Peek(), ")")) {
          ++i_;
          break;
        }
        return Unexpected("',' or ')'");
      }
    }
    QG_RETURN_IF_ERROR(Expect("ON"));
    QG_RETURN_IF_ERROR(Expect("EXTERNAL"));
    if (IsKeyword(Peek(), "DATA")) {
      ++i_;
      QG_RETURN_IF_ERROR(Expect("SOURCE"));
    }
    QG_ASSIGN_OR_RETURN(e.source, Identifier("a data source name"));
    if (IsKeyword(Peek(), "WITHIN")) {
      ++i_;
      if (IsKeyword(Peek(), "AUTONOMOUS")) {
        ++i_;
        e.transaction = TransactionMode::kAutonomous;
      } else if (IsKeyword(Peek(), "COMMON")) {
        ++i_;
        e.transaction = TransactionMode::kCommon;
        if (IsKeyword(Peek(), "2PC")) {
          ++i_;
          e.transaction = TransactionMode::kTwoPhase;
        }
      } else if (IsKeyword(Peek(), "TRANSACTION")) {
        e.transaction = TransactionMode::kCommon;  // the RFC's bare WITHIN TRANSACTION
      } else {
        return Unexpected("AUTONOMOUS, COMMON or TRANSACTION");
      }
      QG_RETURN_IF_ERROR(Expect("TRANSACTION"));
    }
    return CatalogStatement(std::move(e));
  }

  std::vector<Token> tokens_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<ParsedStatement>> ParseStatements(std::string_view text) {
  QG_ASSIGN_OR_RETURN(std::vector<Token> tokens, catalog_internal::Tokenize(text));
  Parser p(std::move(tokens));
  std::vector<ParsedStatement> out;
  p.SkipSemicolons();
  while (!p.AtEnd()) {
    ParsedStatement s;
    s.line = p.Peek().line;
    s.column = p.Peek().column;
    QG_ASSIGN_OR_RETURN(s.statement, p.Statement());
    out.push_back(std::move(s));
    p.SkipSemicolons();
  }
  return out;
}

absl::StatusOr<CatalogStatement> ParseStatement(std::string_view text) {
  QG_ASSIGN_OR_RETURN(std::vector<ParsedStatement> all, ParseStatements(text));
  if (all.empty()) return absl::InvalidArgumentError("1:1: expected a statement, found nothing");
  if (all.size() > 1) {
    return absl::InvalidArgumentError(fmt::format(
        "{}:{}: expected one statement, found a second one", all[1].line, all[1].column));
  }
  return std::move(all[0].statement);
}

bool IsCatalogChange(const CatalogStatement& statement) {
  return !std::holds_alternative<PassThroughStatement>(statement);
}

namespace {

bool HasMapping(const Catalog& catalog, const UserMapping& m) {
  for (const UserMapping& o : catalog.mappings()) {
    if (o.source == m.source && o.scope == m.scope &&
        (m.scope != UserMapping::Scope::kUser || o.local_user == m.local_user)) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status ApplyStatement(const CatalogStatement& statement, Catalog* catalog) {
  if (const auto* c = std::get_if<CreateSourceStatement>(&statement)) {
    return c->alter ? catalog->ReplaceSource(c->source) : catalog->AddSource(c->source);
  }
  if (const auto* d = std::get_if<DropSourceStatement>(&statement)) {
    return catalog->DropSource(d->name);
  }
  if (const auto* m = std::get_if<SetMappingStatement>(&statement)) {
    const UserMapping& um = m->mapping;
    if (catalog->FindSource(um.source) == nullptr) {
      return absl::NotFoundError(fmt::format("unknown data source {}", Clip(um.source)));
    }
    const bool exists = HasMapping(*catalog, um);
    const std::string who = Clip(ScopeText(um.scope, um.local_user));
    if (m->alter && !exists) {
      return absl::NotFoundError(
          fmt::format("no user mapping for {} on data source {}", who, Clip(um.source)));
    }
    if (!m->alter && exists) {
      return absl::AlreadyExistsError(fmt::format(
          "a user mapping for {} on data source {} already exists", who, Clip(um.source)));
    }
    return catalog->SetMapping(um);
  }
  if (const auto* d = std::get_if<DropMappingStatement>(&statement)) {
    return catalog->DropMapping(d->source, d->scope, d->local_user);
  }
  return absl::InvalidArgumentError(
      "EXECUTE STATEMENT is run by the engine, not applied to a catalog");
}

std::string Summary(const CatalogStatement& statement) {
  if (const auto* c = std::get_if<CreateSourceStatement>(&statement)) {
    return fmt::format("{} EXTERNAL DATA SOURCE {}", c->alter ? "ALTER" : "CREATE", c->source.name);
  }
  if (const auto* d = std::get_if<DropSourceStatement>(&statement)) {
    return fmt::format("DROP EXTERNAL DATA SOURCE {}", d->name);
  }
  if (const auto* m = std::get_if<SetMappingStatement>(&statement)) {
    return fmt::format("{} EXTERNAL USER ON {} FOR {}", m->alter ? "ALTER" : "CREATE",
                       m->mapping.source, ScopeText(m->mapping.scope, m->mapping.local_user));
  }
  if (const auto* d = std::get_if<DropMappingStatement>(&statement)) {
    return fmt::format("DROP EXTERNAL USER ON {} FOR {}", d->source,
                       ScopeText(d->scope, d->local_user));
  }
  const auto& e = std::get<PassThroughStatement>(statement);
  return fmt::format("EXECUTE STATEMENT ON EXTERNAL DATA SOURCE {}", e.source);
}

}  // namespace qg
