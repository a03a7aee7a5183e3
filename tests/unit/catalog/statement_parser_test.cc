// Tests of the RFC's catalog statements: every form, every error with its
// line:column, ApplyStatement, and JSON/statement equivalence.
#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <variant>

#include "qg/catalog.h"
#include "qg/catalog_statement.h"

namespace qg {
namespace {

std::string ErrorOf(std::string_view text) {
  auto r = ParseStatements(text);
  if (r.ok()) return "(parsed)";
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

template <typename T>
T Parse(std::string_view text) {
  auto r = ParseStatement(text);
  INFO(text);
  if (!r.ok()) FAIL(std::string(r.status().message()));
  REQUIRE(std::holds_alternative<T>(*r));
  return std::get<T>(*r);
}

TEST_CASE("CREATE EXTERNAL DATA SOURCE, every clause", "[catalog][statement]") {
  auto c = Parse<CreateSourceStatement>(
      "create external Data Source DB_Users PROVIDER Postgres\n"
      "  CONNECT 'host=127.0.0.1 dbname=''users'''\n"
      "  AS USER 'App' PASSWORD ENV 'USERS_PW'\n"
      "  OPTIONS 'pool_max=8; pool_idle_timeout=60s;connect_timeout=5s;acquire_timeout=250ms;"
      "sslmode=require';");
  CHECK_FALSE(c.alter);
  CHECK(c.source.name == "db_users");  // unquoted: folded to lower case
  CHECK(c.source.provider == "postgres");
  CHECK(c.source.connect == "host=127.0.0.1 dbname='users'");
  CHECK(c.source.user == "App");  // a string: as written
  CHECK_FALSE(c.source.user_is_current);
  CHECK(c.source.password == Secret::Env("USERS_PW"));
  CHECK(c.source.pool.pool_max == 8);
  CHECK(c.source.pool.idle_timeout == absl::Seconds(60));
  CHECK(c.source.pool.connect_timeout == absl::Seconds(5));
  CHECK(c.source.pool.acquire_timeout == absl::Milliseconds(250));
  CHECK(c.source.provider_options == std::map<std::string, std::string>{{"sslmode", "require"}});
}

TEST_CASE("ALTER EXTERNAL DATA SOURCE, quoted names, passwords", "[catalog][statement]") {
  auto c = Parse<CreateSourceStatement>(
      "ALTER EXTERNAL DATA SOURCE \"Db \"\"X\"\"\" PROVIDER sqlite CONNECT 'a.db' AS CURRENT_USER");
  CHECK(c.alter);
  CHECK(c.source.name == "Db \"X\"");
  CHECK(c.source.user_is_current);
  CHECK(c.source.password.kind() == Secret::Kind::kNone);

  auto lit = Parse<CreateSourceStatement>(
      "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '' AS USER 'u' PASSWORD 'p''w'");
  CHECK(lit.source.password == Secret::Literal("p'w"));
  auto file = Parse<CreateSourceStatement>(
      "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '' AS USER 'u' PASSWORD FILE '/r/s'");
  CHECK(file.source.password == Secret::File("/r/s"));
  auto bare =
      Parse<CreateSourceStatement>("CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT ''");
  CHECK(bare.source.user.empty());
  CHECK(bare.source.pool.pool_max == PoolOptions().pool_max);
}

TEST_CASE("DROP EXTERNAL DATA SOURCE", "[catalog][statement]") {
  CHECK(Parse<DropSourceStatement>("DROP EXTERNAL DATA SOURCE Orders").name == "orders");
  CHECK(Parse<DropSourceStatement>("drop external data source \"Orders\";").name == "Orders");
}

TEST_CASE("CREATE / ALTER / DROP EXTERNAL USER", "[catalog][statement]") {
  auto m = Parse<SetMappingStatement>(
      "CREATE EXTERNAL USER ON db AS 'ro_alice' PASSWORD ENV 'X' FOR Alice");
  CHECK_FALSE(m.alter);
  CHECK(m.mapping.source == "db");
  CHECK(m.mapping.user == "ro_alice");
  CHECK(m.mapping.password == Secret::Env("X"));
  CHECK(m.mapping.scope == UserMapping::Scope::kUser);
  CHECK(m.mapping.local_user == "alice");

  auto cur =
      Parse<SetMappingStatement>("ALTER EXTERNAL USER ON db AS CURRENT_USER FOR CURRENT_USER");
  CHECK(cur.alter);
  CHECK(cur.mapping.user_is_current);
  CHECK(cur.mapping.scope == UserMapping::Scope::kCurrentUser);

  auto all =
      Parse<SetMappingStatement>("CREATE EXTERNAL USER ON db AS USER 'ro' PASSWORD 'pw' FOR all");
  CHECK(all.mapping.scope == UserMapping::Scope::kAll);
  CHECK(all.mapping.password == Secret::Literal("pw"));

  auto quoted = Parse<SetMappingStatement>("CREATE EXTERNAL USER ON db AS 'x' FOR \"Bob\"");
  CHECK(quoted.mapping.local_user == "Bob");

  auto d = Parse<DropMappingStatement>("DROP EXTERNAL USER ON db FOR bob");
  CHECK(d.source == "db");
  CHECK(d.scope == UserMapping::Scope::kUser);
  CHECK(d.local_user == "bob");
  CHECK(Parse<DropMappingStatement>("DROP EXTERNAL USER ON db FOR ALL").scope ==
        UserMapping::Scope::kAll);
  CHECK(Parse<DropMappingStatement>("DROP EXTERNAL USER ON db FOR current_user").scope ==
        UserMapping::Scope::kCurrentUser);
}

TEST_CASE("EXECUTE STATEMENT with parameters and transaction modes", "[catalog][statement]") {
  auto e = Parse<PassThroughStatement>(
      "EXECUTE STATEMENT 'UPDATE t SET x = :x WHERE n = ''a''' "
      "(x := 1, Big := 99999999999999999999, d := -1.50, e := 2e3, s := 'it''s', n := NULL, "
      "t := TRUE, f := false, neg := -7, frac := .5)\n"
      "ON EXTERNAL DATA SOURCE db_users WITHIN COMMON 2PC TRANSACTION;");
  CHECK(e.sql == "UPDATE t SET x = :x WHERE n = 'a'");
  CHECK(e.source == "db_users");
  CHECK(e.transaction == TransactionMode::kTwoPhase);
  REQUIRE(e.params.size() == 10);
  CHECK(e.params[0] == std::make_pair(std::string("x"), Value::Int(1)));
  // Parameter names are not folded: they name the SQL's :placeholders.
  CHECK(e.params[1] == std::make_pair(std::string("Big"), Value::Decimal("99999999999999999999")));
  CHECK(e.params[2].second == Value::Decimal("-1.50"));
  CHECK(e.params[3].second == Value::Decimal("2e3"));
  CHECK(e.params[4].second == Value::String("it's"));
  CHECK(e.params[5].second == Value::Null());
  CHECK(e.params[6].second == Value::Bool(true));
  CHECK(e.params[7].second == Value::Bool(false));
  CHECK(e.params[8].second == Value::Int(-7));
  CHECK(e.params[9].second == Value::Decimal("0.5"));

  auto plain = Parse<PassThroughStatement>("execute statement 'SELECT 1' on external s");
  CHECK(plain.params.empty());
  CHECK(plain.source == "s");
  CHECK(plain.transaction == TransactionMode::kAutonomous);
  CHECK(Parse<PassThroughStatement>(
            "EXECUTE STATEMENT 'x' ON EXTERNAL DATA SOURCE s WITHIN AUTONOMOUS TRANSACTION")
            .transaction == TransactionMode::kAutonomous);
  CHECK(Parse<PassThroughStatement>(
            "EXECUTE STATEMENT 'x' ON EXTERNAL DATA SOURCE s WITHIN COMMON TRANSACTION")
            .transaction == TransactionMode::kCommon);
  CHECK(Parse<PassThroughStatement>("EXECUTE STATEMENT 'x' ON EXTERNAL s WITHIN TRANSACTION")
            .transaction == TransactionMode::kCommon);
}

TEST_CASE("several statements, comments, positions", "[catalog][statement]") {
  auto r = ParseStatements(
      "-- a catalog\n"
      "CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'a.db';;\n"
      "  /* second */ DROP EXTERNAL DATA SOURCE a;\n"
      "EXECUTE STATEMENT 'SELECT 1' ON EXTERNAL DATA SOURCE b");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].line == 2);
  CHECK((*r)[0].column == 1);
  CHECK((*r)[1].line == 3);
  CHECK((*r)[1].column == 16);
  CHECK((*r)[2].line == 4);
  CHECK(std::holds_alternative<PassThroughStatement>((*r)[2].statement));
  CHECK(ParseStatements("").value().empty());
  CHECK(ParseStatements(" ; -- nothing\n ;").value().empty());
}

TEST_CASE("lexical errors carry line:column", "[catalog][statement]") {
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE s PROVIDER p CONNECT 'abc") ==
        "1:50: unterminated string literal");
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE \"abc") == "1:27: unterminated quoted identifier");
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE \"\"") == "1:27: empty quoted identifier");
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE a\n  # b") == "2:3: unexpected character '#'");
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE \x01") == "1:27: unexpected byte 0x01");
  CHECK(ErrorOf("DROP /* never closed") == "1:6: unterminated comment");
  // Columns count characters, not bytes.
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE \"é\" x") ==
        "1:31: expected ';' or the end of the text, found 'x'");
}

TEST_CASE("syntax errors carry line:column", "[catalog][statement]") {
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVDER x") ==
        "1:32: expected PROVIDER, found 'PROVDER'");
  CHECK(ErrorOf("SELECT 1") == "1:1: expected CREATE, ALTER, DROP or EXECUTE, found 'SELECT'");
  CHECK(ErrorOf("CREATE INTERNAL") == "1:8: expected EXTERNAL, found 'INTERNAL'");
  CHECK(ErrorOf("CREATE EXTERNAL TABLE") == "1:17: expected DATA SOURCE or USER, found 'TABLE'");
  CHECK(ErrorOf("DROP EXTERNAL TABLE") == "1:15: expected DATA SOURCE or USER, found 'TABLE'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURSE") == "1:22: expected SOURCE, found 'SOURSE'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE 'db'") ==
        "1:29: expected a data source name, found a string literal");
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE") ==
        "1:26: expected a data source name, found the end of the text");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER 12") ==
        "1:41: expected a provider name, found '12'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p URL 'x'") ==
        "1:43: expected CONNECT, found 'URL'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT x") ==
        "1:51: expected the connection string (a '…' string), found 'x'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS ROLE") ==
        "1:57: expected USER or CURRENT_USER, found 'ROLE'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER app") ==
        "1:62: expected the external user name (a '…' string), found 'app'");
  CHECK(
      ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD ENV x") ==
      "1:79: expected an environment variable name (a '…' string), found 'x'");
  CHECK(ErrorOf(
            "CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD FILE ''") ==
        "1:80: empty file path");
  CHECK(
      ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD ENV ''") ==
      "1:79: empty environment variable name");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS 'pool_max'") ==
        "1:62: OPTIONS: item 1 is not key=value");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS 'a=1;=2'") ==
        "1:62: OPTIONS: item 2 has no key");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS 'a=1;a=2'") ==
        "1:62: OPTIONS: duplicate key a");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS 'pool_max=x'") ==
        "1:62: OPTIONS: option pool_max: must be an integer (got 'x')");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS 'idle_timeout=5y'") ==
        "1:62: OPTIONS: option idle_timeout: invalid duration '5y': unknown unit (want e.g. 5s, "
        "250ms, 2m, 1h, or seconds)");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' OPTIONS x") ==
        "1:62: expected the options (a '…' string), found 'x'");
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT ''\n  EXTRA") ==
        "2:3: expected ';' or the end of the text, found 'EXTRA'");
  // Mappings.
  CHECK(ErrorOf("CREATE EXTERNAL USER db") == "1:22: expected ON, found 'db'");
  CHECK(ErrorOf("CREATE EXTERNAL USER ON db FOR x") == "1:28: expected AS, found 'FOR'");
  CHECK(ErrorOf("CREATE EXTERNAL USER ON db AS bob FOR x") ==
        "1:31: expected the external user name (a '…' string) or CURRENT_USER, found 'bob'");
  CHECK(ErrorOf("CREATE EXTERNAL USER ON db AS 'b'") ==
        "1:34: expected FOR, found the end of the text");
  CHECK(ErrorOf("CREATE EXTERNAL USER ON db AS 'b' FOR 'alice'") ==
        "1:39: expected a local user name, CURRENT_USER or ALL, found a string literal");
  CHECK(ErrorOf("CREATE EXTERNAL USER ON db AS 'b' FOR \"ALL\"") ==
        "1:39: \"ALL\" is reserved: write ALL without quotes");
  CHECK(ErrorOf("DROP EXTERNAL USER ON db") == "1:25: expected FOR, found the end of the text");
  CHECK(ErrorOf("DROP EXTERNAL USER ON db FOR \"CURRENT_USER\"") ==
        "1:30: \"CURRENT_USER\" is reserved: write CURRENT_USER without quotes");
  // EXECUTE STATEMENT.
  CHECK(ErrorOf("EXECUTE PROCEDURE p") == "1:9: expected STATEMENT, found 'PROCEDURE'");
  CHECK(ErrorOf("EXECUTE STATEMENT SELECT") ==
        "1:19: expected the statement text (a '…' string), found 'SELECT'");
  CHECK(ErrorOf("EXECUTE STATEMENT '' ON EXTERNAL s") == "1:19: empty statement text");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' () ON EXTERNAL s") ==
        "1:24: expected a parameter name, found ')'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' (a = 1) ON EXTERNAL s") == "1:26: expected ':=', found '='");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' (a := b) ON EXTERNAL s") ==
        "1:29: expected a value (string, number, NULL, TRUE or FALSE) for parameter a, found 'b'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' (a := - 'y') ON EXTERNAL s") ==
        "1:29: expected a value (string, number, NULL, TRUE or FALSE) for parameter a, found '-'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' (a := 1 b := 2) ON EXTERNAL s") ==
        "1:31: expected ',' or ')', found 'b'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' (a := 1, a := 2) ON EXTERNAL s") ==
        "1:32: duplicate parameter a");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' AT s") == "1:23: expected ON, found 'AT'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' ON s") == "1:26: expected EXTERNAL, found 's'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' ON EXTERNAL DATA s") == "1:40: expected SOURCE, found 's'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' ON EXTERNAL s WITHIN LOCAL TRANSACTION") ==
        "1:44: expected AUTONOMOUS, COMMON or TRANSACTION, found 'LOCAL'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' ON EXTERNAL s WITHIN COMMON 3PC TRANSACTION") ==
        "1:51: expected TRANSACTION, found '3PC'");
  CHECK(ErrorOf("EXECUTE STATEMENT 'x' ON EXTERNAL s WITHIN AUTONOMOUS") ==
        "1:54: expected TRANSACTION, found the end of the text");
  // A syntax error in a later statement names its own line.
  CHECK(ErrorOf("DROP EXTERNAL DATA SOURCE a;\nDROP EXTERNAL DATA SOURCE") ==
        "2:26: expected a data source name, found the end of the text");
}

TEST_CASE("ParseStatement wants exactly one", "[catalog][statement]") {
  auto none = ParseStatement("  ;");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() == "1:1: expected a statement, found nothing");
  auto two = ParseStatement("DROP EXTERNAL DATA SOURCE a; DROP EXTERNAL DATA SOURCE b");
  REQUIRE_FALSE(two.ok());
  CHECK(two.status().message() == "1:30: expected one statement, found a second one");
}

TEST_CASE("errors never quote a password", "[catalog][statement][secrets]") {
  const std::string canary = "Canary-7f3a9";
  for (const std::string& text : {
           "CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD " + canary,
           "CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD '" + canary +
               "' EXTRA",
           "CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD '" + canary +
               "' '" + canary + "'",
           "CREATE EXTERNAL USER ON db AS 'x' PASSWORD " + canary + " FOR ALL",
           "CREATE EXTERNAL USER ON db AS 'x' PASSWORD '" + canary,
       }) {
    const std::string err = ErrorOf(text);
    INFO(err);
    CHECK(err != "(parsed)");
    CHECK(err.find(canary) == std::string::npos);
  }
  CHECK(ErrorOf("CREATE EXTERNAL DATA SOURCE db PROVIDER p CONNECT '' AS USER 'a' PASSWORD " +
                canary) ==
        "1:75: expected a '…' string, ENV '<name>' or FILE '<path>' after PASSWORD");
  auto s = ParseStatement("CREATE EXTERNAL USER ON db AS 'x' PASSWORD '" + canary + "' FOR ALL");
  REQUIRE(s.ok());
  CHECK(Summary(*s) == "CREATE EXTERNAL USER ON db FOR ALL");
}

Catalog Apply(std::string_view text) {
  Catalog c;
  auto stmts = ParseStatements(text);
  REQUIRE(stmts.ok());
  for (const ParsedStatement& s : *stmts) {
    absl::Status st = ApplyStatement(s.statement, &c);
    INFO(Summary(s.statement) << ": " << st.ToString());
    REQUIRE(st.ok());
  }
  return c;
}

TEST_CASE("a JSON config and the equivalent statements make the same catalog",
          "[catalog][statement]") {
  auto json = Catalog::FromJson(R"({
    "sources": [
      {"name": "db_users", "provider": "sqlite", "connect": "examples/data/users.sqlite"},
      {"name": "db_orders", "provider": "postgres", "connect": "host=127.0.0.1 port=5432 dbname=orders",
       "user": "app", "password": {"env": "ORDERS_PW"},
       "options": {"pool_max": 8, "acquire_timeout": "2s", "idle_timeout": "60s", "sslmode": "disable"}},
      {"name": "Mixed", "provider": "mysql", "connect": "host=h", "user": "CURRENT_USER"}
    ],
    "user_mappings": [
      {"source": "db_orders", "for": "alice", "user": "ro_alice", "password": {"file": "/run/secrets/alice"}},
      {"source": "db_orders", "for": "ALL", "user": "ro", "password": "lit"},
      {"source": "Mixed", "for": "CURRENT_USER", "user": "CURRENT_USER"}
    ]
  })");
  REQUIRE(json.ok());
  Catalog stmts = Apply(R"(
    CREATE EXTERNAL DATA SOURCE db_users PROVIDER sqlite CONNECT 'examples/data/users.sqlite';
    CREATE EXTERNAL DATA SOURCE db_orders PROVIDER postgres
      CONNECT 'host=127.0.0.1 port=5432 dbname=orders'
      AS USER 'app' PASSWORD ENV 'ORDERS_PW'
      OPTIONS 'pool_idle_timeout=60s; acquire_timeout=2s; pool_max=8; sslmode=disable';
    CREATE EXTERNAL DATA SOURCE "Mixed" PROVIDER MySQL CONNECT 'host=h' AS CURRENT_USER;
    CREATE EXTERNAL USER ON db_orders AS 'ro_alice' PASSWORD FILE '/run/secrets/alice' FOR alice;
    CREATE EXTERNAL USER ON db_orders AS 'ro' PASSWORD 'lit' FOR ALL;
    CREATE EXTERNAL USER ON "Mixed" AS CURRENT_USER FOR CURRENT_USER;
  )");
  CHECK(stmts == *json);
  CHECK(stmts.ToJson() == json->ToJson());
  // And a difference is seen.
  Catalog other = stmts;
  REQUIRE(ApplyStatement(*ParseStatement("ALTER EXTERNAL USER ON db_orders AS 'ro' PASSWORD 'x' "
                                         "FOR ALL"),
                         &other)
              .ok());
  CHECK_FALSE(other == *json);
}

TEST_CASE("ApplyStatement: exists, not found, drops", "[catalog][statement]") {
  Catalog c = Apply("CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'a.db'");
  auto run = [&](std::string_view text) { return ApplyStatement(*ParseStatement(text), &c); };

  absl::Status st = run("CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'b.db'");
  CHECK(st.code() == absl::StatusCode::kAlreadyExists);
  CHECK(st.message() == "data source a already exists");
  CHECK(c.FindSource("a")->connect == "a.db");

  st = run("ALTER EXTERNAL DATA SOURCE b PROVIDER sqlite CONNECT 'b.db'");
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(st.message() == "unknown data source b");
  st = run("DROP EXTERNAL DATA SOURCE b");
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(st.message() == "unknown data source b");

  REQUIRE(
      run("ALTER EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'c.db' OPTIONS 'pool_max=2'").ok());
  CHECK(c.FindSource("a")->connect == "c.db");
  CHECK(c.FindSource("a")->pool.pool_max == 2);

  st = run("CREATE EXTERNAL USER ON b AS 'x' FOR ALL");
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(st.message() == "unknown data source b");
  st = run("ALTER EXTERNAL USER ON a AS 'x' FOR bob");
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(st.message() == "no user mapping for bob on data source a");
  REQUIRE(run("CREATE EXTERNAL USER ON a AS 'x' FOR bob").ok());
  st = run("CREATE EXTERNAL USER ON a AS 'y' FOR bob");
  CHECK(st.code() == absl::StatusCode::kAlreadyExists);
  CHECK(st.message() == "a user mapping for bob on data source a already exists");
  REQUIRE(run("ALTER EXTERNAL USER ON a AS 'y' FOR bob").ok());
  CHECK(c.ResolveLogin(*c.FindSource("a"), "bob").user == "y");
  REQUIRE(run("DROP EXTERNAL USER ON a FOR bob").ok());
  st = run("DROP EXTERNAL USER ON a FOR bob");
  CHECK(st.code() == absl::StatusCode::kNotFound);

  st = run("EXECUTE STATEMENT 'SELECT 1' ON EXTERNAL DATA SOURCE a");
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(IsCatalogChange(*ParseStatement("EXECUTE STATEMENT 'x' ON EXTERNAL a")));
  CHECK(IsCatalogChange(*ParseStatement("DROP EXTERNAL DATA SOURCE a")));

  REQUIRE(run("CREATE EXTERNAL USER ON a AS 'x' FOR ALL").ok());
  REQUIRE(run("DROP EXTERNAL DATA SOURCE a").ok());
  CHECK(c.sources().empty());
  CHECK(c.mappings().empty());
}

TEST_CASE("pool keys are unambiguous whatever the names hold", "[catalog][statement]") {
  Catalog c;
  auto stmts = ParseStatements(R"(
    CREATE EXTERNAL DATA SOURCE "a/b" PROVIDER p CONNECT '' AS USER 'c';
    CREATE EXTERNAL DATA SOURCE a PROVIDER p CONNECT '' AS USER 'b/c';
    CREATE EXTERNAL DATA SOURCE d PROVIDER p CONNECT '';
    CREATE EXTERNAL USER ON d AS 'default' FOR bob;
  )");
  REQUIRE(stmts.ok());
  for (const auto& s : *stmts) REQUIRE(ApplyStatement(s.statement, &c).ok());
  CHECK(c.ResolveLogin(*c.FindSource("a/b"), "x").pool_key == "a%2Fb/c");
  CHECK(c.ResolveLogin(*c.FindSource("a"), "x").pool_key == "a/b%2Fc");
  CHECK(c.ResolveLogin(*c.FindSource("d"), "x").pool_key == "d/default");
  CHECK(c.ResolveLogin(*c.FindSource("d"), "bob").pool_key == "d/%64efault");
}

TEST_CASE("Summary names the statement", "[catalog][statement]") {
  auto s = [](std::string_view t) { return Summary(*ParseStatement(t)); };
  CHECK(s("create external data source A provider p connect ''") ==
        "CREATE EXTERNAL DATA SOURCE a");
  CHECK(s("alter external data source a provider p connect ''") == "ALTER EXTERNAL DATA SOURCE a");
  CHECK(s("drop external data source a") == "DROP EXTERNAL DATA SOURCE a");
  CHECK(s("alter external user on a as 'x' for bob") == "ALTER EXTERNAL USER ON a FOR bob");
  CHECK(s("drop external user on a for all") == "DROP EXTERNAL USER ON a FOR ALL");
  CHECK(s("execute statement 'x' on external a") == "EXECUTE STATEMENT ON EXTERNAL DATA SOURCE a");
}

}  // namespace
}  // namespace qg

namespace qg {
namespace {

TEST_CASE("every prefix of a valid text parses or fails with a position", "[catalog][statement]") {
  const std::string text =
      "CREATE EXTERNAL DATA SOURCE \"Db\" PROVIDER p CONNECT 'c''x' AS USER 'u' PASSWORD ENV 'E'\n"
      "  OPTIONS 'pool_max=2;idle_timeout=1.5s'; /* c */ -- d\n"
      "CREATE EXTERNAL USER ON db AS 'r' PASSWORD FILE '/f' FOR ALL;\n"
      "EXECUTE STATEMENT 'x' (a := -1.5e3, b := 'é') ON EXTERNAL DATA SOURCE db "
      "WITHIN COMMON 2PC TRANSACTION;";
  REQUIRE(ParseStatements(text).ok());
  for (size_t n = 0; n <= text.size(); ++n) {
    auto r = ParseStatements(std::string_view(text).substr(0, n));
    if (r.ok()) continue;
    const std::string m(r.status().message());
    INFO(n << ": " << m);
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    const size_t colon = m.find(':');
    REQUIRE(colon != std::string::npos);
    CHECK(std::isdigit(static_cast<unsigned char>(m[0])));
    CHECK(std::isdigit(static_cast<unsigned char>(m[colon + 1])));
  }
}

}  // namespace
}  // namespace qg
