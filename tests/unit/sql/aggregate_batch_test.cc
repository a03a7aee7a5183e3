// Dependent aggregates as one grouped statement (sql/aggregate_batch.h).
#include "sql/aggregate_batch.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace qg {
namespace {

absl::StatusOr<sql::AggregateBatch> Agg(std::string_view text, std::vector<std::string> keys,
                                        size_t items,
                                        PlaceholderStyle style = PlaceholderStyle::kQuestion,
                                        BatchForm form = BatchForm::kInList) {
  auto parsed = ParseSql(text);
  if (!parsed.ok()) return parsed.status();
  return sql::RewriteAggregateBatched(*parsed, keys, items, style, form);
}

TEST_CASE("Aggregate rewrite groups by the key and derives the empty-group row", "[sql]") {
  auto a =
      Agg("SELECT count(*) AS n, sum(total) s, min(total), max(o.total), avg(total) AS a "
          "FROM orders o WHERE o.user_id = :uid AND total > :min",
          {"uid"}, 2);
  REQUIRE(a.ok());
  CHECK(a->batched.text ==
        "SELECT count(*) AS n, sum(total) s, min(total), max(o.total), avg(total) AS a, "
        "o.user_id AS __qg_k0 FROM orders o WHERE o.user_id IN (?, ?) AND total > ? "
        "GROUP BY o.user_id");
  CHECK(a->batched.key_columns == 1);
  CHECK(a->batched.key_position == -1);
  REQUIRE(a->empty_row.size() == 5);
  CHECK(a->empty_row[0] == Value::Int(0));
  for (size_t i = 1; i < 5; ++i) CHECK(a->empty_row[i].is_null());

  // count(DISTINCT x) and count(x) are 0 on no rows too; ORDER BY stays last.
  a = Agg("SELECT count(DISTINCT v), count(v) FROM t WHERE k = :k ORDER BY 1", {"k"}, 1,
          PlaceholderStyle::kDollar, BatchForm::kAnyArray);
  REQUIRE(a.ok());
  CHECK(a->batched.text ==
        "SELECT count(DISTINCT v), count(v), k AS __qg_k0 FROM t WHERE k = ANY($1) GROUP BY k "
        "ORDER BY 1");
  CHECK(a->empty_row == std::vector<Value>{Value::Int(0), Value::Int(0)});
}

TEST_CASE("Aggregate rewrite with GROUP BY adds the key to the list and fills nothing", "[sql]") {
  auto a = Agg("SELECT status, count(*) AS n FROM orders WHERE user_id = :uid GROUP BY status",
               {"uid"}, 2);
  REQUIRE(a.ok());
  CHECK(a->batched.text ==
        "SELECT status, count(*) AS n, user_id AS __qg_k0 FROM orders WHERE user_id IN (?, ?) "
        "GROUP BY status, user_id");
  CHECK(a->empty_row.empty());

  // Several keys: row values, both keys grouped.
  a = Agg("SELECT sum(v) FROM t WHERE a = :a AND b = :b", {"a", "b"}, 2);
  REQUIRE(a.ok());
  CHECK(a->batched.text ==
        "SELECT sum(v), a AS __qg_k0, b AS __qg_k1 FROM t WHERE (a, b) IN (VALUES (?, ?), (?, ?)) "
        "GROUP BY a, b");
  CHECK(a->batched.key_columns == 2);
}

TEST_CASE("Aggregate rewrite refuses what it cannot answer exactly", "[sql]") {
  struct Case {
    const char* sql;
    const char* reason;
  };
  for (Case c : {
           Case{"SELECT a FROM t WHERE a = :p", "not an aggregate query"},
           Case{"SELECT coalesce(sum(x), 0) FROM t WHERE a = :p", "is not count/sum"},
           Case{"SELECT count(*) + 1 FROM t WHERE a = :p", "is not count/sum"},
           Case{"SELECT total(x) FROM t WHERE a = :p", "not an aggregate query"},
           Case{"SELECT string_agg(x, ',') FROM t WHERE a = :p", "not an aggregate query"},
           Case{"SELECT count(*) FILTER (WHERE x > 1) FROM t WHERE a = :p", "is not count/sum"},
           Case{"SELECT count(*), x FROM t WHERE a = :p", "`x` is not count/sum"},
           Case{"SELECT x, count(*) FROM t WHERE a = :p GROUP BY y", "or a GROUP BY column"},
           Case{"SELECT count(*) OVER () FROM t WHERE a = :p", "is not count/sum"},
           Case{"SELECT sum(count(*)) OVER () FROM t WHERE a = :p GROUP BY b", "is not count/sum"},
           Case{"SELECT max((SELECT 1)) FROM t WHERE a = :p", "subquery"},
           Case{"SELECT DISTINCT count(*) FROM t WHERE a = :p", "DISTINCT"},
           Case{"SELECT count(*) FROM t WHERE a = :p HAVING count(*) > 1", "HAVING"},
           Case{"SELECT count(*) FROM t WHERE a = :p LIMIT 1", "LIMIT"},
           Case{"SELECT b, count(*) FROM t WHERE a = :p GROUP BY b LIMIT 1", "LIMIT"},
           Case{"SELECT count(*) FROM t WHERE a > :p", "comparison is not '='"},
           Case{"SELECT count(*) FROM t WHERE a = :p OR b = 1", "OR at the top level"},
           Case{"SELECT count(*) FROM t GROUP BY b", "no WHERE clause"},
       }) {
    INFO(c.sql);
    auto a = Agg(c.sql, {"p"}, 2);
    REQUIRE_FALSE(a.ok());
    CHECK(a.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(a.status().message()), Catch::Contains(c.reason));
  }
}

}  // namespace
}  // namespace qg
