#include "pg_util.h"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "providers/postgres/postgres_provider.h"

namespace qg::testing {

Provider& PgProvider() {
  static std::unique_ptr<Provider> p = NewPostgresProvider();
  return *p;
}

ConnectRequest PgRequest(const std::string& db) {
  PgServer s = RequirePg();
  return ServerRequest("pg_" + db, s.ConnectFor(db), s.user, s.password);
}

std::unique_ptr<Connection> PgConnect(const std::string& db) {
  return ConnectOrFail(PgProvider(), PgRequest(db));
}

absl::StatusOr<Rows> PgQuery(Connection& conn, const std::string& sql, const ParamList& params,
                             ExecStats* stats) {
  return RunQuery(PgProvider(), conn, sql, params, stats);
}

void PgExec(Connection& conn, const std::string& sql, const ParamList& params) {
  auto r = PgQuery(conn, sql, params);
  INFO(sql << " -> " << r.status().ToString());
  REQUIRE(r.ok());
}

std::string SuperSql(const std::string& sql, const std::string& db) {
  pqxx::connection c(RequirePg().SuperuserConninfo(db));
  pqxx::nontransaction tx(c);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

int QgSessionCount() {
  return std::stoi(SuperSql(
      "SELECT count(*) FROM pg_stat_activity WHERE usename = 'qg' AND backend_type = 'client "
      "backend'"));
}

}  // namespace qg::testing
