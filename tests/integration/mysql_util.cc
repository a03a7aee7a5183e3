#include "mysql_util.h"

#include <mysql.h>

#include <catch2/catch.hpp>

#include "providers/mysql/mysql_provider.h"

namespace qg::testing {

std::string MysqlServer::ConnectFor(const std::string& db) const {
  return "host=127.0.0.1 port=" + port + " dbname=" + db;
}

MysqlServer RequireMysql() {
  MysqlServer s;
  s.connect = RequireEnv("QG_TEST_MYSQL_CONNECT");
  s.user = RequireEnv("QG_TEST_MYSQL_USER");
  s.password = RequireEnv("QG_TEST_MYSQL_PASSWORD");
  s.port = RequireEnv("QG_TEST_MYSQL_PORT");
  s.socket = RequireEnv("QG_TEST_MYSQL_SOCKET");
  const char* admin = std::getenv("QG_TEST_MYSQL_ADMIN_USER");
  s.admin_user = admin != nullptr && *admin != '\0' ? admin : "root";
  return s;
}

Provider& MysqlProvider() {
  static std::unique_ptr<Provider> p = NewMysqlProvider();
  return *p;
}

ConnectRequest MysqlRequest(const std::string& db) {
  MysqlServer s = RequireMysql();
  return ServerRequest("my_" + db, s.ConnectFor(db), s.user, s.password);
}

std::unique_ptr<Connection> MysqlConnect(const std::string& db) {
  return ConnectOrFail(MysqlProvider(), MysqlRequest(db));
}

absl::StatusOr<MysqlRows> MyQuery(Connection& conn, const std::string& sql, const ParamList& params,
                                  ExecStats* stats) {
  return RunQuery(MysqlProvider(), conn, sql, params, stats);
}

MysqlRows MyRows(Connection& conn, const std::string& sql, const ParamList& params) {
  auto r = MyQuery(conn, sql, params);
  INFO(sql << " -> " << r.status().ToString());
  REQUIRE(r.ok());
  return std::move(*r);
}

void MyExec(Connection& conn, const std::string& sql, const ParamList& params) {
  (void)MyRows(conn, sql, params);
}

namespace {

// An admin session over the unix socket (unix_socket authentication).
MYSQL* AdminConnect(const std::string& db) {
  MysqlServer s = RequireMysql();
  MYSQL* m = mysql_init(nullptr);
  REQUIRE(m != nullptr);
  unsigned int timeout = 5;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(m, "localhost", s.admin_user.c_str(), nullptr,
                         db.empty() ? nullptr : db.c_str(), 0, s.socket.c_str(),
                         CLIENT_MULTI_RESULTS) == nullptr) {
    std::string err = mysql_error(m);
    mysql_close(m);
    FAIL("admin connection to MariaDB over " << s.socket << " failed: " << err);
  }
  return m;
}

}  // namespace

std::vector<std::vector<std::string>> AdminRows(const std::string& sql) {
  MYSQL* m = AdminConnect("");
  std::vector<std::vector<std::string>> out;
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
    std::string err = mysql_error(m);
    mysql_close(m);
    FAIL("admin SQL failed: " << sql << ": " << err);
  }
  MYSQL_RES* r = mysql_store_result(m);
  if (r != nullptr) {
    unsigned int nf = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long* len = mysql_fetch_lengths(r);
      std::vector<std::string> cells;
      for (unsigned int i = 0; i < nf; ++i) {
        cells.push_back(row[i] == nullptr ? std::string("\\N") : std::string(row[i], len[i]));
      }
      out.push_back(std::move(cells));
    }
    mysql_free_result(r);
  }
  while (mysql_next_result(m) == 0) {
    if (MYSQL_RES* extra = mysql_store_result(m)) mysql_free_result(extra);
  }
  mysql_close(m);
  return out;
}

std::string AdminSql(const std::string& sql, const std::string& db) {
  MYSQL* m = AdminConnect(db);
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) {
    std::string err = mysql_error(m);
    mysql_close(m);
    FAIL("admin SQL failed: " << sql << ": " << err);
  }
  std::string out;
  do {
    MYSQL_RES* r = mysql_store_result(m);
    if (r != nullptr) {
      MYSQL_ROW row = mysql_fetch_row(r);
      if (out.empty() && row != nullptr && row[0] != nullptr) {
        out.assign(row[0], mysql_fetch_lengths(r)[0]);
      }
      mysql_free_result(r);
    }
  } while (mysql_next_result(m) == 0);
  mysql_close(m);
  return out;
}

int QgMysqlSessions() {
  return std::stoi(
      AdminSql("SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND ID <> "
               "CONNECTION_ID() AND COMMAND <> 'Killed'"));
}

std::string MysqlSessionInfo(const std::string& id) {
  auto rows = AdminRows(
      "SELECT COMMAND, IFNULL(INFO, '') FROM information_schema.PROCESSLIST WHERE ID = " + id);
  if (rows.empty()) return "";
  return rows[0][0] + ": " + rows[0][1];
}

void StopMariadb() {
  std::string cmd =
      std::string("bash ") + QG_SOURCE_DIR + "/scripts/stop-mariadb.sh '" + ServersDir() + "'";
  REQUIRE(RunCommand(cmd) == 0);
}

void StartMariadb() {
  std::string cmd = std::string("bash ") + QG_SOURCE_DIR + "/scripts/start-mariadb.sh '" +
                    ServersDir() + "' 2>/dev/null";
  REQUIRE(RunCommand(cmd) == 0);
}

}  // namespace qg::testing
