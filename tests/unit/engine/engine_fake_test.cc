// Engine tests over the fake in-memory provider: scheduling, dependent-join
// semantics, strategies, cancellation, timeouts, failures, limits, EXPLAIN.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"
#include "qg/plan.h"

namespace qg::enginetest {
namespace {

std::string List(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) s += ", ";
    s += "\"" + items[i] + "\"";
  }
  return s + "]";
}

// One QGDL node; `extra` is appended inside the object (", \"k\": v").
std::string N(const std::string& id, const std::string& db, const std::string& query,
              const std::vector<std::string>& in, const std::vector<std::string>& out,
              const std::string& extra = "") {
  return "{\"node_id\": \"" + id + "\", \"database_id\": \"" + db + "\", \"query_string\": \"" +
         query + "\", \"input_parameters\": " + List(in) + ", \"output_fields\": " + List(out) +
         extra + "}";
}

std::string E(const std::string& from, const std::string& to,
              const std::vector<std::pair<std::string, std::string>>& mapping) {
  std::string m = "{";
  for (size_t i = 0; i < mapping.size(); ++i) {
    if (i > 0) m += ", ";
    m += "\"" + from + "." + mapping[i].first + "\": \"" + to + "." + mapping[i].second + "\"";
  }
  m += "}";
  return "{\"source_node\": \"" + from + "\", \"target_node\": \"" + to +
         "\", \"input_mapping\": " + m + "}";
}

std::string G(const std::vector<std::string>& nodes, const std::vector<std::string>& edges = {},
              const std::string& extra = "") {
  std::string s = "{\"nodes\": [";
  for (size_t i = 0; i < nodes.size(); ++i) s += (i > 0 ? ", " : "") + nodes[i];
  s += "], \"edges\": [";
  for (size_t i = 0; i < edges.size(); ++i) s += (i > 0 ? ", " : "") + edges[i];
  return s + "]" + extra + "}";
}

void AddUsersAndOrders(qg::testing::FakeProvider& fake) {
  fake.AddTable("users", {"id", "name"},
                {{Value::Int(1), Value::String("ann")},
                 {Value::Int(1), Value::String("ann again")},
                 {Value::Null(), Value::String("nobody")},
                 {Value::Int(2), Value::String("bob")},
                 {Value::Int(3), Value::String("cy")}});
  fake.AddTable("orders", {"order_id", "user_id", "amount"},
                {{Value::Int(10), Value::Int(1), Value::Int(5)},
                 {Value::Int(11), Value::Int(1), Value::Int(6)},
                 {Value::Int(12), Value::Int(2), Value::Int(7)},
                 {Value::Int(13), Value::Int(4), Value::Int(8)},
                 {Value::Int(14), Value::Null(), Value::Int(9)}});
}

std::string UsersOrdersGraph(const std::string& strategy,
                             const std::string& users_table = "users") {
  return G({N("u", "db", "table " + users_table, {}, {"id", "name"}),
            N("o", "db2", "table orders where user_id = :uid", {"uid"},
              {"order_id", "user_id", "amount"},
              strategy.empty() ? "" : ", \"strategy\": \"" + strategy + "\", \"batch_size\": 2")},
           {E("u", "o", {{"id", "uid"}})});
}

TEST_CASE("independent nodes overlap in time", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(G({N("a", "db", "@sleep=200 range 1", {}, {"i"}),
                                      N("b", "db2", "@sleep=200 range 2", {}, {"i"})}));
  REQUIRE(r.ok());
  const NodeResult* a = r->FindNode("a");
  const NodeResult* b = r->FindNode("b");
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->num_rows == 1);
  CHECK(b->num_rows == 2);
  // Overlap, proven from the recorded stamps: each started before the other ended.
  CHECK(b->stats.start_ns < a->stats.end_ns);
  CHECK(a->stats.start_ns < b->stats.end_ns);
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("a dependent node starts when its own parents finish, not level by level", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("t", {"x"}, {{Value::Int(1)}});
  // quick -> child; slow runs beside them. The child must finish before slow does.
  auto r = env.engine->ExecuteJson(
      G({N("quick", "db", "table t", {}, {"x"}), N("slow", "db2", "@sleep=300 range 1", {}, {"i"}),
         N("child", "db", "echo :x", {"x"}, {"x"})},
        {E("quick", "child", {{"x", "x"}})}));
  REQUIRE(r.ok());
  REQUIRE(r->FindNode("child") != nullptr);
  REQUIRE(r->FindNode("slow") != nullptr);
  REQUIRE(r->FindNode("quick") != nullptr);
  CHECK(r->FindNode("child")->status == NodeStatus::kOk);
  CHECK(r->FindNode("child")->stats.end_ns < r->FindNode("slow")->stats.end_ns);
  CHECK(r->FindNode("child")->stats.start_ns >= r->FindNode("quick")->stats.end_ns);
}

TEST_CASE("dependent join: nulls do not bind, duplicates bind once, rows link to bindings",
          "[engine]") {
  for (std::string strategy : {"batched", "per_binding", ""}) {
    DYNAMIC_SECTION("strategy " << (strategy.empty() ? "auto" : strategy)) {
      FakeEnv env = MakeFakeEngine();
      AddUsersAndOrders(*env.fake);
      auto r = env.engine->ExecuteJson(UsersOrdersGraph(strategy));
      REQUIRE(r.ok());
      const NodeResult* o = r->FindNode("o");
      REQUIRE(o != nullptr);
      CHECK(o->status == NodeStatus::kOk);
      CHECK(o->binding_params == std::vector<std::string>{"uid"});
      REQUIRE(o->bindings.size() == 3);  // 1, 2, 3: null dropped, 1 once
      CHECK(o->stats.bindings == 3);
      CHECK(RowSet(*o) == std::vector<std::string>{"10|1|5", "11|1|6", "12|2|7"});
      REQUIRE(o->row_binding.size() == o->num_rows);
      const int uid = o->FindColumn("user_id");
      REQUIRE(uid >= 0);
      for (size_t i = 0; i < o->num_rows; ++i) {
        CHECK(ValueKeyEqual()(o->bindings[o->row_binding[i]][0], o->columns[uid].values[i]));
      }
      const std::string expected = strategy.empty() ? "batched" : strategy;
      CHECK(o->stats.strategy == expected);
      if (strategy == "batched") CHECK(o->stats.round_trips == 2);  // 3 bindings, batch 2
      if (expected == "per_binding") CHECK(o->stats.round_trips == 3);
      CHECK(TotalInUse(*env.engine) == 0);
    }
  }
}

TEST_CASE("an empty upstream skips the dependent node and its dependents", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  AddUsersAndOrders(*env.fake);
  env.fake->AddTable("nobody", {"id", "name"}, {{Value::Null(), Value::String("x")}});
  std::string g = G({N("u", "db", "table nobody", {}, {"id", "name"}),
                     N("o", "db2", "table orders where user_id = :uid", {"uid"},
                       {"order_id", "user_id", "amount"}),
                     N("z", "db", "echo :oid", {"oid"}, {"oid"})},
                    {E("u", "o", {{"id", "uid"}}), E("o", "z", {{"order_id", "oid"}})});
  const int64_t before = env.fake->executions();
  auto r = env.engine->ExecuteJson(g);
  REQUIRE(r.ok());
  CHECK(env.fake->executions() - before == 1);  // only u ran
  for (const char* id : {"o", "z"}) {
    const NodeResult* n = r->FindNode(id);
    REQUIRE(n != nullptr);
    CHECK(n->status == NodeStatus::kSkipped);
    CHECK(n->num_rows == 0);
    CHECK(n->stats.bindings == 0);
    CHECK(n->stats.round_trips == 0);
    CHECK(n->bindings.empty());
  }
  const NodeResult* o = r->FindNode("o");
  REQUIRE(o->columns.size() == 3);
  CHECK(o->columns[0].name == "order_id");
  CHECK(o->columns[2].name == "amount");
}

TEST_CASE("parameters from different parents form a cross product", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("A", {"x"}, {{Value::Int(1)}, {Value::Int(2)}, {Value::Int(2)}});
  env.fake->AddTable("B", {"y"}, {{Value::Int(10)}, {Value::Int(20)}, {Value::Int(30)}});
  std::string g = G({N("a", "db", "table A", {}, {"x"}), N("b", "db", "table B", {}, {"y"}),
                     N("c", "db2", "echo :x :y", {"x", "y"}, {"x", "y"})},
                    {E("a", "c", {{"x", "x"}}), E("b", "c", {{"y", "y"}})});
  auto r = env.engine->ExecuteJson(g);
  REQUIRE(r.ok());
  const NodeResult* c = r->FindNode("c");
  CHECK(c->binding_params == std::vector<std::string>{"x", "y"});
  CHECK(c->bindings.size() == 6);
  CHECK(RowSet(*c) == std::vector<std::string>{"1|10", "1|20", "1|30", "2|10", "2|20", "2|30"});
  CHECK(c->stats.strategy == "per_binding");  // echo cannot be batched
  REQUIRE(r->plan.nodes.size() == 3);
  for (const NodePlan& np : r->plan.nodes) {
    if (np.node_id == "c") CHECK(np.reason.find("refused") != std::string::npos);
  }

  SECTION("past max_bindings it fails naming the node") {
    EngineOptions o;
    o.max_bindings = 5;
    FakeEnv small = MakeFakeEngine(8, o);
    small.fake->AddTable("A", {"x"}, {{Value::Int(1)}, {Value::Int(2)}});
    small.fake->AddTable("B", {"y"}, {{Value::Int(10)}, {Value::Int(20)}, {Value::Int(30)}});
    auto bad = small.engine->ExecuteJson(g);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(bad.status().message()).find("node \"c\" (source \"db2\")") !=
          std::string::npos);
    CHECK(TotalInUse(*small.engine) == 0);
  }
}

TEST_CASE("parameters from the same parent bind together row by row", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("P", {"a", "b"},
                     {{Value::Int(1), Value::Int(10)},
                      {Value::Int(2), Value::Int(20)},
                      {Value::Int(1), Value::Int(10)},
                      {Value::Int(3), Value::Null()}});
  env.fake->AddTable("Q", {"a", "b", "v"},
                     {{Value::Int(1), Value::Int(10), Value::String("x")},
                      {Value::Int(1), Value::Int(20), Value::String("no")},
                      {Value::Int(2), Value::Int(20), Value::String("y")}});
  for (std::string strategy : {"batched", "per_binding"}) {
    DYNAMIC_SECTION(strategy) {
      auto r =
          env.engine->ExecuteJson(G({N("p", "db", "table P", {}, {"a", "b"}),
                                     N("q", "db", "table Q where a = :a and b = :b", {"a", "b"},
                                       {"v"}, ", \"strategy\": \"" + strategy + "\"")},
                                    {E("p", "q", {{"a", "a"}, {"b", "b"}})}));
      REQUIRE(r.ok());
      const NodeResult* q = r->FindNode("q");
      CHECK(q->bindings.size() == 2);  // (1,10), (2,20); (3,null) dropped; no cross product
      CHECK(RowSet(*q) == std::vector<std::string>{"x", "y"});
      CHECK(q->stats.strategy == strategy);
    }
  }
}

TEST_CASE("execution params override the graph's params", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  std::string g =
      G({N("e", "db", "echo :p", {"p"}, {"p"})}, {}, ", \"params\": {\"p\": \"graph\"}");
  auto r1 = env.engine->ExecuteJson(g);
  REQUIRE(r1.ok());
  CHECK(RowSet(r1->nodes[0]) == std::vector<std::string>{"graph"});
  ExecuteOptions opts;
  opts.params = {{"p", Value::String("exec")}};
  auto r2 = env.engine->ExecuteJson(g, opts);
  REQUIRE(r2.ok());
  CHECK(RowSet(r2->nodes[0]) == std::vector<std::string>{"exec"});
}

TEST_CASE("cancel from another thread stops a slow node and returns every connection", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto token = std::make_shared<CancelToken>();
  ExecuteOptions opts;
  opts.cancel = token;
  std::thread canceller([&] {
    WaitFor([&] { return env.fake->executions() >= 1; });
    token->Cancel();
  });
  auto r = env.engine->ExecuteJson(G({N("slow", "db", "@sleep=60000 range 1", {}, {"i"})}), opts);
  canceller.join();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
  CHECK(TotalInUse(*env.engine) == 0);
  CHECK(env.fake->cancels() >= 1);
}

TEST_CASE("a token cancelled before the run takes no connection", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  ExecuteOptions opts;
  opts.cancel = std::make_shared<CancelToken>();
  opts.cancel->Cancel();
  auto r = env.engine->ExecuteJson(G({N("a", "db", "range 1", {}, {"i"})}), opts);
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
  CHECK(env.fake->connect_attempts() == 0);
}

TEST_CASE("graph and node timeouts end with kDeadlineExceeded", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  SECTION("graph timeout_ms") {
    auto r = env.engine->ExecuteJson(
        G({N("slow", "db", "@sleep=60000 range 1", {}, {"i"})}, {}, ", \"timeout_ms\": 100"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(std::string(r.status().message()).find("graph timed out after 100 ms") !=
          std::string::npos);
  }
  SECTION("ExecuteOptions.timeout overrides it") {
    ExecuteOptions opts;
    opts.timeout = absl::Milliseconds(50);
    auto r = env.engine->ExecuteJson(
        G({N("slow", "db", "@sleep=60000 range 1", {}, {"i"})}, {}, ", \"timeout_ms\": 600000"),
        opts);
    CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  }
  SECTION("node timeout_ms names the node and source") {
    auto r = env.engine->ExecuteJson(
        G({N("slow", "db2", "@sleep=60000 range 1", {}, {"i"}, ", \"timeout_ms\": 100"),
           N("fine", "db", "range 1", {}, {"i"})}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(std::string(r.status().message()) ==
          "node \"slow\" (source \"db2\"): timed out after 100 ms");
  }
  SECTION("node timeout with on_error continue fails only that node") {
    auto r = env.engine->ExecuteJson(G({N("slow", "db2", "@sleep=60000 range 1", {}, {"i"},
                                          ", \"timeout_ms\": 50, \"on_error\": \"continue\""),
                                        N("fine", "db", "range 1", {}, {"i"})}));
    REQUIRE(r.ok());
    CHECK(r->FindNode("slow")->status == NodeStatus::kFailed);
    CHECK(r->FindNode("slow")->error.code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(r->FindNode("fine")->status == NodeStatus::kOk);
  }
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("a failing node cancels its slow sibling and reports its own error", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(
      G({N("slow", "db", "@sleep=60000 range 1", {}, {"i"}),
         N("bad", "db2", "@sleep=50 @fail=unavailable range 1", {}, {"i"})}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kUnavailable);
  const std::string msg(r.status().message());
  CHECK(msg.find("node \"bad\" (source \"db2\"): ") == 0);
  CHECK(msg.find("fake failure") != std::string::npos);
  CHECK(TotalInUse(*env.engine) == 0);
  CHECK(env.fake->cancels() >= 1);
  // The unavailable connection was closed as broken, not reused.
  CHECK(TotalBroken(*env.engine) >= 1);
}

TEST_CASE("on_error continue: the node fails, the graph goes on, dependents are skipped",
          "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(
      G({N("bad", "db", "@fail=internal range 3", {}, {"i"}, ", \"on_error\": \"continue\""),
         N("child", "db", "echo :i", {"i"}, {"i"}), N("other", "db2", "range 2", {}, {"i"}),
         N("after", "db2", "range 1", {}, {"i"})},
        {E("bad", "child", {{"i", "i"}}),
         "{\"source_node\": \"bad\", \"target_node\": \"after\", \"input_mapping\": {}}"}));
  REQUIRE(r.ok());
  const NodeResult* bad = r->FindNode("bad");
  CHECK(bad->status == NodeStatus::kFailed);
  CHECK(bad->error.code() == absl::StatusCode::kInternal);
  CHECK(std::string(bad->error.message()).find("node \"bad\" (source \"db\")") == 0);
  CHECK(r->FindNode("child")->status == NodeStatus::kSkipped);
  CHECK(r->FindNode("after")->status == NodeStatus::kSkipped);
  CHECK(r->FindNode("other")->status == NodeStatus::kOk);
  CHECK(r->FindNode("other")->num_rows == 2);
}

TEST_CASE("a failure in one binding of a per-binding node fails the graph", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("t", {"x"}, {{Value::Int(1)}, {Value::Int(2)}, {Value::Int(3)}});
  auto r = env.engine->ExecuteJson(
      G({N("t", "db", "table t", {}, {"x"}), N("c", "db2", "@fail_when=x:2 echo :x", {"x"}, {"x"})},
        {E("t", "c", {{"x", "x"}})}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInternal);
  CHECK(std::string(r.status().message()).find("node \"c\" (source \"db2\")") == 0);
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("a graph wider than pool_max completes", "[engine]") {
  FakeEnv env = MakeFakeEngine(/*pool_max=*/1);
  std::vector<std::string> nodes;
  for (int i = 0; i < 4; ++i) {
    std::string id = "n";
    id += std::to_string(i);
    nodes.push_back(N(id, "db", "@sleep=20 range 2", {}, {"i"}));
  }
  auto r = env.engine->ExecuteJson(G(nodes));
  REQUIRE(r.ok());
  for (const NodeResult& n : r->nodes) CHECK(n.num_rows == 2);
  CHECK(env.fake->max_concurrent_executions() == 1);
  CHECK(env.fake->max_live_connections() <= 1);
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("per-binding work spreads over several connections", "[engine]") {
  FakeEnv env = MakeFakeEngine(/*pool_max=*/4);
  env.fake->AddTable("t", {"x"},
                     {{Value::Int(1)}, {Value::Int(2)}, {Value::Int(3)}, {Value::Int(4)}});
  auto r = env.engine->ExecuteJson(
      G({N("t", "db", "table t", {}, {"x"}), N("c", "db", "@sleep=100 echo :x", {"x"}, {"x"})},
        {E("t", "c", {{"x", "x"}})}));
  REQUIRE(r.ok());
  const NodeResult* c = r->FindNode("c");
  CHECK(c->stats.parallelism == 4);
  CHECK(env.fake->max_concurrent_executions() > 1);
  // Rows come back in binding order whatever the interleaving.
  for (size_t i = 0; i < c->num_rows; ++i) CHECK(c->row_binding[i] == i);
}

TEST_CASE("write nodes run per binding and sum rows_affected", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("t", {"x"}, {{Value::Int(1)}, {Value::Int(2)}, {Value::Int(3)}});
  auto r = env.engine->ExecuteJson(
      G({N("t", "db", "table t", {}, {"x"}),
         N("w", "db2", "@fail_when=x:999 write", {"x"}, {}, ", \"mode\": \"write\"")},
        {E("t", "w", {{"x", "x"}})}));
  REQUIRE(r.ok());
  const NodeResult* w = r->FindNode("w");
  CHECK(w->stats.strategy == "write");
  CHECK(w->stats.rows_affected == 3);
  CHECK(w->stats.round_trips == 3);
}

TEST_CASE("strategy errors and output-field errors name the node", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  env.fake->AddTable("t", {"x"}, {{Value::Int(1)}});
  SECTION("forced batched that cannot compile") {
    auto r = env.engine->ExecuteJson(
        G({N("t", "db", "table t", {}, {"x"}),
           N("c", "db2", "echo :x", {"x"}, {"x"}, ", \"strategy\": \"batched\"")},
          {E("t", "c", {{"x", "x"}})}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(r.status().message()).find("node \"c\" (source \"db2\")") == 0);
    CHECK(env.fake->connect_attempts() == 0);
  }
  SECTION("a declared output field the query does not return") {
    auto r = env.engine->ExecuteJson(G({N("t", "db", "table t", {}, {"x", "nope"})}));
    REQUIRE_FALSE(r.ok());
    const std::string msg(r.status().message());
    CHECK(msg.find("node \"t\" (source \"db\")") == 0);
    CHECK(msg.find("\"nope\"") != std::string::npos);
    CHECK(msg.find("(x)") != std::string::npos);
    CHECK(TotalInUse(*env.engine) == 0);
  }
}

TEST_CASE("result limits fail with kResourceExhausted naming the node", "[engine]") {
  EngineOptions o;
  o.max_result_rows = 5;
  FakeEnv env = MakeFakeEngine(8, o);
  auto r = env.engine->ExecuteJson(G({N("big", "db", "range 100", {}, {"i"})}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(std::string(r.status().message()).find("node \"big\" (source \"db\")") == 0);
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("out of memory in a task fails the node, never the process", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(
      G({N("ok", "db", "range 3", {}, {"i"}), N("oom", "db2", "@throw_oom range 3", {}, {"i"})}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  const std::string msg(r.status().message());
  CHECK(msg.find("node \"oom\" (source \"db2\"): ") == 0);
  CHECK(msg.find("out of memory") != std::string::npos);
  CHECK(TotalInUse(*env.engine) == 0);
  // The connection it was using is not trusted again.
  CHECK(TotalBroken(*env.engine) >= 1);
  // The engine goes on.
  auto again = env.engine->ExecuteJson(G({N("ok", "db", "range 3", {}, {"i"})}));
  REQUIRE(again.ok());
  CHECK(again->FindNode("ok")->num_rows == 3);
}

TEST_CASE("2pc refusals happen before any connection", "[engine][tx]") {
  const std::string graph = R"({"transaction": "2pc", "nodes": [
    {"node_id": "a", "database_id": "db", "mode": "write", "query_string": "write"},
    {"node_id": "b", "database_id": "db2", "mode": "write", "query_string": "write"}]})";
  SECTION("no coordinator log") {
    FakeEnv env = MakeFakeEngine();
    auto r = env.engine->ExecuteJson(graph);
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(env.fake->connect_attempts() == 0);
  }
  SECTION("two sources that cannot prepare") {
    TempDir dir;
    EngineOptions o;
    o.coordinator_log = dir.File("tx.log");
    FakeEnv env = MakeFakeEngine(8, o);
    auto r = env.engine->ExecuteJson(graph);
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("at most one"));
    CHECK(env.fake->connect_attempts() == 0);
  }
}

TEST_CASE("common: every node of a written source runs on one pinned connection", "[engine][tx]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(R"({"transaction": "common", "nodes": [
    {"node_id": "r", "database_id": "db", "query_string": "range 3", "output_fields": ["i"]},
    {"node_id": "w", "database_id": "db", "mode": "write", "query_string": "@fail_when=i:99 write",
     "input_parameters": ["i"]}],
   "edges": [{"source_node": "r", "target_node": "w", "input_mapping": {"r.i": "w.i"}}]})");
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->FindNode("w")->stats.rows_affected == 3);
  CHECK(r->FindNode("w")->stats.parallelism == 1);
  std::set<int64_t> conns;
  for (const auto& e : env.fake->exec_log()) conns.insert(e.connection_id);
  CHECK(conns.size() == 1);
  std::vector<std::string> tx;
  for (const auto& e : env.fake->tx_events()) tx.push_back(e.what);
  CHECK(tx == std::vector<std::string>{"begin", "commit"});
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("validation happens before any connection", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(G({N("a", "nowhere", "range 1", {}, {"i"})}));
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(r.status().message()).find("nowhere") != std::string::npos);
  auto r2 = env.engine->ExecuteJson(G({N("a", "db", "echo :p", {"p"}, {"p"})}));
  CHECK(r2.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(env.fake->connect_attempts() == 0);

  SECTION("a C++-built graph is validated too") {
    Graph g;
    Node n;
    n.node_id = "a";
    n.database_id = "db";
    n.query_string = "echo :p";
    n.output_fields = {"p"};  // :p not declared
    g.nodes.push_back(n);
    auto r3 = env.engine->Execute(g);
    CHECK(r3.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(env.fake->connect_attempts() == 0);
  }
}

TEST_CASE("sources are checked against registered providers and their option keys", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  SourceConfig s;
  s.name = "x";
  s.provider = "nosuch";
  auto st = env.engine->AddSource(s);
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(st.message()).find("source \"x\"") != std::string::npos);
  s.provider = "fake";
  s.provider_options["colour"] = "blue";
  st = env.engine->AddSource(s);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(st.message()).find("\"colour\"") != std::string::npos);
  CHECK(std::string(st.message()).find("source \"x\"") != std::string::npos);
  st = env.engine->LoadCatalogJson(
      R"({"sources": [{"name": "y", "provider": "fake", "connect": "", "options": {"shade": "1"}}]})");
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(st.message()).find("\"shade\"") != std::string::npos);
  CHECK(
      env.engine
          ->LoadCatalogJson(R"({"sources": [{"name": "y", "provider": "fake", "connect": "mem"}]})")
          .ok());
  CHECK(env.engine->catalog().FindSource("y") != nullptr);
  SourceConfig dup;
  dup.name = "db";
  dup.provider = "fake";
  CHECK(env.engine->AddSource(dup).code() == absl::StatusCode::kAlreadyExists);
}

TEST_CASE("the catalog's login reaches the driver", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  REQUIRE(env.engine
              ->LoadCatalogJson(R"({"sources": [{"name": "sec", "provider": "fake",
      "connect": "here", "user": "app", "password": "s3cret"}],
      "user_mappings": [{"source": "sec", "for": "alice", "user": "ro_alice", "password": "pw2"}]})")
              .ok());
  std::string g = G({N("a", "sec", "range 1", {}, {"i"})});
  REQUIRE(env.engine->ExecuteJson(g).ok());
  CHECK(env.fake->last_connect().user == "app");
  CHECK(env.fake->last_connect().password == "s3cret");
  CHECK(env.fake->last_connect().connect == "here");
  ExecuteOptions alice;
  alice.user = "alice";
  REQUIRE(env.engine->ExecuteJson(g, alice).ok());
  CHECK(env.fake->last_connect().user == "ro_alice");
  CHECK(env.fake->last_connect().password == "pw2");
  // One pool per (source, external user).
  std::vector<std::string> keys;
  for (const auto& [key, s] : env.engine->PoolStatistics()) keys.push_back(key);
  CHECK(std::find(keys.begin(), keys.end(), "sec/app") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "sec/ro_alice") != keys.end());
}

TEST_CASE("EXPLAIN shows strategies and statements as text, JSON and DOT", "[engine]") {
  FakeEnv env = MakeFakeEngine();
  AddUsersAndOrders(*env.fake);
  auto g = ParseGraph(UsersOrdersGraph("batched"), env.engine->GraphParseOptions());
  REQUIRE(g.ok());
  auto plan = env.engine->Explain(*g);
  REQUIRE(plan.ok());
  REQUIRE(plan->nodes.size() == 2);
  CHECK(plan->nodes[0].node_id == "u");
  CHECK(plan->nodes[1].kind == ExecKind::kBatched);
  CHECK(plan->nodes[1].batch_size == 2);
  CHECK(plan->nodes[1].depends_on == std::vector<int>{0});
  CHECK(plan->nodes[1].key_params == std::vector<std::string>{"uid"});
  CHECK(plan->nodes[1].estimate.origin == "default");

  const std::string text = RenderPlan(*plan, ExplainFormat::kText);
  CHECK(text.find("batched") != std::string::npos);
  CHECK(text.find("table orders where user_id = :uid") != std::string::npos);
  CHECK(text.find("single") != std::string::npos);

  const std::string json = RenderPlan(*plan, ExplainFormat::kJson);
  CHECK(json.find("\"strategy\":\"batched\"") != std::string::npos);
  CHECK(json.find("\"statement\":\"table orders where user_id = :uid\"") != std::string::npos);
  CHECK(json.find("\"depends_on\":[\"u\"]") != std::string::npos);

  const std::string dot = RenderPlan(*plan, ExplainFormat::kDot);
  CHECK(dot.find("digraph") == 0);
  CHECK(dot.find("\"u\" -> \"o\" [label=\"id -> uid\"]") != std::string::npos);
  CHECK(dot.find("batched") != std::string::npos);

  CHECK(ParseExplainFormat("dot").value() == ExplainFormat::kDot);
  CHECK_FALSE(ParseExplainFormat("yaml").ok());
  CHECK(ExecKindName(ExecKind::kPerBinding) == "per_binding");

  SECTION("with actuals") {
    auto r = env.engine->Execute(*g);
    REQUIRE(r.ok());
    const std::string a = RenderPlan(r->plan, ExplainFormat::kText, &*r);
    CHECK(a.find("actual:") != std::string::npos);
    CHECK(a.find("rows=3") != std::string::npos);
    CHECK(a.find("bindings=3") != std::string::npos);
    CHECK(a.find("round_trips=2") != std::string::npos);
    const std::string aj = RenderPlan(r->plan, ExplainFormat::kJson, &*r);
    CHECK(aj.find("\"actual\":{\"status\":\"ok\",\"rows\":3") != std::string::npos);
  }
}

TEST_CASE("an engine survives many concurrent graphs", "[engine]") {
  FakeEnv env = MakeFakeEngine(/*pool_max=*/2);
  AddUsersAndOrders(*env.fake);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 5; ++k) {
        auto r = env.engine->ExecuteJson(UsersOrdersGraph(t % 2 ? "batched" : "per_binding"));
        if (r.ok() && r->FindNode("o")->num_rows == 3) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok.load() == 30);
  CHECK(TotalInUse(*env.engine) == 0);
}

}  // namespace
}  // namespace qg::enginetest
