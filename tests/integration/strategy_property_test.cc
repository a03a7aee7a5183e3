// Property test on the real servers: every strategy of a dependent node
// (lookup batched / per binding, aggregates grouped by key / per binding)
// returns the same rows over random data sets (tests/support/strategy_property.h).
#include "support/strategy_property.h"

#include <catch2/catch.hpp>
#include <string>

#include "engine_checks.h"
#include "pg_util.h"
#include "qg/engine.h"

namespace qg::testing {
namespace {

constexpr uint32_t kDataSets = 20;

TEST_CASE("property: every strategy returns the same rows on PostgreSQL",
          "[postgres][engine][property]") {
  PgServer pg = RequirePg();
  auto engine = EngineWithSources(
      {R"({"name": "prop_pg", "provider": "postgres", "connect": ")" + pg.ConnectFor("qgtest") +
       R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"}})"});
  auto c = PgConnect("qgtest");
  for (uint32_t seed = 1; seed <= kDataSets; ++seed) {
    const StrategyDataSet ds = MakeStrategyDataSet(seed, "prop_users", "prop_orders");
    PgExec(*c, "DROP TABLE IF EXISTS prop_users");
    PgExec(*c, "DROP TABLE IF EXISTS prop_orders");
    PgExec(*c, "CREATE TABLE prop_users (id int, name text, city text)");
    PgExec(*c, "CREATE TABLE prop_orders (order_id int, user_id int, amount int, note text)");
    for (const std::string& s : ds.users_inserts) PgExec(*c, s);
    for (const std::string& s : ds.orders_inserts) PgExec(*c, s);
    CheckStrategiesAgree(*engine, "prop_pg", "prop_pg", ds);
  }
}

}  // namespace
}  // namespace qg::testing
