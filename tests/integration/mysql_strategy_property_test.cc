// The MariaDB half of strategy_property_test.cc (built with QG_WITH_MYSQL).
#include <catch2/catch.hpp>
#include <string>

#include "engine_checks.h"
#include "mysql_util.h"
#include "qg/engine.h"
#include "support/strategy_property.h"

namespace qg::testing {
namespace {

constexpr uint32_t kDataSets = 20;

TEST_CASE("property: every strategy returns the same rows on MariaDB",
          "[mysql][engine][property]") {
  MysqlServer my = RequireMysql();
  auto engine = EngineWithSources(
      {R"({"name": "prop_my", "provider": "mysql", "connect": ")" + my.ConnectFor("qgtest") +
       R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"}})"});
  auto c = MysqlConnect("qgtest");
  for (uint32_t seed = 1; seed <= kDataSets; ++seed) {
    const StrategyDataSet ds = MakeStrategyDataSet(seed, "prop_users", "prop_orders");
    MyExec(*c, "DROP TABLE IF EXISTS prop_users");
    MyExec(*c, "DROP TABLE IF EXISTS prop_orders");
    // Binary collation: GROUP BY note must not merge texts that differ.
    MyExec(*c,
           "CREATE TABLE prop_users (id int, name varchar(64), city varchar(32)) "
           "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    MyExec(*c,
           "CREATE TABLE prop_orders (order_id int, user_id int, amount int, note varchar(64)) "
           "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    for (const std::string& s : ds.users_inserts) MyExec(*c, s);
    for (const std::string& s : ds.orders_inserts) MyExec(*c, s);
    CheckStrategiesAgree(*engine, "prop_my", "prop_my", ds);
  }
}

}  // namespace
}  // namespace qg::testing
