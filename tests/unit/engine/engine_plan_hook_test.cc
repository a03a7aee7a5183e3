// The public planner (qg/planner.h) and the host's plan hook
// (EngineOptions::plan_hook, qg/plan_hook.h; docs/design.md §11): overrides
// of strategy, batch size and parallel width reach the execution; invalid
// overrides, errors and throws keep the planner's choice and EXPLAIN says
// why; Planner::Plan shows what Execute then runs; estimators answering
// nonsense leave the strategy choice on its safe default.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"
#include "qg/plan.h"
#include "qg/plan_hook.h"
#include "qg/planner.h"

namespace qg::enginetest {
namespace {

// users (db) -> orders (db2) on user_id: five distinct keys (1..5) and a NULL.
const char* kGraph = R"({"nodes": [
  {"node_id": "u", "database_id": "db", "query_string": "table users",
   "output_fields": ["id"]},
  {"node_id": "o", "database_id": "db2", "query_string": "table orders where user_id = :uid",
   "input_parameters": ["uid"], "output_fields": ["order_id", "user_id"]}],
  "edges": [{"source_node": "u", "target_node": "o", "input_mapping": {"u.id": "o.uid"}}]})";

void AddTables(qg::testing::FakeProvider& fake) {
  std::vector<std::vector<Value>> users;
  std::vector<std::vector<Value>> orders;
  for (int i = 1; i <= 5; ++i) {
    users.push_back({Value::Int(i)});
    for (int j = 0; j < i % 3; ++j) orders.push_back({Value::Int(100 * i + j), Value::Int(i)});
  }
  users.push_back({Value::Int(2)});
  users.push_back({Value::Null()});
  fake.AddTable("users", {"id"}, std::move(users));
  fake.AddTable("orders", {"order_id", "user_id"}, std::move(orders));
}

// A hook that answers `answer` for node "o" and keeps every other node.
PlanHook HookFor(absl::StatusOr<std::optional<PlanOverride>> answer) {
  return [answer](const PlanHookView& v) -> absl::StatusOr<std::optional<PlanOverride>> {
    if (v.decision.node_id != "o") return std::nullopt;
    return answer;
  };
}

PlanOverride Kind(ExecKind k) {
  PlanOverride o;
  o.kind = k;
  return o;
}

FakeEnv HookEngine(PlanHook hook, int pool_max = 8) {
  EngineOptions options;
  options.plan_hook = std::move(hook);
  FakeEnv env = MakeFakeEngine(pool_max, options);
  AddTables(*env.fake);
  return env;
}

const NodePlan& PlanOf(const Plan& plan, const std::string& id) {
  for (const NodePlan& np : plan.nodes) {
    if (np.node_id == id) return np;
  }
  FAIL("no node " << id);
  return plan.nodes.front();
}

TEST_CASE("plan hook: a strategy override is what runs", "[engine][plan_hook]") {
  FakeEnv plain = HookEngine(nullptr);
  auto base = plain.engine->ExecuteJson(kGraph);
  REQUIRE(base.ok());
  const NodeResult* bo = base->FindNode("o");
  REQUIRE(bo->stats.strategy == "batched");
  CHECK(bo->stats.round_trips == 1);

  FakeEnv env = HookEngine(HookFor(Kind(ExecKind::kPerBinding)));
  auto r = env.engine->ExecuteJson(kGraph);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* o = r->FindNode("o");
  CHECK(o->stats.strategy == "per_binding");
  CHECK(o->stats.round_trips == 5);  // one per distinct key
  CHECK(RowSet(*o) == RowSet(*bo));
  const NodePlan& np = PlanOf(r->plan, "o");
  CHECK(np.kind == ExecKind::kPerBinding);
  CHECK(np.reason.find("chosen by the host's plan hook") != std::string::npos);
  CHECK(np.reason.find("the planner had chosen batched") != std::string::npos);
  // The node without mappings is not offered to the hook.
  CHECK(PlanOf(r->plan, "u").reason.find("hook") == std::string::npos);
}

TEST_CASE("plan hook: a cached plan keeps the hook's decision without asking again",
          "[engine][plan_hook]") {
  int calls = 0;
  FakeEnv env = HookEngine([&](const PlanHookView&) -> absl::StatusOr<std::optional<PlanOverride>> {
    ++calls;
    return Kind(ExecKind::kPerBinding);
  });
  auto first = env.engine->ExecuteJson(kGraph);
  REQUIRE(first.ok());
  CHECK_FALSE(first->plan.cached);
  auto second = env.engine->ExecuteJson(kGraph);
  REQUIRE(second.ok());
  CHECK(second->plan.cached);
  CHECK(calls == 1);  // planned once: the hook is fixed per engine
  CHECK(second->FindNode("o")->stats.strategy == "per_binding");
  CHECK(second->FindNode("o")->stats.round_trips == 5);
}

TEST_CASE("plan hook: a batch size override is what runs", "[engine][plan_hook]") {
  PlanOverride o;
  o.batch_size = 2;
  o.note = "small batches";
  FakeEnv env = HookEngine(HookFor(o));
  auto r = env.engine->ExecuteJson(kGraph);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* res = r->FindNode("o");
  CHECK(res->stats.strategy == "batched");
  CHECK(res->stats.round_trips == 3);  // 5 keys in batches of 2
  const NodePlan& np = PlanOf(r->plan, "o");
  CHECK(np.batch_size == 2);
  CHECK(np.reason.find("chosen by the host's plan hook: batched, batch size 2") !=
        std::string::npos);
  CHECK(np.reason.find("small batches") != std::string::npos);
  const std::string text = RenderPlan(r->plan, ExplainFormat::kText, &*r);
  CHECK(text.find("chosen by the host's plan hook") != std::string::npos);
}

TEST_CASE("plan hook: a parallel width override bounds the connections", "[engine][plan_hook]") {
  PlanOverride o = Kind(ExecKind::kPerBinding);
  o.parallelism = 1;
  FakeEnv env = HookEngine(HookFor(o));
  const std::string slow = std::string(kGraph).replace(std::string(kGraph).find("table orders"), 12,
                                                       "@sleep=30 table orders");
  auto r = env.engine->ExecuteJson(slow);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->FindNode("o")->stats.round_trips == 5);
  CHECK(PlanOf(r->plan, "o").parallelism == 1);
  CHECK(env.fake->max_concurrent_executions() == 1);
  // Without the width the five lookups overlap.
  PlanOverride wide = Kind(ExecKind::kPerBinding);
  FakeEnv env2 = HookEngine(HookFor(wide));
  auto r2 = env2.engine->ExecuteJson(slow);
  REQUIRE(r2.ok());
  CHECK(env2.fake->max_concurrent_executions() > 1);
}

TEST_CASE("plan hook: invalid overrides keep the planner's choice and EXPLAIN says why",
          "[engine][plan_hook]") {
  struct Case {
    std::string name;
    PlanHook hook;
    std::string says;
  };
  PlanOverride zero;
  zero.batch_size = 0;
  PlanOverride huge;
  huge.batch_size = 101;  // max_bindings is 100 below
  PlanOverride per_binding_batch = Kind(ExecKind::kPerBinding);
  per_binding_batch.batch_size = 10;
  PlanOverride no_width;
  no_width.parallelism = 0;
  PlanOverride too_wide;
  too_wide.parallelism = 1000;
  const Case cases[] = {
      {"fetch once, which the fake cannot", HookFor(Kind(ExecKind::kFetchOnce)),
       "strategy fetch_once is not available for this node (available: batched, per_binding)"},
      {"single", HookFor(Kind(ExecKind::kSingle)), "strategy single is not available"},
      {"batch size 0", HookFor(zero), "batch size 0 is below 1"},
      {"batch size above max_bindings", HookFor(huge),
       "batch size 101 is above max_bindings (100)"},
      {"batch size for per-binding", HookFor(per_binding_batch),
       "a batch size for strategy per_binding, which does not batch"},
      {"width 0", HookFor(no_width), "parallel width 0 is outside 1.."},
      {"width 1000", HookFor(too_wide), "parallel width 1000 is outside 1.."},
      {"an error status", HookFor(absl::UnavailableError("host busy")),
       "it returned an error: UNAVAILABLE: host busy"},
      {"a throw",
       [](const PlanHookView&) -> absl::StatusOr<std::optional<PlanOverride>> {
         throw std::runtime_error("hook bug");
       },
       "it threw an exception: hook bug"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      EngineOptions options;
      options.plan_hook = c.hook;
      options.max_bindings = 100;
      FakeEnv env = MakeFakeEngine(4, options);
      AddTables(*env.fake);
      Planner planner(*env.engine);
      auto plan = planner.PlanJson(kGraph);
      INFO(plan.status().message());
      REQUIRE(plan.ok());
      const NodePlan& np = PlanOf(*plan, "o");
      INFO(np.reason);
      CHECK(np.kind == ExecKind::kBatched);
      CHECK(np.batch_size == 1000);
      CHECK(np.parallelism == 4);  // pool_max 4, at least 4 workers
      CHECK(np.reason.find("the host's plan hook was refused (" + c.says) != std::string::npos);
      CHECK(np.reason.find("the planner's choice stands") != std::string::npos);
      CHECK(RenderPlan(*plan, ExplainFormat::kText).find("plan hook was refused") !=
            std::string::npos);
      auto r = env.engine->ExecuteJson(kGraph);
      REQUIRE(r.ok());
      CHECK(r->FindNode("o")->stats.strategy == "batched");
      CHECK(r->FindNode("o")->stats.round_trips == 1);
    }
  }
}

TEST_CASE("plan hook: a hook that keeps the decision changes nothing, and sees it",
          "[engine][plan_hook]") {
  std::vector<std::string> seen;
  std::vector<ExecKind> available;
  int64_t max_batch = 0;
  EngineOptions options;
  options.plan_hook = [&](const PlanHookView& v) -> absl::StatusOr<std::optional<PlanOverride>> {
    seen.push_back(v.decision.node_id);
    available = v.available;
    max_batch = v.max_batch_size;
    CHECK(v.decision.kind == ExecKind::kBatched);
    CHECK(v.decision.alternatives.size() == 3);
    CHECK_FALSE(v.forced);
    return std::nullopt;
  };
  FakeEnv env = MakeFakeEngine(8, options);
  AddTables(*env.fake);
  auto plan = Planner(*env.engine).PlanJson(kGraph);
  REQUIRE(plan.ok());
  CHECK(seen == std::vector<std::string>{"o"});
  CHECK(available == std::vector<ExecKind>{ExecKind::kBatched, ExecKind::kPerBinding});
  CHECK(max_batch == 1000);  // the fake's 1000 placeholders, every one a key
  CHECK(PlanOf(*plan, "o").reason.find("hook") == std::string::npos);
}

TEST_CASE("plan hook: write nodes are offered what they can run with", "[engine][plan_hook]") {
  const char* graph = R"({"nodes": [
    {"node_id": "u", "database_id": "db", "query_string": "table users", "output_fields": ["id"]},
    {"node_id": "o", "database_id": "db2", "mode": "write", "query_string": "@fail_when=uid:999 write",
     "input_parameters": ["uid"]}],
    "edges": [{"source_node": "u", "target_node": "o", "input_mapping": {"u.id": "o.uid"}}]})";
  bool saw_write = false;
  std::vector<ExecKind> available;
  auto remember = [&](const PlanHookView& v) {
    saw_write = v.is_write;
    available = v.available;
  };
  SECTION("batched, which the fake cannot write, is refused") {
    FakeEnv env =
        HookEngine([&](const PlanHookView& v) -> absl::StatusOr<std::optional<PlanOverride>> {
          remember(v);
          return Kind(ExecKind::kBatched);
        });
    auto r = env.engine->ExecuteJson(graph);
    INFO(r.status().message());
    REQUIRE(r.ok());
    CHECK(saw_write);
    CHECK(available == std::vector<ExecKind>{ExecKind::kPerBinding});
    const NodePlan& np = PlanOf(r->plan, "o");
    CHECK(np.kind == ExecKind::kPerBinding);
    CHECK(np.reason.find("strategy batched is not available for this node") != std::string::npos);
    CHECK(r->FindNode("o")->stats.rows_affected == 5);
  }
  SECTION("a width of 1 is applied") {
    PlanOverride o;
    o.parallelism = 1;
    FakeEnv env = HookEngine(HookFor(o));
    auto r = env.engine->ExecuteJson(graph);
    REQUIRE(r.ok());
    CHECK(PlanOf(r->plan, "o").parallelism == 1);
    CHECK(PlanOf(r->plan, "o").reason.find("chosen by the host's plan hook: per_binding") !=
          std::string::npos);
    CHECK(r->FindNode("o")->stats.rows_affected == 5);
  }
}

TEST_CASE("planner: Plan shows the decisions Execute then runs with", "[engine][plan_hook]") {
  PlanOverride o;
  o.batch_size = 3;
  FakeEnv env = HookEngine(HookFor(o));
  Planner planner(*env.engine);
  auto g = ParseGraph(kGraph, env.engine->GraphParseOptions());
  REQUIRE(g.ok());
  auto plan = planner.Plan(*g);
  REQUIRE(plan.ok());
  auto from_json = planner.PlanJson(kGraph);
  REQUIRE(from_json.ok());
  auto r = env.engine->Execute(*g);
  REQUIRE(r.ok());
  REQUIRE(plan->nodes.size() == r->plan.nodes.size());
  for (size_t i = 0; i < plan->nodes.size(); ++i) {
    const NodePlan& a = plan->nodes[i];
    const NodePlan& b = r->plan.nodes[i];
    const NodePlan& c = from_json->nodes[i];
    INFO(a.node_id);
    CHECK(a.node_id == b.node_id);
    CHECK(a.kind == b.kind);
    CHECK(a.batch_size == b.batch_size);
    CHECK(a.parallelism == b.parallelism);
    CHECK(a.reason == b.reason);
    CHECK(a.statement == b.statement);
    CHECK(a.alternatives.size() == b.alternatives.size());
    CHECK(c.kind == a.kind);
    CHECK(c.reason == a.reason);
    const NodeResult* res = r->FindNode(a.node_id);
    CHECK(res->stats.strategy == ExecKindName(a.kind));
  }
  CHECK(PlanOf(*plan, "o").batch_size == 3);
  CHECK(r->FindNode("o")->stats.round_trips == 2);  // 5 keys in batches of 3
  // Bad input reaches the host as a status, not a crash.
  CHECK_FALSE(planner.PlanJson("{not json").ok());
}

// keys (a.sqlite) -> items (b.sqlite) on key, auto strategy.
std::unique_ptr<Engine> SqliteEngine(const TempDir& dir, EngineOptions options) {
  SqlExec(dir.File("a.sqlite"),
          "CREATE TABLE keys (k); INSERT INTO keys VALUES (1), (2), (2), (NULL), (5), ('Zoë');");
  SqlExec(dir.File("b.sqlite"),
          "CREATE TABLE items (id INTEGER, key, v TEXT);"
          "INSERT INTO items VALUES (1, 1, 'one'), (2, 1, 'uno'), (3, 2, 'two'), (4, NULL, 'n'),"
          "(5, 9, 'nine'), (6, 'Zoë', 'zoe');");
  auto engine = Engine::Create(std::move(options));
  REQUIRE(engine.ok());
  const std::string catalog = R"({"sources": [
      {"name": "a", "provider": "sqlite", "connect": ")" +
                              dir.File("a.sqlite") + R"("},
      {"name": "b", "provider": "sqlite", "connect": ")" +
                              dir.File("b.sqlite") + R"("}]})";
  REQUIRE((*engine)->LoadCatalogJson(catalog).ok());
  return std::move(*engine);
}

const char* kSqliteGraph = R"({"nodes": [
  {"node_id": "keys", "database_id": "a", "query_string": "SELECT k FROM keys",
   "output_fields": ["k"]},
  {"node_id": "items", "database_id": "b",
   "query_string": "SELECT id, v FROM items WHERE key = :p", "input_parameters": ["p"]}],
  "edges": [{"source_node": "keys", "target_node": "items",
             "input_mapping": {"keys.k": "items.p"}}]})";

TEST_CASE("plan hook: fetch once chosen by the hook runs once and gives the lookup's rows",
          "[engine][plan_hook][sqlite]") {
  TempDir dir;
  auto plain = SqliteEngine(dir, EngineOptions{});
  auto base = plain->ExecuteJson(kSqliteGraph);
  REQUIRE(base.ok());
  REQUIRE(base->FindNode("items")->stats.strategy != "fetch_once");

  TempDir dir2;
  EngineOptions options;
  options.plan_hook = [](const PlanHookView& v) -> absl::StatusOr<std::optional<PlanOverride>> {
    REQUIRE(v.available.size() == 3);  // batched, per_binding, fetch_once
    return Kind(ExecKind::kFetchOnce);
  };
  auto engine = SqliteEngine(dir2, options);
  auto r = engine->ExecuteJson(kSqliteGraph);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* items = r->FindNode("items");
  CHECK(items->stats.strategy == "fetch_once");
  CHECK(items->stats.round_trips == 1);
  CHECK(RowSet(*items) == RowSet(*base->FindNode("items")));
  CHECK(items->num_rows == 4);  // one, uno, two, zoe
  const NodePlan& np = PlanOf(r->plan, "items");
  CHECK(np.kind == ExecKind::kFetchOnce);
  CHECK(np.statement.find(":p") == std::string::npos);  // the whole relation, no key
  CHECK(np.reason.find("chosen by the host's plan hook: fetch_once") != std::string::npos);
}

// Reports what it is told to.
class ChosenEstimator : public CostEstimator {
 public:
  explicit ChosenEstimator(CostEstimate answer) : answer_(std::move(answer)) {}
  absl::StatusOr<CostEstimate> Estimate(Connection&, const Statement&,
                                        const std::vector<BoundArg>&) override {
    return answer_;
  }

 private:
  CostEstimate answer_;
};

TEST_CASE("planner: nonsense estimates leave the strategy on its safe default, and say so",
          "[engine][plan_hook][sqlite]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [name, rows, ms] :
       std::vector<std::tuple<std::string, double, double>>{{"NaN rows", nan, 1},
                                                            {"negative rows", -7, 1},
                                                            {"infinite ms", 10, inf},
                                                            {"negative ms", 10, -3},
                                                            {"NaN ms", 10, nan}}) {
    DYNAMIC_SECTION(name) {
      TempDir dir;
      CostEstimate e;
      e.rows = rows;
      e.startup_cost = ms;
      e.per_row_cost = ms;
      e.origin = "test estimator";
      EngineOptions options;
      options.cost_estimators["a"] = std::make_shared<ChosenEstimator>(e);
      options.cost_estimators["b"] = std::make_shared<ChosenEstimator>(e);
      auto engine = SqliteEngine(dir, options);
      auto plan = Planner(*engine).PlanJson(kSqliteGraph);
      REQUIRE(plan.ok());
      const NodePlan& np = PlanOf(*plan, "items");
      INFO(np.reason);
      CHECK(np.kind == ExecKind::kBatched);
      CHECK(np.reason.find("auto: ") == 0);
      CHECK(np.reason.find("(the default)") != std::string::npos);
      CHECK_FALSE(np.estimate.fallback_reason.empty());
      for (const Alternative& a : np.alternatives) CHECK((a.est_ms == -1 || a.est_ms >= 0));
      CHECK(RenderPlan(*plan, ExplainFormat::kText).find("fallback=") != std::string::npos);
      auto r = engine->ExecuteJson(kSqliteGraph);
      REQUIRE(r.ok());
      CHECK(r->FindNode("items")->num_rows == 4);
    }
  }
}

}  // namespace
}  // namespace qg::enginetest
