// The user-mapping scenario of issue 4 against a real server, shared by
// pg_catalog_test.cc and mysql_catalog_test.cc: a source declared by the
// catalog statements, two local users mapped to two external users (one
// password literal, one through ENV), a third local user reaching it through
// the ALL mapping, and a user without mapping getting the source's own AS
// USER; the server says who is connected (current_user), and the engine's
// pools are keyed "source/external user".
#ifndef QG_TESTS_INTEGRATION_CATALOG_MAPPING_UTIL_H_
#define QG_TESTS_INTEGRATION_CATALOG_MAPPING_UTIL_H_

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "qg/engine.h"

namespace qg::testing {

struct MappingScenario {
  std::string provider;        // "postgres", "mysql"
  std::string connect;         // the test server, no credentials
  std::string default_user;    // the source's AS USER (qg)
  std::string default_pw_env;  // its password's env var (set by the fixture)
  // External users, created by the test with these passwords and SELECT on
  // the table qgcat_t (3 rows).
  std::string alice_user = "qgcat_alice", alice_pw = "qgcat-Alice-pw-1";  // FOR alice, literal
  std::string bob_user = "qgcat_bob", bob_pw = "qgcat-Bob-pw-2";          // FOR bob, ENV
  std::string all_user = "qgcat_all", all_pw = "qgcat-All-pw-3";          // FOR ALL, ENV
  // SELECT of the server's idea of the session user as column "u" and the
  // row count of `table` as "n" (proves the grant).
  std::string whoami_sql;
  // How the server reports external user `u` in whoami_sql ("u" on
  // PostgreSQL, "u@127.0.0.1" on MariaDB).
  std::function<std::string(const std::string&)> reported;
  // The server's live sessions of external user `u`.
  std::function<int(const std::string&)> sessions_of;

  static MappingScenario Make(std::string provider, std::string connect, std::string default_user,
                              std::string default_pw_env, std::string whoami_sql) {
    MappingScenario sc;
    sc.provider = std::move(provider);
    sc.connect = std::move(connect);
    sc.default_user = std::move(default_user);
    sc.default_pw_env = std::move(default_pw_env);
    sc.whoami_sql = std::move(whoami_sql);
    return sc;
  }

  // The external users and their passwords, for the test to create.
  std::vector<std::pair<std::string, std::string>> logins() const {
    return {{alice_user, alice_pw}, {bob_user, bob_pw}, {all_user, all_pw}};
  }
};

// Catalog statements that must succeed.
inline void RequireStatements(Engine& engine, const std::string& statements) {
  auto r = engine.ExecuteStatements(statements);
  INFO(statements << " -> " << r.status().ToString());
  REQUIRE(r.ok());
}

// One expected login: local user -> external user, by statement or graph.
struct ExpectedLogin {
  std::string local_user;
  std::string external_user;
  bool as_graph = false;
};

// Runs EXECUTE STATEMENT whoami_sql on `source` as local user `user`; returns
// "u|n". With `as_graph`, the same SELECT runs as a QGDL graph instead.
inline std::string WhoAmI(Engine& engine, const MappingScenario& sc, const std::string& source,
                          const std::string& user, bool as_graph = false) {
  ExecuteOptions o;
  o.user = user;
  absl::StatusOr<GraphResult> r =
      as_graph
          ? engine.ExecuteJson(R"({"nodes": [{"node_id": "who", "database_id": ")" + source +
                                   R"(", "query_string": ")" + sc.whoami_sql +
                                   R"(", "output_fields": ["u", "n"]}]})",
                               o)
          : engine.ExecuteStatements(
                "EXECUTE STATEMENT '" + sc.whoami_sql + "' ON EXTERNAL DATA SOURCE " + source, o);
  INFO("local user '" << user << "': " << r.status().ToString());
  REQUIRE(r.ok());
  INFO("plan cached: " << r->plan.cached);
  REQUIRE(r->nodes.size() == 1);
  const NodeResult& n = r->nodes[0];
  REQUIRE(n.num_rows == 1);
  REQUIRE(n.columns.size() == 2);
  return n.columns[0].values[0].ToText() + "|" + n.columns[1].values[0].ToText();
}

inline std::set<std::string> PoolKeys(const Engine& engine) {
  std::set<std::string> keys;
  for (const auto& [key, stats] : engine.PoolStatistics()) {
    INFO(key);
    CHECK(stats.in_use == 0);
    keys.insert(key);
  }
  return keys;
}

// CHECKs that each local user reaches `source` as its expected external user.
inline void ExpectLogins(Engine& engine, const MappingScenario& sc, const std::string& source,
                         const std::vector<ExpectedLogin>& expected) {
  for (const ExpectedLogin& e : expected) {
    INFO("local user '" << e.local_user << "'" << (e.as_graph ? " (graph)" : ""));
    CHECK(WhoAmI(engine, sc, source, e.local_user, e.as_graph) ==
          sc.reported(e.external_user) + "|3");
  }
}

inline void RunMappingScenario(const MappingScenario& sc) {
  const std::string src = "cat_" + sc.provider;
  ::setenv("QG_CAT_BOB_PW", sc.bob_pw.c_str(), 1);
  ::setenv("QG_CAT_ALL_PW", sc.all_pw.c_str(), 1);
  {
    auto created = Engine::Create();
    REQUIRE(created.ok());
    Engine& engine = **created;
    RequireStatements(engine, "CREATE EXTERNAL DATA SOURCE " + src + " PROVIDER " + sc.provider +
                                  " CONNECT '" + sc.connect + "' AS USER '" + sc.default_user +
                                  "' PASSWORD ENV '" + sc.default_pw_env +
                                  "' OPTIONS 'pool_max=4;acquire_timeout=20s';\n"
                                  "CREATE EXTERNAL USER ON " +
                                  src + " AS '" + sc.alice_user + "' PASSWORD '" + sc.alice_pw +
                                  "' FOR alice;\n"
                                  "CREATE EXTERNAL USER ON " +
                                  src + " AS '" + sc.bob_user +
                                  "' PASSWORD ENV 'QG_CAT_BOB_PW' FOR bob;");

    SECTION("explicit mappings, else the source's own AS USER") {
      // Two local users reach the same source as two different external
      // users; without a mapping (and no ALL one) the source's AS USER.
      ExpectLogins(engine, sc, src,
                   {{"alice", sc.alice_user},
                    {"bob", sc.bob_user},
                    {"alice", sc.alice_user, /*as_graph=*/true},
                    {"bob", sc.bob_user, /*as_graph=*/true},
                    // The same graph text again: each user's run takes its
                    // own cached plan, never the other's (whose pool logs in
                    // as the other external user).
                    {"alice", sc.alice_user, /*as_graph=*/true},
                    {"bob", sc.bob_user, /*as_graph=*/true},
                    {"carol", sc.default_user, /*as_graph=*/true},
                    {"carol", sc.default_user},
                    {"", sc.default_user}});
      // One pool per (source, external user); carol and the anonymous
      // caller share the default login's.
      CHECK(PoolKeys(engine) == std::set<std::string>{src + "/" + sc.alice_user,
                                                      src + "/" + sc.bob_user,
                                                      src + "/" + sc.default_user});
      // The server holds sessions of both mapped users (the pools' idle ones).
      CHECK(sc.sessions_of(sc.alice_user) >= 1);
      CHECK(sc.sessions_of(sc.bob_user) >= 1);
    }

    SECTION("the ALL mapping applies to users without their own; dropping it restores AS USER") {
      RequireStatements(engine, "CREATE EXTERNAL USER ON " + src + " AS '" + sc.all_user +
                                    "' PASSWORD ENV 'QG_CAT_ALL_PW' FOR ALL");
      // An explicit mapping still wins over ALL.
      ExpectLogins(engine, sc, src,
                   {{"carol", sc.all_user},
                    {"dave", sc.all_user, /*as_graph=*/true},
                    {"", sc.all_user},
                    {"alice", sc.alice_user},
                    {"bob", sc.bob_user}});
      // carol, dave and the anonymous caller share the ALL login's pool.
      CHECK(PoolKeys(engine) == std::set<std::string>{src + "/" + sc.all_user,
                                                      src + "/" + sc.alice_user,
                                                      src + "/" + sc.bob_user});
      CHECK(sc.sessions_of(sc.all_user) >= 1);

      RequireStatements(engine, "DROP EXTERNAL USER ON " + src + " FOR ALL");
      ExpectLogins(engine, sc, src, {{"carol", sc.default_user}});
      // The mapping change drained the source's pools: ALL's is gone.
      CHECK(PoolKeys(engine).count(src + "/" + sc.all_user) == 0);
    }

    SECTION("ALTER EXTERNAL USER switches the login; a wrong password fails without showing it") {
      RequireStatements(engine, "ALTER EXTERNAL USER ON " + src + " AS '" + sc.bob_user +
                                    "' PASSWORD ENV 'QG_CAT_BOB_PW' FOR alice");
      ExpectLogins(engine, sc, src, {{"alice", sc.bob_user}});
      const std::string canary = "qgcat-Wrong-Canary-pw";
      RequireStatements(engine, "CREATE EXTERNAL USER ON " + src + " AS '" + sc.alice_user +
                                    "' PASSWORD '" + canary + "' FOR mallory");
      ExecuteOptions o;
      o.user = "mallory";
      auto r = engine.ExecuteStatements(
          "EXECUTE STATEMENT '" + sc.whoami_sql + "' ON EXTERNAL DATA SOURCE " + src, o);
      REQUIRE_FALSE(r.ok());
      const std::string msg(r.status().message());
      INFO(msg);
      CHECK(msg.find(canary) == std::string::npos);
      CHECK(msg.find(sc.alice_pw) == std::string::npos);
      CHECK(msg.find(src) != std::string::npos);
    }

    for (const std::string& key : PoolKeys(engine)) CHECK(key.rfind(src + "/", 0) == 0);
  }
  // The engine is gone: so are its sessions.
  for (const auto& [user, pw] : sc.logins()) {
    INFO(user);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sc.sessions_of(user) != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(sc.sessions_of(user) == 0);
  }
}

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_CATALOG_MAPPING_UTIL_H_
