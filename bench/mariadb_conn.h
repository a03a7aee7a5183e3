// A plain MariaDB Connector/C session and the users table for the benches
// (bench_mariadb; bench_postgres's users-on-MariaDB row).
#ifndef QG_BENCH_MARIADB_CONN_H_
#define QG_BENCH_MARIADB_CONN_H_

#include <mysql.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"

namespace qg_bench {

// A plain Connector/C session for the baselines.
class Conn {
 public:
  Conn(const std::string& port, const std::string& user, const std::string& password,
       const std::string& db) {
    m_ = mysql_init(nullptr);
    mysql_optionsv(m_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m_, "127.0.0.1", user.c_str(), password.c_str(), db.c_str(),
                           static_cast<unsigned>(std::stoi(port)), nullptr, 0) == nullptr) {
      std::string err = mysql_error(m_);
      mysql_close(m_);
      throw std::runtime_error("connect to " + db + ": " + err);
    }
  }
  ~Conn() {
    for (MYSQL_STMT* s : stmts_) mysql_stmt_close(s);
    mysql_close(m_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void Exec(const std::string& sql) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) Fail(sql);
    do {
      if (MYSQL_RES* r = mysql_store_result(m_)) mysql_free_result(r);
    } while (mysql_next_result(m_) == 0);
  }
  // Streams a text-protocol result; calls `row` for each; returns the count.
  size_t Query(const std::string& sql, const std::function<void(MYSQL_ROW)>& row = {}) {
    if (mysql_real_query(m_, sql.data(), sql.size()) != 0) Fail(sql);
    MYSQL_RES* r = mysql_use_result(m_);
    if (r == nullptr) Fail(sql);
    size_t n = 0;
    while (MYSQL_ROW rw = mysql_fetch_row(r)) {
      if (row) row(rw);
      ++n;
    }
    mysql_free_result(r);
    return n;
  }
  int64_t Count(const std::string& sql) {
    int64_t n = 0;
    Query(sql, [&](MYSQL_ROW r) { n = r[0] != nullptr ? std::atoll(r[0]) : 0; });
    return n;
  }
  MYSQL_STMT* Prepare(const std::string& sql) {
    MYSQL_STMT* s = mysql_stmt_init(m_);
    if (mysql_stmt_prepare(s, sql.data(), sql.size()) != 0) {
      throw std::runtime_error(sql + ": " + mysql_stmt_error(s));
    }
    stmts_.push_back(s);
    return s;
  }

 private:
  [[noreturn]] void Fail(const std::string& sql) {
    throw std::runtime_error(sql.substr(0, 200) + ": " + mysql_error(m_));
  }
  MYSQL* m_;
  std::vector<MYSQL_STMT*> stmts_;
};

// The statements that build bench_users (kUsers users in kCities cities,
// as bench_postgres builds them) in the session's database.
inline std::vector<std::string> MariadbUsersSql() {
  return {"DROP TABLE IF EXISTS bench_users",
          "CREATE TABLE bench_users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
          "city VARCHAR(20) NOT NULL, KEY (city)) ENGINE=InnoDB CHARACTER SET utf8mb4",
          "INSERT INTO bench_users SELECT seq, CONCAT('user ', seq), CONCAT('city', seq % " +
              std::to_string(kCities) + ") FROM seq_1_to_" + std::to_string(kUsers),
          "ANALYZE TABLE bench_users"};
}

// Runs `sql` unless db.table already holds `rows` rows.
inline void EnsureTable(Conn& c, const char* who, const std::string& db, const std::string& table,
                        int rows, const std::vector<std::string>& sql) {
  if (c.Count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + db +
              "' AND TABLE_NAME = '" + table + "'") == 1 &&
      c.Count("SELECT COUNT(*) FROM " + table) == rows) {
    return;
  }
  std::fprintf(stderr, "%s: building %s.%s (%d rows)\n", who, db.c_str(), table.c_str(), rows);
  for (const std::string& s : sql) c.Exec(s);
}

}  // namespace qg_bench

#endif  // QG_BENCH_MARIADB_CONN_H_
