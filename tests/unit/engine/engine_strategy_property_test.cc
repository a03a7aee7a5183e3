// Property test on SQLite: every strategy of a dependent node (lookup
// batched / per binding, aggregates grouped by key / per binding) returns the
// same rows over random data sets (tests/support/strategy_property.h).
#include <catch2/catch.hpp>
#include <string>

#include "engine_test_util.h"
#include "qg/engine.h"
#include "support/strategy_property.h"

namespace qg::enginetest {
namespace {

TEST_CASE("property: every strategy returns the same rows on SQLite",
          "[engine][sqlite][property]") {
  TempDir dir;
  auto engine = Engine::Create();
  REQUIRE(engine.ok());
  const std::string catalog = R"({"sources": [
      {"name": "db_users", "provider": "sqlite", "connect": ")" +
                              dir.File("users.sqlite") + R"("},
      {"name": "db_orders", "provider": "sqlite", "connect": ")" +
                              dir.File("orders.sqlite") + R"("}]})";
  REQUIRE((*engine)->LoadCatalogJson(catalog).ok());
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    const qg::testing::StrategyDataSet ds = qg::testing::MakeStrategyDataSet(seed);
    std::string users =
        "DROP TABLE IF EXISTS users; CREATE TABLE users (id INTEGER, name TEXT, city TEXT); BEGIN;";
    for (const std::string& s : ds.users_inserts) users += s + ";";
    SqlExec(dir.File("users.sqlite"), users + "COMMIT;");
    std::string orders =
        "DROP TABLE IF EXISTS orders; CREATE TABLE orders (order_id INTEGER, user_id INTEGER, "
        "amount INTEGER, note TEXT); BEGIN;";
    for (const std::string& s : ds.orders_inserts) orders += s + ";";
    SqlExec(dir.File("orders.sqlite"), orders + "COMMIT;");
    qg::testing::CheckStrategiesAgree(**engine, "db_users", "db_orders", ds);
  }
}

}  // namespace
}  // namespace qg::enginetest
