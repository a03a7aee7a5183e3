// Hostile graph documents: a NUL byte hidden in statement text, huge keys
// and values that errors would echo, a byte-order mark.
#include <catch2/catch.hpp>
#include <string>

#include "graph_test_util.h"
#include "qg/graph.h"

namespace qg {
namespace {

using testing::HasLine;
using testing::kSeedGraph;
using testing::MustParse;
using testing::ParseErrors;
using testing::ValidateErrors;

std::string SeedWithFirstQuery(std::string_view json_query) {
  std::string doc(kSeedGraph);
  const std::string old = "\"SELECT id, name, city FROM users WHERE city = :city\"";
  const size_t at = doc.find(old);
  REQUIRE(at != std::string::npos);
  doc.replace(at, old.size(), json_query);
  return doc;
}

TEST_CASE("a NUL byte in query_string is refused with its pointer", "[graph][hostile]") {
  // SQLite stops at the NUL: the second statement would vanish silently.
  const std::string doc = SeedWithFirstQuery(
      R"("SELECT id, name, city FROM users WHERE city = :city\u0000; DROP TABLE t")");
  CHECK_THAT(ParseErrors(doc),
             HasLine("/nodes/0/query_string: query_string contains a NUL byte (at byte 51)"));

  Graph g = MustParse(kSeedGraph);
  g.nodes[1].query_string += std::string("\0--", 3);
  CHECK_THAT(ValidateErrors(g), HasLine("/nodes/1/query_string: query_string contains a NUL "
                                        "byte (at byte " +
                                        std::to_string(g.nodes[1].query_string.size() - 3) + ")"));
}

// Every line of an error quotes at most ~200 bytes of the input.
void CheckBounded(const std::vector<std::string>& lines, size_t input_size) {
  REQUIRE_FALSE(lines.empty());
  for (const std::string& line : lines) {
    INFO(line.substr(0, 300));
    CHECK(line.size() < 1200);
  }
  // Built step by step: GCC 12 warns (-Wrestrict, a known false positive)
  // on "(" + std::to_string(n).
  std::string total = std::to_string(input_size);
  total.insert(total.begin(), '(');
  total += " bytes)";
  bool names_total = false;
  for (const std::string& line : lines) names_total |= line.find(total) != std::string::npos;
  CHECK(names_total);
}

TEST_CASE("errors quote at most ~200 bytes of a huge key or value", "[graph][hostile]") {
  const std::string big(10 << 20, 'k');
  ParseOptions opts;
  opts.limits.max_document_bytes = 64 << 20;

  // An unknown 10 MB key: once in the pointer, once in the message.
  std::string doc(kSeedGraph);
  doc.insert(1, "\"" + big + "\": 1,");
  CheckBounded(ParseErrors(doc, opts), big.size());

  // A 10 MB node_id that is duplicated and dotted, a 10 MB database_id that
  // is unknown, a 10 MB enum value.
  std::string id = big + ".x";
  doc = R"({"nodes": [{"node_id": ")" + id + R"(", "database_id": "db", "query_string": "SELECT 1"},
                      {"node_id": ")" +
        id + R"(", "database_id": ")" + big + R"(", "query_string": "SELECT 1", "mode": ")" + big +
        R"("}],
            "edges": [{"source_node": ")" +
        big + R"(", "target_node": "x"}]})";
  opts.known_sources = {{"db"}};
  const std::vector<std::string> lines = ParseErrors(doc, opts);
  CheckBounded(lines, big.size());
  CHECK(lines.size() >= 4);

  // A 10 MB mapping key and a 10 MB placeholder name.
  Graph g = MustParse(kSeedGraph);
  g.edges[0].mapping[0].first = big;
  g.nodes[0].query_string += " AND x = :" + big;
  opts = ParseOptions{};
  opts.limits.max_query_length = 64 << 20;
  CheckBounded(ValidateErrors(g, opts), big.size());
}

TEST_CASE("a UTF-8 byte-order mark is named, not reported as bad JSON", "[graph][hostile]") {
  const std::string doc = "\xEF\xBB\xBF" + std::string(kSeedGraph);
  CHECK(ParseErrors(doc) ==
        std::vector<std::string>{"/: the document starts with a UTF-8 byte-order mark (EF BB BF); "
                                 "save it without one"});
}

}  // namespace
}  // namespace qg
