// The catalog statements against the real MariaDB server: user mappings seen
// through SELECT CURRENT_USER() (explicit, ALL, the source's AS USER) and
// pools per (source, external user).
#include <catch2/catch.hpp>
#include <string>

#include "catalog_mapping_util.h"
#include "mysql_util.h"
#include "qg/engine.h"

namespace qg::testing {
namespace {

// The host part of the accounts the tests log in as: MariaDB users are
// host-specific and the server runs with skip-name-resolve, so it is the
// address the connection string names ("host=127.0.0.1 …").
std::string ClientHost(const MysqlServer& my) {
  const size_t at = my.connect.find("host=");
  REQUIRE(at != std::string::npos);
  const size_t start = at + 5;
  const size_t end = my.connect.find(' ', start);
  return my.connect.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST_CASE("mysql catalog: local users reach one source as different external users",
          "[mysql][catalog]") {
  MysqlServer my = RequireMysql();
  const std::string host = ClientHost(my);
  MappingScenario sc =
      MappingScenario::Make("mysql", my.ConnectFor("qgtest"), my.user, "QG_TEST_MYSQL_PASSWORD",
                            "SELECT CURRENT_USER() AS u, (SELECT count(*) FROM qgcat_t) AS n");
  sc.reported = [host](const std::string& u) { return u + "@" + host; };
  sc.sessions_of = [](const std::string& u) {
    return std::stoi(AdminSql("SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = '" +
                              u + "' AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'"));
  };
  AdminSql("CREATE OR REPLACE TABLE qgtest.qgcat_t (x INT)");
  AdminSql("INSERT INTO qgtest.qgcat_t VALUES (1), (2), (3)");
  for (const auto& [user, pw] : sc.logins()) {
    const std::string account = "'" + user + "'@'" + host + "'";
    AdminSql("CREATE USER IF NOT EXISTS " + account);
    AdminSql("ALTER USER " + account + " IDENTIFIED BY '" + pw + "'");
    AdminSql("GRANT SELECT ON qgtest.qgcat_t TO " + account);
  }
  RunMappingScenario(sc);
}

}  // namespace
}  // namespace qg::testing
