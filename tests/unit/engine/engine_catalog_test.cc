// Engine catalog statements: CREATE/ALTER/DROP of sources and mappings,
// EXECUTE STATEMENT pass-through, persistence, and a canary password.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "catalog_load_util.h"
#include "engine_test_util.h"
#include "qg/engine.h"
#include "qg/plan.h"

namespace qg::enginetest {
namespace {

constexpr char kCanary[] = "Canary-Pw-7f3e9c";

std::unique_ptr<Engine> NewEngine(const std::string& catalog_path = "") {
  EngineOptions o;
  o.catalog_path = catalog_path;
  auto engine = Engine::Create(o);
  INFO(engine.status().message());
  REQUIRE(engine.ok());
  return std::move(*engine);
}

std::vector<std::string> Run(Engine& engine, const std::string& statements,
                             const ExecuteOptions& options = {}) {
  auto r = engine.ExecuteStatements(statements, options);
  INFO(r.status().message());
  REQUIRE(r.ok());
  if (r->nodes.empty()) return {};
  return RowSet(r->nodes[0]);
}

TEST_CASE("statements create a source and a pass-through runs on it", "[engine][catalog]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);");
  auto engine = NewEngine();
  CHECK(Run(*engine,
            "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("a.sqlite") + "';")
            .empty());
  REQUIRE(engine->catalog().FindSource("s") != nullptr);
  CHECK(Run(*engine,
            "EXECUTE STATEMENT 'SELECT x FROM t WHERE x > :m' (m := 1) "
            "ON EXTERNAL DATA SOURCE s") == std::vector<std::string>{"2"});
  Run(*engine, "EXECUTE STATEMENT 'INSERT INTO t VALUES (3)' ON EXTERNAL DATA SOURCE s");
  CHECK(SqlRows(dir.File("a.sqlite"), "SELECT x FROM t") ==
        std::vector<std::string>{"1", "2", "3"});
  // A graph on the new source.
  auto g = engine->ExecuteJson(R"({"nodes": [{"node_id": "n", "database_id": "s",
      "query_string": "SELECT count(*) AS c FROM t", "output_fields": ["c"]}]})");
  INFO(g.status().message());
  REQUIRE(g.ok());
  CHECK(RowSet(g->nodes[0]) == std::vector<std::string>{"3"});
  // Unknown provider option: refused by the provider check.
  auto bad = engine->ExecuteStatements(
      "CREATE EXTERNAL DATA SOURCE b PROVIDER sqlite CONNECT '' OPTIONS 'nonsense=1'");
  CHECK_FALSE(bad.ok());
  CHECK(engine->catalog().FindSource("b") == nullptr);
}

TEST_CASE("ALTER switches the file and drains the old pool, and DROP makes graphs not-found",
          "[engine][catalog]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('a');");
  SqlExec(dir.File("b.sqlite"), "CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('b');");
  auto engine = NewEngine();
  Run(*engine,
      "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("a.sqlite") + "'");
  const std::string select = "EXECUTE STATEMENT 'SELECT x FROM t' ON EXTERNAL DATA SOURCE s";
  CHECK(Run(*engine, select) == std::vector<std::string>{"a"});
  CHECK(engine->PoolStatistics().size() == 1);
  Run(*engine,
      "ALTER EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("b.sqlite") + "'");
  CHECK(engine->PoolStatistics().empty());  // the old pool was drained and dropped
  CHECK(Run(*engine, select) == std::vector<std::string>{"b"});
  CHECK(TotalInUse(*engine) == 0);

  Run(*engine, "DROP EXTERNAL DATA SOURCE s");
  CHECK(engine->PoolStatistics().empty());
  auto r = engine->ExecuteStatements(select);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("\"s\""));
  auto g = engine->ExecuteJson(R"({"nodes": [{"node_id": "n", "database_id": "s",
      "query_string": "SELECT 1 AS c", "output_fields": ["c"]}]})");
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().code() == absl::StatusCode::kNotFound);
}

// The load's graph: two nodes on `source`, the second dependent on the first.
std::string LoadGraph(const std::string& source) {
  return qg::testing_load::DependentGraph(
      source, "SELECT k FROM keys",
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
      "SELECT v.k AS k, v.v AS v, (SELECT count(*) FROM c) AS n FROM vals v WHERE v.k = :k");
}

TEST_CASE("ALTER and DROP under a running load: only graphs started after the DROP fail",
          "[engine][catalog][live]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"),
          "CREATE TABLE keys(k INTEGER); INSERT INTO keys VALUES (1), (2), (3);"
          "CREATE TABLE vals(k INTEGER, v TEXT); INSERT INTO vals VALUES (1, 'a'), (2, 'b'), (3, "
          "'c');");
  auto engine = NewEngine();
  // Two spellings of the same file: ALTER switches between equivalent
  // definitions, also changing pool options.
  const std::string paths[] = {dir.File("a.sqlite"), dir.File("./a.sqlite")};
  auto create = [&](const char* verb, int i) {
    return std::string(verb) + " EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + paths[i % 2] +
           "' OPTIONS 'pool_max=" + std::to_string(3 + i % 3) +
           ";acquire_timeout=30s;idle_timeout=" + std::to_string(10 + i) + "s'";
  };
  Run(*engine, create("CREATE", 0));
  {
    // Graphs as a local user with an ALL mapping, so pools are per login too.
    Run(*engine, "CREATE EXTERNAL USER ON s AS 'ext' FOR ALL");
    ExecuteOptions as_alice;
    as_alice.user = "alice";
    qg::testing_load::GraphLoad load(*engine, "s", LoadGraph("s"), /*threads=*/4, as_alice);
    REQUIRE(load.WaitForGraphs(20));
    for (int i = 1; i <= 12; ++i) {
      const int before = load.completed();
      Run(*engine, create("ALTER", i));
      REQUIRE(load.WaitForGraphs(before + 6));
    }
    CHECK(engine->catalog().mappings().size() == 1);  // ALTER keeps the source's mappings
    const auto catalog = engine->catalog();
    REQUIRE(catalog.FindSource("s") != nullptr);
    CHECK(catalog.FindSource("s")->pool.pool_max == 3 + 12 % 3);
    load.BeginDrop();
    Run(*engine, "DROP EXTERNAL DATA SOURCE s");
    load.EndDrop();
    load.StopAndCheck(/*min_ok=*/20 + 12 * 6, /*after_drop_per_thread=*/3);
  }
  // No connection leaked: no pool of the source is left, none in use.
  for (const auto& [key, stats] : engine->PoolStatistics()) {
    INFO(key);
    CHECK(key.rfind("s/", 0) != 0);
    CHECK(stats.in_use == 0);
  }
  CHECK(TotalInUse(*engine) == 0);
  // The file is still a plain database no one holds: re-creating the
  // source works and runs.
  Run(*engine, create("CREATE", 0));
  auto r = engine->ExecuteJson(LoadGraph("s"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(RowSet(r->nodes[1]) == std::vector<std::string>{"1|a|2000", "2|b|2000", "3|c|2000"});
}

TEST_CASE("a persisted catalog reopens identical", "[engine][catalog]") {
  TempDir dir;
  const std::string path = dir.File("catalog.db");
  Catalog before;
  {
    auto engine = NewEngine(path);
    Run(*engine, "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("a.sqlite") +
                     "' AS USER 'u' PASSWORD ENV 'QG_TEST_PW';\n"
                     "CREATE EXTERNAL USER ON s AS 'ext' FOR alice;\n"
                     "CREATE EXTERNAL DATA SOURCE gone PROVIDER sqlite CONNECT '';\n"
                     "DROP EXTERNAL DATA SOURCE gone;");
    before = engine->catalog();
    CHECK(before.sources().size() == 1);
    CHECK(before.mappings().size() == 1);
  }
  auto reopened = NewEngine(path);
  CHECK(reopened->catalog() == before);
  CHECK(reopened->catalog().ToJson() == before.ToJson());

  // A corrupt file is refused.
  SqlExec(dir.File("other.db"), "CREATE TABLE junk(x);");
  {
    FILE* f = fopen(dir.File("bad.db").c_str(), "wb");
    REQUIRE(f != nullptr);
    fputs("this is not a sqlite database at all, not even close............", f);
    fclose(f);
  }
  EngineOptions o;
  o.catalog_path = dir.File("bad.db");
  CHECK_FALSE(Engine::Create(o).ok());
}

TEST_CASE("a canary password appears in no output", "[engine][catalog]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);");
  auto engine = NewEngine(dir.File("catalog.db"));
  Run(*engine, std::string("CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '") +
                   dir.File("a.sqlite") + "' AS USER 'u' PASSWORD '" + kCanary + "';\n" +
                   "CREATE EXTERNAL USER ON s AS 'bob' PASSWORD '" + kCanary + "' FOR ALL;");
  std::vector<std::string> outputs;
  outputs.push_back(engine->catalog().ToJson());
  auto r =
      engine->ExecuteStatements("EXECUTE STATEMENT 'SELECT x FROM t' ON EXTERNAL DATA SOURCE s");
  if (!r.ok()) outputs.emplace_back(r.status().message());
  auto failing = engine->ExecuteStatements(
      "EXECUTE STATEMENT 'SELECT nope FROM missing' ON EXTERNAL DATA SOURCE s");
  REQUIRE_FALSE(failing.ok());
  outputs.emplace_back(failing.status().message());
  auto dup = engine->ExecuteStatements(std::string("CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite "
                                                   "CONNECT '' AS USER 'u' PASSWORD '") +
                                       kCanary + "'");
  REQUIRE_FALSE(dup.ok());
  outputs.emplace_back(dup.status().message());
  auto graph = ParseGraph(R"({"nodes": [{"node_id": "n", "database_id": "s",
      "query_string": "SELECT x FROM t", "output_fields": ["x"]}]})",
                          engine->GraphParseOptions());
  REQUIRE(graph.ok());
  auto plan = engine->Explain(*graph);
  REQUIRE(plan.ok());
  for (ExplainFormat f : {ExplainFormat::kText, ExplainFormat::kJson, ExplainFormat::kDot}) {
    outputs.push_back(RenderPlan(*plan, f));
  }
  for (const auto& [key, stats] : engine->PoolStatistics()) outputs.push_back(key);
  for (const std::string& out : outputs) {
    INFO(out);
    CHECK(out.find(kCanary) == std::string::npos);
  }
}

}  // namespace
}  // namespace qg::enginetest
