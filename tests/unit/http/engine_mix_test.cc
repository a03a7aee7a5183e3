// Engine graphs mixing REST (the fixture server), CSV files and SQLite:
// values of one provider feed parameters of another.
#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "http_test_util.h"
#include "providers/csv/csv_provider.h"
#include "providers/http/http_provider.h"
#include "qg/engine.h"

namespace qg::httptest {
namespace {

namespace fs = std::filesystem;

struct Env {
  std::string dir;
  std::unique_ptr<Engine> engine;
  ~Env() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::unique_ptr<Env> MakeEnv() {
  auto env = std::make_unique<Env>();
  std::string tmpl = (fs::temp_directory_path() / "qg_mix_XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  env->dir = tmpl;
  fs::create_directories(env->dir + "/csv");
  std::ofstream(env->dir + "/csv/orders.csv") << "order_id,user_id,amount\n"
                                                 "100,1,9.50\n101,1,20\n300,3,7\n500,5,1\n";
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((env->dir + "/notes.sqlite").c_str(), &db) == SQLITE_OK);
  REQUIRE(
      sqlite3_exec(db,
                   "CREATE TABLE notes (order_id INTEGER, user_ref INTEGER, note TEXT);"
                   "INSERT INTO notes VALUES (100, 1, 'first'), (300, 3, 'gift'), (500, 5, 'x');",
                   nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  EngineOptions opts;
  opts.register_builtin_providers = true;
  auto engine = Engine::Create(opts);
  REQUIRE(engine.ok());
  env->engine = std::move(*engine);
  for (auto p : {NewHttpProvider(), NewCsvProvider()}) {
    absl::Status st = env->engine->RegisterProvider(p);
    REQUIRE((st.ok() || st.code() == absl::StatusCode::kAlreadyExists));
  }
  auto& srv = FixtureServer::Get();
  const std::string catalog = R"({"sources": [
    {"name": "api", "provider": "http", "connect": ")" +
                              srv.base() + R"(",
     "options": {"pool_max": 4, "max_batch": 2}},
    {"name": "files", "provider": "csv", "connect": ")" +
                              env->dir + R"(/csv"},
    {"name": "notes", "provider": "sqlite", "connect": ")" +
                              env->dir + R"(/notes.sqlite"}]})";
  auto st = env->engine->LoadCatalogJson(catalog);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return env;
}

const NodeResult& Node(const GraphResult& r, const std::string& id) {
  const NodeResult* n = r.FindNode(id);
  REQUIRE(n != nullptr);
  return *n;
}

std::vector<std::string> Col(const NodeResult& n, const std::string& name) {
  std::vector<std::string> out;
  const int c = n.FindColumn(name);
  REQUIRE(c >= 0);
  for (const Value& v : n.columns[c].values) out.push_back(v.is_null() ? "NULL" : v.ToText());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("engine: REST -> CSV -> SQLite -> REST", "[http][engine]") {
  auto env = MakeEnv();
  const std::string graph = R"({
    "nodes": [
      {"node_id": "users", "database_id": "api", "query_string": "GET /users?ids=1,3,4",
       "input_parameters": [], "output_fields": ["id", "name"]},
      {"node_id": "orders", "database_id": "files",
       "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :uid",
       "input_parameters": ["uid"], "output_fields": ["order_id", "user_id", "amount"]},
      {"node_id": "notes", "database_id": "notes",
       "query_string": "SELECT order_id, user_ref, note FROM notes WHERE order_id = :oid",
       "input_parameters": ["oid"], "output_fields": ["order_id", "user_ref", "note"]},
      {"node_id": "owner", "database_id": "api", "query_string": "GET /users/:user_id",
       "input_parameters": ["user_id"], "output_fields": ["id", "city"]}
    ],
    "edges": [
      {"source_node": "users", "target_node": "orders", "input_mapping": {"users.id": "orders.uid"}},
      {"source_node": "orders", "target_node": "notes", "input_mapping": {"orders.order_id": "notes.oid"}},
      {"source_node": "notes", "target_node": "owner", "input_mapping": {"notes.user_ref": "owner.user_id"}}
    ]})";
  auto r = env->engine->ExecuteJson(graph);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(Col(Node(*r, "users"), "name") == std::vector<std::string>{"Ann", "Chloé", "Dan"});
  CHECK(Col(Node(*r, "orders"), "order_id") == std::vector<std::string>{"100", "101", "300"});
  CHECK(Col(Node(*r, "notes"), "note") == std::vector<std::string>{"first", "gift"});
  CHECK(Col(Node(*r, "owner"), "city") == std::vector<std::string>{"Paris", "Paris"});
  CHECK(Node(*r, "owner").stats.strategy == "per_binding");  // no batch= in its template
}

TEST_CASE("engine: batched REST lookups count requests, per_binding for comparison",
          "[http][engine]") {
  auto env = MakeEnv();
  auto& srv = FixtureServer::Get();
  auto graph = [](const std::string& strategy) {
    return R"({
    "nodes": [
      {"node_id": "orders", "database_id": "files",
       "query_string": "SELECT DISTINCT user_id FROM orders", "input_parameters": [],
       "output_fields": ["user_id"]},
      {"node_id": "users", "database_id": "api",
       "query_string": "GET /users?ids=:id batch=id", "strategy": ")" +
           strategy + R"(", "input_parameters": ["id"], "output_fields": ["id", "name"]}
    ],
    "edges": [{"source_node": "orders", "target_node": "users",
               "input_mapping": {"orders.user_id": "users.id"}}]})";
  };
  srv.Reset();
  auto r = env->engine->ExecuteJson(graph("batched"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const NodeResult& users = Node(*r, "users");
  CHECK(users.stats.strategy == "batched");
  CHECK(Col(users, "name") == std::vector<std::string>{"Ann", "Chloé", "Eve"});
  CHECK(srv.Count("/users") == 2);  // 3 keys, max_batch=2 on the source
  CHECK(users.stats.round_trips == 2);
  // Each row is linked to its binding.
  REQUIRE(users.row_binding.size() == 3);
  for (size_t i = 0; i < users.num_rows; ++i) {
    CHECK(users.bindings[users.row_binding[i]][0].ToText() ==
          users.columns[users.FindColumn("id")].values[i].ToText());
  }

  srv.Reset();
  r = env->engine->ExecuteJson(graph("per_binding"));
  REQUIRE(r.ok());
  CHECK(Node(*r, "users").stats.strategy == "per_binding");
  CHECK(srv.Count("/users") == 3);
  CHECK(Col(Node(*r, "users"), "name") == std::vector<std::string>{"Ann", "Chloé", "Eve"});
}

TEST_CASE("engine: a value that cannot go into a URL names the node and parameter",
          "[http][engine]") {
  auto env = MakeEnv();
  const std::string graph = R"({
    "nodes": [
      {"node_id": "users", "database_id": "api", "query_string": "GET /users?ids=1",
       "input_parameters": [], "output_fields": ["tags"]},
      {"node_id": "by_tag", "database_id": "api", "query_string": "GET /users/:tag",
       "input_parameters": ["tag"], "output_fields": ["id"]}
    ],
    "edges": [{"source_node": "users", "target_node": "by_tag",
               "input_mapping": {"users.tags": "by_tag.tag"}}]})";
  auto r = env->engine->ExecuteJson(graph);
  REQUIRE(!r.ok());
  const std::string msg(r.status().message());
  CHECK(msg.find("by_tag") != std::string::npos);
  CHECK(msg.find(":tag") != std::string::npos);
  CHECK(msg.find("json") != std::string::npos);
}

}  // namespace
}  // namespace qg::httptest
