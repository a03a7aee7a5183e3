// Fetch once and join locally (docs/design.md §5, §11): forced fetch_once
// on real SQLite files gives exactly what batched and per-binding lookups
// give; the strategy choice as a pure function over chosen estimates; auto's
// choice and adaptive re-planning end to end with a SQLite provider that
// reports chosen estimates; EXPLAIN lists the alternatives.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine/strategy_choice.h"
#include "engine_test_util.h"
#include "providers/sqlite/sqlite_provider.h"
#include "qg/cost.h"
#include "qg/engine.h"
#include "qg/plan.h"

namespace qg::enginetest {
namespace {

std::unique_ptr<Engine> TwoFileEngine(const TempDir& dir, const std::string& provider = "sqlite",
                                      std::shared_ptr<Provider> extra = nullptr,
                                      EngineOptions options = {}) {
  auto engine = Engine::Create(options);
  REQUIRE(engine.ok());
  if (extra != nullptr) REQUIRE((*engine)->RegisterProvider(extra).ok());
  const std::string catalog = R"({"sources": [
      {"name": "a", "provider": ")" +
                              provider + R"(", "connect": ")" + dir.File("a.sqlite") + R"("},
      {"name": "b", "provider": ")" +
                              provider + R"(", "connect": ")" + dir.File("b.sqlite") + R"("}]})";
  auto st = (*engine)->LoadCatalogJson(catalog);
  INFO(st.message());
  REQUIRE(st.ok());
  return std::move(*engine);
}

// keys (in a) -> items (in b) on `col`; `query` is the inner node's query.
std::string JoinGraph(const std::string& query, const std::string& strategy,
                      const std::string& outer = "SELECT k FROM keys") {
  return R"({"nodes": [
    {"node_id": "keys", "database_id": "a", "query_string": ")" +
         outer + R"(", "output_fields": ["k"]},
    {"node_id": "items", "database_id": "b", "query_string": ")" +
         query + R"(", "input_parameters": ["p"])" +
         (strategy.empty() ? "" : R"(, "strategy": ")" + strategy + "\"") + R"(}],
    "edges": [{"source_node": "keys", "target_node": "items",
               "input_mapping": {"keys.k": "items.p"}}]})";
}

// Each row of `node` with the binding it belongs to: "binding => row".
std::vector<std::string> LinkedRows(const NodeResult& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.num_rows; ++i) {
    std::string s;
    for (const Value& v : r.bindings[r.row_binding[i]]) {
      s.append(Canon(v));
      s.push_back(',');
    }
    s.append(" =>");
    for (const Column& c : r.columns) {
      s.push_back(' ');
      s.append(Canon(c.values[i]));
    }
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("forced fetch_once gives what batched and per-binding lookups give",
          "[engine][sqlite][fetch_once]") {
  TempDir dir;
  // Keys: duplicates, a NULL, a key with no rows (5), non-ASCII text.
  SqlExec(dir.File("a.sqlite"),
          "CREATE TABLE keys (k);"
          "INSERT INTO keys VALUES (1), (2), (2), (NULL), (5), ('Zoë'), ('東京'), (1);");
  // Items: duplicate keys, NULL keys, keys nobody asks for, text keys
  // differing only in case (a lookup does not fold case in SQLite).
  SqlExec(dir.File("b.sqlite"),
          "CREATE TABLE items (id INTEGER, key, v TEXT);"
          "INSERT INTO items VALUES (1, 1, 'one'), (2, 1, 'uno'), (3, 2, 'two'), (4, NULL, 'nul'),"
          "(5, 9, 'nine'), (6, 'Zoë', 'zoe'), (7, 'ZOË', 'upper'), (8, '東京', 'tokyo'),"
          "(9, 3, 'three');");
  auto engine = TwoFileEngine(dir);
  for (const std::string query :
       {"SELECT id, v FROM items WHERE key = :p", "SELECT id, v, key FROM items WHERE :p = key",
        "SELECT id, v FROM items WHERE v <> 'x' AND key = :p ORDER BY id"}) {
    INFO(query);
    std::vector<std::string> want;
    for (const std::string strategy : {"per_binding", "batched", "fetch_once"}) {
      INFO(strategy);
      auto r = engine->ExecuteJson(JoinGraph(query, strategy));
      INFO(r.status().message());
      REQUIRE(r.ok());
      const NodeResult* items = r->FindNode("items");
      CHECK(items->stats.strategy == strategy);
      CHECK(items->bindings.size() == 5);  // 1, 2, 5, 'Zoë', '東京'
      const std::vector<std::string> got = LinkedRows(*items);
      if (want.empty()) {
        want = got;
        CHECK(want.size() == 5);  // one, uno, two, zoe, tokyo
      } else {
        CHECK(got == want);
      }
      if (strategy == "fetch_once") CHECK(items->stats.round_trips == 1);
    }
  }
  CHECK(TotalInUse(*engine) == 0);
}

TEST_CASE("fetch_once links rows whose key the source converted", "[engine][sqlite][fetch_once]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE keys (k INTEGER); INSERT INTO keys VALUES (1), (2);");
  // TEXT affinity: the lookup compares 1 as '1'; the key comes back as text.
  SqlExec(dir.File("b.sqlite"),
          "CREATE TABLE items (id INTEGER, key TEXT);"
          "INSERT INTO items VALUES (7, '1'), (8, '2'), (9, '3'), (10, NULL);");
  auto engine = TwoFileEngine(dir);
  for (const std::string strategy : {"batched", "fetch_once"}) {
    auto r = engine->ExecuteJson(JoinGraph("SELECT id FROM items WHERE key = :p", strategy));
    INFO(r.status().message());
    REQUIRE(r.ok());
    CHECK(LinkedRows(*r->FindNode("items")) == std::vector<std::string>{"1, => 7", "2, => 8"});
  }
}

TEST_CASE("fetch_once is refused, with the reason, where a lookup cannot be rewritten",
          "[engine][sqlite][fetch_once]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE keys (k INTEGER); INSERT INTO keys VALUES (1);");
  SqlExec(dir.File("b.sqlite"), "CREATE TABLE items (id INTEGER, key INTEGER, v INTEGER);");
  auto engine = TwoFileEngine(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SELECT count(*) FROM items WHERE key = :p", "aggregate"},
      {"SELECT id FROM items WHERE key = :p LIMIT 3", "LIMIT"},
      {"SELECT id FROM items WHERE key = :p OR v = 1", "OR"},
      {"SELECT id FROM items WHERE key = :p AND v = :p", "twice"},
      {"SELECT id FROM items WHERE key > :p", "not '='"},
      {"SELECT id, key FROM items WHERE key = :p GROUP BY id, key", "GROUP BY"},
  };
  for (const auto& [query, why] : cases) {
    INFO(query);
    auto r = engine->ExecuteJson(JoinGraph(query, "fetch_once"));
    REQUIRE(!r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    const std::string msg(r.status().message());
    INFO(msg);
    CHECK(msg.find("strategy \"fetch_once\" is not possible") != std::string::npos);
    CHECK(msg.find(why) != std::string::npos);
    // auto still runs it, as before (per binding), and says fetch_once was refused.
    auto g = ParseGraph(JoinGraph(query, ""), engine->GraphParseOptions());
    REQUIRE(g.ok());
    auto plan = engine->Explain(*g);
    REQUIRE(plan.ok());
    REQUIRE(plan->nodes[1].alternatives.size() == 3);
    CHECK(!plan->nodes[1].alternatives[2].possible);
  }
  auto w = engine->ExecuteJson(R"J({"nodes": [
    {"node_id": "keys", "database_id": "a", "query_string": "SELECT k FROM keys",
     "output_fields": ["k"]},
    {"node_id": "w", "database_id": "b", "query_string": "INSERT INTO items (key) VALUES (:p)",
     "input_parameters": ["p"], "mode": "write", "strategy": "fetch_once"}],
    "edges": [{"source_node": "keys", "target_node": "w", "input_mapping": {"keys.k": "w.p"}}]})J");
  REQUIRE(!w.ok());
  INFO(w.status().message());
  CHECK(std::string(w.status().message()).find("\"fetch_once\" is for reads") != std::string::npos);
}

// --- The choice as a pure function ------------------------------------------

CostEstimate Est(double rows, double startup, double per_binding, double per_row) {
  CostEstimate e;
  e.rows = rows;
  e.startup_cost = startup;
  e.per_binding_cost = per_binding;
  e.per_row_cost = per_row;
  e.origin = "test";
  return e;
}

StrategyInputs Inputs(double keys, double relation_rows) {
  StrategyInputs in;
  in.expected_keys = keys;
  in.lookup = Est(10, 0.3, 0.01, 0.001);  // an index probe per key, 10 rows each
  in.fetch_all = Est(relation_rows, 0.3, 0, 0.0005);
  in.batch_size = 1000;
  in.parallelism = 2;
  in.fetch_once_possible = true;
  return in;
}

TEST_CASE("the strategy choice follows the estimates", "[engine][fetch_once][choice]") {
  SECTION("a small relation and many keys: fetch once") {
    const StrategyChoice c = ChooseStrategy(Inputs(100000, 1000000));
    CHECK(c.kind == ExecKind::kFetchOnce);
    REQUIRE(c.alternatives.size() == 3);
    CHECK(c.alternatives[2].est_ms < c.alternatives[0].est_ms);
    CHECK(c.reason.find("fetch_once") != std::string::npos);
  }
  SECTION("a huge relation and few keys: batched") {
    const StrategyChoice c = ChooseStrategy(Inputs(20, 100000000));
    CHECK(c.kind == ExecKind::kBatched);
    CHECK(c.alternatives[0].est_ms < c.alternatives[2].est_ms);
    CHECK(c.alternatives[0].est_ms > 0);
  }
  SECTION("the key count decides between them at the same relation") {
    CHECK(ChooseStrategy(Inputs(10, 1000000)).kind == ExecKind::kBatched);
    CHECK(ChooseStrategy(Inputs(1000000, 1000000)).kind == ExecKind::kFetchOnce);
  }
  SECTION("unknown key count or relation size: batched, and says why") {
    const StrategyChoice a = ChooseStrategy(Inputs(-1, 1000));
    CHECK(a.kind == ExecKind::kBatched);
    CHECK(a.reason.find("key count unknown") != std::string::npos);
    const StrategyChoice b = ChooseStrategy(Inputs(100000, -1));
    CHECK(b.kind == ExecKind::kBatched);
    CHECK(b.reason.find("relation size unknown") != std::string::npos);
    CHECK(b.alternatives[2].est_ms < 0);
  }
  SECTION("nonsense estimates fall back safely") {
    for (double bad : {std::nan(""), -5.0, std::numeric_limits<double>::infinity()}) {
      StrategyInputs in = Inputs(100000, 1000);
      in.fetch_all.per_row_cost = bad;
      const StrategyChoice c = ChooseStrategy(in);
      CHECK(c.kind == ExecKind::kBatched);
      CHECK(c.alternatives[2].note.find("not a usable number") != std::string::npos);
      in = Inputs(100000, 1000);
      in.lookup.startup_cost = bad;
      CHECK(ChooseStrategy(in).kind == ExecKind::kBatched);
      in = Inputs(bad, 1000);
      CHECK(ChooseStrategy(in).kind == ExecKind::kBatched);
    }
  }
  SECTION("batched refused: per binding or fetch once") {
    StrategyInputs in = Inputs(50, 100000000);
    in.batched_possible = false;
    in.batched_refusal = "provider cannot batch";
    CHECK(ChooseStrategy(in).kind == ExecKind::kPerBinding);
    in = Inputs(50, 100);
    in.batched_possible = false;
    CHECK(ChooseStrategy(in).kind == ExecKind::kFetchOnce);
    in = Inputs(-1, 100);
    in.batched_possible = false;
    in.batched_refusal = "provider cannot batch";
    const StrategyChoice c = ChooseStrategy(in);
    CHECK(c.kind == ExecKind::kPerBinding);
    CHECK(c.reason.find("provider cannot batch") != std::string::npos);
  }
  SECTION("fetch once refused: never chosen, its reason kept") {
    StrategyInputs in = Inputs(1000000, 10);
    in.fetch_once_possible = false;
    in.fetch_once_refusal = "aggregate count( at the top level";
    const StrategyChoice c = ChooseStrategy(in);
    CHECK(c.kind == ExecKind::kBatched);
    CHECK(!c.alternatives[2].possible);
    CHECK(c.alternatives[2].note == in.fetch_once_refusal);
  }
  SECTION("per binding wins only when much cheaper than batched") {
    // Batch size 1: batched is per binding in disguise, no parallel help.
    StrategyInputs in = Inputs(8, 100000000);
    in.batch_size = 1;
    in.parallelism = 8;
    const StrategyChoice c = ChooseStrategy(in);
    CHECK(c.alternatives[0].est_ms == Approx(c.alternatives[1].est_ms));
    CHECK(c.kind == ExecKind::kBatched);  // a tie prefers batched
    in.batched_possible = false;
    CHECK(ChooseStrategy(in).kind == ExecKind::kPerBinding);
  }
  SECTION("rows only (no cost parts): default unit costs, still decides") {
    StrategyInputs in = Inputs(100000, 50000);
    in.lookup = Est(1, 0, 0, 0);
    in.fetch_all = Est(50000, 0, 0, 0);
    const StrategyChoice c = ChooseStrategy(in);
    CHECK(c.kind == ExecKind::kFetchOnce);
    CHECK(c.alternatives[0].note.find("default unit costs") != std::string::npos);
  }
  SECTION("a lookup never returns more than the whole relation") {
    StrategyInputs in = Inputs(1000000, 1000);
    in.lookup = Est(1000, 0.3, 0.01, 0.001);  // a poor per-key estimate
    const StrategyChoice c = ChooseStrategy(in);
    // 1000 relation rows cap the lookups' rows; the per-key work remains.
    CHECK(c.alternatives[0].est_ms < 1000000 * 1000 * 0.001);
    CHECK(c.kind == ExecKind::kFetchOnce);
  }
}

TEST_CASE("a missed estimate is more than 4x either way", "[engine][fetch_once][choice]") {
  CHECK(!EstimateMissed(100, 400));
  CHECK(EstimateMissed(100, 401));
  CHECK(EstimateMissed(100, 24));
  CHECK(!EstimateMissed(100, 25));
  CHECK(EstimateMissed(0, 5));  // zero counts as one row
  CHECK(!EstimateMissed(0, 4));
  CHECK(!EstimateMissed(-1, 1000000));  // unknown: never re-planned
  CHECK(!EstimateMissed(std::nan(""), 10));
}

// --- Auto and re-planning end to end ------------------------------------------

// Estimates chosen by the test, installed for both SQLite sources: the keys query, the lookup (text without IS NOT NULL) and the
// fetch-once statement (text with IS NOT NULL) each get theirs.
class ChosenEstimates : public CostEstimator {
 public:
  CostEstimate keys, lookup, fetch_all;
  absl::StatusOr<CostEstimate> Estimate(Connection&, const Statement& stmt,
                                        const std::vector<BoundArg>&) override {
    if (stmt.text.find("FROM keys") != std::string::npos) return keys;
    if (stmt.text.find("IS NOT NULL") != std::string::npos) return fetch_all;
    return lookup;
  }
};

struct AutoEnv {
  TempDir dir;
  // Installed as the host's estimator of both sources (EngineOptions).
  std::shared_ptr<ChosenEstimates> estimates = std::make_shared<ChosenEstimates>();
  std::unique_ptr<Engine> engine;
  explicit AutoEnv(int n_keys) {
    std::string keys = "BEGIN; CREATE TABLE keys (k INTEGER);";
    for (int i = 0; i < n_keys; ++i) keys += "INSERT INTO keys VALUES (" + std::to_string(i) + ");";
    SqlExec(dir.File("a.sqlite"), keys + "COMMIT;");
    std::string items = "BEGIN; CREATE TABLE items (id INTEGER, key INTEGER);";
    for (int i = 0; i < 3000; ++i) {
      items +=
          "INSERT INTO items VALUES (" + std::to_string(i) + ", " + std::to_string(i % 1500) + ");";
    }
    SqlExec(dir.File("b.sqlite"), items + "COMMIT;");
    EngineOptions options;
    options.estimate_costs_on_execute = true;
    options.cost_estimators["a"] = estimates;
    options.cost_estimators["b"] = estimates;
    engine = TwoFileEngine(dir, "sqlite", nullptr, options);
  }
};

const char* kLookup = "SELECT id, key FROM items WHERE key = :p";

TEST_CASE("auto chooses fetch_once or batched from the estimates",
          "[engine][sqlite][fetch_once][auto]") {
  AutoEnv env(1000);
  SECTION("many keys over a small relation: fetch_once, same rows as batched") {
    env.estimates->keys = Est(1000, 0.1, 0, 0.001);
    env.estimates->lookup = Est(2, 0.3, 0.05, 0.001);
    env.estimates->fetch_all = Est(3000, 0.3, 0, 0.001);
    auto g = ParseGraph(JoinGraph(kLookup, ""), env.engine->GraphParseOptions());
    REQUIRE(g.ok());
    auto plan = env.engine->Explain(*g);
    REQUIRE(plan.ok());
    CHECK(plan->nodes[1].kind == ExecKind::kFetchOnce);
    CHECK(plan->nodes[1].statement.find("IS NOT NULL") != std::string::npos);
    CHECK(plan->nodes[1].expected_keys == 1000);
    const std::string text = RenderPlan(*plan, ExplainFormat::kText);
    INFO(text);
    CHECK(text.find("fetch_once: est") != std::string::npos);
    CHECK(text.find("[chosen]") != std::string::npos);
    const std::string json = RenderPlan(*plan, ExplainFormat::kJson);
    CHECK(json.find("\"alternatives\":[{\"strategy\":\"batched\"") != std::string::npos);
    auto r = env.engine->Execute(*g);
    REQUIRE(r.ok());
    CHECK(r->FindNode("items")->stats.strategy == "fetch_once");
    CHECK(r->FindNode("items")->stats.replan_reason.empty());
    auto b = env.engine->ExecuteJson(JoinGraph(kLookup, "batched"));
    REQUIRE(b.ok());
    CHECK(LinkedRows(*r->FindNode("items")) == LinkedRows(*b->FindNode("items")));
    CHECK(r->FindNode("items")->num_rows == 2000);
  }
  SECTION("few keys over a huge relation: batched") {
    env.estimates->keys = Est(1000, 0.1, 0, 0.001);
    env.estimates->lookup = Est(2, 0.3, 0.01, 0.001);
    env.estimates->fetch_all = Est(50000000, 0.3, 0, 0.001);
    auto r = env.engine->ExecuteJson(JoinGraph(kLookup, ""));
    REQUIRE(r.ok());
    CHECK(r->FindNode("items")->stats.strategy == "batched");
    CHECK(r->plan.nodes[1].alternatives.size() == 3);
  }
}

TEST_CASE("a parent far off its estimate makes its dependents decide again",
          "[engine][sqlite][fetch_once][replan]") {
  AutoEnv env(1000);
  // Planned for 3 keys: batched. The keys query returns 1000 rows.
  env.estimates->keys = Est(3, 0.1, 0, 0.001);
  env.estimates->lookup = Est(2, 0.3, 0.05, 0.001);
  env.estimates->fetch_all = Est(3000, 0.3, 0, 0.001);
  auto g = ParseGraph(JoinGraph(kLookup, ""), env.engine->GraphParseOptions());
  REQUIRE(g.ok());
  auto r = env.engine->Execute(*g);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* items = r->FindNode("items");
  CHECK(r->plan.nodes[1].kind == ExecKind::kBatched);
  CHECK(items->stats.planned_strategy == "batched");
  CHECK(items->stats.strategy == "fetch_once");
  CHECK(items->stats.replan_reason.find("\"keys\" returned 1000 rows where 3") !=
        std::string::npos);
  const std::string analyze = RenderPlan(r->plan, ExplainFormat::kText, &*r);
  INFO(analyze);
  CHECK(analyze.find("replanned:   batched -> fetch_once") != std::string::npos);
  const std::string json = RenderPlan(r->plan, ExplainFormat::kJson, &*r);
  CHECK(json.find("\"planned_strategy\":\"batched\"") != std::string::npos);
  CHECK(json.find("\"replan_reason\":") != std::string::npos);
  auto b = env.engine->ExecuteJson(JoinGraph(kLookup, "batched"));
  REQUIRE(b.ok());
  CHECK(LinkedRows(*items) == LinkedRows(*b->FindNode("items")));

  SECTION("within 4x: the plan stands") {
    env.estimates->keys = Est(400, 0.1, 0, 0.001);  // different text: not cached
    auto r2 = env.engine->ExecuteJson(JoinGraph(kLookup, "", "SELECT k FROM keys WHERE k >= 0"));
    REQUIRE(r2.ok());
    const NodeResult* i2 = r2->FindNode("items");
    CHECK(i2->stats.strategy == i2->stats.planned_strategy);
    CHECK(i2->stats.replan_reason.empty());
  }
  SECTION("a forced strategy is never re-planned") {
    auto r3 = env.engine->ExecuteJson(JoinGraph(kLookup, "batched"));
    REQUIRE(r3.ok());
    CHECK(r3->FindNode("items")->stats.strategy == "batched");
    CHECK(r3->FindNode("items")->stats.replan_reason.empty());
  }
}

}  // namespace
}  // namespace qg::enginetest
