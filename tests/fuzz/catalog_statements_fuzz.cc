// libFuzzer target for the catalog statements (qg/catalog_statement.h): any
// text parses or fails with kInvalidArgument starting "L:C: " — never a
// crash, a hang or a sanitizer report; an error never quotes a string
// literal (one may be a password); parsed statements apply to a catalog
// without crashing and keep the catalog's JSON loadable.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/statement_parser.h"
#include "qg/catalog.h"
#include "qg/catalog_statement.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// "12:7: ..." — a position, then the message.
bool StartsWithPosition(std::string_view m) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < m.size() && std::isdigit(static_cast<unsigned char>(m[i]))) ++i;
    return i > start;
  };
  if (!digits() || i >= m.size() || m[i++] != ':') return false;
  if (!digits() || i + 1 >= m.size()) return false;
  return m[i] == ':' && m[i + 1] == ' ';
}

// Literals distinctive enough that no message could contain them by chance
// (our messages never hold these bytes).
bool Distinctive(std::string_view s) {
  if (s.size() < 8) return false;
  for (char c : s) {
    if (c == '#' || c == '@' || c == '%' || c == '~' || c == '^' || c == '|') return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = qg::ParseStatements(text);
  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string message(parsed.status().message());
    Check(StartsWithPosition(message));
    auto tokens = qg::catalog_internal::Tokenize(text);
    if (tokens.ok()) {
      for (const auto& t : *tokens) {
        if (t.kind != qg::catalog_internal::Token::Kind::kString || !Distinctive(t.text)) continue;
        bool elsewhere = false;  // the same bytes also written as another token
        for (const auto& o : *tokens) {
          elsewhere |= &o != &t && o.text.find(t.text) != std::string::npos;
        }
        if (!elsewhere) Check(message.find(t.text) == std::string::npos);
      }
    }
    return 0;
  }
  qg::Catalog catalog;
  for (const qg::ParsedStatement& s : *parsed) {
    Check(s.line >= 1 && s.column >= 1);
    Check(!qg::Summary(s.statement).empty());
    const absl::Status applied = qg::ApplyStatement(s.statement, &catalog);
    // EXECUTE STATEMENT is the engine's: refused here, never applied.
    if (!qg::IsCatalogChange(s.statement)) {
      Check(applied.code() == absl::StatusCode::kInvalidArgument);
    }
  }
  // Whatever the statements built, its JSON loads back to the same JSON.
  const std::string json = catalog.ToJson();
  auto again = qg::Catalog::FromJson(json);
  Check(again.ok());
  Check(again->ToJson() == json);
  return 0;
}
