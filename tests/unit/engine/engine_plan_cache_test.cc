// The plan cache (engine/plan_cache.h, docs/design.md §11): a graph text run
// again is not planned again, unless anything the plan depends on changed —
// the catalog, the caller's user, the parameter names, the transaction mode.
#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

const char kGraph[] = R"({
  "nodes": [
    {"node_id": "u", "database_id": "s", "query_string": "SELECT id FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id"]},
    {"node_id": "o", "database_id": "s",
     "query_string": "SELECT user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["user_id", "amount"]}],
  "edges": [{"source_node": "u", "target_node": "o", "input_mapping": {"u.id": "o.user_id"}}]})";

struct CacheEnv {
  TempDir dir;
  std::unique_ptr<Engine> engine;

  explicit CacheEnv(size_t capacity = 256) {
    SqlExec(dir.File("s.sqlite"),
            "CREATE TABLE users(id INTEGER, city TEXT);"
            "INSERT INTO users VALUES (1,'Paris'),(2,'Paris'),(3,'Oslo');"
            "CREATE TABLE orders(user_id INTEGER, amount INTEGER);"
            "INSERT INTO orders VALUES (1,10),(1,11),(2,20),(3,30);");
    EngineOptions o;
    o.plan_cache_size = capacity;
    auto created = Engine::Create(o);
    REQUIRE(created.ok());
    engine = std::move(*created);
    Add("s");
  }
  void Add(const std::string& name) {
    SourceConfig c;
    c.name = name;
    c.provider = "sqlite";
    c.connect = dir.File("s.sqlite");
    REQUIRE(engine->AddSource(c).ok());
  }
  // Runs kGraph for `city`; returns (cached, the orders' amounts).
  std::pair<bool, std::vector<std::string>> Run(const std::string& city, ExecuteOptions o = {}) {
    o.params = {{"city", Value::String(city)}};
    auto r = engine->ExecuteJson(kGraph, o);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(r->nodes.size() == 2);
    std::vector<std::string> amounts;
    for (const Value& v : r->nodes[1].columns[1].values) amounts.push_back(v.ToText());
    std::sort(amounts.begin(), amounts.end());
    return {r->plan.cached, amounts};
  }
};

TEST_CASE("plan cache: a graph run again reuses its plan with the new values",
          "[engine][plan][cache]") {
  CacheEnv env;
  auto first = env.Run("Paris");
  CHECK_FALSE(first.first);
  CHECK(first.second == std::vector<std::string>{"10", "11", "20"});
  auto again = env.Run("Oslo");
  CHECK(again.first);
  CHECK(again.second == std::vector<std::string>{"30"});
  CHECK(env.Run("Paris") == std::make_pair(true, std::vector<std::string>{"10", "11", "20"}));

  // EXPLAIN ANALYZE of a cached run says so, as text and JSON.
  ExecuteOptions o;
  o.params = {{"city", Value::String("Paris")}};
  auto r = env.engine->ExecuteJson(kGraph, o);
  REQUIRE(r.ok());
  CHECK(RenderPlan(r->plan, ExplainFormat::kText, &*r).find("transaction autonomous, cached\n") !=
        std::string::npos);
  CHECK(RenderPlan(r->plan, ExplainFormat::kJson, &*r).find("\"cached\":true") !=
        std::string::npos);
}

TEST_CASE("plan cache: a catalog change, another user, other parameter names miss",
          "[engine][plan][cache]") {
  CacheEnv env;
  REQUIRE_FALSE(env.Run("Paris").first);
  REQUIRE(env.Run("Paris").first);

  SECTION("a catalog change") {
    env.Add("t");
    CHECK_FALSE(env.Run("Paris").first);
    CHECK(env.Run("Paris").first);
  }
  SECTION("another local user, then each user its own plan") {
    ExecuteOptions bob;
    bob.user = "bob";
    CHECK_FALSE(env.Run("Paris", bob).first);
    CHECK(env.Run("Paris", bob).first);
    CHECK(env.Run("Paris").first);
  }
  SECTION("another transaction mode") {
    ExecuteOptions tx;
    tx.transaction = TransactionMode::kCommon;
    CHECK_FALSE(env.Run("Paris", tx).first);
    CHECK(env.Run("Paris", tx).first);
  }
  SECTION("other parameter names: validation runs again and fails as it must") {
    ExecuteOptions o;
    o.params = {{"town", Value::String("Paris")}};
    auto r = env.engine->ExecuteJson(kGraph, o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("city") != std::string::npos);
  }
  SECTION("a text that differs by one byte") {
    std::string other = kGraph;
    other += " ";
    ExecuteOptions o;
    o.params = {{"city", Value::String("Paris")}};
    auto r = env.engine->ExecuteJson(other, o);
    REQUIRE(r.ok());
    CHECK_FALSE(r->plan.cached);
  }
}

TEST_CASE("plan cache: a dropped source is reported, never run from a cached plan",
          "[engine][plan][cache]") {
  CacheEnv env;
  REQUIRE_FALSE(env.Run("Paris").first);
  REQUIRE(env.Run("Paris").first);
  auto dropped = env.engine->ExecuteStatements("DROP EXTERNAL DATA SOURCE s");
  REQUIRE(dropped.ok());
  ExecuteOptions o;
  o.params = {{"city", Value::String("Paris")}};
  auto r = env.engine->ExecuteJson(kGraph, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("plan cache: size 0 turns it off, and the least recently used text leaves first",
          "[engine][plan][cache]") {
  SECTION("off") {
    CacheEnv env(0);
    CHECK_FALSE(env.Run("Paris").first);
    CHECK_FALSE(env.Run("Paris").first);
  }
  SECTION("capacity 1") {
    CacheEnv env(1);
    REQUIRE_FALSE(env.Run("Paris").first);
    REQUIRE(env.Run("Paris").first);
    ExecuteOptions o;
    auto other = env.engine->ExecuteJson(
        R"({"nodes": [{"node_id": "n", "database_id": "s", "query_string": "SELECT 1 AS x",
            "output_fields": ["x"]}]})",
        o);
    REQUIRE(other.ok());
    CHECK_FALSE(env.Run("Paris").first);  // evicted by the other text
    CHECK(env.Run("Paris").first);
  }
}

TEST_CASE("plan cache: a failed graph is not cached and leaves nothing behind",
          "[engine][plan][cache]") {
  CacheEnv env;
  const std::string bad = R"({"nodes": [{"node_id": "n", "database_id": "s",
      "query_string": "SELECT nope FROM missing", "output_fields": ["nope"]}]})";
  for (int i = 0; i < 2; ++i) {
    auto r = env.engine->ExecuteJson(bad, {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("node \"n\"") != std::string::npos);
  }
  CHECK(TotalInUse(*env.engine) == 0);
}

}  // namespace
}  // namespace qg::enginetest
