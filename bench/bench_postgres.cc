// bench_postgres: the seed graph with users in one PostgreSQL database and
// orders in another (100k users, 1M orders), beside baselines measured in
// the same run on the same server:
//   native   the same join inside one PostgreSQL database (the floor)
//   any      a hand-written client: the users query, then one
//            `user_id = ANY($1)` query for all their ids
//   naive    the seed's pseudocode: one orders query per user
//   fdw      postgres_fdw at its best: both orientations (orders foreign
//            in the users database, users foreign in the orders database),
//            fetch_size 10000, use_remote_estimate off and on; every
//            configuration is printed and ratios use the fastest
// and, built with MariaDB support, the seed graph with users on MariaDB
// (qg_users there) and orders in PostgreSQL, against the same native join
// (needs a MariaDB server: $QG_TEST_SERVERS_DIR/mariadb.env, else one is
// started in BUILD/bench-servers).
// at two selectivities: one city (~2% of users) and all users (1M rows).
//
//   bench_postgres [ENV_FILE] [--only=WORD,...] [--selectivity=city|all] [--reps=N]
//
// Server and options: bench_common.h (ENV_FILE, else QG_TEST_PG_* already
// set, else $QG_TEST_SERVERS_DIR (default BUILD/test-servers)/postgres.env,
// else a server started in BUILD/bench-servers and stopped afterwards).
// Times are medians with min..max; the program prints ratios and never
// fails on them.
#include <cstdio>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "bench_common.h"
#include "qg/engine.h"
#if QG_BENCH_MARIADB
#include "mariadb_conn.h"
#endif

namespace {

using namespace qg_bench;  // NOLINT: the bench's own helpers

struct Server {
  std::string port, user, password, super_socket;
  std::string Conninfo(const std::string& db) const {
    return "host=127.0.0.1 port=" + port + " dbname=" + db + " user=" + user +
           " password=" + password;
  }
  std::string Super(const std::string& db) const {
    return "host=" + super_socket + " port=" + port + " user=postgres dbname=" + db;
  }
};

void Exec(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

bool HasData(pqxx::connection& c, const std::string& table, int rows) {
  pqxx::nontransaction tx(c);
  auto r = tx.exec("SELECT to_regclass('" + table + "') IS NOT NULL");
  if (!r[0][0].as<bool>()) return false;
  return tx.exec("SELECT count(*) FROM " + table)[0][0].as<int64_t>() == rows;
}

void Setup(const Server& s) {
  const std::string users =
      "DROP TABLE IF EXISTS bench_users CASCADE; "
      "CREATE TABLE bench_users (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL); "
      "INSERT INTO bench_users SELECT g, 'user ' || g, 'city' || (g % " +
      std::to_string(kCities) + ") FROM generate_series(1, " + std::to_string(kUsers) +
      ") g; CREATE INDEX bench_users_city ON bench_users (city); ANALYZE bench_users";
  const std::string orders =
      "DROP TABLE IF EXISTS bench_orders CASCADE; "
      "CREATE TABLE bench_orders (order_id int PRIMARY KEY, user_id int NOT NULL, "
      "amount numeric(12,2) NOT NULL); "
      "INSERT INTO bench_orders SELECT o, 1 + (o::int8 * 7919) % " +
      std::to_string(kUsers) + ", round((o % 1000) / 7.0 + 1, 2) FROM generate_series(1, " +
      std::to_string(kOrders) +
      ") o; CREATE INDEX bench_orders_user ON bench_orders (user_id); ANALYZE bench_orders";
  for (const auto& [db, sql, table, rows] :
       std::vector<std::tuple<std::string, std::string, std::string, int>>{
           {"qg_users", users, "bench_users", kUsers},
           {"qg_orders", orders, "bench_orders", kOrders},
           {"qgtest", users, "bench_users", kUsers},
           {"qgtest", orders, "bench_orders", kOrders}}) {
    pqxx::connection c(s.Conninfo(db));
    if (HasData(c, table, rows)) continue;
    std::fprintf(stderr, "bench_postgres: building %s.%s (%d rows)\n", db.c_str(), table.c_str(),
                 rows);
    Exec(c, sql);
  }
  // postgres_fdw in both orientations: in qg_users, orders foreign (from
  // qg_orders); in qg_orders, users foreign (from qg_users). Each foreign
  // table twice: use_remote_estimate off and on; fetch_size 10000 (the
  // default of 100 costs a round trip per 100 rows).
  struct Side {
    std::string local_db, remote_db, srv, remote_table, foreign, columns;
  };
  for (const Side& side : {Side{"qg_users", "qg_orders", "bench_orders_srv", "bench_orders",
                                "fdw_orders", "order_id int, user_id int, amount numeric(12,2)"},
                           Side{"qg_orders", "qg_users", "bench_users_srv", "bench_users",
                                "fdw_users", "id int, name text, city text"}}) {
    {
      pqxx::connection su(s.Super(side.local_db));
      Exec(su, "CREATE EXTENSION IF NOT EXISTS postgres_fdw");
      Exec(su, "DROP SERVER IF EXISTS " + side.srv + " CASCADE");
      Exec(su, "CREATE SERVER " + side.srv +
                   " FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '" + s.port +
                   "', dbname '" + side.remote_db + "', fetch_size '10000')");
      Exec(su, "GRANT USAGE ON FOREIGN SERVER " + side.srv + " TO " + s.user);
      pqxx::nontransaction tx(su);
      // esc() rather than quote(): GCC 12 reports a false -Wrestrict inside
      // libpqxx's quote().
      tx.exec("CREATE USER MAPPING FOR " + s.user + " SERVER " + side.srv + " OPTIONS (user '" +
              tx.esc(s.user) + "', password '" + tx.esc(s.password) + "')");
    }
    pqxx::connection c(s.Conninfo(side.local_db));
    for (const char* estimate : {"false", "true"}) {
      const std::string name = side.foreign + (estimate[0] == 't' ? "_re" : "");
      Exec(c, "DROP FOREIGN TABLE IF EXISTS " + name);
      Exec(c, "CREATE FOREIGN TABLE " + name + " (" + side.columns + ") SERVER " + side.srv +
                  " OPTIONS (table_name '" + side.remote_table + "', use_remote_estimate '" +
                  estimate + "')");
      Exec(c, "ANALYZE " + name);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions("bench_postgres", argc, argv, &options)) return 2;
  ServerHandle server("postgres", "QG_TEST_PG_PORT");
  if (!server.Attach(options.env_file)) return 1;
  Server s{Env("QG_TEST_PG_PORT"), Env("QG_TEST_PG_USER"), Env("QG_TEST_PG_PASSWORD"),
           Env("QG_TEST_PG_SUPERUSER_SOCKET")};
  int rc = 0;
#if QG_BENCH_MARIADB
  ServerHandle mariadb("mariadb", "QG_TEST_MYSQL_PORT");
#endif
  try {
    Setup(s);
    auto engine_or = qg::Engine::Create();
    if (!engine_or.ok()) throw std::runtime_error(engine_or.status().ToString());
    auto& engine = *engine_or;
    const std::string catalog = R"({"sources": [
      {"name": "db_users", "provider": "postgres", "connect": "host=127.0.0.1 port=)" +
                                s.port +
                                R"( dbname=qg_users", "user": "qg",
       "password": {"env": "QG_TEST_PG_PASSWORD"}, "options": {"pool_max": 8}},
      {"name": "db_orders", "provider": "postgres", "connect": "host=127.0.0.1 port=)" +
                                s.port +
                                R"( dbname=qg_orders", "user": "qg",
       "password": {"env": "QG_TEST_PG_PASSWORD"}, "options": {"pool_max": 8}}]})";
    absl::Status st = engine->LoadCatalogJson(catalog);
    if (!st.ok()) throw std::runtime_error(st.ToString());
#if QG_BENCH_MARIADB
    // Users on MariaDB, orders in PostgreSQL.
    if (!mariadb.Attach("")) throw std::runtime_error("no MariaDB server");
    {
      Conn c(Env("QG_TEST_MYSQL_PORT"), Env("QG_TEST_MYSQL_USER"), Env("QG_TEST_MYSQL_PASSWORD"),
             "qg_users");
      EnsureTable(c, "bench_postgres", "qg_users", "bench_users", kUsers, MariadbUsersSql());
    }
    auto mixed_or = qg::Engine::Create();
    if (!mixed_or.ok()) throw std::runtime_error(mixed_or.status().ToString());
    auto& mixed = *mixed_or;
    st = mixed->LoadCatalogJson(R"({"sources": [
      {"name": "db_users", "provider": "mysql", "connect": "host=127.0.0.1 port=)" +
                                Env("QG_TEST_MYSQL_PORT") + R"( dbname=qg_users", "user": ")" +
                                Env("QG_TEST_MYSQL_USER") + R"(",
       "password": {"env": "QG_TEST_MYSQL_PASSWORD"}, "options": {"pool_max": 8}},
      {"name": "db_orders", "provider": "postgres", "connect": "host=127.0.0.1 port=)" +
                                s.port + R"( dbname=qg_orders", "user": "qg",
       "password": {"env": "QG_TEST_PG_PASSWORD"}, "options": {"pool_max": 8}}]})");
    if (!st.ok()) throw std::runtime_error(st.ToString());
#endif

    pqxx::connection native(s.Conninfo("qgtest"));
    pqxx::connection users_db(s.Conninfo("qg_users"));
    pqxx::connection orders_db(s.Conninfo("qg_orders"));
    native.prepare("join_city",
                   "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM bench_users "
                   "u JOIN bench_orders o ON o.user_id = u.id WHERE u.city = $1");
    native.prepare("join_all",
                   "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM bench_users "
                   "u JOIN bench_orders o ON o.user_id = u.id");
    users_db.prepare("users_city", "SELECT id, name, city FROM bench_users WHERE city = $1");
    users_db.prepare("users_all", "SELECT id, name, city FROM bench_users");
    // postgres_fdw: {label, connection, foreign users or orders, table}.
    struct Fdw {
      std::string label;
      pqxx::connection* conn;
      std::string users, orders;
    };
    std::vector<Fdw> fdws = {
        {"postgres_fdw, orders foreign, estimate off", &users_db, "bench_users", "fdw_orders"},
        {"postgres_fdw, orders foreign, estimate on", &users_db, "bench_users", "fdw_orders_re"},
        {"postgres_fdw, users foreign, estimate off", &orders_db, "fdw_users", "bench_orders"},
        {"postgres_fdw, users foreign, estimate on", &orders_db, "fdw_users_re", "bench_orders"}};
    for (size_t i = 0; i < fdws.size(); ++i) {
      const std::string join =
          "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM " + fdws[i].users +
          " u JOIN " + fdws[i].orders + " o ON o.user_id = u.id";
      fdws[i].conn->prepare("fdw_city_" + std::to_string(i), join + " WHERE u.city = $1");
      fdws[i].conn->prepare("fdw_all_" + std::to_string(i), join);
    }
    orders_db.prepare("orders_one",
                      "SELECT order_id, user_id, amount FROM bench_orders WHERE user_id = $1");
    orders_db.prepare("orders_any",
                      "SELECT order_id, user_id, amount FROM bench_orders WHERE user_id = ANY($1)");

    const std::string& city = kCity;
    std::printf(
        "bench_postgres: %d users (qg_users), %d orders (qg_orders), PostgreSQL 15 on "
        "127.0.0.1:%s\n\n",
        kUsers, kOrders, s.port.c_str());
    Report::PrintHeader();
    std::fflush(stdout);
    for (bool one_city : {true, false}) {
      if (!(one_city ? options.run_city : options.run_all)) continue;
      const std::string graph = SeedGraph(one_city);
      qg::ExecuteOptions opts;
      if (one_city) opts.params = {{"city", qg::Value::String(city)}};
      Report report(options, one_city);
      report.Run("native join (one database)", false, [&] {
        pqxx::nontransaction tx(native);
        auto r = one_city ? tx.exec_prepared("join_city", city) : tx.exec_prepared("join_all");
        return r.size();
      });
      report.Run("qgraph seed graph (2 databases)", false, [&] {
        auto r = engine->ExecuteJson(graph, opts);
        if (!r.ok()) throw std::runtime_error(r.status().ToString());
        return r->FindNode("order_data")->num_rows;
      });
#if QG_BENCH_MARIADB
      report.Run("qgraph, users on MariaDB, orders on PG", false, [&] {
        auto r = mixed->ExecuteJson(graph, opts);
        if (!r.ok()) throw std::runtime_error(r.status().ToString());
        return r->FindNode("order_data")->num_rows;
      });
#endif
      report.Run("hand-written client, one = ANY($1)", false, [&] {
        pqxx::nontransaction ut(users_db);
        auto u = one_city ? ut.exec_prepared("users_city", city) : ut.exec_prepared("users_all");
        std::string arr = "{";
        for (size_t i = 0; i < u.size(); ++i) {
          if (i) arr += ',';
          arr += u[i][0].c_str();
        }
        arr += '}';
        pqxx::nontransaction ot(orders_db);
        return ot.exec_prepared("orders_any", arr).size();
      });
      for (size_t i = 0; i < fdws.size(); ++i) {
        report.Run(fdws[i].label, !one_city, [&] {
          pqxx::nontransaction tx(*fdws[i].conn);
          auto r = one_city ? tx.exec_prepared("fdw_city_" + std::to_string(i), city)
                            : tx.exec_prepared("fdw_all_" + std::to_string(i));
          return r.size();
        });
      }
      report.Run("naive loop, one query per user", true, [&] {
        pqxx::nontransaction ut(users_db);
        auto u = one_city ? ut.exec_prepared("users_city", city) : ut.exec_prepared("users_all");
        pqxx::nontransaction ot(orders_db);
        size_t n = 0;
        for (const auto& row : u) {
          n += ot.exec_prepared("orders_one", row[0].as<int>()).size();
        }
        return n;
      });
      report.Print();
      std::printf("%-12s%s%s%s%s\n\n", "",
                  report.Ratio("qgraph/native", "qgraph", "native").c_str(),
                  report.Ratio("qgraph/best-fdw", "qgraph", "postgres_fdw").c_str(),
                  report.Ratio("qgraph/any-client", "qgraph", "hand-written").c_str(),
                  report.Ratio("naive/qgraph", "naive", "qgraph").c_str());
#if QG_BENCH_MARIADB
      std::printf("%-12s%s\n\n", "",
                  report.Ratio("users-on-MariaDB/native", "users on MariaDB", "native").c_str());
#endif
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_postgres: %s\n", e.what());
    rc = 1;
  }
  if (!server.Stop()) rc = 1;
#if QG_BENCH_MARIADB
  if (!mariadb.Stop()) rc = 1;
#endif
  return rc;
}
