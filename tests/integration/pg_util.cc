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
  ConnectRequest r;
  r.source_name = "pg_" + db;
  r.connect = s.ConnectFor(db);
  r.user = s.user;
  r.password = s.password;
  r.connect_timeout = absl::Seconds(5);
  return r;
}

std::unique_ptr<Connection> PgConnect(const std::string& db) {
  auto c = PgProvider().Connect(PgRequest(db));
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

absl::StatusOr<Rows> PgQuery(Connection& conn, const std::string& sql, const ParamList& params,
                             ExecStats* stats) {
  CompileRequest req;
  req.query_string = sql;
  for (const auto& [name, value] : params) req.input_parameters.push_back(name);
  auto stmt = PgProvider().Compile(req);
  if (!stmt.ok()) return stmt.status();
  std::vector<BoundArg> args;
  for (const BatchArg& a : stmt->args) {
    BoundArg b;
    for (const auto& [name, value] : params) {
      if (name == a.name) b.value = value;
    }
    args.push_back(std::move(b));
  }
  Rows rows;
  ExecStats local;
  absl::Status s = conn.Execute(*stmt, args, &rows, stats != nullptr ? stats : &local);
  if (!s.ok()) return s;
  return rows;
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
