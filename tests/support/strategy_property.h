// Property test support: every execution strategy of a dependent node
// returns the same rows (issue 14: lookups batched / per binding, dependent
// aggregates grouped by key / per binding). Header-only; the data are plain
// portable SQL so SQLite (unit tests), PostgreSQL and MariaDB (integration,
// tag [property]) run the same sets.
//
// Tables (the caller creates them in its dialect):
//   users(id INTEGER, name VARCHAR(64), city VARCHAR(32))
//   orders(order_id INTEGER, user_id INTEGER, amount INTEGER, note VARCHAR(64))
// with NULL keys on both sides, duplicate parent keys, keys with no rows and
// non-ASCII text.
#ifndef QG_TESTS_SUPPORT_STRATEGY_PROPERTY_H_
#define QG_TESTS_SUPPORT_STRATEGY_PROPERTY_H_

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qg/engine.h"
#include "qg/plan.h"
#include "qg/result.h"

namespace qg::testing {

struct StrategyDataSet {
  uint32_t seed = 0;
  std::vector<std::string> users_inserts;   // run on the users source
  std::vector<std::string> orders_inserts;  // run on the orders source
  std::string city;                         // the parent node's :city
  std::string users = "users";              // table names
  std::string orders = "orders";
};

inline std::string SqlText(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// `users`, `orders`: the tables' names.
inline StrategyDataSet MakeStrategyDataSet(uint32_t seed, const std::string& users = "users",
                                           const std::string& orders = "orders") {
  static const std::vector<std::string> kNames = {"Ana",        "Zoë",     "東京",   "Ørjan",
                                                  "🙂 smile", "O'Brien", "Łukasz", "Ἀθῆναι"};
  static const std::vector<std::string> kNotes = {"ok", "später", "naïve", "日本語", "x'y", ""};
  static const std::vector<std::string> kCities = {"Paris", "Zürich", "Oslo"};
  std::mt19937 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  StrategyDataSet ds;
  ds.seed = seed;
  ds.users = users;
  ds.orders = orders;
  const int n_users = seed % 9 == 0 ? 0 : uni(1, 16);
  for (int k = 0; k < n_users; ++k) {
    // ids 1..8 repeat (duplicate keys); one in ten is NULL.
    const std::string id = uni(0, 9) == 0 ? "NULL" : std::to_string(uni(1, 8));
    ds.users_inserts.push_back("INSERT INTO " + users + " (id, name, city) VALUES (" + id + ", " +
                               SqlText(kNames[uni(0, kNames.size() - 1)]) + ", " +
                               SqlText(kCities[uni(0, kCities.size() - 1)]) + ")");
  }
  const int n_orders = uni(0, 40);
  for (int k = 0; k < n_orders; ++k) {
    // user ids 1..12: some users have no orders, some orders no user.
    const std::string uid = uni(0, 7) == 0 ? "NULL" : std::to_string(uni(1, 12));
    const std::string amount = uni(0, 8) == 0 ? "NULL" : std::to_string(uni(-50, 1000));
    const std::string note = uni(0, 6) == 0 ? "NULL" : SqlText(kNotes[uni(0, kNotes.size() - 1)]);
    ds.orders_inserts.push_back("INSERT INTO " + orders +
                                " (order_id, user_id, amount, note) VALUES (" + std::to_string(k) +
                                ", " + uid + ", " + amount + ", " + note + ")");
  }
  ds.city = uni(0, 6) == 0 ? "Nowhere" : kCities[uni(0, kCities.size() - 1)];
  return ds;
}

// The graph: users of a city, and three dependent nodes on the orders
// source keyed by the user id — a lookup, an ungrouped aggregate and a GROUP
// BY aggregate — all with `strategy` ("" = auto) and `batch_size` (0: default).
inline std::string StrategyGraph(const std::string& users_db, const std::string& orders_db,
                                 const std::string& strategy, int batch_size,
                                 const std::string& users = "users",
                                 const std::string& orders = "orders") {
  std::string ext;
  if (!strategy.empty()) ext += R"(, "strategy": ")" + strategy + "\"";
  if (batch_size > 0) ext += R"(, "batch_size": )" + std::to_string(batch_size);
  auto dependent = [&](const std::string& id, const std::string& sql) {
    return R"(, {"node_id": ")" + id + R"(", "database_id": ")" + orders_db +
           R"(", "query_string": ")" + sql + R"(", "input_parameters": ["uid"])" + ext + "}";
  };
  auto edge = [](const std::string& to) {
    return R"(, {"source_node": "u", "target_node": ")" + to + R"(", "input_mapping": {"u.id": ")" +
           to + R"(.uid"}})";
  };
  return R"({"nodes": [{"node_id": "u", "database_id": ")" + users_db +
         R"(", "query_string": "SELECT id, name, city FROM )" + users + R"( WHERE city = :city",
                        "input_parameters": ["city"], "output_fields": ["id", "name", "city"]})" +
         dependent("lookup", "SELECT order_id, user_id, amount, note FROM " + orders +
                                 " WHERE user_id = :uid") +
         dependent("agg",
                   "SELECT count(*) AS n, count(note) AS nn, sum(amount) AS s, min(note) AS mn, "
                   "max(amount) AS mx, avg(amount) AS av FROM " +
                       orders + " WHERE user_id = :uid") +
         dependent("gagg", "SELECT note, count(*) AS n, sum(amount) AS s FROM " + orders +
                               " "
                               "WHERE user_id = :uid GROUP BY note") +
         R"(], "edges": [)" + edge("lookup").substr(2) + edge("agg") + edge("gagg") + "]}";
}

// A node's rows as sorted "binding key || values" strings: rows compared
// order-insensitively, each with the binding it belongs to.
inline std::vector<std::string> LinkedRows(const NodeResult& r) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < r.num_rows; ++i) {
    std::string s;
    auto append = [&s](const Value& v) {
      if (v.is_null()) {
        s.append("NULL");
      } else {
        s.append(v.ToText());
      }
    };
    if (i < r.row_binding.size() && r.row_binding[i] < r.bindings.size()) {
      for (const Value& v : r.bindings[r.row_binding[i]]) {
        append(v);
        s.push_back(',');
      }
    }
    s.append("||");
    for (size_t c = 0; c < r.columns.size(); ++c) {
      if (c > 0) s.push_back('|');
      append(r.columns[c].values[i]);
    }
    rows.push_back(s);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Runs the graph with every strategy (and a few batch sizes) and checks that
// each dependent node's linked rows equal the per-binding run's; the auto
// plan must group the aggregates by key and say so in its reason.
inline void CheckStrategiesAgree(Engine& engine, const std::string& users_db,
                                 const std::string& orders_db, const StrategyDataSet& ds) {
  ExecuteOptions opts;
  opts.params = {{"city", Value::String(ds.city)}};
  INFO("seed " << ds.seed << " city " << ds.city);
  auto reference = engine.ExecuteJson(
      StrategyGraph(users_db, orders_db, "per_binding", 0, ds.users, ds.orders), opts);
  INFO(reference.status().message());
  REQUIRE(reference.ok());
  struct Variant {
    const char* strategy;
    int batch_size;
  };
  for (Variant v : {Variant{"batched", 0}, Variant{"batched", 1}, Variant{"batched", 3},
                    Variant{"", 0}, Variant{"per_binding", 2}}) {
    INFO("strategy \"" << v.strategy << "\" batch_size " << v.batch_size);
    auto r = engine.ExecuteJson(
        StrategyGraph(users_db, orders_db, v.strategy, v.batch_size, ds.users, ds.orders), opts);
    INFO(r.status().message());
    REQUIRE(r.ok());
    for (const char* node : {"lookup", "agg", "gagg"}) {
      INFO("node " << node);
      const NodeResult* got = r->FindNode(node);
      const NodeResult* want = reference->FindNode(node);
      REQUIRE(got != nullptr);
      REQUIRE(want != nullptr);
      CHECK(got->status == want->status);
      CHECK(LinkedRows(*got) == LinkedRows(*want));
      if (want->status == NodeStatus::kOk && std::string(v.strategy) != "per_binding") {
        CHECK(got->stats.strategy == "batched");
      }
    }
    if (std::string(v.strategy).empty()) {
      for (const NodePlan& np : r->plan.nodes) {
        // Auto may choose per_binding from the estimates (an empty parent);
        // when it batches an aggregate, it is the grouped rewrite.
        if ((np.node_id == "agg" || np.node_id == "gagg") && np.kind == ExecKind::kBatched) {
          INFO(np.reason);
          CHECK(np.reason.find("aggregate grouped by key") != std::string::npos);
        }
      }
    }
  }
  // Per binding, an ungrouped aggregate answers every binding with one row.
  const NodeResult* agg = reference->FindNode("agg");
  if (agg->status == NodeStatus::kOk) CHECK(agg->num_rows == agg->bindings.size());
}

}  // namespace qg::testing

#endif  // QG_TESTS_SUPPORT_STRATEGY_PROPERTY_H_
