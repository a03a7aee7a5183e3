// Connection strings never carry credentials (issue 4, point 3): a CONNECT /
// JSON "connect" embedding a password is refused when the catalog is loaded,
// with an error naming the source and where (JSON pointer or line:column),
// never echoing the secret.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "qg/catalog.h"
#include "qg/catalog_statement.h"

namespace qg {
namespace {

constexpr char kSecret[] = "S3cr3t-Canary";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// `s` with `prefix` put before every character of `special`: escapes for a
// JSON string (before '"' and backslash) or an SQL literal (before "'").
std::string EscapeWith(const std::string& s, std::string_view special, char prefix) {
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string_view::npos) out += prefix;
    out += c;
  }
  return out;
}

// Connection strings that embed kSecret as a password, in every form.
std::vector<std::string> WithPassword() {
  const std::string pw = kSecret;
  return {
      "host=127.0.0.1 port=5432 dbname=orders password=" + pw,         // libpq key=value
      "host=127.0.0.1 PASSWORD = '" + pw + "' dbname=orders",          // any case, spaces, quotes
      "password=" + pw,                                                // first item
      "host=127.0.0.1 sslpassword=" + pw,                              // libpq key passphrase
      "host=127.0.0.1;port=3306;dbname=qgtest;password=" + pw,         // mysql-style ';' items
      "host=127.0.0.1 passwd=" + pw,                                   // mysql alias
      "Server=h;Pwd=" + pw,                                            // ODBC-style
      "postgresql://app:" + pw + "@127.0.0.1:5432/orders",             // URI user:password@
      "postgres://:" + pw + "@127.0.0.1/orders",                       // empty user, password
      "mysql://app:" + pw + "@127.0.0.1/qgtest",                       // mysql URI
      "postgresql://127.0.0.1/orders?sslmode=disable&password=" + pw,  // URI query parameter
      "postgresql://127.0.0.1/orders?password=" + pw,
      "https://" + pw + "@api.example.com/v1",         // http: a token as user info
      "http://bob:" + pw + "@api.example.com/v1?x=1",  // http user:password
  };
}

// Connection strings that must stay accepted.
std::vector<std::string> WithoutPassword() {
  return {
      "",
      "examples/data/users.sqlite",
      "/tmp/password_store.sqlite",  // "password" in a path, not a key
      "file:/tmp/a.db?mode=ro",      // sqlite URI
      "host=127.0.0.1 port=5432 dbname=orders",
      "host=127.0.0.1 port=5432 dbname=password_db",  // value, not a key
      "host=127.0.0.1 user=app dbname=orders",        // a user alone is no password
      "host=127.0.0.1;port=3306;dbname=qgtest;charset=utf8mb4",
      "postgresql://127.0.0.1:5432/orders?sslmode=disable",
      "postgresql://app@127.0.0.1:5432/orders",  // user without password
      "https://api.example.com/v1?format=json",
      "https://api.example.com/users/a@b.c",  // '@' in the path, not user info
      "host=127.0.0.1 application_name=nopassword",
  };
}

TEST_CASE("CheckConnectCredentials refuses every embedded password form", "[catalog][secret]") {
  for (const std::string& connect : WithPassword()) {
    INFO(connect);
    absl::Status st = CheckConnectCredentials(connect);
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(st), Catch::Contains("credentials never go in a connection string"));
    CHECK(Message(st).find(kSecret) == std::string::npos);
  }
  for (const std::string& connect : WithoutPassword()) {
    INFO(connect);
    absl::Status st = CheckConnectCredentials(connect);
    INFO(st.ToString());
    CHECK(st.ok());
  }
  // The error says what it found, so the user can fix it.
  CHECK_THAT(Message(CheckConnectCredentials("host=h password=x")),
             Catch::Contains("a \"password=\" item"));
  CHECK_THAT(Message(CheckConnectCredentials("postgresql://u:x@h/db")),
             Catch::Contains("user info (user:password@)"));
  CHECK_THAT(Message(CheckConnectCredentials("https://tok@h/")),
             Catch::Contains("user info in the URL"));
}

TEST_CASE("a JSON connect with a password is refused at load, naming source and pointer",
          "[catalog][secret]") {
  for (const std::string& connect : WithPassword()) {
    INFO(connect);
    const std::string escaped = EscapeWith(connect, "\"\\", '\\');
    const std::string json = R"({"sources": [
        {"name": "ok", "provider": "sqlite", "connect": "a.sqlite"},
        {"name": "db_orders", "provider": "postgres", "connect": ")" +
                             escaped + R"(", "user": "app", "password": {"env": "ORDERS_PW"}}]})";
    auto catalog = Catalog::FromJson(json);
    REQUIRE_FALSE(catalog.ok());
    const std::string msg = Message(catalog.status());
    CHECK(catalog.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(msg, Catch::StartsWith("catalog: /sources/1/connect: data source \"db_orders\": "));
    CHECK(msg.find(kSecret) == std::string::npos);
  }
  // The same source without the password loads.
  auto ok = Catalog::FromJson(R"({"sources": [{"name": "db_orders", "provider": "postgres",
      "connect": "host=127.0.0.1 dbname=orders", "password": {"env": "ORDERS_PW"}}]})");
  INFO(ok.status().ToString());
  CHECK(ok.ok());
}

TEST_CASE("a CONNECT with a password is refused at the string's line:column",
          "[catalog][secret][statement]") {
  for (const std::string& connect : WithPassword()) {
    INFO(connect);
    const std::string quoted = EscapeWith(connect, "'", '\'');
    // Second statement, line 3: "  CONNECT '…'" -> the string at column 11.
    const std::string text =
        "CREATE EXTERNAL DATA SOURCE ok PROVIDER sqlite CONNECT 'a.sqlite';\n"
        "ALTER EXTERNAL DATA SOURCE Db_Orders PROVIDER postgres\n"
        "  CONNECT '" +
        quoted + "' AS USER 'app' PASSWORD ENV 'ORDERS_PW'";
    auto parsed = ParseStatements(text);
    REQUIRE_FALSE(parsed.ok());
    const std::string msg = Message(parsed.status());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(msg,
               Catch::StartsWith("3:11: data source db_orders: the connection string carries "));
    CHECK(msg.find(kSecret) == std::string::npos);
    // ParseStatement (one statement) reports the same place.
    auto one =
        ParseStatement("CREATE EXTERNAL DATA SOURCE s PROVIDER postgres CONNECT '" + quoted + "'");
    REQUIRE_FALSE(one.ok());
    CHECK_THAT(Message(one.status()), Catch::StartsWith("1:57: data source s: "));
    CHECK(Message(one.status()).find(kSecret) == std::string::npos);
  }
}

TEST_CASE("the catalog itself refuses a source whose connect carries a password",
          "[catalog][secret]") {
  Catalog catalog;
  SourceConfig s;
  s.name = "db";
  s.provider = "postgres";
  s.connect = std::string("host=h password=") + kSecret;
  absl::Status added = catalog.AddSource(s);
  REQUIRE_FALSE(added.ok());
  CHECK(added.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(added), Catch::StartsWith("data source db: "));
  CHECK(Message(added).find(kSecret) == std::string::npos);
  CHECK(catalog.sources().empty());

  s.connect = "host=h";
  REQUIRE(catalog.AddSource(s).ok());
  SourceConfig altered = s;
  altered.connect = std::string("postgresql://u:") + kSecret + "@h/db";
  absl::Status replaced = catalog.ReplaceSource(altered);
  REQUIRE_FALSE(replaced.ok());
  CHECK(Message(replaced).find(kSecret) == std::string::npos);
  REQUIRE(catalog.FindSource("db") != nullptr);
  CHECK(catalog.FindSource("db")->connect == "host=h");  // unchanged
}

}  // namespace
}  // namespace qg
