// QGDL extensions (docs/design.md §3) and the configurable limits.
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

TEST_CASE("top-level extensions", "[graph]") {
  Graph g = MustParse(R"({
    "nodes": [{"node_id": "n", "database_id": "d", "query_string": "SELECT :s",
               "input_parameters": ["s"]}],
    "params": {"s": "Paris", "i": -42, "f": 2.5, "big": 18446744073709551615, "t": true,
               "z": null, "arr": [1, "two", {"k": []}], "obj": {"a": 1}},
    "transaction": "2pc",
    "timeout_ms": 1500,
    "output": {"shape": "nested", "format": "ndjson", "max_rows": 10, "max_bytes": 0}
  })");
  REQUIRE(g.params.size() == 8);
  CHECK(g.params[0] == std::make_pair(std::string("s"), Value::String("Paris")));
  CHECK(g.params[1].second == Value::Int(-42));
  CHECK(g.params[2].second == Value::Double(2.5));
  CHECK(g.params[3].second.type() == ValueType::kDouble);
  CHECK(g.params[4].second == Value::Bool(true));
  CHECK(g.params[5].second.is_null());
  CHECK(g.params[6].second == Value::Json(R"([1,"two",{"k":[]}])"));
  CHECK(g.params[7].second == Value::Json(R"({"a":1})"));
  CHECK(g.transaction == TransactionMode::kTwoPhase);
  CHECK(g.timeout_ms == 1500);
  REQUIRE(g.output.has_value());
  CHECK(g.output->shape == Shape::kNested);
  CHECK(g.output->format == Format::kNdjson);
  CHECK(g.output->max_rows == 10);
  CHECK(g.output->max_bytes == 0);

  // Output keys are all optional.
  Graph only_format = MustParse(R"({"nodes": [{"node_id": "n", "database_id": "d",
      "query_string": "SELECT 1"}], "output": {"format": "csv"}})");
  CHECK(only_format.output->shape == Shape::kNodes);
  CHECK(only_format.output->format == Format::kCsv);
}

TEST_CASE("node extensions", "[graph]") {
  Graph g = MustParse(R"({"nodes": [{"node_id": "n", "database_id": "d",
      "query_string": "UPDATE t SET x = 1", "mode": "write", "strategy": "per_binding",
      "batch_size": 500, "timeout_ms": 20, "on_error": "continue"},
      {"node_id": "m", "database_id": "d", "query_string": "SELECT 1", "strategy": "batched"}],
      "transaction": "common"})");
  const Node& n = g.nodes[0];
  CHECK(n.mode == NodeMode::kWrite);
  CHECK(n.strategy == Strategy::kPerBinding);
  CHECK(n.batch_size == 500);
  CHECK(n.timeout_ms == 20);
  CHECK(n.on_error == OnError::kContinue);
  CHECK(g.nodes[1].strategy == Strategy::kBatched);
  CHECK(g.transaction == TransactionMode::kCommon);
  CHECK(StrategyName(Strategy::kPerBinding) == "per_binding");
  CHECK(StrategyName(Strategy::kAuto) == "auto");
  CHECK(TransactionModeName(TransactionMode::kTwoPhase) == "2pc");
  CHECK(TransactionModeName(TransactionMode::kAutonomous) == "autonomous");
}

TEST_CASE("bad extension values name what is allowed", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "n", "database_id": "d",
      "query_string": "SELECT 1", "mode": "rw", "strategy": 3, "batch_size": 0,
      "timeout_ms": 1.5, "on_error": "ignore"}],
      "params": [], "transaction": "2PC", "timeout_ms": -1,
      "output": {"shape": "flat", "format": "xml", "max_rows": -1, "max_bytes": "1k",
                 "pretty": 1}})");
  CHECK(lines == std::vector<std::string>{
                     "/nodes/0/mode: \"rw\" is not one of: read, write",
                     "/nodes/0/strategy: expected a string, got a number",
                     "/nodes/0/batch_size: expected a positive integer, got 0",
                     "/nodes/0/timeout_ms: expected a positive integer, got 1.5",
                     "/nodes/0/on_error: \"ignore\" is not one of: fail, continue",
                     "/params: expected an object, got an array",
                     "/transaction: \"2PC\" is not one of: autonomous, common, 2pc",
                     "/timeout_ms: expected a positive integer, got -1",
                     "/output/shape: \"flat\" is not one of: nodes, joined, nested",
                     "/output/format: \"xml\" is not one of: json, ndjson, csv",
                     "/output/max_rows: expected a non-negative integer, got -1",
                     "/output/max_bytes: expected a non-negative integer, got a string",
                     "/output/pretty: expected a boolean, got a number",
                 });
  CHECK_THAT(ParseErrors(R"({"nodes": [{"node_id": "n", "database_id": "d",
      "query_string": "SELECT 1", "batch_size": 9223372036854775808}]})"),
             HasLine("/nodes/0/batch_size: 9223372036854775808 is too large (at most "
                     "9223372036854775807)"));
}

TEST_CASE("limits: node and edge counts", "[graph]") {
  ParseOptions opts;
  opts.limits.max_nodes = 1;
  CHECK(ParseErrors(kSeedGraph, opts) ==
        std::vector<std::string>{"/nodes: 2 nodes, more than max_nodes (1)"});
  opts.limits.max_nodes = 2;
  MustParse(kSeedGraph, opts);
  opts.limits.max_edges = 1;  // exactly at the limit
  MustParse(kSeedGraph, opts);
  opts.limits.max_edges = 0;
  CHECK(ParseErrors(kSeedGraph, opts) ==
        std::vector<std::string>{"/edges: 1 edges, more than max_edges (0)"});
}

TEST_CASE("limits: query length and document size", "[graph]") {
  ParseOptions opts;
  opts.limits.max_query_length = 69;  // the seed's longest query_string, exactly
  MustParse(kSeedGraph, opts);
  opts.limits.max_query_length = 68;
  CHECK(ParseErrors(kSeedGraph, opts) ==
        std::vector<std::string>{
            "/nodes/1/query_string: query_string is 69 bytes, more than max_query_length (68)"});

  ParseOptions small;
  const int64_t size = static_cast<int64_t>(kSeedGraph.size());
  small.limits.max_document_bytes = size;  // exactly at the limit
  MustParse(kSeedGraph, small);
  small.limits.max_document_bytes = size - 1;
  CHECK(ParseErrors(kSeedGraph, small) ==
        std::vector<std::string>{"/: document is " + std::to_string(size) +
                                 " bytes, more than max_document_bytes (" +
                                 std::to_string(size - 1) + ")"});
}

TEST_CASE("limits: nesting depth, without deep recursion", "[graph]") {
  ParseOptions opts;
  opts.limits.max_depth = 4;  // the seed: object > array > object > array
  MustParse(kSeedGraph, opts);
  opts.limits.max_depth = 3;
  CHECK(ParseErrors(kSeedGraph, opts) ==
        std::vector<std::string>{"/: JSON nesting is deeper than max_depth (3)"});

  // Deep nesting inside free-form params is refused too, and a very deep
  // document does not exhaust the stack.
  std::string deep = R"({"nodes": [{"node_id": "n", "database_id": "d", "query_string": "q"}],
                         "params": {"p": )";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}}";
  CHECK(ParseErrors(deep) ==
        std::vector<std::string>{"/: JSON nesting is deeper than max_depth (64)"});
}

}  // namespace
}  // namespace qg
