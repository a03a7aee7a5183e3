// Tests of the catalog: JSON config, secrets, user mappings, durations and
// source options.
#include "qg/catalog.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace qg {
namespace {

constexpr const char* kExampleCatalog = R"({
  "sources": [
    {"name": "db_users", "provider": "sqlite", "connect": "examples/data/users.sqlite"},
    {"name": "db_orders", "provider": "postgres", "connect": "host=127.0.0.1 port=5432 dbname=orders",
     "user": "app", "password": {"env": "ORDERS_PW"},
     "options": {"pool_max": 8, "acquire_timeout": "2s", "idle_timeout": "60s"}}
  ],
  "user_mappings": [
    {"source": "db_orders", "for": "alice", "user": "ro_alice", "password": {"file": "/run/secrets/alice"}}
  ]
})";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/qg_catalog_test_" + name;
}

TEST_CASE("a catalog with a password from env and a user mapping from a file parses", "[catalog]") {
  auto c = Catalog::FromJson(kExampleCatalog);
  REQUIRE(c.ok());
  CHECK(c->SourceNames() == std::vector<std::string>{"db_users", "db_orders"});
  const SourceConfig* orders = c->FindSource("db_orders");
  REQUIRE(orders != nullptr);
  CHECK(orders->provider == "postgres");
  CHECK(orders->connect == "host=127.0.0.1 port=5432 dbname=orders");
  CHECK(orders->user == "app");
  CHECK(orders->password.kind() == Secret::Kind::kEnv);
  CHECK(orders->password.reference() == "ORDERS_PW");
  CHECK(orders->pool.pool_max == 8);
  CHECK(orders->pool.acquire_timeout == absl::Seconds(2));
  CHECK(orders->pool.idle_timeout == absl::Seconds(60));
  CHECK(orders->provider_options.empty());
  const SourceConfig* users = c->FindSource("db_users");
  REQUIRE(users != nullptr);
  CHECK(users->password.kind() == Secret::Kind::kNone);
  CHECK(users->user.empty());
  REQUIRE(c->mappings().size() == 1);
  const UserMapping& m = c->mappings()[0];
  CHECK(m.source == "db_orders");
  CHECK(m.scope == UserMapping::Scope::kUser);
  CHECK(m.local_user == "alice");
  CHECK(m.user == "ro_alice");
  CHECK(m.password.Describe() == "file:/run/secrets/alice");
  CHECK(c->FindSource("nope") == nullptr);
}

TEST_CASE("every JSON error names its pointer", "[catalog]") {
  struct Case {
    const char* json;
    const char* expect;  // substring of the message
  };
  const Case cases[] = {
      {"[1]", "catalog: /: must be an object"},
      {"{", "invalid JSON"},
      {R"({"sourcez": []})", "/sourcez: unknown key"},
      {R"({"sources": {}})", "/sources: must be an array"},
      {R"({"sources": [1]})", "/sources/0: must be an object"},
      {R"({"sources": [{"provider": "x"}]})", "/sources/0: missing \"name\""},
      {R"({"sources": [{"name": "a"}]})", "/sources/0: missing \"provider\""},
      {R"({"sources": [{"name": "", "provider": "x"}]})", "/sources/0/name: must not be empty"},
      {R"({"sources": [{"name": 3, "provider": "x"}]})", "/sources/0/name: must be a string"},
      {R"({"sources": [{"name": "a", "provider": "x", "nmae": 1}]})",
       "/sources/0/nmae: unknown key"},
      {R"({"sources": [{"name": "a", "provider": "x", "a/b~": 1}]})",
       "/sources/0/a~1b~0: unknown key"},
      {R"({"sources": [{"name": "a", "provider": "x", "name": "b"}]})",
       "/sources/0/name: duplicate key"},
      {R"({"sources": [{"name": "a", "provider": "x"}, {"name": "a", "provider": "y"}]})",
       "/sources/1/name: duplicate source 'a'"},
      {R"({"sources": [{"name": "a", "provider": "x", "password": 5}]})",
       "/sources/0/password: must be a string or"},
      {R"({"sources": [{"name": "a", "provider": "x", "password": {"env": "A", "file": "B"}}]})",
       "/sources/0/password: must have exactly one"},
      {R"({"sources": [{"name": "a", "provider": "x", "password": {}}]})",
       "/sources/0/password: must have exactly one"},
      {R"({"sources": [{"name": "a", "provider": "x", "password": {"vault": "k"}}]})",
       "/sources/0/password/vault: unknown key"},
      {R"({"sources": [{"name": "a", "provider": "x", "password": {"env": ""}}]})",
       "/sources/0/password/env: must not be empty"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": []}]})",
       "/sources/0/options: must be an object"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": {"pool_max": 0}}]})",
       "/sources/0/options/pool_max: option pool_max: must be >= 1"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": {"pool_max": 2, "pool_min": 3}}]})",
       "/sources/0/options/pool_min: option pool_min: must be <= pool_max (2)"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": {"acquire_timeout": "-1s"}}]})",
       "/sources/0/options/acquire_timeout: option acquire_timeout: invalid duration"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": {"k": [1]}}]})",
       "/sources/0/options/k: must be a string or a number"},
      {R"({"sources": [{"name": "a", "provider": "x", "options": {"k": 1, "k": 2}}]})",
       "/sources/0/options/k: duplicate key"},
      {R"({"user_mappings": [{"source": "a", "for": "ALL"}]})",
       "/user_mappings/0/source: unknown source 'a'"},
      {R"({"sources": [{"name": "a", "provider": "x"}], "user_mappings": [{"source": "a"}]})",
       "/user_mappings/0: missing \"for\""},
      {R"({"sources": [{"name": "a", "provider": "x"}], "user_mappings": [{"source": "a", "for": "ALL", "as": "u"}]})",
       "/user_mappings/0/as: unknown key"},
      {R"({"sources": [{"name": "a", "provider": "x"}], "user_mappings": [{"source": "a", "for": "bob"}, {"source": "a", "for": "bob"}]})",
       "/user_mappings/1: duplicate mapping for bob on a"},
      {R"({"sources": [{"name": "a", "provider": "x"}], "user_mappings": [{"source": "a", "for": "ALL", "password": {"file": 1}}]})",
       "/user_mappings/0/password/file: must be a string"},
  };
  for (const Case& k : cases) {
    INFO(k.json);
    auto c = Catalog::FromJson(k.json);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(c.status()), Catch::Contains(k.expect));
  }
}

TEST_CASE("ToJson never contains a literal password", "[catalog]") {
  const std::string canary = "canary-S3cr3t-7f1c";
  Catalog c;
  SourceConfig s;
  s.name = "db";
  s.provider = "postgres";
  s.connect = "host=x";
  s.user = "app";
  s.password = Secret::Literal(canary);
  REQUIRE(c.AddSource(s).ok());
  UserMapping m;
  m.source = "db";
  m.scope = UserMapping::Scope::kAll;
  m.user = "ro";
  m.password = Secret::Literal(canary);
  REQUIRE(c.SetMapping(m).ok());
  const std::string json = c.ToJson();
  CHECK(json.find(canary) == std::string::npos);
  CHECK(json.find("\"***\"") != std::string::npos);
  CHECK(s.password.Describe() == "literal");
  CHECK(s.password.reference().empty());
  // It still resolves for the driver.
  CHECK(*s.password.Resolve() == canary);
  // And what ToJson wrote parses back (with "***" as the literal).
  auto back = Catalog::FromJson(json);
  REQUIRE(back.ok());
  CHECK(back->FindSource("db")->password == Secret::Literal("***"));
}

TEST_CASE("FromJson(ToJson(c)) == c with env and file secrets", "[catalog]") {
  auto c = Catalog::FromJson(R"({
    "sources": [
      {"name": "a\"b\\c", "provider": "postgres", "connect": "host=h\tport=1",
       "user": "CURRENT_USER", "password": {"env": "PW"},
       "options": {"pool_min": "1", "pool_max": 3, "acquire_timeout": 0.25,
                   "idle_timeout": "1.5s", "max_lifetime": "2h", "lifetime_jitter": 0.3,
                   "health_check": "SELECT 1", "health_check_interval": "250ms",
                   "connect_timeout": "7s", "statement_timeout": "1m",
                   "sslmode": "require", "fetch_size": 500}},
      {"name": "lite", "provider": "sqlite", "connect": ":memory:"}
    ],
    "user_mappings": [
      {"source": "lite", "for": "ALL", "user": "u"},
      {"source": "a\"b\\c", "for": "CURRENT_USER", "password": {"file": "/run/s"}},
      {"source": "a\"b\\c", "for": "bob", "user": "CURRENT_USER", "password": {"env": "BOB"}}
    ]
  })");
  REQUIRE(c.ok());
  const SourceConfig& s = c->sources()[0];
  CHECK(s.user_is_current);
  CHECK(s.pool.pool_min == 1);
  CHECK(s.pool.pool_max == 3);
  CHECK(s.pool.acquire_timeout == absl::Milliseconds(250));
  CHECK(s.pool.idle_timeout == absl::Milliseconds(1500));
  CHECK(s.pool.max_lifetime == absl::Hours(2));
  CHECK(s.pool.lifetime_jitter == 0.3);
  CHECK(s.pool.health_check == "SELECT 1");
  CHECK(s.pool.statement_timeout == absl::Minutes(1));
  CHECK(s.provider_options ==
        std::map<std::string, std::string>{{"fetch_size", "500"}, {"sslmode", "require"}});
  const std::string json = c->ToJson();
  auto back = Catalog::FromJson(json);
  INFO(json);
  REQUIRE(back.ok());
  CHECK(*back == *c);
  CHECK(back->ToJson() == json);
  // Changing anything breaks equality.
  Catalog changed = *c;
  SourceConfig s2 = s;
  s2.pool.pool_max = 4;
  REQUIRE(changed.ReplaceSource(s2).ok());
  CHECK_FALSE(changed == *c);
  // An empty catalog round-trips too.
  auto empty = Catalog::FromJson(Catalog().ToJson());
  REQUIRE(empty.ok());
  CHECK(*empty == Catalog());
}

TEST_CASE("secrets resolve from literals, env vars and files", "[catalog]") {
  CHECK(*Secret().Resolve() == "");
  CHECK(Secret().Describe() == "none");
  CHECK(*Secret::Literal("x").Resolve() == "x");

  ::setenv("QG_TEST_PW", "from-env", 1);
  CHECK(*Secret::Env("QG_TEST_PW").Resolve() == "from-env");
  CHECK(Secret::Env("QG_TEST_PW").Describe() == "env:QG_TEST_PW");
  ::unsetenv("QG_TEST_PW_UNSET");
  auto missing = Secret::Env("QG_TEST_PW_UNSET").Resolve();
  CHECK(missing.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Message(missing.status()) == "environment variable QG_TEST_PW_UNSET is not set");

  const std::string path = TempPath("pw");
  {
    std::ofstream f(path, std::ios::binary);
    f << "from-file\n";
  }
  CHECK(*Secret::File(path).Resolve() == "from-file");  // one newline stripped
  {
    std::ofstream f(path, std::ios::binary);
    f << "two\n\n";
  }
  CHECK(*Secret::File(path).Resolve() == "two\n");
  std::remove(path.c_str());
  auto gone = Secret::File(path).Resolve();
  CHECK(gone.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(Message(gone.status()), Catch::Contains(path));
}

TEST_CASE("ResolveLogin: explicit, then CURRENT_USER, then ALL, then AS USER", "[catalog]") {
  Catalog c;
  SourceConfig s;
  s.name = "db";
  s.provider = "fake";
  s.user = "app";
  s.password = Secret::Env("APP_PW");
  REQUIRE(c.AddSource(s).ok());

  Login l = c.ResolveLogin(*c.FindSource("db"), "alice");
  CHECK(l.user == "app");
  CHECK(l.password == Secret::Env("APP_PW"));
  CHECK(l.pool_key == "db/app");

  UserMapping all;
  all.source = "db";
  all.scope = UserMapping::Scope::kAll;
  all.user = "everyone";
  all.password = Secret::Env("ALL_PW");
  REQUIRE(c.SetMapping(all).ok());
  l = c.ResolveLogin(*c.FindSource("db"), "alice");
  CHECK(l.user == "everyone");
  CHECK(l.password == Secret::Env("ALL_PW"));
  CHECK(l.pool_key == "db/everyone");

  UserMapping current;
  current.source = "db";
  current.scope = UserMapping::Scope::kCurrentUser;
  current.password = Secret::Env("CUR_PW");
  REQUIRE(c.SetMapping(current).ok());
  l = c.ResolveLogin(*c.FindSource("db"), "alice");
  CHECK(l.user == "alice");  // the local user's own name
  CHECK(l.password == Secret::Env("CUR_PW"));
  CHECK(l.pool_key == "db/alice");
  // No local user: CURRENT_USER cannot apply, ALL does.
  CHECK(c.ResolveLogin(*c.FindSource("db"), "").user == "everyone");

  UserMapping alice;
  alice.source = "db";
  alice.scope = UserMapping::Scope::kUser;
  alice.local_user = "alice";
  alice.user = "ro_alice";
  alice.password = Secret::File("/run/alice");
  REQUIRE(c.SetMapping(alice).ok());
  l = c.ResolveLogin(*c.FindSource("db"), "alice");
  CHECK(l.user == "ro_alice");
  CHECK(l.password == Secret::File("/run/alice"));
  CHECK(l.pool_key == "db/ro_alice");
  CHECK(c.ResolveLogin(*c.FindSource("db"), "bob").user == "bob");  // CURRENT_USER

  // SetMapping replaces the same (source, scope, local user).
  alice.user = "rw_alice";
  REQUIRE(c.SetMapping(alice).ok());
  CHECK(c.mappings().size() == 3);
  CHECK(c.ResolveLogin(*c.FindSource("db"), "alice").user == "rw_alice");

  REQUIRE(c.DropMapping("db", UserMapping::Scope::kCurrentUser, "").ok());
  REQUIRE(c.DropMapping("db", UserMapping::Scope::kAll, "").ok());
  CHECK(c.DropMapping("db", UserMapping::Scope::kAll, "").code() == absl::StatusCode::kNotFound);
  CHECK(c.ResolveLogin(*c.FindSource("db"), "bob").user == "app");

  SECTION("AS CURRENT_USER and the default user") {
    SourceConfig cur;
    cur.name = "cur";
    cur.provider = "fake";
    cur.user_is_current = true;
    REQUIRE(c.AddSource(cur).ok());
    CHECK(c.ResolveLogin(*c.FindSource("cur"), "carol").pool_key == "cur/carol");
    SourceConfig plain;
    plain.name = "plain";
    plain.provider = "fake";
    REQUIRE(c.AddSource(plain).ok());
    Login d = c.ResolveLogin(*c.FindSource("plain"), "carol");
    CHECK(d.user.empty());
    CHECK(d.pool_key == "plain/default");
  }
}

TEST_CASE("catalog source and mapping management", "[catalog]") {
  Catalog c;
  SourceConfig s;
  s.name = "db";
  s.provider = "fake";
  REQUIRE(c.AddSource(s).ok());
  CHECK(c.AddSource(s).code() == absl::StatusCode::kAlreadyExists);
  SourceConfig unnamed;
  unnamed.provider = "fake";
  CHECK(c.AddSource(unnamed).code() == absl::StatusCode::kInvalidArgument);
  s.connect = "changed";
  REQUIRE(c.ReplaceSource(s).ok());
  CHECK(c.FindSource("db")->connect == "changed");
  SourceConfig other = s;
  other.name = "other";
  CHECK(c.ReplaceSource(other).code() == absl::StatusCode::kNotFound);
  UserMapping m;
  m.source = "nope";
  CHECK(c.SetMapping(m).code() == absl::StatusCode::kNotFound);
  m.source = "db";
  m.scope = UserMapping::Scope::kUser;
  CHECK(c.SetMapping(m).code() == absl::StatusCode::kInvalidArgument);  // no local user
  m.local_user = "bob";
  REQUIRE(c.SetMapping(m).ok());
  REQUIRE(c.DropSource("db").ok());  // drops its mappings too
  CHECK(c.mappings().empty());
  CHECK(c.sources().empty());
  CHECK(c.DropSource("db").code() == absl::StatusCode::kNotFound);
}

TEST_CASE("ParseDuration", "[catalog]") {
  CHECK(*ParseDuration("5s") == absl::Seconds(5));
  CHECK(*ParseDuration("250ms") == absl::Milliseconds(250));
  CHECK(*ParseDuration("2m") == absl::Minutes(2));
  CHECK(*ParseDuration("1h") == absl::Hours(1));
  CHECK(*ParseDuration("1.5s") == absl::Milliseconds(1500));
  CHECK(*ParseDuration("30") == absl::Seconds(30));
  CHECK(*ParseDuration("0.5") == absl::Milliseconds(500));
  CHECK(*ParseDuration(" 0 ") == absl::ZeroDuration());
  CHECK(*ParseDuration("10us") == absl::Microseconds(10));
  for (const char* bad : {"", "-1s", "-5", "abc", "5x", "1..5s", ".", "s", "5 s", "1e3",
                          "99999999999999999999h", "nan"}) {
    INFO(bad);
    CHECK(ParseDuration(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("ApplySourceOption", "[catalog]") {
  SourceConfig s;
  REQUIRE(ApplySourceOption("pool_max", "4", &s).ok());
  REQUIRE(ApplySourceOption("pool_min", "2", &s).ok());
  REQUIRE(ApplySourceOption("acquire_timeout", "500ms", &s).ok());
  REQUIRE(ApplySourceOption("pool_idle_timeout", "60s", &s).ok());  // RFC spelling
  REQUIRE(ApplySourceOption("max_lifetime", "0", &s).ok());
  REQUIRE(ApplySourceOption("lifetime_jitter", "0.25", &s).ok());
  REQUIRE(ApplySourceOption("health_check", "SELECT 1", &s).ok());
  REQUIRE(ApplySourceOption("health_check_interval", "10", &s).ok());
  REQUIRE(ApplySourceOption("connect_timeout", "5s", &s).ok());
  REQUIRE(ApplySourceOption("statement_timeout", "1m", &s).ok());
  REQUIRE(ApplySourceOption("sslmode", "require", &s).ok());
  CHECK(s.pool.pool_max == 4);
  CHECK(s.pool.pool_min == 2);
  CHECK(s.pool.acquire_timeout == absl::Milliseconds(500));
  CHECK(s.pool.idle_timeout == absl::Seconds(60));
  CHECK(s.pool.max_lifetime == absl::ZeroDuration());
  CHECK(s.pool.lifetime_jitter == 0.25);
  CHECK(s.pool.health_check == "SELECT 1");
  CHECK(s.pool.health_check_interval == absl::Seconds(10));
  CHECK(s.pool.connect_timeout == absl::Seconds(5));
  CHECK(s.pool.statement_timeout == absl::Minutes(1));
  CHECK(s.provider_options == std::map<std::string, std::string>{{"sslmode", "require"}});

  for (auto [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"pool_max", "0"},
                                                        {"pool_max", "1"},  // below pool_min (2)
                                                        {"pool_max", "x"},
                                                        {"pool_min", "-1"},
                                                        {"pool_min", "5"},  // above pool_max (4)
                                                        {"pool_min", "1.5"},
                                                        {"lifetime_jitter", "1.5"},
                                                        {"lifetime_jitter", "-0.1"},
                                                        {"acquire_timeout", "soon"},
                                                        {"connect_timeout", "-1s"},
                                                        {"", "x"}}) {
    INFO(k << "=" << v);
    SourceConfig before = s;
    absl::Status st = ApplySourceOption(k, v, &s);
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    if (!k.empty()) CHECK_THAT(Message(st), Catch::Contains(k));
  }

  SourceConfig order;
  REQUIRE(ApplySourceOptions({{"pool_min", "10"}, {"pool_max", "20"}}, &order).ok());
  CHECK(order.pool.pool_min == 10);
  CHECK(order.pool.pool_max == 20);
  SourceConfig bad;
  CHECK_FALSE(ApplySourceOptions({{"pool_min", "10"}}, &bad).ok());  // default pool_max 8
}

}  // namespace
}  // namespace qg
