// Helpers shared by the graph unit tests.
#ifndef QG_TESTS_UNIT_GRAPH_GRAPH_TEST_UTIL_H_
#define QG_TESTS_UNIT_GRAPH_GRAPH_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "qg/graph.h"

namespace qg::testing {

// The example from seeds/000_bee497f83ac07a5a.txt, verbatim.
inline constexpr std::string_view kSeedGraph = R"json({
  "nodes": [
    {
      "node_id": "user_data",
      "database_id": "db_users",
      "query_string": "SELECT id, name, city FROM users WHERE city = :city",
      "input_parameters": ["city"],
      "output_fields": ["id", "name", "city"]
    },
    {
      "node_id": "order_data",
      "database_id": "db_orders",
      "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
      "input_parameters": ["user_id"],
      "output_fields": ["order_id", "user_id", "amount"]
    }
  ],
  "edges": [
    {
      "source_node": "user_data",
      "target_node": "order_data",
      "input_mapping": { "user_data.id": "order_data.user_id" }
    }
  ]
})json";

// The message lines of a failed parse; fails the test if it succeeded or the
// code is not kInvalidArgument.
inline std::vector<std::string> ParseErrors(std::string_view json,
                                            const ParseOptions& options = {}) {
  absl::StatusOr<Graph> g = ParseGraph(json, options);
  REQUIRE_FALSE(g.ok());
  REQUIRE(g.status().code() == absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(g.status().message(), '\n');
}

inline std::vector<std::string> ValidateErrors(const Graph& graph,
                                               const ParseOptions& options = {}) {
  absl::Status s = ValidateGraph(graph, options);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(s.message(), '\n');
}

// Parses a graph that must be valid.
inline Graph MustParse(std::string_view json, const ParseOptions& options = {}) {
  absl::StatusOr<Graph> g = ParseGraph(json, options);
  INFO(g.status().message());
  REQUIRE(g.ok());
  return *std::move(g);
}

inline auto HasLine(std::string line) { return Catch::VectorContains(std::move(line)); }

}  // namespace qg::testing

#endif  // QG_TESTS_UNIT_GRAPH_GRAPH_TEST_UTIL_H_
