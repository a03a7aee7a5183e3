// What a failed common transaction says about its rollback: "rolled back on
// every source" only when every participant's rollback succeeded; otherwise
// the message names the sources whose rollback failed and what becomes of
// them (issue 13).
#include <catch2/catch.hpp>
#include <string>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

// w1 writes db, w2 writes db2, then "bad" (after both) fails.
const char* kGraph = R"J({"transaction": "common", "nodes": [
  {"node_id": "w1", "database_id": "db", "mode": "write", "query_string": "write"},
  {"node_id": "w2", "database_id": "db2", "mode": "write", "query_string": "write"},
  {"node_id": "bad", "database_id": "db", "mode": "write",
   "query_string": "@fail=internal write"}],
  "edges": [{"source_node": "w1", "target_node": "bad"},
            {"source_node": "w2", "target_node": "bad"}]})J";

TEST_CASE("common: a failed rollback is not reported as rolled back", "[engine][tx]") {
  auto env = MakeFakeEngine();
  env.fake->FailRollback(true);
  auto r = env.engine->ExecuteJson(kGraph);
  REQUIRE_FALSE(r.ok());
  const std::string msg(r.status().message());
  INFO(msg);
  CHECK_THAT(msg, Catch::Contains("node \"bad\"") && Catch::Contains("fake failure"));
  CHECK_THAT(msg, !Catch::Contains("rolled back on every source"));
  CHECK_THAT(msg, Catch::Contains("rollback failed on source \"db\"") &&
                      Catch::Contains("rollback failed on source \"db2\"") &&
                      Catch::Contains("fake: rollback failed") &&
                      Catch::Contains("connection is closed"));
  CHECK(TotalInUse(*env.engine) == 0);
}

TEST_CASE("common: a rollback that succeeds everywhere says so", "[engine][tx]") {
  auto env = MakeFakeEngine();
  auto r = env.engine->ExecuteJson(kGraph);
  REQUIRE_FALSE(r.ok());
  const std::string msg(r.status().message());
  INFO(msg);
  CHECK_THAT(msg, Catch::Contains("node \"bad\"") &&
                      Catch::Contains("transaction \"common\" rolled back on every source"));
  CHECK_THAT(msg, !Catch::Contains("rollback failed"));
}

}  // namespace
}  // namespace qg::enginetest
