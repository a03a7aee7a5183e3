// ParseGraph(): the seed, structural rules, and every semantic rule of
// docs/design.md §3 with its exact message and pointer.
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

TEST_CASE("the seed's example parses verbatim", "[graph]") {
  ParseOptions opts;
  opts.known_sources = {{"db_users", "db_orders"}};
  opts.provided_params = {{"city"}};
  Graph g = MustParse(kSeedGraph, opts);
  REQUIRE(g.nodes.size() == 2);
  CHECK(g.nodes[0].node_id == "user_data");
  CHECK(g.nodes[0].database_id == "db_users");
  CHECK(g.nodes[0].query_string == "SELECT id, name, city FROM users WHERE city = :city");
  CHECK(g.nodes[0].input_parameters == std::vector<std::string>{"city"});
  CHECK(g.nodes[0].output_fields == std::vector<std::string>{"id", "name", "city"});
  CHECK(g.nodes[1].node_id == "order_data");
  CHECK(g.nodes[1].mode == NodeMode::kRead);
  CHECK(g.nodes[1].strategy == Strategy::kAuto);
  CHECK(g.nodes[1].on_error == OnError::kFail);
  CHECK_FALSE(g.nodes[1].batch_size.has_value());
  REQUIRE(g.edges.size() == 1);
  CHECK(g.edges[0].source_node == "user_data");
  CHECK(g.edges[0].target_node == "order_data");
  CHECK(g.edges[0].mapping == std::vector<std::pair<std::string, std::string>>{{"id", "user_id"}});
  CHECK(g.params.empty());
  CHECK(g.transaction == TransactionMode::kAutonomous);
  CHECK_FALSE(g.timeout_ms.has_value());
  CHECK_FALSE(g.output.has_value());
  CHECK(g.FindNode("order_data") == 1);
  CHECK(g.FindNode("nope") == -1);
}

TEST_CASE("the design's example message is produced exactly", "[graph]") {
  std::string json(kSeedGraph);
  json.replace(json.find("\"user_data.id\""), 14, "\"user_data.idx\"");
  std::vector<GraphIssue> issues;
  absl::StatusOr<Graph> g = ParseGraph(json, {}, &issues);
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(g.status().message() ==
        "/edges/0/input_mapping: \"user_data.idx\" is not an output field of node \"user_data\"");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].pointer == "/edges/0/input_mapping");
  CHECK(issues[0].message == "\"user_data.idx\" is not an output field of node \"user_data\"");
}

TEST_CASE("malformed JSON carries simdjson's error text at the root", "[graph]") {
  std::vector<std::string> lines = ParseErrors(R"({"nodes": [)");
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::StartsWith("/: malformed JSON: "));
  CHECK(lines[0].size() > std::string("/: malformed JSON: ").size());
  CHECK_THAT(ParseErrors("")[0], Catch::StartsWith("/: malformed JSON: "));
  CHECK_THAT(ParseErrors("{\"nodes\": \"\xff\"}")[0], Catch::StartsWith("/: malformed JSON: "));

  std::vector<GraphIssue> issues;
  REQUIRE_FALSE(ParseGraph("nul", {}, &issues).ok());
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].pointer.empty());
}

TEST_CASE("wrong types point at the value", "[graph]") {
  CHECK_THAT(ParseErrors("[]"), HasLine("/: expected an object, got an array"));
  CHECK_THAT(ParseErrors(R"({"nodes": {}})"),
             HasLine("/nodes: expected an array of nodes, got an object"));
  CHECK_THAT(ParseErrors(R"({"nodes": [7]})"),
             HasLine("/nodes/0: expected an object, got a number"));
  auto lines = ParseErrors(R"({"nodes": [{"node_id": 1, "database_id": "d",
      "query_string": "SELECT :a", "input_parameters": ["a", true], "output_fields": "x"}],
      "edges": [{"source_node": null, "target_node": "n", "input_mapping": {"n.a": 3}}]})");
  CHECK_THAT(lines, HasLine("/nodes/0/node_id: expected a string, got a number"));
  CHECK_THAT(lines, HasLine("/nodes/0/input_parameters/1: expected a string, got a boolean"));
  CHECK_THAT(lines, HasLine("/nodes/0/output_fields: expected an array of strings, got a string"));
  CHECK_THAT(lines, HasLine("/edges/0/source_node: expected a string, got null"));
  CHECK_THAT(lines, HasLine("/edges/0/input_mapping/n.a: expected a string, got a number"));
  // The broken node_id is not followed by "unknown node" noise.
  CHECK(lines.size() == 5);
}

TEST_CASE("unknown keys are refused at every level", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "d", "query_string": "q",
      "colour": "red"}], "edges": [], "extra": 1, "output": {"shape": "nodes", "fmt": "csv"}})");
  CHECK_THAT(lines, HasLine("/extra: unknown key \"extra\" (expected one of: nodes, edges, params, "
                            "transaction, timeout_ms, output)"));
  CHECK_THAT(lines, HasLine("/nodes/0/colour: unknown key \"colour\" (expected one of: node_id, "
                            "database_id, query_string, input_parameters, output_fields, mode, "
                            "strategy, batch_size, timeout_ms, on_error)"));
  CHECK_THAT(lines, HasLine("/output/fmt: unknown key \"fmt\" (expected one of: shape, format, "
                            "max_rows, max_bytes, pretty)"));
  CHECK(lines.size() == 3);

  auto edge = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "d", "query_string": "q"},
      {"node_id": "b", "database_id": "d", "query_string": "q"}],
      "edges": [{"source_node": "a", "target_node": "b", "a/b~": 1}]})");
  CHECK_THAT(edge, HasLine("/edges/0/a~1b~0: unknown key \"a/b~\" (expected one of: source_node, "
                           "target_node, input_mapping)"));
}

TEST_CASE("required keys", "[graph]") {
  CHECK_THAT(ParseErrors(R"({"edges": []})"), HasLine("/: missing required key \"nodes\""));
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a"}, {"node_id": "b", "database_id": "d",
      "query_string": "q"}], "edges": [{"source_node": "a"}]})");
  CHECK_THAT(lines, HasLine("/nodes/0: missing required key \"database_id\""));
  CHECK_THAT(lines, HasLine("/nodes/0: missing required key \"query_string\""));
  CHECK_THAT(lines, HasLine("/edges/0: missing required key \"target_node\""));
  CHECK(lines.size() == 3);
  CHECK_THAT(ParseErrors(R"({"nodes": []})"), HasLine("/nodes: a graph needs at least one node"));
}

TEST_CASE("duplicate keys are refused", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a", "node_id": "b", "database_id": "d",
      "query_string": "q"}], "params": {"x": 1, "x": 2}})");
  CHECK_THAT(lines, HasLine("/nodes/0/node_id: duplicate key \"node_id\""));
  CHECK_THAT(lines, HasLine("/params/x: duplicate key \"x\""));
}

TEST_CASE("node ids: empty, dotted, duplicate", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [
      {"node_id": "", "database_id": "d", "query_string": "q"},
      {"node_id": "a.b", "database_id": "d", "query_string": "q"},
      {"node_id": "c", "database_id": "d", "query_string": "q"},
      {"node_id": "c", "database_id": "d", "query_string": "q"}]})");
  CHECK_THAT(lines, HasLine("/nodes/0/node_id: node_id is empty"));
  CHECK_THAT(lines, HasLine("/nodes/1/node_id: node_id \"a.b\" must not contain '.'"));
  CHECK_THAT(lines, HasLine("/nodes/3/node_id: duplicate node_id \"c\" (first at /nodes/2)"));
  CHECK(lines.size() == 3);
}

TEST_CASE("duplicate parameters and output fields", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "d",
      "query_string": "SELECT x FROM t WHERE p = :p", "input_parameters": ["p", "p"],
      "output_fields": ["x", "y", "x", ""]}]})");
  CHECK_THAT(lines, HasLine("/nodes/0/input_parameters/1: duplicate parameter \"p\""));
  CHECK_THAT(lines, HasLine("/nodes/0/output_fields/2: duplicate output field \"x\""));
  CHECK_THAT(lines, HasLine("/nodes/0/output_fields/3: output field name is empty"));
  CHECK(lines.size() == 3);
}

// Two nodes a, b (no parameters) plus the given edges.
std::string TwoNodes(std::string_view edges, std::string_view extra_nodes = "") {
  return std::string(R"({"nodes": [
      {"node_id": "a", "database_id": "d", "query_string": "SELECT x FROM t", "output_fields": ["x"]},
      {"node_id": "b", "database_id": "d", "query_string": "SELECT y FROM t WHERE y = :p",
       "input_parameters": ["p"], "output_fields": ["y"]})") +
         std::string(extra_nodes) + "], \"edges\": [" + std::string(edges) + "]}";
}

TEST_CASE("edges naming unknown nodes", "[graph]") {
  auto lines = ParseErrors(TwoNodes(R"({"source_node": "zz", "target_node": "yy"})"));
  CHECK_THAT(lines, HasLine("/edges/0/source_node: unknown node \"zz\""));
  CHECK_THAT(lines, HasLine("/edges/0/target_node: unknown node \"yy\""));
  CHECK(lines.size() == 2);
}

TEST_CASE("self-edges", "[graph]") {
  auto lines = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "a"})"));
  CHECK(lines == std::vector<std::string>{"/edges/0: self-edge: node \"a\" cannot feed itself"});
}

TEST_CASE("cycles name their nodes", "[graph]") {
  auto two = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b"},
                                    {"source_node": "b", "target_node": "a"})"));
  CHECK(two == std::vector<std::string>{"/edges: cycle: a -> b -> a"});

  const std::string c = R"(, {"node_id": "c", "database_id": "d", "query_string": "q"})";
  auto three = ParseErrors(TwoNodes(R"({"source_node": "b", "target_node": "c"},
                                      {"source_node": "c", "target_node": "a"},
                                      {"source_node": "a", "target_node": "b"})",
                                    c));
  CHECK(three == std::vector<std::string>{"/edges: cycle: a -> b -> c -> a"});

  // Two independent cycles are both reported.
  const std::string more = R"(, {"node_id": "c", "database_id": "d", "query_string": "q"},
                               {"node_id": "e", "database_id": "d", "query_string": "q"})";
  auto both = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b"},
                                     {"source_node": "b", "target_node": "a"},
                                     {"source_node": "e", "target_node": "c"},
                                     {"source_node": "c", "target_node": "e"})",
                                   more));
  CHECK(both ==
        std::vector<std::string>{"/edges: cycle: a -> b -> a", "/edges: cycle: c -> e -> c"});
}

TEST_CASE("mapping keys and values must be node.field", "[graph]") {
  auto lines = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b",
      "input_mapping": {"x": "b.p", "a.": "b.p", "a.x": "bp", ".x": "b."}})"));
  CHECK_THAT(lines, HasLine("/edges/0/input_mapping: key \"x\" is not of the form \"node.field\""));
  CHECK_THAT(lines,
             HasLine("/edges/0/input_mapping: key \"a.\" is not of the form \"node.field\""));
  CHECK_THAT(lines,
             HasLine("/edges/0/input_mapping: value \"bp\" is not of the form \"node.parameter\""));
  CHECK_THAT(lines,
             HasLine("/edges/0/input_mapping: key \".x\" is not of the form \"node.field\""));
  CHECK_THAT(lines,
             HasLine("/edges/0/input_mapping: value \"b.\" is not of the form \"node.parameter\""));
  CHECK(lines.size() == 5);
}

TEST_CASE("mapping prefixes must be the edge's own source and target", "[graph]") {
  auto lines = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b",
      "input_mapping": {"b.y": "a.p"}})"));
  CHECK_THAT(lines, HasLine("/edges/0/input_mapping: key \"b.y\" names node \"b\", not the edge's "
                            "source_node \"a\""));
  CHECK_THAT(lines, HasLine("/edges/0/input_mapping: value \"a.p\" names node \"a\", not the "
                            "edge's target_node \"b\""));
  CHECK(lines.size() == 2);
}

TEST_CASE("mappings must use declared fields and parameters", "[graph]") {
  auto lines = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b",
      "input_mapping": {"a.nope": "b.q"}})"));
  CHECK(lines == std::vector<std::string>{
                     "/edges/0/input_mapping: \"a.nope\" is not an output field of node \"a\"",
                     "/edges/0/input_mapping: \"b.q\" is not an input parameter of node \"b\""});
}

TEST_CASE("one parameter fed by two mappings", "[graph]") {
  const std::string c = R"(, {"node_id": "c", "database_id": "d", "query_string": "SELECT z",
                              "output_fields": ["z"]})";
  auto across = ParseErrors(TwoNodes(R"({"source_node": "a", "target_node": "b",
                                         "input_mapping": {"a.x": "b.p"}},
                                        {"source_node": "c", "target_node": "b",
                                         "input_mapping": {"c.z": "b.p"}})",
                                     c));
  CHECK(across ==
        std::vector<std::string>{"/edges/1/input_mapping: parameter \"b.p\" is fed by both \"a.x\" "
                                 "(/edges/0/input_mapping) and \"c.z\""});

  const std::string a2 = R"({"nodes": [
      {"node_id": "a", "database_id": "d", "query_string": "SELECT x, w", "output_fields": ["x", "w"]},
      {"node_id": "b", "database_id": "d", "query_string": "SELECT :p", "input_parameters": ["p"]}],
      "edges": [{"source_node": "a", "target_node": "b", "input_mapping": {"a.x": "b.p", "a.w": "b.p"}}]})";
  CHECK(ParseErrors(a2) ==
        std::vector<std::string>{"/edges/0/input_mapping: parameter \"b.p\" is fed by both \"a.x\" "
                                 "(/edges/0/input_mapping) and \"a.w\""});

  // The same mapping on two edges between the same nodes is not a conflict.
  MustParse(TwoNodes(R"({"source_node": "a", "target_node": "b", "input_mapping": {"a.x": "b.p"}},
                       {"source_node": "a", "target_node": "b", "input_mapping": {"a.x": "b.p"}})"));
}

TEST_CASE("parameters with no source, only when provided_params is set", "[graph]") {
  const std::string json = TwoNodes("");
  MustParse(json);  // unchecked without provided_params
  ParseOptions opts;
  opts.provided_params.emplace();
  CHECK(
      ParseErrors(json, opts) ==
      std::vector<std::string>{"/nodes/1/input_parameters/0: parameter \"p\" of node \"b\" has no "
                               "source (no edge, no graph param, not provided)"});
  opts.provided_params = {{"p"}};
  MustParse(json, opts);

  opts.provided_params.emplace();
  std::string with_param = json;
  with_param.insert(with_param.size() - 1, R"(, "params": {"p": 3})");
  MustParse(with_param, opts);
  MustParse(
      TwoNodes(R"({"source_node": "a", "target_node": "b", "input_mapping": {"a.x": "b.p"}})"),
      opts);
}

TEST_CASE("placeholders must match input_parameters", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "d",
      "query_string": "SELECT * FROM t WHERE x = :x AND y = :y AND s = ':z' AND c::int = 1",
      "input_parameters": ["x", "w"]}]})");
  CHECK(lines ==
        std::vector<std::string>{
            "/nodes/0/query_string: placeholder \":y\" is not declared in input_parameters",
            "/nodes/0/input_parameters/1: parameter \"w\" is never used in query_string"});

  auto tok = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "d",
      "query_string": "SELECT 'unterminated"}]})");
  REQUIRE(tok.size() == 1);
  CHECK_THAT(tok[0], Catch::StartsWith("/nodes/0/query_string: "));

  // A provider's own placeholder rule replaces the SQL tokenizer.
  ParseOptions opts;
  opts.placeholders_of = [](const Node& n) -> absl::StatusOr<std::vector<std::string>> {
    if (n.node_id == "bad") return absl::InvalidArgumentError("no template here");
    return std::vector<std::string>{"id"};
  };
  MustParse(R"({"nodes": [{"node_id": "a", "database_id": "d", "query_string": "/users/{id}",
      "input_parameters": ["id"]}]})",
            opts);
  CHECK(ParseErrors(R"({"nodes": [{"node_id": "bad", "database_id": "d", "query_string": "x"}]})",
                    opts) == std::vector<std::string>{"/nodes/0/query_string: no template here"});
}

TEST_CASE("unknown database_id when known_sources is set", "[graph]") {
  ParseOptions opts;
  opts.known_sources = {{"db_users"}};
  CHECK(ParseErrors(kSeedGraph, opts) ==
        std::vector<std::string>{"/nodes/1/database_id: unknown database_id \"db_orders\""});
}

TEST_CASE("empty strings are refused", "[graph]") {
  auto lines = ParseErrors(R"({"nodes": [{"node_id": "a", "database_id": "",
      "query_string": "", "input_parameters": [""]}]})");
  CHECK_THAT(lines, HasLine("/nodes/0/database_id: database_id is empty"));
  CHECK_THAT(lines, HasLine("/nodes/0/query_string: query_string is empty"));
  CHECK_THAT(lines, HasLine("/nodes/0/input_parameters/0: parameter name is empty"));
  CHECK(lines.size() == 3);
}

TEST_CASE("every problem is reported at once", "[graph]") {
  ParseOptions opts;
  opts.known_sources = {{"db_users", "db_orders"}};
  opts.provided_params.emplace();
  auto lines = ParseErrors(R"({
    "nodes": [
      {"node_id": "user_data", "database_id": "db_userz",
       "query_string": "SELECT id FROM users WHERE city = :city", "input_parameters": ["city"],
       "output_fields": ["id"], "mode": "delete"},
      {"node_id": "order_data", "database_id": "db_orders",
       "query_string": "SELECT * FROM orders WHERE user_id = :user_id",
       "input_parameters": ["user_id"], "output_fields": ["order_id"]}
    ],
    "edges": [
      {"source_node": "user_data", "target_node": "order_data",
       "input_mapping": {"user_data.idx": "order_data.user_id"}},
      {"source_node": "order_data", "target_node": "user_data"}
    ],
    "transaction": "sometimes"
  })",
                           opts);
  CHECK(lines == std::vector<std::string>{
                     "/nodes/0/mode: \"delete\" is not one of: read, write",
                     "/transaction: \"sometimes\" is not one of: autonomous, common, 2pc",
                     "/nodes/0/database_id: unknown database_id \"db_userz\"",
                     "/edges/0/input_mapping: \"user_data.idx\" is not an output field of node "
                     "\"user_data\"",
                     "/edges: cycle: user_data -> order_data -> user_data",
                     "/nodes/0/input_parameters/0: parameter \"city\" of node \"user_data\" has no "
                     "source (no edge, no graph param, not provided)",
                 });
}

TEST_CASE("valid shapes: diamond, ordering-only edges, two roots", "[graph]") {
  ParseOptions opts;
  opts.provided_params.emplace();
  Graph diamond = MustParse(R"({"nodes": [
      {"node_id": "top", "database_id": "d", "query_string": "SELECT id", "output_fields": ["id"]},
      {"node_id": "left", "database_id": "d", "query_string": "SELECT l WHERE a = :a",
       "input_parameters": ["a"], "output_fields": ["l"]},
      {"node_id": "right", "database_id": "d", "query_string": "SELECT r WHERE b = :b",
       "input_parameters": ["b"], "output_fields": ["r"]},
      {"node_id": "bottom", "database_id": "d", "query_string": "SELECT 1 WHERE l = :l AND r = :r",
       "input_parameters": ["l", "r"]}],
    "edges": [
      {"source_node": "top", "target_node": "left", "input_mapping": {"top.id": "left.a"}},
      {"source_node": "top", "target_node": "right", "input_mapping": {"top.id": "right.b"}},
      {"source_node": "left", "target_node": "bottom", "input_mapping": {"left.l": "bottom.l"}},
      {"source_node": "right", "target_node": "bottom", "input_mapping": {"right.r": "bottom.r"}}]})",
                            opts);
  CHECK(diamond.edges.size() == 4);

  Graph ordering = MustParse(R"({"nodes": [
      {"node_id": "w", "database_id": "d", "query_string": "INSERT INTO t SELECT 1", "mode": "write"
},
      {"node_id": "r", "database_id": "d", "query_string": "SELECT * FROM t"},
      {"node_id": "r2", "database_id": "d", "query_string": "SELECT * FROM t"}],
    "edges": [{"source_node": "w", "target_node": "r"},
              {"source_node": "w", "target_node": "r2", "input_mapping": {}}]
})",
                             opts);
  CHECK(ordering.edges[0].mapping.empty());
  CHECK(ordering.edges[1].mapping.empty());

  Graph roots = MustParse(R"({"nodes": [
      {"node_id": "u", "database_id": "a", "query_string": "SELECT id", "output_fields": ["id"]},
      {"node_id": "v", "database_id": "b", "query_string": "SELECT id", "output_fields": ["id"]},
      {"node_id": "j", "database_id": "c", "query_string": "SELECT :x, :y",
       "input_parameters": ["x", "y"]}],
    "edges": [{"source_node": "u", "target_node": "j", "input_mapping": {"u.id": "j.x"}},
              {"source_node": "v", "target_node": "j", "input_mapping": {"v.id": "j.y"}}]})",
                          opts);
  CHECK(roots.nodes.size() == 3);

  // Edges are optional: a single node with no edges key.
  MustParse(R"({"nodes": [{"node_id": "only", "database_id": "d", "query_string": "SELECT 1"}]})");
}

}  // namespace
}  // namespace qg
