#include "qg/output.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "qg/graph.h"
#include "qg/result.h"

namespace qg {
namespace {

using Row = std::vector<Value>;

Node MakeNode(std::string id, std::vector<std::string> params, std::vector<std::string> fields) {
  Node n;
  n.node_id = std::move(id);
  n.database_id = "db";
  n.query_string = "SELECT 1";
  n.input_parameters = std::move(params);
  n.output_fields = std::move(fields);
  return n;
}

Edge MakeEdge(std::string src, std::string dst,
              std::vector<std::pair<std::string, std::string>> mapping) {
  Edge e;
  e.source_node = std::move(src);
  e.target_node = std::move(dst);
  e.mapping = std::move(mapping);
  return e;
}

NodeResult MakeResult(std::string id, std::vector<std::string> cols, std::vector<Row> rows,
                      std::vector<std::string> binding_params = {},
                      std::vector<std::vector<Value>> bindings = {},
                      std::vector<uint32_t> row_binding = {}) {
  NodeResult r;
  r.node_id = std::move(id);
  r.database_id = "db";
  for (auto& c : cols) r.columns.push_back(Column{c, ValueType::kNull, {}});
  for (const Row& row : rows) {
    for (size_t c = 0; c < r.columns.size(); ++c) r.columns[c].values.push_back(row[c]);
  }
  r.num_rows = rows.size();
  r.binding_params = std::move(binding_params);
  r.bindings = std::move(bindings);
  r.row_binding = std::move(row_binding);
  r.stats.strategy = r.binding_params.empty() ? "single" : "batched";
  r.stats.bindings = static_cast<int64_t>(r.bindings.size());
  r.stats.round_trips = 1;
  r.stats.start_ns = 0;
  r.stats.end_ns = 1500000;
  return r;
}

// users -> orders (users.id -> orders.user_id), the seed's graph.
GraphResult SeedResult() {
  GraphResult g;
  g.graph.nodes = {MakeNode("users", {}, {"id", "name"}),
                   MakeNode("orders", {"user_id"}, {"order_id", "amount"})};
  g.graph.edges = {MakeEdge("users", "orders", {{"id", "user_id"}})};
  g.nodes.push_back(MakeResult("users", {"id", "name"},
                               {{Value::Int(1), Value::String("Ann")},
                                {Value::Int(2), Value::String("Bob")},
                                {Value::Int(3), Value::String("Cy")}}));
  // Bindings as a source might return them: 1 as a double, 2 as a decimal.
  g.nodes.push_back(MakeResult(
      "orders", {"order_id", "amount"},
      {{Value::Int(7), Value::Decimal("9.50")},
       {Value::Int(8), Value::Decimal("20.00")},
       {Value::Int(9), Value::Decimal("5.25")}},
      {"user_id"}, {{Value::Double(1.0)}, {Value::Decimal("2")}, {Value::Int(3)}}, {0, 0, 1}));
  return g;
}

std::string Out(const GraphResult& g, Shape shape, Format format, bool pretty = false) {
  OutputOptions o;
  o.shape = shape;
  o.format = format;
  o.pretty = pretty;
  auto s = ResultToString(g, o);
  REQUIRE(s.ok());
  return *s;
}

// Parses JSON with simdjson and returns it minified (checks validity).
std::string Minify(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::padded_string ps(json);
  simdjson::dom::element e;
  auto err = p.parse(ps).get(e);
  INFO(json);
  REQUIRE(err == simdjson::SUCCESS);
  return simdjson::minify(e);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

TEST_CASE("Shape and format names", "[output]") {
  CHECK(*ParseShape("nodes") == Shape::kNodes);
  CHECK(*ParseShape("joined") == Shape::kJoined);
  CHECK(*ParseShape("nested") == Shape::kNested);
  CHECK(*ParseFormat("json") == Format::kJson);
  CHECK(*ParseFormat("ndjson") == Format::kNdjson);
  CHECK(*ParseFormat("csv") == Format::kCsv);
  CHECK(ParseShape("flat").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseFormat("xml").status().code() == absl::StatusCode::kInvalidArgument);
  for (Shape s : {Shape::kNodes, Shape::kJoined, Shape::kNested}) {
    CHECK(*ParseShape(ShapeName(s)) == s);
  }
  for (Format f : {Format::kJson, Format::kNdjson, Format::kCsv}) {
    CHECK(*ParseFormat(FormatName(f)) == f);
  }
}

TEST_CASE("Result lookups", "[output]") {
  GraphResult g = SeedResult();
  REQUIRE(g.FindNode("orders") != nullptr);
  CHECK(g.FindNode("orders")->FindColumn("amount") == 1);
  CHECK(g.FindNode("orders")->FindColumn("nope") == -1);
  CHECK(g.FindNode("nope") == nullptr);
  CHECK(NodeStatusName(NodeStatus::kSkipped) == "skipped");
  CHECK(NodeStatusName(NodeStatus::kCancelled) == "cancelled");
}

TEST_CASE("Seed graph, nodes shape", "[output]") {
  GraphResult g = SeedResult();
  std::string json = Out(g, Shape::kNodes, Format::kJson);
  CHECK(json.back() == '\n');
  CHECK(
      Minify(json) ==
      R"({"nodes":{"users":{"columns":["id","name"],"rows":[[1,"Ann"],[2,"Bob"],[3,"Cy"]]},)"
      R"("orders":{"columns":["order_id","amount"],"rows":[[7,"9.50"],[8,"20.00"],[9,"5.25"]]}},)"
      R"("stats":{"users":{"status":"ok","rows":3,"skipped":false,"strategy":"single","bindings":0,)"
      R"("round_trips":1,"elapsed_ms":1.5},"orders":{"status":"ok","rows":3,"skipped":false,)"
      R"("strategy":"batched","bindings":3,"round_trips":1,"elapsed_ms":1.5}}})");
  // Pretty output is the same document, indented.
  std::string pretty = Out(g, Shape::kNodes, Format::kJson, true);
  CHECK(pretty.find("\n  \"nodes\": {\n    \"users\": {") != std::string::npos);
  CHECK(Minify(pretty) == Minify(json));

  CHECK(Out(g, Shape::kNodes, Format::kNdjson) ==
        "{\"node\":\"users\",\"row\":{\"id\":1,\"name\":\"Ann\"}}\n"
        "{\"node\":\"users\",\"row\":{\"id\":2,\"name\":\"Bob\"}}\n"
        "{\"node\":\"users\",\"row\":{\"id\":3,\"name\":\"Cy\"}}\n"
        "{\"node\":\"orders\",\"row\":{\"order_id\":7,\"amount\":\"9.50\"}}\n"
        "{\"node\":\"orders\",\"row\":{\"order_id\":8,\"amount\":\"20.00\"}}\n"
        "{\"node\":\"orders\",\"row\":{\"order_id\":9,\"amount\":\"5.25\"}}\n");
  // Pretty is ignored for NDJSON.
  CHECK(Out(g, Shape::kNodes, Format::kNdjson, true) == Out(g, Shape::kNodes, Format::kNdjson));

  CHECK(Out(g, Shape::kNodes, Format::kCsv) ==
        "# node: users\nid,name\n1,Ann\n2,Bob\n3,Cy\n\n"
        "# node: orders\norder_id,amount\n7,9.50\n8,20.00\n9,5.25\n\n");
}

TEST_CASE("Seed graph, joined shape", "[output]") {
  GraphResult g = SeedResult();
  CHECK(Minify(Out(g, Shape::kJoined, Format::kJson)) ==
        R"({"rows":[)"
        R"({"users.id":1,"users.name":"Ann","orders.order_id":7,"orders.amount":"9.50"},)"
        R"({"users.id":1,"users.name":"Ann","orders.order_id":8,"orders.amount":"20.00"},)"
        R"({"users.id":2,"users.name":"Bob","orders.order_id":9,"orders.amount":"5.25"}]})");
  CHECK(
      Out(g, Shape::kJoined, Format::kNdjson) ==
      "{\"users.id\":1,\"users.name\":\"Ann\",\"orders.order_id\":7,\"orders.amount\":\"9.50\"}\n"
      "{\"users.id\":1,\"users.name\":\"Ann\",\"orders.order_id\":8,\"orders.amount\":\"20.00\"}\n"
      "{\"users.id\":2,\"users.name\":\"Bob\",\"orders.order_id\":9,\"orders.amount\":\"5.25\"}\n");
  CHECK(Out(g, Shape::kJoined, Format::kCsv) ==
        "users.id,users.name,orders.order_id,orders.amount\n"
        "1,Ann,7,9.50\n1,Ann,8,20.00\n2,Bob,9,5.25\n");
}

TEST_CASE("Seed graph, nested shape", "[output]") {
  GraphResult g = SeedResult();
  CHECK(
      Minify(Out(g, Shape::kNested, Format::kJson)) ==
      R"({"users":[)"
      R"({"id":1,"name":"Ann","orders":[{"order_id":7,"amount":"9.50"},{"order_id":8,"amount":"20.00"}]},)"
      R"({"id":2,"name":"Bob","orders":[{"order_id":9,"amount":"5.25"}]},)"
      R"({"id":3,"name":"Cy","orders":[]}]})");
  CHECK(
      Out(g, Shape::kNested, Format::kNdjson) ==
      "{\"users\":{\"id\":1,\"name\":\"Ann\",\"orders\":[{\"order_id\":7,\"amount\":\"9.50\"},"
      "{\"order_id\":8,\"amount\":\"20.00\"}]}}\n"
      "{\"users\":{\"id\":2,\"name\":\"Bob\",\"orders\":[{\"order_id\":9,\"amount\":\"5.25\"}]}}\n"
      "{\"users\":{\"id\":3,\"name\":\"Cy\",\"orders\":[]}}\n");
  OutputOptions o;
  o.shape = Shape::kNested;
  o.format = Format::kCsv;
  auto csv = ResultToString(g, o);
  REQUIRE_FALSE(csv.ok());
  CHECK(csv.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(csv.status().message() == "csv cannot represent the nested shape; use json or ndjson");
}

// A -> B, A -> C, B -> D (p), C -> D (q): D ran for the cross product of
// B's and C's bindings; one of its rows (d3) pairs a B row of A=1 with a C
// row of A=2.
GraphResult DiamondResult() {
  GraphResult g;
  g.graph.nodes = {MakeNode("a", {}, {"id"}), MakeNode("b", {"a_id"}, {"b"}),
                   MakeNode("c", {"a_id"}, {"c"}), MakeNode("d", {"p", "q"}, {"d"})};
  g.graph.edges = {MakeEdge("a", "b", {{"id", "a_id"}}), MakeEdge("a", "c", {{"id", "a_id"}}),
                   MakeEdge("b", "d", {{"b", "p"}}), MakeEdge("c", "d", {{"c", "q"}})};
  g.nodes.push_back(MakeResult("a", {"id"}, {{Value::Int(1)}, {Value::Int(2)}}));
  g.nodes.push_back(MakeResult("b", {"b"}, {{Value::Int(10)}, {Value::Int(20)}}, {"a_id"},
                               {{Value::Int(1)}, {Value::Int(2)}}, {0, 1}));
  g.nodes.push_back(MakeResult("c", {"c"}, {{Value::Int(100)}, {Value::Int(200)}}, {"a_id"},
                               {{Value::Int(1)}, {Value::Int(2)}}, {0, 1}));
  g.nodes.push_back(MakeResult(
      "d", {"d"}, {{Value::String("d1")}, {Value::String("d2")}, {Value::String("d3")}}, {"p", "q"},
      {{Value::Int(10), Value::Int(100)},
       {Value::Int(10), Value::Int(200)},
       {Value::Int(20), Value::Int(100)},
       {Value::Int(20), Value::Int(200)}},
      {0, 3, 1}));
  return g;
}

TEST_CASE("Diamond graph", "[output]") {
  GraphResult g = DiamondResult();
  CHECK(
      Minify(Out(g, Shape::kJoined, Format::kJson)) ==
      R"({"rows":[{"a.id":1,"b.b":10,"c.c":100,"d.d":"d1"},{"a.id":2,"b.b":20,"c.c":200,"d.d":"d2"}]})");
  CHECK(Out(g, Shape::kJoined, Format::kCsv) == "a.id,b.b,c.c,d.d\n1,10,100,d1\n2,20,200,d2\n");
  // Nested: d under b matched on p only, under c on q only.
  CHECK(
      Minify(Out(g, Shape::kNested, Format::kJson)) ==
      R"({"a":[)"
      R"({"id":1,"b":[{"b":10,"d":[{"d":"d1"},{"d":"d3"}]}],"c":[{"c":100,"d":[{"d":"d1"}]}]},)"
      R"({"id":2,"b":[{"b":20,"d":[{"d":"d2"}]}],"c":[{"c":200,"d":[{"d":"d2"},{"d":"d3"}]}]}]})");
  std::string nd = Out(g, Shape::kNested, Format::kNdjson);
  auto lines = Lines(nd);
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) Minify(l);
  CHECK(lines[0].rfind("{\"a\":{\"id\":1,", 0) == 0);
}

TEST_CASE("Two independent parents: cross-product bindings", "[output]") {
  GraphResult g;
  g.graph.nodes = {MakeNode("u", {}, {"id"}), MakeNode("p", {}, {"code"}),
                   MakeNode("x", {"uid", "pc"}, {"v"})};
  g.graph.edges = {MakeEdge("u", "x", {{"id", "uid"}}), MakeEdge("p", "x", {{"code", "pc"}})};
  g.nodes.push_back(MakeResult("u", {"id"}, {{Value::Int(1)}, {Value::Int(2)}}));
  g.nodes.push_back(MakeResult("p", {"code"}, {{Value::String("A")}, {Value::String("B")}}));
  g.nodes.push_back(MakeResult("x", {"v"}, {{Value::Int(11)}, {Value::Int(22)}, {Value::Int(12)}},
                               {"uid", "pc"},
                               {{Value::Int(1), Value::String("A")},
                                {Value::Int(1), Value::String("B")},
                                {Value::Int(2), Value::String("A")},
                                {Value::Int(2), Value::String("B")}},
                               {0, 3, 1}));
  CHECK(Out(g, Shape::kJoined, Format::kCsv) == "u.id,p.code,x.v\n1,A,11\n1,B,12\n2,B,22\n");
  CHECK(Minify(Out(g, Shape::kNested, Format::kJson)) ==
        R"({"u":[{"id":1,"x":[{"v":11},{"v":12}]},{"id":2,"x":[{"v":22}]}],)"
        R"("p":[{"code":"A","x":[{"v":11}]},{"code":"B","x":[{"v":22},{"v":12}]}]})");
}

TEST_CASE("Ordering-only edge and disconnected nodes", "[output]") {
  GraphResult g = SeedResult();
  g.graph.nodes.push_back(MakeNode("audit", {}, {"n"}));
  g.graph.edges.push_back(MakeEdge("users", "audit", {}));
  g.nodes.push_back(MakeResult("audit", {"n"}, {{Value::Int(100)}, {Value::Int(200)}}));
  // Joined: audit does not join; it combines as a cross product.
  CHECK(Out(g, Shape::kJoined, Format::kCsv) ==
        "users.id,users.name,orders.order_id,orders.amount,audit.n\n"
        "1,Ann,7,9.50,100\n1,Ann,7,9.50,200\n1,Ann,8,20.00,100\n1,Ann,8,20.00,200\n"
        "2,Bob,9,5.25,100\n2,Bob,9,5.25,200\n");
  // Nested: audit is a root of its own.
  std::string nested = Minify(Out(g, Shape::kNested, Format::kJson));
  CHECK(nested.find(R"(,"audit":[{"n":100},{"n":200}]})") != std::string::npos);
  CHECK(nested.rfind(R"({"users":[{"id":1,"name":"Ann","orders":[)", 0) == 0);
}

TEST_CASE("Skipped and failed nodes", "[output]") {
  GraphResult g;
  g.graph.nodes = {MakeNode("users", {}, {"id"}),
                   MakeNode("orders", {"user_id"}, {"order_id", "amount"})};
  g.graph.edges = {MakeEdge("users", "orders", {{"id", "user_id"}})};
  g.nodes.push_back(MakeResult("users", {"id"}, {{Value::Int(1)}, {Value::Int(2)}}));
  NodeResult skipped;
  skipped.node_id = "orders";
  skipped.status = NodeStatus::kSkipped;
  skipped.binding_params = {"user_id"};
  skipped.stats.strategy = "batched";
  g.nodes.push_back(skipped);

  CHECK(Minify(Out(g, Shape::kJoined, Format::kJson)) == R"({"rows":[]})");
  CHECK(Out(g, Shape::kJoined, Format::kCsv) == "users.id,orders.order_id,orders.amount\n");
  CHECK(Out(g, Shape::kJoined, Format::kNdjson).empty());
  CHECK(Minify(Out(g, Shape::kNested, Format::kJson)) ==
        R"({"users":[{"id":1,"orders":[]},{"id":2,"orders":[]}]})");
  CHECK(Minify(Out(g, Shape::kNodes, Format::kJson)) ==
        R"({"nodes":{"users":{"columns":["id"],"rows":[[1],[2]]},)"
        R"("orders":{"columns":["order_id","amount"],"rows":[]}},)"
        R"("stats":{"users":{"status":"ok","rows":2,"skipped":false,"strategy":"single",)"
        R"("bindings":0,"round_trips":1,"elapsed_ms":1.5},)"
        R"("orders":{"status":"skipped","rows":0,"skipped":true,"strategy":"batched",)"
        R"("bindings":0,"round_trips":0,"elapsed_ms":0.0}}})");

  // Failed with on_error=continue: its rows (if any) do not count.
  GraphResult f = SeedResult();
  f.nodes[1].status = NodeStatus::kFailed;
  f.nodes[1].error = absl::UnavailableError("db \"orders\": connection refused");
  std::string nodes = Minify(Out(f, Shape::kNodes, Format::kJson));
  CHECK(nodes.find(R"("orders":{"columns":["order_id","amount"],"rows":[]})") != std::string::npos);
  CHECK(nodes.find(R"("status":"failed","rows":0,)") != std::string::npos);
  CHECK(nodes.find(R"("error":"db \"orders\": connection refused","error_code":"UNAVAILABLE")") !=
        std::string::npos);
  CHECK(Minify(Out(f, Shape::kJoined, Format::kJson)) == R"({"rows":[]})");
  CHECK(Out(f, Shape::kNodes, Format::kNdjson).find("orders") == std::string::npos);
}

GraphResult OddValuesResult() {
  GraphResult g;
  g.graph.nodes = {MakeNode("t", {}, {"s", "b", "dec", "j", "ts", "d", "n"})};
  g.nodes.push_back(MakeResult(
      "t", {"s", "b", "dec", "j", "ts", "d", "n"},
      {{Value::String("q\"uote, comma\nline\\"), Value::Bytes(std::string("\0\x01\xff", 3)),
        Value::Decimal("12345678901234567890.0001"), Value::Json(R"({"k": [1, null]})"),
        Value::Timestamp("2024-05-01 10:00:00"), Value::Double(2.0), Value()},
       {Value::String("bad\xff utf8"), Value::Bytes(""), Value::Decimal("-0.5"),
        Value::Json("not json"), Value(), Value::Double(std::nan("")), Value::Bool(true)},
       {Value::String(""), Value(), Value(), Value(), Value(), Value::Double(-1e-7),
        Value::Int(-9)}}));
  return g;
}

TEST_CASE("Values: escaping, invalid UTF-8, bytes, decimals, JSON, nulls", "[output]") {
  GraphResult g = OddValuesResult();
  std::string json = Out(g, Shape::kNodes, Format::kJson);
  simdjson::dom::parser p;
  simdjson::padded_string ps(json);
  simdjson::dom::element doc;
  REQUIRE(p.parse(ps).get(doc) == simdjson::SUCCESS);
  simdjson::dom::array rows;
  REQUIRE(doc["nodes"]["t"]["rows"].get_array().get(rows) == simdjson::SUCCESS);
  REQUIRE(rows.size() == 3);
  simdjson::dom::array r0 = rows.at(0).get_array();
  CHECK(std::string_view(r0.at(0).get_string()) == "q\"uote, comma\nline\\");
  CHECK(std::string_view(r0.at(1).get_string()) == "AAH/");
  CHECK(std::string_view(r0.at(2).get_string()) == "12345678901234567890.0001");
  CHECK(simdjson::minify(r0.at(3)) == R"({"k":[1,null]})");
  CHECK(std::string_view(r0.at(4).get_string()) == "2024-05-01 10:00:00");
  CHECK(r0.at(5).is_double());
  CHECK(double(r0.at(5).get_double()) == 2.0);
  CHECK(r0.at(6).is_null());
  simdjson::dom::array r1 = rows.at(1).get_array();
  CHECK(std::string_view(r1.at(0).get_string()) == "bad\xef\xbf\xbd utf8");
  CHECK(std::string_view(r1.at(1).get_string()) == "");
  CHECK(std::string_view(r1.at(3).get_string()) == "not json");
  CHECK(r1.at(5).is_null());  // NaN
  CHECK(bool(r1.at(6).get_bool()));
  simdjson::dom::array r2 = rows.at(2).get_array();
  CHECK(double(r2.at(5).get_double()) == -1e-7);
  CHECK(int64_t(r2.at(6).get_int64()) == -9);
  CHECK(json.find("\xff") == std::string::npos);

  // The same through every shape and format that can carry it.
  for (Shape s : {Shape::kNodes, Shape::kJoined, Shape::kNested}) {
    Minify(Out(g, s, Format::kJson));
    Minify(Out(g, s, Format::kJson, true));
    for (const auto& line : Lines(Out(g, s, Format::kNdjson))) Minify(line);
  }

  CHECK(Out(g, Shape::kNodes, Format::kCsv) ==
        "# node: t\ns,b,dec,j,ts,d,n\n"
        "\"q\"\"uote, comma\nline\\\",AAH/,12345678901234567890.0001,\"{\"\"k\"\": [1, null]}\","
        "2024-05-01 10:00:00,2.0,\n"
        "bad\xef\xbf\xbd utf8,\"\",-0.5,not json,,nan,true\n"
        "\"\",,,,,-1e-07,-9\n\n");
}

TEST_CASE("CSV: null and empty string differ", "[output]") {
  GraphResult g;
  g.graph.nodes = {MakeNode("t", {}, {"id", "s"})};
  g.nodes.push_back(MakeResult("t", {"id", "s"},
                               {{Value::Int(1), Value()},
                                {Value::Int(2), Value::String("")},
                                {Value::Int(3), Value::String("x\r")}}));
  CHECK(Out(g, Shape::kJoined, Format::kCsv) == "t.id,t.s\n1,\n2,\"\"\n3,\"x\r\"\n");
}

TEST_CASE("Limits fail loudly", "[output]") {
  GraphResult g = SeedResult();
  OutputOptions o;
  o.max_rows = 6;
  CHECK(ResultToString(g, o).ok());  // exactly at the limit
  o.max_rows = 5;
  auto r = ResultToString(g, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(r.status().message() == "result exceeds max_rows=5");

  // Nested counts child rows too: 3 users + 3 orders.
  o.shape = Shape::kNested;
  o.max_rows = 5;
  CHECK(ResultToString(g, o).status().code() == absl::StatusCode::kResourceExhausted);
  o.max_rows = 6;
  CHECK(ResultToString(g, o).ok());

  o = OutputOptions{};
  std::string full = *ResultToString(g, o);
  o.max_bytes = full.size();
  CHECK(ResultToString(g, o).ok());
  o.max_bytes = full.size() - 1;
  std::string got;
  absl::Status s = WriteResult(g, o, [&](std::string_view c) {
    got.append(c);
    return absl::OkStatus();
  });
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(s.message() == fmt::format("result exceeds max_bytes={}", full.size() - 1));
  CHECK(got.size() <= full.size() - 1);

  o.format = Format::kCsv;
  o.max_bytes = 10;
  CHECK(ResultToString(g, o).status().message() == "result exceeds max_bytes=10");
}

// The expected text of the large result below, written out independently of
// the writers: row i of "big" is (i, 40 letters + '"' + newline), its one
// "kid" row (bound by pid = i) is v = 2i.
std::string LargeExpected(Shape shape, Format format, int rows) {
  auto letters = [](int i) { return std::string(40, static_cast<char>('a' + i % 26)); };
  auto json_text = [&](int i) { return "\"" + letters(i) + "\\\"\\n\""; };
  auto csv_text = [&](int i) { return "\"" + letters(i) + "\"\"\n\""; };
  std::vector<std::string> items;  // one JSON object per output row
  std::string out;
  for (int i = 0; i < rows; ++i) {
    const std::string id = std::to_string(i), v = std::to_string(2 * i);
    if (shape == Shape::kNodes) {
      items.push_back("[" + id + "," + json_text(i) + "]");
    } else if (shape == Shape::kJoined) {
      items.push_back("{\"big.id\":" + id + ",\"big.text\":" + json_text(i) + ",\"kid.v\":" + v +
                      "}");
      out += id + "," + csv_text(i) + "," + v + "\n";
    } else {
      items.push_back("{\"id\":" + id + ",\"text\":" + json_text(i) + ",\"kid\":[{\"v\":" + v +
                      "}]}");
    }
  }
  auto joined = [](const std::vector<std::string>& v, const std::string& pre,
                   const std::string& post, const std::string& sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i > 0 ? sep : "") + pre + v[i] + post;
    return s;
  };
  if (shape == Shape::kNodes) {
    std::string big_nd, kid_nd, big_csv, kid_csv, kids;
    for (int i = 0; i < rows; ++i) {
      const std::string id = std::to_string(i), v = std::to_string(2 * i);
      big_nd += "{\"node\":\"big\",\"row\":{\"id\":" + id + ",\"text\":" + json_text(i) + "}}\n";
      kid_nd += "{\"node\":\"kid\",\"row\":{\"v\":" + v + "}}\n";
      big_csv += id + "," + csv_text(i) + "\n";
      kid_csv += v + "\n";
      kids += (i > 0 ? ",[" : "[") + v + "]";
    }
    if (format == Format::kNdjson) return big_nd + kid_nd;
    if (format == Format::kCsv) {
      return "# node: big\nid,text\n" + big_csv + "\n# node: kid\nv\n" + kid_csv + "\n";
    }
    const std::string n = std::to_string(rows);
    return R"({"nodes":{"big":{"columns":["id","text"],"rows":[)" + joined(items, "", "", ",") +
           R"(]},"kid":{"columns":["v"],"rows":[)" + kids +
           R"(]}},"stats":{"big":{"status":"ok",)" + R"("rows":)" + n +
           R"(,"skipped":false,"strategy":"single","bindings":0,"round_trips":1,)" +
           R"("elapsed_ms":1.5},"kid":{"status":"ok","rows":)" + n +
           R"(,"skipped":false,"strategy":"batched","bindings":)" + n +
           R"(,"round_trips":1,"elapsed_ms":1.5}}})";
  }
  if (format == Format::kNdjson) {
    return shape == Shape::kJoined ? joined(items, "", "\n", "")
                                   : joined(items, "{\"big\":", "}\n", "");
  }
  if (format == Format::kCsv) return "big.id,big.text,kid.v\n" + out;
  return shape == Shape::kJoined ? "{\"rows\":[" + joined(items, "", "", ",") + "]}"
                                 : "{\"big\":[" + joined(items, "", "", ",") + "]}";
}

TEST_CASE("Large results stream in bounded chunks", "[output]") {
  GraphResult g;
  g.graph.nodes = {MakeNode("big", {}, {"id", "text"}), MakeNode("kid", {"pid"}, {"v"})};
  g.graph.edges = {MakeEdge("big", "kid", {{"id", "pid"}})};
  const int kRows = 20000;
  std::vector<Row> rows, kid_rows;
  std::vector<std::vector<Value>> bindings;
  std::vector<uint32_t> rb;
  for (int i = 0; i < kRows; ++i) {
    rows.push_back({Value::Int(i), Value::String(std::string(40, 'a' + i % 26) + "\"\n")});
    bindings.push_back({Value::Int(i)});
    kid_rows.push_back({Value::Int(i * 2)});
    rb.push_back(static_cast<uint32_t>(i));
  }
  g.nodes.push_back(MakeResult("big", {"id", "text"}, rows));
  g.nodes.push_back(MakeResult("kid", {"v"}, kid_rows, {"pid"}, bindings, rb));

  for (Shape shape : {Shape::kNodes, Shape::kJoined, Shape::kNested}) {
    for (Format format : {Format::kJson, Format::kNdjson, Format::kCsv}) {
      if (shape == Shape::kNested && format == Format::kCsv) continue;
      OutputOptions o;
      o.shape = shape;
      o.format = format;
      std::vector<size_t> sizes;
      std::string all;
      REQUIRE(WriteResult(g, o, [&](std::string_view c) {
                sizes.push_back(c.size());
                all.append(c);
                return absl::OkStatus();
              }).ok());
      INFO(ShapeName(shape) << " " << FormatName(format));
      CHECK(sizes.size() > 10);
      for (size_t s : sizes) CHECK(s <= kOutputChunkBytes);
      for (size_t i = 0; i + 1 < sizes.size(); ++i) CHECK(sizes[i] == kOutputChunkBytes);
      // Against the text written out independently (not the writer's own
      // ResultToString, which shares every line of code with WriteResult).
      const std::string want = LargeExpected(shape, format, kRows);
      if (format == Format::kJson) {
        CHECK(Minify(all) == Minify(want));
      } else {
        CHECK(all == want);
      }
      if (format == Format::kNdjson) {
        CHECK(Lines(all).size() == (shape == Shape::kNodes ? 2 * kRows : kRows));
      }
    }
  }

  // A sink error stops the writer.
  int calls = 0;
  absl::Status s = WriteResult(g, OutputOptions{}, [&](std::string_view) {
    ++calls;
    return absl::UnavailableError("client went away");
  });
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(calls == 1);
}

TEST_CASE("Robust to inconsistent results", "[output]") {
  // Missing result for a node, mapping to an unknown column, row_binding
  // out of range, ragged columns: no crash, nothing matches wrongly.
  GraphResult g = SeedResult();
  g.graph.nodes.push_back(MakeNode("ghost", {"x"}, {"g"}));
  g.graph.edges.push_back(MakeEdge("users", "ghost", {{"nope", "x"}}));
  g.nodes[1].row_binding = {0, 99};
  g.nodes[1].columns[1].values.pop_back();
  for (Shape s : {Shape::kNodes, Shape::kJoined, Shape::kNested}) {
    for (Format f : {Format::kJson, Format::kNdjson, Format::kCsv}) {
      OutputOptions o;
      o.shape = s;
      o.format = f;
      auto r = ResultToString(g, o);
      if (s == Shape::kNested && f == Format::kCsv) {
        CHECK_FALSE(r.ok());
        continue;
      }
      REQUIRE(r.ok());
      if (f == Format::kJson) Minify(*r);
    }
  }
  CHECK(Minify(Out(g, Shape::kJoined, Format::kJson)) == R"({"rows":[]})");
  std::string nodes = Minify(Out(g, Shape::kNodes, Format::kJson));
  CHECK(nodes.find(R"("ghost":{"columns":["g"],"rows":[]})") != std::string::npos);
  CHECK(nodes.find(R"([9,null])") != std::string::npos);
  std::string nested = Minify(Out(g, Shape::kNested, Format::kJson));
  CHECK(nested.find(R"("orders":[{"order_id":7,"amount":"9.50"}],"ghost":[])") !=
        std::string::npos);

  GraphResult empty;
  CHECK(Minify(Out(empty, Shape::kNodes, Format::kJson)) == R"({"nodes":{},"stats":{}})");
  CHECK(Minify(Out(empty, Shape::kJoined, Format::kJson)) == R"({"rows":[]})");
  CHECK(Minify(Out(empty, Shape::kNested, Format::kJson)) == R"({})");
}

}  // namespace
}  // namespace qg
