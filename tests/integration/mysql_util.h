// Helpers for the MariaDB integration tests: connections through the mysql
// provider, a collecting row sink, admin SQL over the server's unix socket
// (Connector/C directly), and stopping/starting the test server.
#ifndef QG_TESTS_INTEGRATION_MYSQL_UTIL_H_
#define QG_TESTS_INTEGRATION_MYSQL_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/provider.h"
#include "qg/value.h"
#include "server_util.h"
#include "servers.h"

namespace qg::testing {

struct MysqlServer {
  std::string connect;   // QG_TEST_MYSQL_CONNECT: "host=127.0.0.1 port=N dbname=qgtest"
  std::string user;      // qg
  std::string password;  // qgpass
  std::string port;
  std::string socket;      // admin unix socket
  std::string admin_user;  // unix_socket login (root, or the invoking OS user)
  // A connection string for database `db` (same server, no credentials).
  std::string ConnectFor(const std::string& db) const;
};
// Fails the test when MariaDB's env is missing.
MysqlServer RequireMysql();

// Every column and row of a statement (server_util.h).
using MysqlRows = CollectedRows;

// The provider under test (one per process).
Provider& MysqlProvider();
// A ConnectRequest for database `db` as user qg.
ConnectRequest MysqlRequest(const std::string& db = "qgtest");
// Connects (REQUIREs success).
std::unique_ptr<Connection> MysqlConnect(const std::string& db = "qgtest");

// Compiles `sql` (with :name placeholders) and runs it with `params`.
absl::StatusOr<MysqlRows> MyQuery(Connection& conn, const std::string& sql,
                                  const ParamList& params = {}, ExecStats* stats = nullptr);
// Same, REQUIRing success.
MysqlRows MyRows(Connection& conn, const std::string& sql, const ParamList& params = {});
void MyExec(Connection& conn, const std::string& sql, const ParamList& params = {});

// Runs SQL as the server's admin over the unix socket; returns the first
// column of the first row ("" when none). FAILs the test on error.
std::string AdminSql(const std::string& sql, const std::string& db = "");
// All rows (text, NULL as "\N") of an admin query.
std::vector<std::vector<std::string>> AdminRows(const std::string& sql);
// Sessions of user qg in the process list (the admin's own excluded).
int QgMysqlSessions();
// The process list's command / info for one session id ("" when gone).
std::string MysqlSessionInfo(const std::string& id);

// Stops / starts the test MariaDB server (scripts/stop-mariadb.sh,
// start-mariadb.sh on ServersDir(); same port and data).
void StopMariadb();
void StartMariadb();

// Polls every 20 ms, up to `timeout_ms`, until `pred` is true.
template <typename Pred>
bool PollUntil(Pred pred, int timeout_ms) {
  return PollFor(pred, timeout_ms);
}

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_MYSQL_UTIL_H_
