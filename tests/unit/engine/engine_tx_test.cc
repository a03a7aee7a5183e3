// Transaction modes on real SQLite files (and the fake provider for a failing
// commit): common rolls back every written source when any node fails, a
// failed on_error=continue node rolls back alone to its savepoint, commit
// failures name what committed, 2pc admits SQLite only as the last resource.
// The PostgreSQL/MariaDB two-phase and crash tests are in tests/integration.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

struct TxEnv {
  TempDir dir;
  std::unique_ptr<Engine> engine;
  std::string a, b;  // database files of sources "a" and "b"
};

std::unique_ptr<TxEnv> MakeEnv(EngineOptions options = {}) {
  auto env = std::make_unique<TxEnv>();
  env->a = env->dir.File("a.sqlite");
  env->b = env->dir.File("b.sqlite");
  for (const std::string& f : {env->a, env->b}) {
    SqlExec(f,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
            "INSERT INTO t VALUES (1, 'one');");
  }
  auto engine = Engine::Create(options);
  REQUIRE(engine.ok());
  env->engine = std::move(*engine);
  const std::string catalog = R"({"sources": [
      {"name": "a", "provider": "sqlite", "connect": ")" +
                              env->a + R"("},
      {"name": "b", "provider": "sqlite", "connect": ")" +
                              env->b + R"("}]})";
  REQUIRE(env->engine->LoadCatalogJson(catalog).ok());
  return env;
}

std::vector<std::string> Rows(const std::string& file) {
  return SqlRows(file, "SELECT id, v FROM t ORDER BY id");
}

// n write nodes w0..w{n-1} alternating sources a, b, chained by ordering
// edges; node `failing` inserts a duplicate key.
std::string WriteChain(int n, int failing, const std::string& mode) {
  std::string nodes, edges;
  for (int i = 0; i < n; ++i) {
    const std::string src = i % 2 == 0 ? "a" : "b";
    const int id = i == failing ? 1 : 100 + i;
    if (i > 0) nodes += ",";
    nodes += "{\"node_id\": \"w" + std::to_string(i) + "\", \"database_id\": \"" + src +
             "\", \"mode\": \"write\", \"query_string\": \"INSERT INTO t (id, v) VALUES (" +
             std::to_string(id) + ", 'w" + std::to_string(i) + "')\"}";
    if (i > 0) {
      if (i > 1) edges += ",";
      edges += R"({"source_node": "w)" + std::to_string(i - 1) + R"(", "target_node": "w)" +
               std::to_string(i) + R"("})";
    }
  }
  return R"({"transaction": ")" + mode + R"(", "nodes": [)" + nodes + R"(], "edges": [)" + edges +
         "]}";
}

TEST_CASE("common: node k of n fails, both databases stay exactly as before", "[engine][tx]") {
  auto env = MakeEnv();
  const auto before_a = Rows(env->a), before_b = Rows(env->b);
  const int n = 5;
  for (int k = 0; k < n; ++k) {
    INFO("failing node " << k);
    auto r = env->engine->ExecuteJson(WriteChain(n, k, "common"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kAlreadyExists);  // UNIQUE constraint
    CHECK_THAT(std::string(r.status().message()),
               Catch::Contains("node \"w" + std::to_string(k) + "\"") &&
                   Catch::Contains("rolled back on every source"));
    CHECK(Rows(env->a) == before_a);
    CHECK(Rows(env->b) == before_b);
    CHECK(TotalInUse(*env->engine) == 0);
  }
  // The same failure in autonomous mode keeps what ran before it.
  auto r = env->engine->ExecuteJson(WriteChain(n, 3, "autonomous"));
  REQUIRE_FALSE(r.ok());
  CHECK(Rows(env->a).size() == before_a.size() + 2);  // w0 and w2 ran before w3 failed
  CHECK(Rows(env->b).size() == before_b.size() + 1);  // w1
}

TEST_CASE("common: success commits every source and reports each participant", "[engine][tx]") {
  auto env = MakeEnv();
  auto r = env->engine->ExecuteJson(WriteChain(4, -1, "common"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Rows(env->a) == std::vector<std::string>{"100|w0", "102|w2", "1|one"});
  CHECK(Rows(env->b) == std::vector<std::string>{"101|w1", "103|w3", "1|one"});
  REQUIRE(r->transaction.mode == "common");
  REQUIRE(r->transaction.participants.size() == 2);
  CHECK(r->transaction.participants[0].source == "a");
  CHECK(r->transaction.participants[1].source == "b");
  for (const auto& p : r->transaction.participants) {
    CHECK(p.state == ParticipantState::kCommitted);
  }
  CHECK(r->FindNode("w0")->stats.rows_affected == 1);
  CHECK(TotalInUse(*env->engine) == 0);

  // The execution option overrides the graph's mode.
  ExecuteOptions o;
  o.transaction = TransactionMode::kCommon;
  auto r2 = env->engine->ExecuteJson(WriteChain(2, 1, "autonomous"), o);
  REQUIRE_FALSE(r2.ok());
  CHECK(Rows(env->a).size() == 3);  // w0 of this graph rolled back
}

TEST_CASE("common: a failed continue node rolls back alone to its savepoint", "[engine][tx]") {
  auto env = MakeEnv();
  // src reads three ids; ins writes them one per binding into b: the third
  // (id 1) already exists, so ins fails after two inserts — both undone.
  const std::string graph = R"J({"transaction": "common", "nodes": [
    {"node_id": "src", "database_id": "a",
     "query_string": "SELECT 7 AS id UNION ALL SELECT 8 UNION ALL SELECT 1",
     "output_fields": ["id"]},
    {"node_id": "ins", "database_id": "b", "mode": "write", "on_error": "continue",
     "strategy": "per_binding",
     "query_string": "INSERT INTO t (id, v) VALUES (:id, 'ins')", "input_parameters": ["id"]},
    {"node_id": "after", "database_id": "b", "mode": "write",
     "query_string": "INSERT INTO t (id, v) VALUES (50, 'after')"},
    {"node_id": "other", "database_id": "a", "mode": "write",
     "query_string": "UPDATE t SET v = 'updated' WHERE id = 1"}],
   "edges": [
    {"source_node": "src", "target_node": "ins", "input_mapping": {"src.id": "ins.id"}}]})J";
  auto r = env->engine->ExecuteJson(graph);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* ins = r->FindNode("ins");
  REQUIRE(ins != nullptr);
  CHECK(ins->status == NodeStatus::kFailed);
  CHECK(ins->error.code() == absl::StatusCode::kAlreadyExists);
  CHECK(Rows(env->b) == std::vector<std::string>{"1|one", "50|after"});
  CHECK(Rows(env->a) == std::vector<std::string>{"1|updated"});
  CHECK(TotalInUse(*env->engine) == 0);
}

TEST_CASE("write nodes: RETURNING rows feed later nodes", "[engine][tx]") {
  auto env = MakeEnv();
  const std::string graph = R"J({"transaction": "common", "nodes": [
    {"node_id": "ins", "database_id": "a", "mode": "write",
     "query_string": "INSERT INTO t (v) VALUES ('new') RETURNING id", "output_fields": ["id"]},
    {"node_id": "copy", "database_id": "b", "mode": "write",
     "query_string": "INSERT INTO t (id, v) VALUES (:id, 'copied')", "input_parameters": ["id"]}],
   "edges": [{"source_node": "ins", "target_node": "copy", "input_mapping": {"ins.id": "copy.id"}}]})J";
  auto r = env->engine->ExecuteJson(graph);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Rows(env->a) == std::vector<std::string>{"1|one", "2|new"});
  CHECK(Rows(env->b) == std::vector<std::string>{"1|one", "2|copied"});
}

TEST_CASE("2pc admits one source that cannot prepare, as the last resource", "[engine][tx]") {
  TempDir logdir;
  SECTION("without a coordinator log 2pc is refused before anything runs") {
    auto env = MakeEnv();
    auto r = env->engine->ExecuteJson(WriteChain(1, -1, "2pc"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("coordinator log"));
    CHECK(Rows(env->a).size() == 1);
  }
  SECTION("two SQLite sources cannot both be the last resource") {
    EngineOptions o;
    o.coordinator_log = logdir.File("tx.log");
    auto env = MakeEnv(o);
    auto r = env->engine->ExecuteJson(WriteChain(2, -1, "2pc"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("\"a\"") &&
                                                      Catch::Contains("\"b\"") &&
                                                      Catch::Contains("at most one"));
    CHECK(Rows(env->a).size() == 1);
    CHECK(Rows(env->b).size() == 1);
  }
  SECTION("one SQLite source commits as the last resource") {
    EngineOptions o;
    o.coordinator_log = logdir.File("tx.log");
    auto env = MakeEnv(o);
    auto r = env->engine->ExecuteJson(WriteChain(1, -1, "2pc"));
    INFO(r.status().message());
    REQUIRE(r.ok());
    REQUIRE(r->transaction.participants.size() == 1);
    CHECK(r->transaction.participants[0].last_resource);
    CHECK(r->transaction.participants[0].state == ParticipantState::kCommitted);
    CHECK(Rows(env->a).size() == 2);
    auto rec = env->engine->Recover();
    REQUIRE(rec.ok());
    CHECK(rec->resolved_log == 0);  // nothing left in the log
  }
}

TEST_CASE("common: a commit failure names what committed and what did not", "[engine][tx]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE t (id INTEGER PRIMARY KEY)");
  auto env = MakeFakeEngine();
  REQUIRE(env.engine
              ->LoadCatalogJson(R"({"sources": [{"name": "a_sqlite", "provider": "sqlite",
                                   "connect": ")" +
                                dir.File("a.sqlite") + R"("}]})")
              .ok());
  env.fake->FailCommit(true);
  // Commit order: "a_sqlite" before "db".
  const std::string graph = R"J({"transaction": "common", "nodes": [
    {"node_id": "s", "database_id": "a_sqlite", "mode": "write",
     "query_string": "INSERT INTO t VALUES (1)"},
    {"node_id": "f", "database_id": "db", "mode": "write",
     "query_string": "write"}]})J";
  auto r = env.engine->ExecuteJson(graph);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("commit failed on source \"db\"") &&
                                                    Catch::Contains("committed on \"a_sqlite\"") &&
                                                    Catch::Contains("not committed on \"db\""));
  CHECK(SqlRows(dir.File("a.sqlite"), "SELECT id FROM t") == std::vector<std::string>{"1"});
  CHECK(TotalInUse(*env.engine) == 0);

  // When the first commit fails nothing is committed: kAborted, retryable.
  const std::string only_fake = R"({"transaction": "common", "nodes": [
    {"node_id": "f", "database_id": "db", "mode": "write", "query_string": "write"},
    {"node_id": "g", "database_id": "db2", "mode": "write", "query_string": "write"}]})";
  auto r2 = env.engine->ExecuteJson(only_fake);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.status().code() == absl::StatusCode::kAborted);
  CHECK_THAT(std::string(r2.status().message()), Catch::Contains("nothing was committed"));
}

TEST_CASE("common: a source without transactions cannot be written", "[engine][tx]") {
  TempDir dir;
  auto engine = Engine::Create();
  REQUIRE(engine.ok());
  REQUIRE((*engine)
              ->LoadCatalogJson(R"({"sources": [{"name": "api", "provider": "http",
                                   "connect": "http://127.0.0.1:9"}]})")
              .ok());
  auto r = (*engine)->ExecuteJson(R"({"transaction": "common", "nodes": [
    {"node_id": "post", "database_id": "api", "mode": "write",
     "query_string": "POST /things"}]})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(r.status().message()),
             Catch::Contains("node \"post\"") && Catch::Contains("no transactions"));
}

TEST_CASE("dependent inserts are batched as multi-row VALUES", "[engine][tx]") {
  auto env = MakeEnv();
  SqlExec(env->a,
          "CREATE TABLE src (id INTEGER PRIMARY KEY);"
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)"
          " INSERT INTO src SELECT i + 1000 FROM n;");
  auto graph = [](const std::string& strategy, const std::string& mode) {
    return R"J({"transaction": ")J" + mode + R"J(", "nodes": [
      {"node_id": "src", "database_id": "a", "query_string": "SELECT id FROM src",
       "output_fields": ["id"]},
      {"node_id": "ins", "database_id": "b", "mode": "write", "strategy": ")J" +
           strategy + R"J(", "query_string": "INSERT INTO t (id, v) VALUES (:id, :tag)",
       "input_parameters": ["id", "tag"]}],
     "params": {"tag": "copied"},
     "edges": [{"source_node": "src", "target_node": "ins",
                "input_mapping": {"src.id": "ins.id"}}]})J";
  };
  auto parsed = ParseGraph(graph("auto", "common"));
  REQUIRE(parsed.ok());
  auto plan = env->engine->Explain(*parsed);
  REQUIRE(plan.ok());
  for (const NodePlan& np : plan->nodes) {
    if (np.node_id != "ins") continue;
    CHECK(np.kind == ExecKind::kBatched);
    CHECK(np.batch_size == 1000);
    CHECK_THAT(np.reason, Catch::Contains("multi-row VALUES"));
  }
  auto r = env->engine->ExecuteJson(graph("auto", "common"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* ins = r->FindNode("ins");
  CHECK(ins->stats.rows_affected == 2500);
  CHECK(ins->stats.bindings == 2500);
  CHECK(ins->stats.round_trips < 10);  // 1000 rows (2000 placeholders) per statement
  CHECK(SqlRows(env->b, "SELECT count(*), min(id), max(id), min(v), max(v) FROM t WHERE id > 1") ==
        std::vector<std::string>{"2500|1001|3500|copied|copied"});

  // One duplicate in the last batch: in common nothing of the 2500 stays.
  SqlExec(env->b, "DELETE FROM t WHERE id > 1; INSERT INTO t VALUES (3499, 'dup')");
  auto dup = env->engine->ExecuteJson(graph("batched", "common"));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(Rows(env->b) == std::vector<std::string>{"1|one", "3499|dup"});

  // per_binding gives the same rows with one round trip each.
  SqlExec(env->b, "DELETE FROM t WHERE id > 1");
  auto per = env->engine->ExecuteJson(graph("per_binding", "autonomous"));
  INFO(per.status().ToString());
  REQUIRE(per.ok());
  CHECK(per->FindNode("ins")->stats.round_trips == 2500);
  CHECK(SqlRows(env->b, "SELECT count(*) FROM t") == std::vector<std::string>{"2501"});

  // A write the rewrite cannot batch runs per binding, saying why.
  const std::string upd = R"J({"nodes": [
      {"node_id": "src", "database_id": "a", "query_string": "SELECT id FROM src WHERE id < 1005",
       "output_fields": ["id"]},
      {"node_id": "u", "database_id": "b", "mode": "write", "strategy": "batched",
       "query_string": "UPDATE t SET v = 'u' WHERE id = :id", "input_parameters": ["id"]}],
     "edges": [{"source_node": "src", "target_node": "u", "input_mapping": {"src.id": "u.id"}}]})J";
  auto forced = env->engine->ExecuteJson(upd);
  REQUIRE_FALSE(forced.ok());
  CHECK_THAT(std::string(forced.status().message()),
             Catch::Contains("not an INSERT … VALUES (…) statement"));
}

TEST_CASE("common graphs over two one-connection pools never deadlock", "[engine][tx]") {
  // Each graph pins db and db2 for its whole run; half write db then db2,
  // half the other way round. Pins are taken in commit order, so no graph
  // holds one pool's only connection while waiting for the other's.
  auto env = MakeFakeEngine(/*pool_max=*/1);
  auto graph = [](const char* first, const char* second) {
    return std::string(R"J({"transaction": "common", "nodes": [
      {"node_id": "w1", "database_id": ")J") +
           first + R"J(", "mode": "write", "query_string": "@sleep=5 write"},
      {"node_id": "w2", "database_id": ")J" +
           second + R"J(", "mode": "write", "query_string": "@sleep=5 write"}],
     "edges": [{"source_node": "w1", "target_node": "w2"}]})J";
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = env.engine->ExecuteJson(t % 2 == 0 ? graph("db", "db2") : graph("db2", "db"));
        if (r.ok()) {
          ++ok;
        } else {
          errors[t] = r.status().ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) CHECK(e.empty());
  CHECK(ok == 40);
  CHECK(TotalInUse(*env.engine) == 0);
}

}  // namespace
}  // namespace qg::enginetest
