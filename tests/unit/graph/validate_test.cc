// ValidateGraph() on graphs built in C++, TopologicalOrder() and the
// GraphToJson() round trip.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "graph_test_util.h"
#include "qg/graph.h"

namespace qg {
namespace {

using testing::HasLine;
using testing::kSeedGraph;
using testing::MustParse;
using testing::ValidateErrors;

Node MakeNode(std::string id, std::string query, std::vector<std::string> params = {},
              std::vector<std::string> fields = {}) {
  Node n;
  n.node_id = std::move(id);
  n.database_id = "db";
  n.query_string = std::move(query);
  n.input_parameters = std::move(params);
  n.output_fields = std::move(fields);
  return n;
}

Edge MakeEdge(std::string from, std::string to,
              std::vector<std::pair<std::string, std::string>> mapping = {}) {
  return Edge{std::move(from), std::move(to), std::move(mapping)};
}

TEST_CASE("ValidateGraph applies the same rules with index pointers", "[graph]") {
  Graph g;
  g.nodes.push_back(MakeNode("user_data", "SELECT id FROM users", {}, {"id"}));
  g.nodes.push_back(MakeNode("order_data", "SELECT * FROM o WHERE u = :user_id", {"user_id"}));
  g.edges.push_back(MakeEdge("user_data", "order_data", {{"id", "user_id"}}));
  CHECK(ValidateGraph(g).ok());

  g.edges[0].mapping[0].first = "idx";
  std::vector<GraphIssue> issues;
  absl::Status s = ValidateGraph(g, {}, &issues);
  CHECK(s.message() ==
        "/edges/0/input_mapping: \"user_data.idx\" is not an output field of node \"user_data\"");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].pointer == "/edges/0/input_mapping");

  g.edges[0].mapping[0].first = "id";
  g.nodes.push_back(MakeNode("user_data", "SELECT 1"));
  g.edges.push_back(MakeEdge("order_data", "ghost"));
  g.edges.push_back(MakeEdge("order_data", "user_data"));
  ParseOptions opts;
  opts.known_sources = {{"other"}};
  auto lines = ValidateErrors(g, opts);
  CHECK_THAT(lines, HasLine("/nodes/0/database_id: unknown database_id \"db\""));
  CHECK_THAT(lines,
             HasLine("/nodes/2/node_id: duplicate node_id \"user_data\" (first at /nodes/0)"));
  CHECK_THAT(lines, HasLine("/edges/1/target_node: unknown node \"ghost\""));
  CHECK_THAT(lines, HasLine("/edges: cycle: user_data -> order_data -> user_data"));
  CHECK(lines.size() == 6);  // + unknown database_id on nodes 1 and 2
}

TEST_CASE("ValidateGraph checks limits and an empty graph", "[graph]") {
  Graph g;
  CHECK(ValidateErrors(g) == std::vector<std::string>{"/nodes: a graph needs at least one node"});
  g.nodes.push_back(MakeNode("a", "SELECT 1"));
  g.nodes.push_back(MakeNode("b", "SELECT 2"));
  ParseOptions opts;
  opts.limits.max_nodes = 1;
  CHECK(ValidateErrors(g, opts) ==
        std::vector<std::string>{"/nodes: 2 nodes, more than max_nodes (1)"});
}

TEST_CASE("TopologicalOrder is a stable dataflow order", "[graph]") {
  Graph seed = MustParse(kSeedGraph);
  CHECK(TopologicalOrder(seed) == std::vector<int>{0, 1});

  // Declared in reverse: the consumer comes after its source regardless.
  Graph g;
  g.nodes.push_back(MakeNode("d", "SELECT 1"));  // 0: needs b and c
  g.nodes.push_back(MakeNode("c", "SELECT 1"));  // 1: needs a
  g.nodes.push_back(MakeNode("b", "SELECT 1"));  // 2: needs a
  g.nodes.push_back(MakeNode("a", "SELECT 1"));  // 3: root
  g.nodes.push_back(MakeNode("z", "SELECT 1"));  // 4: independent root
  g.edges = {MakeEdge("b", "d"), MakeEdge("c", "d"), MakeEdge("a", "c"), MakeEdge("a", "b")};
  REQUIRE(ValidateGraph(g).ok());
  // Ready: a(3), z(4) -> a; then c(1), b(2), z(4) -> c; b(2), z(4) -> b; d(0), z(4) -> d, z.
  CHECK(TopologicalOrder(g) == std::vector<int>{3, 1, 2, 0, 4});

  // Two independent chains interleave by declaration index.
  Graph h;
  for (const char* id : {"x1", "y1", "x2", "y2"}) h.nodes.push_back(MakeNode(id, "SELECT 1"));
  h.edges = {MakeEdge("x1", "x2"), MakeEdge("y1", "y2")};
  CHECK(TopologicalOrder(h) == std::vector<int>{0, 1, 2, 3});

  // A cyclic graph (not validated) still yields every node exactly once.
  Graph cyc;
  cyc.nodes = {MakeNode("p", "q"), MakeNode("r", "q")};
  cyc.edges = {MakeEdge("p", "r"), MakeEdge("r", "p")};
  CHECK(TopologicalOrder(cyc) == std::vector<int>{0, 1});
}

void CheckSameGraph(const Graph& a, const Graph& b) {
  CHECK(a.nodes == b.nodes);
  CHECK(a.edges == b.edges);
  CHECK(a.params == b.params);
  CHECK(a.transaction == b.transaction);
  CHECK(a.timeout_ms == b.timeout_ms);
  REQUIRE(a.output.has_value() == b.output.has_value());
  if (a.output) {
    CHECK(a.output->shape == b.output->shape);
    CHECK(a.output->format == b.output->format);
    CHECK(a.output->max_rows == b.output->max_rows);
    CHECK(a.output->max_bytes == b.output->max_bytes);
    CHECK(a.output->pretty == b.output->pretty);
  }
}

TEST_CASE("GraphToJson round-trips the seed", "[graph]") {
  Graph g = MustParse(kSeedGraph);
  const std::string json = GraphToJson(g);
  CheckSameGraph(MustParse(json), g);
  // Defaults are not written out.
  CHECK(json.find("strategy") == std::string::npos);
  CHECK(json.find("transaction") == std::string::npos);
}

TEST_CASE("GraphToJson round-trips extensions and escapes strings", "[graph]") {
  Graph g;
  Node a = MakeNode("a \"quoted\" \\ node", "SELECT \"x\", '\t' FROM t -- \n WHERE y = :y\x01",
                    {"y"}, {"x", "caf\xc3\xa9", "slash/tilde~"});
  a.mode = NodeMode::kWrite;
  a.strategy = Strategy::kBatched;
  a.batch_size = 250;
  a.timeout_ms = 99;
  a.on_error = OnError::kContinue;
  Node b = MakeNode("b", "SELECT :p", {"p"});
  g.nodes = {a, b};
  g.edges = {MakeEdge(a.node_id, "b", {{"caf\xc3\xa9", "p"}}), MakeEdge(a.node_id, "b")};
  g.params = {{"s", Value::String("line\nbreak \"q\"")},
              {"i", Value::Int(-7)},
              {"d", Value::Double(1.0)},
              {"e", Value::Double(1e300)},
              {"b", Value::Bool(false)},
              {"n", Value::Null()},
              {"j", Value::Json(R"({"k":[1,2]})")}};
  g.transaction = TransactionMode::kCommon;
  g.timeout_ms = 1234;
  OutputOptions out;
  out.shape = Shape::kJoined;
  out.format = Format::kCsv;
  out.max_rows = 5;
  out.max_bytes = 1 << 20;
  out.pretty = true;
  g.output = out;
  // The edge maps from a field; the second is ordering-only and duplicate
  // mappings are fine. The graph is valid.
  INFO(ValidateGraph(g).message());
  REQUIRE(ValidateGraph(g).ok());

  const std::string json = GraphToJson(g);
  Graph back = MustParse(json);
  CheckSameGraph(back, g);
  CHECK(GraphToJson(back) == json);
}

}  // namespace
}  // namespace qg

namespace qg {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("the fuzz corpus seeds reach both outcomes", "[graph]") {
  // The fuzzer's options: valid seeds exercise the GraphToJson round trip.
  ParseOptions opts;
  opts.known_sources = {{"db_users", "db_orders", "d", "db"}};
  opts.provided_params = {{"city", "p", "x"}};
  const std::string dir = std::string(QG_SOURCE_DIR) + "/tests/fuzz/corpus_qgdl/";
  for (const char* name : {"seed.json", "extensions.json", "diamond.json"}) {
    INFO(name);
    Graph g = testing::MustParse(ReadFile(dir + name), opts);
    Graph back = testing::MustParse(GraphToJson(g), opts);
    CHECK(back.nodes == g.nodes);
    CHECK(back.edges == g.edges);
    CHECK(back.params == g.params);
  }
  CHECK(testing::ParseErrors(ReadFile(dir + "invalid.json"), opts).size() > 10);
  CHECK(testing::ParseErrors(ReadFile(dir + "cycle.json"), opts) ==
        std::vector<std::string>{"/edges: cycle: a -> b -> c -> a"});
}

}  // namespace
}  // namespace qg
