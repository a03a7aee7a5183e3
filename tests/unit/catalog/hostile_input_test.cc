// Hostile catalog input: a NUL byte in a statement's text, huge names and
// keys that errors would echo, a byte-order mark.
#include <catch2/catch.hpp>
#include <string>

#include "qg/catalog.h"
#include "qg/catalog_statement.h"

namespace qg {
namespace {

using namespace std::string_literals;

std::string StatementError(std::string_view text) {
  auto r = ParseStatements(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

std::string JsonCatalogError(std::string_view json) {
  auto r = Catalog::FromJson(json);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST_CASE("a NUL byte in EXECUTE STATEMENT's text is refused where it is",
          "[catalog][statement][hostile]") {
  const std::string text = "EXECUTE STATEMENT 'SELECT 1\0; DROP TABLE t' ON EXTERNAL db"s;
  CHECK(StatementError(text) == "1:19: the string literal contains a NUL byte");
  // Any string literal: CONNECT strings and values reach C APIs too.
  CHECK(StatementError("DROP EXTERNAL DATA SOURCE \"a\0b\""s) ==
        "1:27: the quoted identifier contains a NUL byte");
}

void CheckBounded(const std::string& message, size_t input_size) {
  INFO(message.substr(0, 300));
  CHECK(message.size() < 1000);
  // Built step by step: GCC 12 warns (-Wrestrict, a known false positive)
  // on "(" + std::to_string(n).
  std::string total = std::to_string(input_size);
  total.insert(total.begin(), '(');
  total += " bytes)";
  CHECK(message.find(total) != std::string::npos);
}

TEST_CASE("catalog errors quote at most ~200 bytes of a huge name or key",
          "[catalog][statement][hostile]") {
  const std::string big(10 << 20, 'n');
  // Statements: an unexpected 10 MB word, a 10 MB quoted name that is
  // reserved-looking, a 10 MB option value.
  CheckBounded(StatementError("DROP EXTERNAL DATA SOURCE a " + big), big.size());
  CheckBounded(StatementError("CREATE EXTERNAL DATA SOURCE a PROVIDER p CONNECT '' OPTIONS "
                              "'pool_max=" +
                              big + "'"),
               big.size());
  CheckBounded(
      StatementError("EXECUTE STATEMENT 'x' (" + big + " := 1, " + big + " := 2) ON EXTERNAL db"),
      big.size());

  // ApplyStatement: a 10 MB source name that is unknown.
  Catalog catalog;
  auto drop = ParseStatement("DROP EXTERNAL DATA SOURCE " + big);
  REQUIRE(drop.ok());
  absl::Status s = ApplyStatement(*drop, &catalog);
  REQUIRE(s.code() == absl::StatusCode::kNotFound);
  CheckBounded(std::string(s.message()), big.size());

  // JSON: a 10 MB unknown key (pointer and message), a duplicate 10 MB name,
  // an unknown 10 MB source in a mapping.
  CheckBounded(JsonCatalogError("{\"" + big + "\": []}"), big.size());
  CheckBounded(JsonCatalogError(R"({"sources": [{"name": ")" + big +
                                R"(", "provider": "sqlite"}, {"name": ")" + big +
                                R"(", "provider": "sqlite"}]})"),
               big.size());
  CheckBounded(
      JsonCatalogError(R"({"user_mappings": [{"source": ")" + big + R"(", "for": "ALL"}]})"),
      big.size());
}

TEST_CASE("a UTF-8 byte-order mark is named in catalogs and statements",
          "[catalog][statement][hostile]") {
  CHECK(JsonCatalogError("\xEF\xBB\xBF{\"sources\": []}") ==
        "catalog: /: the document starts with a UTF-8 byte-order mark (EF BB BF); save it "
        "without one");
  CHECK(StatementError("\xEF\xBB\xBF"
                       "DROP EXTERNAL DATA SOURCE a") ==
        "1:1: the text starts with a UTF-8 byte-order mark (EF BB BF); save it without one");
}

// Found by tests/fuzz/catalog_statements_fuzz: an option key with bytes that
// are not UTF-8 went into the catalog, whose JSON (ToJson) then could not be
// loaded back. Statement text must be UTF-8, as a JSON catalog must.
TEST_CASE("statement text that is not UTF-8 is refused where it breaks",
          "[catalog][statement][hostile]") {
  CHECK(StatementError("DROP EXTERNAL DATA SOURCE \"a\xff\"") ==
        "1:29: the text is not valid UTF-8 (byte 0xff)");
  CHECK(StatementError("CREATE EXTERNAL DATA SOURCE x PROVIDER p CONNECT 'abc'\n"
                       "  OPTIONS 'po\xefj_min=10'") ==
        "2:14: the text is not valid UTF-8 (byte 0xef)");
  // Valid multi-byte text is fine, and the catalog's JSON loads back.
  auto stmts = ParseStatements(
      "CREATE EXTERNAL DATA SOURCE \"Données\" PROVIDER p CONNECT 'é' OPTIONS 'clé=✓'");
  REQUIRE(stmts.ok());
  Catalog catalog;
  REQUIRE(ApplyStatement((*stmts)[0].statement, &catalog).ok());
  auto again = Catalog::FromJson(catalog.ToJson());
  REQUIRE(again.ok());
  CHECK(again->ToJson() == catalog.ToJson());
}

}  // namespace
}  // namespace qg
