// The cost seam end to end on real SQLite files (docs/design.md §11):
// estimates from SQLite's planner, calibration converging to the actual rows
// within 2x after three runs, and host estimators that report chosen
// estimates, fail, or answer nonsense (NaN, negative, infinite).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

const char* kSeed = R"({
  "nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"]}
  ],
  "edges": [
    {"source_node": "user_data", "target_node": "order_data",
     "input_mapping": {"user_data.id": "order_data.user_id"}}
  ]
})";

void MakeSeed(const TempDir& dir) {
  // 400 users in 8 cities; user u has u % 7 orders (0..6): an uneven spread
  // the planners cannot know exactly.
  SqlExec(dir.File("users.sqlite"),
          "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT);"
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
          "INSERT INTO users SELECT i, 'u' || i, 'c' || (i % 8) FROM n;");
  SqlExec(dir.File("orders.sqlite"),
          "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER);"
          "CREATE INDEX orders_user ON orders(user_id);"
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400), "
          "k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 5) "
          "INSERT INTO orders (user_id, amount) SELECT i, j FROM n, k WHERE j < i % 7;");
}

std::unique_ptr<Engine> SeedEngine(const TempDir& dir, EngineOptions options = {}) {
  auto engine = Engine::Create(std::move(options));
  REQUIRE(engine.ok());
  const std::string catalog = R"({"sources": [
      {"name": "db_users", "provider": "sqlite", "connect": ")" +
                              dir.File("users.sqlite") + R"("},
      {"name": "db_orders", "provider": "sqlite", "connect": ")" +
                              dir.File("orders.sqlite") + R"("}]})";
  REQUIRE((*engine)->LoadCatalogJson(catalog).ok());
  return std::move(*engine);
}

const NodePlan* Find(const Plan& plan, const std::string& id) {
  for (const NodePlan& np : plan.nodes) {
    if (np.node_id == id) return &np;
  }
  return nullptr;
}

// Reports what it is told to.
class ChosenEstimator : public CostEstimator {
 public:
  explicit ChosenEstimator(absl::StatusOr<CostEstimate> answer) : answer_(std::move(answer)) {}
  absl::StatusOr<CostEstimate> Estimate(Connection&, const Statement&,
                                        const std::vector<BoundArg>&) override {
    ++calls;
    return answer_;
  }
  int calls = 0;

 private:
  absl::StatusOr<CostEstimate> answer_;
};

CostEstimate Chosen(double rows, double startup, double per_row) {
  CostEstimate e;
  e.rows = rows;
  e.startup_cost = startup;
  e.per_row_cost = per_row;
  e.origin = "test estimator";
  return e;
}

TEST_CASE("cost: EXPLAIN ANALYZE estimates converge to the actual rows", "[engine][cost]") {
  TempDir dir;
  MakeSeed(dir);
  auto engine = SeedEngine(dir);
  auto g = ParseGraph(kSeed, engine->GraphParseOptions());
  REQUIRE(g.ok());
  ExecuteOptions opts;
  opts.params = {{"city", Value::String("c3")}};
  opts.estimate_costs = true;

  // A one-shot run already has the planner's estimates, not defaults.
  auto first = engine->Execute(*g, opts);
  REQUIRE(first.ok());
  for (const NodePlan& np : first->plan.nodes) {
    INFO(np.node_id);
    CHECK(np.estimate.origin.find("sqlite") == 0);
    CHECK(np.estimate.fallback_reason.empty());
    CHECK(np.expected_rows >= 0);
    CHECK(np.expected_ms > 0);
  }
  const NodePlan* od = Find(first->plan, "order_data");
  REQUIRE(od != nullptr);
  CHECK(od->expected_bindings == Approx(Find(first->plan, "user_data")->expected_rows));
  CHECK(od->ms_per_binding > 0);
  CHECK(od->ms_batched > 0);
  const std::string text = RenderPlan(first->plan, ExplainFormat::kText, &*first);
  CHECK(text.find("origin=sqlite") != std::string::npos);
  CHECK(text.find("expected:") != std::string::npos);

  GraphResult last;
  for (int run = 0; run < 3; ++run) {
    auto r = engine->Execute(*g, opts);
    REQUIRE(r.ok());
    last = *std::move(r);
  }
  for (const NodeResult& nr : last.nodes) {
    INFO(nr.node_id << " estimated " << nr.stats.estimated_rows << " actual " << nr.num_rows);
    REQUIRE(nr.num_rows > 0);
    CHECK(nr.stats.estimated_rows >= static_cast<double>(nr.num_rows) / 2);
    CHECK(nr.stats.estimated_rows <= static_cast<double>(nr.num_rows) * 2);
  }
  for (const NodePlan& np : last.plan.nodes) {
    INFO(np.node_id);
    CHECK(np.estimate.calibrated);
    CHECK(std::isfinite(np.expected_ms));
  }
  const std::string json = RenderPlan(last.plan, ExplainFormat::kJson, &last);
  CHECK(json.find("\"calibrated\":true") != std::string::npos);
  CHECK(json.find("\"expected\":{") != std::string::npos);
}

TEST_CASE("cost: a host estimator's chosen estimates reach the plan", "[engine][cost]") {
  TempDir dir;
  MakeSeed(dir);
  EngineOptions options;
  auto users = std::make_shared<ChosenEstimator>(Chosen(42, 0.5, 0.01));
  options.cost_estimators["db_users"] = users;
  auto engine = SeedEngine(dir, std::move(options));
  auto g = ParseGraph(kSeed, engine->GraphParseOptions());
  REQUIRE(g.ok());
  ExecuteOptions opts;
  opts.params = {{"city", Value::String("c3")}};
  auto plan = engine->Explain(*g, opts);
  REQUIRE(plan.ok());
  const NodePlan* ud = Find(*plan, "user_data");
  const NodePlan* od = Find(*plan, "order_data");
  REQUIRE(ud != nullptr);
  REQUIRE(od != nullptr);
  CHECK(ud->estimate.origin == "test estimator");
  CHECK(ud->expected_rows == 42);
  CHECK(ud->expected_ms == Approx(0.5 + 42 * 0.01));
  // The dependent node expects one binding per parent row.
  CHECK(od->expected_bindings == 42);
  CHECK(od->estimate.origin.find("sqlite") == 0);
  CHECK(users->calls == 1);
  // Cached per shape: planning again does not ask again.
  REQUIRE(engine->Explain(*g, opts).ok());
  CHECK(users->calls == 1);
}

TEST_CASE("cost: ALTER of a source drops its estimates and calibration", "[engine][cost]") {
  TempDir dir;
  MakeSeed(dir);
  EngineOptions options;
  auto users = std::make_shared<ChosenEstimator>(Chosen(42, 0.5, 0.01));
  options.cost_estimators["db_users"] = users;
  auto engine = SeedEngine(dir, std::move(options));
  auto g = ParseGraph(kSeed, engine->GraphParseOptions());
  REQUIRE(g.ok());
  ExecuteOptions opts;
  opts.params = {{"city", Value::String("c3")}};
  opts.estimate_costs = true;
  REQUIRE(engine->Execute(*g, opts).ok());
  auto calibrated = engine->Explain(*g, opts);
  REQUIRE(calibrated.ok());
  // Learned from the run: 50 users in c3, not the estimator's 42.
  CHECK(Find(*calibrated, "user_data")->estimate.calibrated);
  CHECK(Find(*calibrated, "user_data")->expected_rows == 50);
  CHECK(users->calls == 1);

  auto altered =
      engine->ExecuteStatements("ALTER EXTERNAL DATA SOURCE db_users PROVIDER sqlite CONNECT '" +
                                dir.File("users.sqlite") + "' OPTIONS 'pool_max=3';");
  INFO(altered.status().message());
  REQUIRE(altered.ok());
  auto fresh = engine->Explain(*g, opts);
  REQUIRE(fresh.ok());
  CHECK(users->calls == 2);  // asked again
  CHECK_FALSE(Find(*fresh, "user_data")->estimate.calibrated);
  CHECK(Find(*fresh, "user_data")->expected_rows == 42);
  // The other source keeps what it learned.
  CHECK(Find(*fresh, "order_data")->estimate.calibrated);
}

TEST_CASE("cost: a failing or nonsensical estimator gives a safe default, and EXPLAIN says so",
          "[engine][cost]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::string name;
    absl::StatusOr<CostEstimate> answer;
    std::string says;
  };
  const Case cases[] = {
      {"NaN rows", Chosen(nan, 1, 1), "rows="},
      {"negative rows", Chosen(-5, 1, 1), "rows=-5"},
      {"negative startup", Chosen(10, -1, 1), "startup_cost=-1"},
      {"infinite per row", Chosen(10, 1, inf), "per_row_cost="},
      {"NaN per binding",
       [&] {
         CostEstimate e = Chosen(10, 1, 1);
         e.per_binding_cost = nan;
         return e;
       }(),
       "per_binding_cost="},
      {"error", absl::InternalError("estimator exploded"), "estimator exploded"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      TempDir dir;
      MakeSeed(dir);
      EngineOptions options;
      options.cost_estimators["db_users"] = std::make_shared<ChosenEstimator>(c.answer);
      options.cost_estimators["db_orders"] = std::make_shared<ChosenEstimator>(c.answer);
      auto engine = SeedEngine(dir, std::move(options));
      auto g = ParseGraph(kSeed, engine->GraphParseOptions());
      REQUIRE(g.ok());
      ExecuteOptions opts;
      opts.params = {{"city", Value::String("c3")}};
      auto plan = engine->Explain(*g, opts);
      REQUIRE(plan.ok());
      for (const NodePlan& np : plan->nodes) {
        INFO(np.node_id);
        CHECK(np.estimate.origin == "default");
        CHECK(np.estimate.fallback_reason.find(c.says) != std::string::npos);
        CHECK(std::isfinite(np.estimate.startup_cost));
        CHECK(np.estimate.startup_cost >= 0);
        CHECK(std::isfinite(np.expected_ms));
      }
      const std::string text = RenderPlan(*plan, ExplainFormat::kText);
      CHECK(text.find("fallback=") != std::string::npos);
      // The graph still runs, with the default.
      opts.estimate_costs = true;
      auto r = engine->Execute(*g, opts);
      REQUIRE(r.ok());
      CHECK(r->FindNode("order_data")->num_rows > 0);
      const std::string json = RenderPlan(r->plan, ExplainFormat::kJson, &*r);
      CHECK(json.find("\"fallback_reason\"") != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace qg::enginetest
