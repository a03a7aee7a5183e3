// Planning cost is linear in the number of placeholders (docs/design.md §11):
// a graph of 10 nodes x 3,000 placeholders each (30,000 graph params) is
// parsed, validated and planned; a tiny timeout interrupts planning.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

// Node i reads `per_node` placeholders :p<i>_<k>; node i > 0 also takes
// :k<i> from node i-1's column "v" (one dependent edge per node).
std::string WideGraph(int nodes, int per_node) {
  std::string g = R"({"nodes": [)";
  std::string params = R"("params": {)";
  for (int i = 0; i < nodes; ++i) {
    std::string q = "SELECT 1 AS v WHERE 1 IN (";
    std::string inputs;
    for (int k = 0; k < per_node; ++k) {
      const std::string name = absl::StrCat("p", i, "_", k);
      absl::StrAppend(&q, k > 0 ? ", :" : ":", name);
      absl::StrAppend(&inputs, k > 0 ? ", \"" : "\"", name, "\"");
      absl::StrAppend(&params, i > 0 || k > 0 ? ", \"" : "\"", name, "\": ", k % 7);
    }
    q.push_back(')');
    if (i > 0) {
      absl::StrAppend(&q, " AND :k", i, " IS NOT NULL");
      absl::StrAppend(&inputs, ", \"k", i, "\"");
    }
    absl::StrAppend(&g, i > 0 ? ", " : "", R"({"node_id": "n)", i,
                    R"(", "database_id": "db", "query_string": ")", q,
                    R"(", "input_parameters": [)", inputs, R"(], "output_fields": ["v"]})");
  }
  g += R"(], "edges": [)";
  for (int i = 1; i < nodes; ++i) {
    absl::StrAppend(&g, i > 1 ? ", " : "", R"({"source_node": "n)", i - 1,
                    R"(", "target_node": "n)", i, R"(", "input_mapping": {"n)", i - 1,
                    R"(.v": "n)", i, ".k", i, R"("}})");
  }
  absl::StrAppend(&g, "], ", params, "}}");
  return g;
}

std::unique_ptr<Engine> OneSqliteSource(const TempDir& dir) {
  auto engine = Engine::Create();
  REQUIRE(engine.ok());
  SqlExec(dir.File("db.sqlite"), "CREATE TABLE IF NOT EXISTS t(v INTEGER)");
  auto st = (*engine)->LoadCatalogJson(absl::StrCat(
      R"({"sources": [{"name": "db", "provider": "sqlite", "connect": ")", dir.File("db.sqlite"),
      R"("}]})"));
  INFO(st.message());
  REQUIRE(st.ok());
  return std::move(*engine);
}

TEST_CASE("planning 10 nodes x 3000 placeholders is linear", "[plan][scale]") {
  TempDir dir;
  auto engine = OneSqliteSource(dir);
  const std::string text = WideGraph(10, 3000);
  auto graph = ParseGraph(text, engine->GraphParseOptions(nullptr));
  INFO(graph.status().message());
  REQUIRE(graph.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto plan = engine->Explain(*graph);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  WARN("validate + plan of 10 x 3,000 placeholders: " << ms << " ms");
  REQUIRE(plan->nodes.size() == 10);
  for (const NodePlan& np : plan->nodes) {
    CHECK(np.statement.find("?") != std::string::npos);
  }
  // And it runs: every node gets its 3,000 values (none of which is 1 in
  // node 0 ... the IN list holds 1 for k % 7 == 1, so each node returns v=1).
  auto result = engine->Execute(*graph);
  INFO(result.status().message());
  REQUIRE(result.ok());
  for (const NodeResult& r : result->nodes) {
    INFO(r.node_id);
    CHECK(r.num_rows == 1);
  }
}

TEST_CASE("a tiny timeout interrupts planning of a huge graph", "[plan][scale]") {
  TempDir dir;
  auto engine = OneSqliteSource(dir);
  auto graph = ParseGraph(WideGraph(10, 3000), engine->GraphParseOptions(nullptr));
  REQUIRE(graph.ok());
  ExecuteOptions o;
  o.timeout = absl::Microseconds(1);
  const auto t0 = std::chrono::steady_clock::now();
  auto result = engine->Execute(*graph, o);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_FALSE(result.ok());
  INFO(result.status().message());
  CHECK(result.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(result.status().message().find("timed out") != std::string::npos);
  WARN("timed-out execution returned after " << ms << " ms");

  // A cancelled token interrupts Explain too.
  ExecuteOptions c;
  c.cancel = std::make_shared<CancelToken>();
  c.cancel->Cancel(absl::CancelledError("cancelled by host"));
  auto plan = engine->Explain(*graph, c);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().code() == absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace qg::enginetest
