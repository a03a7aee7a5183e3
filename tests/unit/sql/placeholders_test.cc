#include "qg/placeholders.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace qg {
namespace {

using Names = std::vector<std::string>;

Names NamesOf(std::string_view sql) {
  auto parsed = ParseSql(sql);
  REQUIRE(parsed.ok());
  std::vector<std::string> all;
  for (const auto& p : parsed->placeholders) all.push_back(p.name);
  return all;
}

TEST_CASE("ParseSql finds plain placeholders with offsets", "[sql]") {
  auto parsed = ParseSql("SELECT * FROM t WHERE a=:p AND b = :q_2");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->placeholders.size() == 2);
  CHECK(parsed->placeholders[0].name == "p");
  CHECK(parsed->placeholders[0].begin == 24);
  CHECK(parsed->placeholders[0].end == 26);
  CHECK(parsed->placeholders[1].name == "q_2");
  CHECK(parsed->text == "SELECT * FROM t WHERE a=:p AND b = :q_2");
}

TEST_CASE("ParseSql ignores strings, identifiers and comments", "[sql]") {
  CHECK(NamesOf("SELECT ':p', 'it''s :q', :r") == Names{"r"});
  CHECK(NamesOf(R"(SELECT E'\':p', :r)") == Names{"r"});
  CHECK(NamesOf(R"(SELECT e'a\\', :r)") == Names{"r"});
  // Without E a backslash is an ordinary character.
  CHECK(NamesOf(R"(SELECT 'a\', :r)") == Names{"r"});
  CHECK(NamesOf(R"(SELECT "quoted:ident", "a""b:c", :r)") == Names{"r"});
  CHECK(NamesOf("SELECT `backquoted:ident`, :r") == Names{"r"});
  CHECK(NamesOf("SELECT [bracket:ident], :r FROM [t:x]") == Names{"r"});
  CHECK(NamesOf("SELECT 1 -- :p here\n, :r") == Names{"r"});
  CHECK(NamesOf("SELECT 1 /* :p */, :r") == Names{"r"});
  CHECK(NamesOf("SELECT 1 /* /* */ :p */, :r") == Names{"r"});
  CHECK(NamesOf("SELECT $$ :p $$, $tag$ :p $x$ :q $tag$, :r") == Names{"r"});
}

TEST_CASE("ParseSql knows casts, positionals and odd spellings", "[sql]") {
  CHECK(NamesOf("SELECT x::int, y::name, (a+b)::text, :r").size() == 1);
  CHECK(NamesOf("SELECT x::name FROM t WHERE a = :name") == Names{"name"});
  CHECK(NamesOf("SELECT (x)::name, :a::int") == Names{"a"});
  CHECK(NamesOf("SELECT $1, :a, $2") == Names{"a"});
  CHECK(NamesOf("SELECT :1, :_x, :a1") == Names{"_x", "a1"});
  CHECK(NamesOf("SELECT a=:p,b<>:q") == Names{"p", "q"});
  CHECK(NamesOf("SELECT ARRAY[:a, :b], x[1], f(y)[2]") == Names{"a", "b"});
  CHECK(NamesOf("SELECT :a, :b, :a") == Names{"a", "b", "a"});
  auto parsed = ParseSql("SELECT :a, :b, :a");
  REQUIRE(parsed.ok());
  CHECK(parsed->Names() == Names{"a", "b"});
  CHECK(NamesOf("SELECT 'x'").empty());
  CHECK(NamesOf("").empty());
}

TEST_CASE("ParseSql reports unterminated tokens with their offset", "[sql]") {
  struct Case {
    const char* sql;
    const char* what;
  };
  for (Case c : {Case{"SELECT 'abc", "string literal starting at byte 7"},
                 Case{"SELECT E'ab\\'", "string literal starting at byte 7"},
                 Case{"SELECT \"abc", "identifier starting at byte 7"},
                 Case{"SELECT `abc", "identifier starting at byte 7"},
                 Case{"SELECT [abc", "identifier starting at byte 7"},
                 Case{"SELECT 1 /* a /* b */", "comment starting at byte 9"},
                 Case{"SELECT $q$ abc $x$", "dollar-quoted string starting at byte 7"}}) {
    auto parsed = ParseSql(c.sql);
    INFO(c.sql);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(parsed.status().message()), Catch::Contains(c.what));
  }
}

TEST_CASE("RewritePlaceholders in both styles", "[sql]") {
  auto parsed = ParseSql("SELECT * FROM t WHERE a = :a AND b::text = :b OR c = :a");
  REQUIRE(parsed.ok());
  NativeSql q = RewritePlaceholders(*parsed, PlaceholderStyle::kQuestion);
  CHECK(q.text == "SELECT * FROM t WHERE a = ? AND b::text = ? OR c = ?");
  CHECK(q.arg_names == Names{"a", "b", "a"});
  NativeSql d = RewritePlaceholders(*parsed, PlaceholderStyle::kDollar);
  CHECK(d.text == "SELECT * FROM t WHERE a = $1 AND b::text = $2 OR c = $1");
  CHECK(d.arg_names == Names{"a", "b"});
  auto none = ParseSql("SELECT ':a'");
  REQUIRE(none.ok());
  CHECK(RewritePlaceholders(*none, PlaceholderStyle::kDollar).text == "SELECT ':a'");
}

absl::StatusOr<BatchedSql> Batch(std::string_view sql, std::vector<std::string> keys, size_t items,
                                 PlaceholderStyle style = PlaceholderStyle::kQuestion,
                                 BatchForm form = BatchForm::kInList) {
  auto parsed = ParseSql(sql);
  REQUIRE(parsed.ok());
  return RewriteBatched(*parsed, keys, items, style, form);
}

std::string Describe(const std::vector<BatchArg>& args) {
  std::string s;
  for (const BatchArg& a : args) {
    if (!s.empty()) s += " ";
    switch (a.kind) {
      case BatchArg::Kind::kParam:
        s += "p:" + a.name;
        break;
      case BatchArg::Kind::kKeyItem:
        s += "k:" + a.name + "#" + std::to_string(a.item);
        break;
      case BatchArg::Kind::kKeyArray:
        s += "a:" + a.name;
        break;
    }
  }
  return s;
}

TEST_CASE("RewriteBatched reuses a select-list column that is the key column", "[sql]") {
  struct Case {
    const char* sql;
    int position;  // -1: __qg_k0 is added
  };
  for (const Case& c : std::vector<Case>{
           {"SELECT id, user_id, amount FROM o WHERE user_id = :k", 1},
           {"SELECT id, USER_ID AS uid FROM o WHERE user_id = :k", 1},
           {"SELECT id, o.user_id uid FROM o WHERE o.user_id = :k", 1},
           {"SELECT ALL user_id FROM o WHERE :k = user_id", 0},
           {"SELECT f(a, b) AS x, user_id FROM o WHERE user_id = :k", 1},
           {"SELECT id, o.user_id FROM o WHERE user_id = :k", -1},    // spelled differently
           {"SELECT id, \"user_id\" FROM o WHERE user_id = :k", -1},  // quoted: not assumed
           {"SELECT *, user_id FROM o WHERE user_id = :k", -1},       // after a *
           {"SELECT o.*, user_id FROM o WHERE user_id = :k", -1},
           {"SELECT user_id + 0 AS u FROM o WHERE user_id = :k", -1},  // an expression
           {"SELECT user_id::text FROM o WHERE user_id = :k", -1},
       }) {
    INFO(c.sql);
    auto b = Batch(c.sql, {"k"}, 2);
    REQUIRE(b.ok());
    CHECK(b->key_columns == 1);
    CHECK(b->key_position == c.position);
    CHECK((b->text.find("__qg_k0") == std::string::npos) == (c.position >= 0));
  }
  // Several keys always trail.
  auto m = Batch("SELECT a, b FROM t WHERE a = :x AND b = :y", {"x", "y"}, 1);
  REQUIRE(m.ok());
  CHECK(m->key_position == -1);
  CHECK(m->key_columns == 2);
}

TEST_CASE("RewriteBatched accepted forms", "[sql]") {
  auto b = Batch("SELECT * FROM orders WHERE user_id = :user_id", {"user_id"}, 3);
  REQUIRE(b.ok());
  CHECK(b->text == "SELECT *, user_id AS __qg_k0 FROM orders WHERE user_id IN (?, ?, ?)");
  CHECK(Describe(b->args) == "k:user_id#0 k:user_id#1 k:user_id#2");
  CHECK(b->key_columns == 1);

  b = Batch("SELECT o.id FROM orders o WHERE :p = o.user_id", {"p"}, 2);
  REQUIRE(b.ok());
  CHECK(b->text == "SELECT o.id, o.user_id AS __qg_k0 FROM orders o WHERE o.user_id IN (?, ?)");

  b = Batch("SELECT DISTINCT a FROM t WHERE a = :p AND b > 5 ORDER BY a;", {"p"}, 1);
  REQUIRE(b.ok());
  // The select list already holds the key column: it is the key, nothing is added.
  CHECK(b->text == "SELECT DISTINCT a FROM t WHERE a IN (?) AND b > 5 ORDER BY a;");
  CHECK(b->key_columns == 1);
  CHECK(b->key_position == 0);

  b = Batch("SELECT * FROM t WHERE \"User\".\"Id\"=:p", {"p"}, 1, PlaceholderStyle::kDollar,
            BatchForm::kAnyArray);
  REQUIRE(b.ok());
  CHECK(b->text == "SELECT *, \"User\".\"Id\" AS __qg_k0 FROM t WHERE \"User\".\"Id\" = ANY($1)");
  CHECK(Describe(b->args) == "a:p");

  // Subqueries with their own GROUP BY/LIMIT are fine.
  b = Batch("SELECT a FROM (SELECT a, count(*) c FROM t GROUP BY a LIMIT 5) s WHERE a = :p", {"p"},
            1);
  REQUIRE(b.ok());
  b = Batch("SELECT a IS DISTINCT FROM b AS d FROM t WHERE a = :p AND c BETWEEN 1 AND 2", {"p"}, 1);
  REQUIRE(b.ok());
  CHECK(
      b->text ==
      "SELECT a IS DISTINCT FROM b AS d, a AS __qg_k0 FROM t WHERE a IN (?) AND c BETWEEN 1 AND 2");
}

TEST_CASE("RewriteBatched mixes key and ordinary parameters", "[sql]") {
  const char* sql = "SELECT :tag AS tag, x FROM t WHERE k = :k AND y > :min AND z < :min";
  auto q = Batch(sql, {"k"}, 2);
  REQUIRE(q.ok());
  CHECK(q->text == "SELECT ? AS tag, x, k AS __qg_k0 FROM t WHERE k IN (?, ?) AND y > ? AND z < ?");
  CHECK(Describe(q->args) == "p:tag k:k#0 k:k#1 p:min p:min");

  auto d = Batch(sql, {"k"}, 2, PlaceholderStyle::kDollar);
  REQUIRE(d.ok());
  CHECK(d->text ==
        "SELECT $1 AS tag, x, k AS __qg_k0 FROM t WHERE k IN ($2, $3) AND y > $4 AND z < $4");
  CHECK(Describe(d->args) == "p:tag k:k#0 k:k#1 p:min");

  auto a = Batch(sql, {"k"}, 2, PlaceholderStyle::kDollar, BatchForm::kAnyArray);
  REQUIRE(a.ok());
  CHECK(a->text ==
        "SELECT $1 AS tag, x, k AS __qg_k0 FROM t WHERE k = ANY($2) AND y > $3 AND z < $3");
  CHECK(Describe(a->args) == "p:tag a:k p:min");

  auto aq = Batch(sql, {"k"}, 2, PlaceholderStyle::kQuestion, BatchForm::kAnyArray);
  REQUIRE(aq.ok());
  CHECK(aq->text == "SELECT ? AS tag, x, k AS __qg_k0 FROM t WHERE k = ANY(?) AND y > ? AND z < ?");
}

TEST_CASE("RewriteBatched with several keys uses row values", "[sql]") {
  const char* sql = "SELECT * FROM t WHERE b = :b AND c = :x AND a = :a";
  auto q = Batch(sql, {"a", "b"}, 2);
  REQUIRE(q.ok());
  CHECK(q->text ==
        "SELECT *, a AS __qg_k0, b AS __qg_k1 FROM t WHERE (a, b) IN (VALUES (?, ?), (?, ?)) AND "
        "c = ?");
  CHECK(Describe(q->args) == "k:a#0 k:b#0 k:a#1 k:b#1 p:x");
  CHECK(q->key_columns == 2);
  auto d = Batch(sql, {"a", "b"}, 2, PlaceholderStyle::kDollar);
  REQUIRE(d.ok());
  CHECK(d->text ==
        "SELECT *, a AS __qg_k0, b AS __qg_k1 FROM t WHERE (a, b) IN (VALUES ($1, $2), ($3, $4)) "
        "AND c = $5");
  auto any = Batch(sql, {"a", "b"}, 2, PlaceholderStyle::kDollar, BatchForm::kAnyArray);
  REQUIRE_FALSE(any.ok());
  CHECK(any.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("RewriteBatched refuses unsafe queries with a reason", "[sql]") {
  struct Case {
    const char* sql;
    const char* reason;
  };
  for (Case c : {
           Case{"SELECT * FROM t WHERE (a = :p)", "parameter :p is used inside parentheses"},
           Case{"SELECT * FROM t WHERE a IN (:p)", "parameter :p is used inside parentheses"},
           Case{"SELECT * FROM t WHERE a = ANY(ARRAY[:p])", "inside parentheses"},
           Case{"SELECT * FROM t WHERE a = :p OR b = 1", "OR at the top level of WHERE"},
           Case{"SELECT a, b FROM t WHERE a = :p GROUP BY a, b", "GROUP BY"},
           Case{"SELECT a FROM t WHERE a = :p LIMIT 1", "LIMIT"},
           Case{"SELECT a FROM t WHERE a = :p ORDER BY a LIMIT 1", "LIMIT"},
           Case{"SELECT a FROM t WHERE a = :p OFFSET 1", "OFFSET"},
           Case{"SELECT a FROM t WHERE a = :p FETCH FIRST 1 ROWS ONLY", "FETCH"},
           Case{"SELECT count(*) FROM t WHERE a = :p", "aggregate count("},
           // Aggregates and windows nested in expressions compute over the
           // whole batch, not per key (wrong results when batched).
           Case{"SELECT coalesce(sum(x), 0) AS s FROM t WHERE a = :p", "aggregate sum("},
           Case{"SELECT (count(*)) FROM t WHERE a = :p", "aggregate count("},
           Case{"SELECT 1 + max(x) FROM t WHERE a = :p", "aggregate max("},
           Case{"SELECT coalesce(row_number() OVER (ORDER BY a), 0) FROM t WHERE a = :p", "OVER"},
           Case{"SELECT a, lag(x) OVER w FROM t WHERE a = :p WINDOW w AS (ORDER BY x)", "OVER"},
           Case{"SELECT a FROM t WHERE a = :p UNION SELECT 1 FROM u", "UNION"},
           Case{"SELECT a, row_number() OVER (ORDER BY a) FROM t WHERE a = :p", "OVER"},
           Case{"SELECT a FROM t WHERE a = :p HAVING a > 1", "HAVING"},
           Case{"SELECT a FROM t WHERE a = :p AND b = :p", "key parameter :p is used twice"},
           Case{"SELECT :p, a FROM t WHERE a = :p", "key parameter :p is used twice"},
           Case{"SELECT a FROM t WHERE a > :p", "comparison is not '='"},
           Case{"SELECT a FROM t WHERE a <> :p", "comparison is not '='"},
           Case{"SELECT a FROM t WHERE a = :p::int", "is not compared as"},
           Case{"SELECT a FROM t WHERE NOT a = :p", "plain column"},
           Case{"SELECT a FROM t WHERE lower(a) = :p", "plain column"},
           Case{"SELECT a FROM t WHERE 5 = :p", "plain column"},
           Case{"SELECT a FROM t WHERE a = 1", "does not appear"},
           Case{"SELECT a FROM t", "no WHERE clause"},
           Case{"UPDATE t SET a = 1 WHERE a = :p", "not a single SELECT"},
           Case{"SELECT a FROM t WHERE a = :p; SELECT 1", "several statements"},
           Case{"SELECT DISTINCT ON (a) a FROM t WHERE a = :p", "DISTINCT ON"},
           Case{"WITH c AS (SELECT * FROM t WHERE a = :p) SELECT * FROM c WHERE b = 1",
                "inside parentheses"},
       }) {
    INFO(c.sql);
    auto b = Batch(c.sql, {"p"}, 2);
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(b.status().message()), Catch::Contains(c.reason));
  }
}

TEST_CASE("RewriteBatched accepts a WITH query whose main SELECT is batchable", "[sql]") {
  auto b = Batch("WITH c AS (SELECT * FROM t WHERE x = 1) SELECT * FROM c WHERE b = :p", {"p"}, 1);
  REQUIRE(b.ok());
  CHECK(b->text ==
        "WITH c AS (SELECT * FROM t WHERE x = 1) SELECT *, b AS __qg_k0 FROM c WHERE b IN (?)");
}

TEST_CASE("RewriteBatched rejects bad arguments", "[sql]") {
  CHECK(Batch("SELECT a FROM t WHERE a = :p", {}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(Batch("SELECT a FROM t WHERE a = :p", {"p"}, 0).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(Batch("SELECT a FROM t WHERE a = :p", {"p", "p"}, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qg

namespace qg {
namespace {

absl::StatusOr<BatchedSql> InsertBatch(std::string_view sql, std::vector<std::string> keys,
                                       size_t items,
                                       PlaceholderStyle style = PlaceholderStyle::kQuestion) {
  auto parsed = ParseSql(sql);
  REQUIRE(parsed.ok());
  return RewriteInsertBatched(*parsed, keys, items, style);
}

TEST_CASE("RewriteInsertBatched repeats the VALUES tuple per row", "[sql]") {
  auto b = InsertBatch("INSERT INTO t (id, v) VALUES (:id, 'x:y')", {"id"}, 3);
  REQUIRE(b.ok());
  CHECK(b->text == "INSERT INTO t (id, v) VALUES (?, 'x:y'), (?, 'x:y'), (?, 'x:y')");
  CHECK(Describe(b->args) == "k:id#0 k:id#1 k:id#2");
  CHECK(b->key_columns == 0);

  // Ordinary parameters repeat in every row; PostgreSQL numbers each one.
  b = InsertBatch("insert into t values (:a, lower(:tag), :b::int);", {"a", "b"}, 2,
                  PlaceholderStyle::kDollar);
  REQUIRE(b.ok());
  CHECK(b->text == "insert into t values ($1, lower($2), $3::int), ($4, lower($5), $6::int)");
  CHECK(Describe(b->args) == "k:a#0 p:tag k:b#0 k:a#1 p:tag k:b#1");
}

TEST_CASE("RewriteInsertBatched refuses what it cannot batch", "[sql]") {
  const std::vector<std::pair<const char*, const char*>> refused = {
      {"UPDATE t SET v = 1 WHERE id = :id", "not an INSERT"},
      {"INSERT INTO t SELECT :id", "INSERT … SELECT"},
      {"INSERT INTO t VALUES (:id) RETURNING id", "\"RETURNING\" after the VALUES tuple"},
      {"INSERT INTO t VALUES (:id), (2)", "\",\" after the VALUES tuple"},
      {"INSERT INTO t VALUES (:id) ON CONFLICT DO NOTHING", "\"ON\" after"},
      {"INSERT INTO t VALUES (1)", "key parameter :id is not in the VALUES tuple"},
      {"INSERT INTO t VALUES (:id); DELETE FROM t", "after the VALUES tuple"},
  };
  for (const auto& [sql, why] : refused) {
    INFO(sql);
    auto b = InsertBatch(sql, {"id"}, 2);
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(b.status().message()), Catch::Contains(why));
  }
}

// Found by tests/fuzz/sql_placeholders_fuzz: `$` or an identifier character
// right before a placeholder turned `$1` into something else — `$$1 …` opens
// a dollar-quoted string, `x$1` is one identifier in PostgreSQL — so the
// placeholder vanished and the rest of the statement changed meaning.
TEST_CASE("a $n placeholder never fuses with the text before it", "[sql]") {
  for (const auto& [sql, want] : std::vector<std::pair<std::string, std::string>>{
           {"SELECT * FROM t WHERE k = a:: =$:a", "SELECT * FROM t WHERE k = a:: =$ $1"},
           {"SELECT x:a, y", "SELECT x $1, y"},
           {"SELECT é:a", "SELECT é $1"},
           {"SELECT (:a), b=:b", "SELECT ($1), b=$2"},
       }) {
    INFO(sql);
    auto parsed = ParseSql(sql);
    REQUIRE(parsed.ok());
    const NativeSql n = RewritePlaceholders(*parsed, PlaceholderStyle::kDollar);
    CHECK(n.text == want);
    auto again = ParseSql(n.text);
    REQUIRE(again.ok());
    CHECK(again->placeholders.empty());
  }
  // The batched rewriters emit their placeholders the same way.
  auto parsed = ParseSql("SELECT * FROM t WHERE k = :k AND v = x:v");
  REQUIRE(parsed.ok());
  auto b = RewriteBatched(*parsed, {"k"}, 2, PlaceholderStyle::kDollar, BatchForm::kAnyArray);
  REQUIRE(b.ok());
  CHECK(b->text == "SELECT *, k AS __qg_k0 FROM t WHERE k = ANY($1) AND v = x $2");
  auto insert = ParseSql("INSERT INTO t VALUES (x:k, $:v)");
  REQUIRE(insert.ok());
  auto ib = RewriteInsertBatched(*insert, {"k"}, 2, PlaceholderStyle::kDollar);
  REQUIRE(ib.ok());
  CHECK(ib->text == "INSERT INTO t VALUES (x $1, $ $2), (x $3, $ $4)");
}

}  // namespace
}  // namespace qg
