// bench_mariadb: the seed graph with users in one MariaDB database
// (qg_users) and orders in another (qg_orders), 100k users / 1M orders,
// beside baselines measured in the same run on the same server:
//   native   the same join inside one MariaDB database (qgtest; the floor)
//   in-list  a hand-written client: the users query, then one
//            `user_id IN (...)` query for all their ids
//   naive    the seed's pseudocode: one prepared orders query per user
// at two selectivities: one city (~2% of users) and all users (1M rows).
//
//   bench_mariadb [ENV_FILE] [--only=WORD,...] [--selectivity=city|all] [--reps=N]
//
// Server and options: bench_common.h (ENV_FILE, else QG_TEST_MYSQL_* already
// set, else $QG_TEST_SERVERS_DIR (default BUILD/test-servers)/mariadb.env,
// else a server started in BUILD/bench-servers and stopped afterwards).
// Times are medians with min..max; the program prints ratios and never
// fails on them.
#include <mysql.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "mariadb_conn.h"
#include "qg/engine.h"

namespace {

using namespace qg_bench;  // NOLINT: the bench's own helpers

struct Server {
  std::string port, user, password;
};

void Setup(const Server& s) {
  const std::vector<std::string> users = MariadbUsersSql();
  const std::vector<std::string> orders = {
      "DROP TABLE IF EXISTS bench_orders",
      "CREATE TABLE bench_orders (order_id INT PRIMARY KEY, user_id INT NOT NULL, "
      "amount DECIMAL(12,2) NOT NULL, KEY (user_id)) ENGINE=InnoDB",
      "INSERT INTO bench_orders SELECT seq, 1 + (seq * 7919) % " + std::to_string(kUsers) +
          ", ROUND((seq % 1000) / 7.0 + 1, 2) FROM seq_1_to_" + std::to_string(kOrders),
      "ANALYZE TABLE bench_orders"};
  struct Part {
    std::string db;
    const std::vector<std::string>* sql;
    std::string table;
    int rows;
  };
  for (const Part& p : {Part{"qg_users", &users, "bench_users", kUsers},
                        Part{"qg_orders", &orders, "bench_orders", kOrders},
                        Part{"qgtest", &users, "bench_users", kUsers},
                        Part{"qgtest", &orders, "bench_orders", kOrders}}) {
    Conn c(s.port, s.user, s.password, p.db);
    EnsureTable(c, "bench_mariadb", p.db, p.table, p.rows, *p.sql);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions("bench_mariadb", argc, argv, &options)) return 2;
  ServerHandle server("mariadb", "QG_TEST_MYSQL_PORT");
  if (!server.Attach(options.env_file)) return 1;
  Server s{Env("QG_TEST_MYSQL_PORT"), Env("QG_TEST_MYSQL_USER"), Env("QG_TEST_MYSQL_PASSWORD")};
  if (s.port.empty() || s.user.empty()) {
    std::fprintf(stderr, "bench_mariadb: no QG_TEST_MYSQL_PORT/USER\n");
    return 2;
  }
  int rc = 0;
  try {
    {
      // The test server's 32 MB buffer pool would make every baseline
      // disk-bound on 1M orders; give the bench room (dynamic in 10.11).
      Conn admin(s.port, s.user, s.password, "qgtest");
      if (admin.Count("SELECT @@GLOBAL.innodb_buffer_pool_size") < (int64_t{512} << 20)) {
        admin.Exec("SET GLOBAL innodb_buffer_pool_size = 536870912");
        std::fprintf(stderr, "bench_mariadb: innodb_buffer_pool_size raised to 512M\n");
      }
    }
    Setup(s);
    auto engine_or = qg::Engine::Create();
    if (!engine_or.ok()) throw std::runtime_error(engine_or.status().ToString());
    auto& engine = *engine_or;
    auto source = [&](const std::string& name, const std::string& db) {
      return R"({"name": ")" + name +
             R"(", "provider": "mysql", "connect": "host=127.0.0.1 port=)" + s.port +
             " dbname=" + db +
             R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"},
              "options": {"pool_max": 8}})";
    };
    absl::Status st = engine->LoadCatalogJson(R"({"sources": [)" + source("db_users", "qg_users") +
                                              "," + source("db_orders", "qg_orders") + "]}");
    if (!st.ok()) throw std::runtime_error(st.ToString());

    Conn native(s.port, s.user, s.password, "qgtest");
    Conn users_db(s.port, s.user, s.password, "qg_users");
    Conn orders_db(s.port, s.user, s.password, "qg_orders");
    MYSQL_STMT* per_user =
        orders_db.Prepare("SELECT order_id, user_id, amount FROM bench_orders WHERE user_id = ?");

    const std::string& city = kCity;
    std::printf(
        "bench_mariadb: %d users (qg_users), %d orders (qg_orders), Connector/C %s, "
        "MariaDB on 127.0.0.1:%s\n\n",
        kUsers, kOrders, mysql_get_client_info(), s.port.c_str());
    Report::PrintHeader();
    std::fflush(stdout);
    for (bool one_city : {true, false}) {
      if (!(one_city ? options.run_city : options.run_all)) continue;
      qg::ExecuteOptions opts;
      if (one_city) opts.params = {{"city", qg::Value::String(city)}};
      const std::string where = one_city ? " WHERE u.city = '" + city + "'" : "";
      const std::string users_sql = std::string("SELECT id, name, city FROM bench_users") +
                                    (one_city ? " WHERE city = '" + city + "'" : "");
      Report report(options, one_city);
      report.Run("native join (one database)", false, [&] {
        return native.Query(
            "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM bench_users u "
            "JOIN bench_orders o ON o.user_id = u.id" +
            where);
      });
      for (const char* strategy : {"auto", "batched"}) {
        const std::string graph = SeedGraph(one_city, strategy);
        report.Run(std::string("qgraph seed graph, strategy ") + strategy, false, [&] {
          auto r = engine->ExecuteJson(graph, opts);
          if (!r.ok()) throw std::runtime_error(r.status().ToString());
          return r->FindNode("order_data")->num_rows;
        });
      }
      report.Run("hand-written client, IN (...) list", false, [&] {
        std::vector<std::string> ids;
        users_db.Query(users_sql, [&](MYSQL_ROW r) { ids.emplace_back(r[0]); });
        size_t n = 0;
        for (size_t from = 0; from < ids.size(); from += 50000) {  // under max_allowed_packet
          std::string sql = "SELECT order_id, user_id, amount FROM bench_orders WHERE user_id IN (";
          for (size_t i = from; i < std::min(ids.size(), from + 50000); ++i) {
            if (i > from) sql += ',';
            sql += ids[i];
          }
          sql += ')';
          n += orders_db.Query(sql);
        }
        return n;
      });
      report.Run("naive loop, one query per user", true, [&] {
        std::vector<int> ids;
        users_db.Query(users_sql, [&](MYSQL_ROW r) { ids.push_back(std::atoi(r[0])); });
        size_t n = 0;
        for (int id : ids) {
          MYSQL_BIND b;
          std::memset(&b, 0, sizeof(b));
          b.buffer_type = MYSQL_TYPE_LONG;
          b.buffer = &id;
          mysql_stmt_bind_param(per_user, &b);
          if (mysql_stmt_execute(per_user) != 0 || mysql_stmt_store_result(per_user) != 0) {
            throw std::runtime_error(mysql_stmt_error(per_user));
          }
          n += mysql_stmt_num_rows(per_user);
          mysql_stmt_free_result(per_user);
        }
        return n;
      });
      report.Print();
      std::printf("%-12s%s%s%s\n\n", "",
                  report.Ratio("qgraph/native", "strategy auto", "native").c_str(),
                  report.Ratio("qgraph/in-list-client", "strategy auto", "hand-written").c_str(),
                  report.Ratio("naive/qgraph", "naive", "strategy auto").c_str());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_mariadb: %s\n", e.what());
    rc = 1;
  }
  if (!server.Stop()) rc = 1;
  return rc;
}
