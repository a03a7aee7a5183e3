// The http provider against a real local server (fixture_server.py).
#include "providers/http/http_provider.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "http_test_util.h"
#include "providers/http/http_template.h"

namespace qg::httptest {
namespace {

using http::ParseTemplate;
using http::Render;

TEST_CASE("http template: placeholders, directives, encoding", "[http]") {
  auto p = NewHttpProvider();
  auto names = p->Placeholders("GET /users/:user_id/orders?status=:status&x=:user_id");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"user_id", "status"});
  // "::" is a literal colon; ports are no placeholders; JSON strings are literal.
  names = p->Placeholders(
      R"(POST http://h:8080/v1/items::batchGet rows_at=/x {"a": ":no", "b": :yes})");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"yes"});
  CHECK(!p->Placeholders("GET /x nonsense").ok());
  CHECK(!p->Placeholders("FETCH /x").ok());
  CHECK(!p->Placeholders(R"(POST /x {"a": :a)").ok());      // not JSON
  CHECK(!p->Placeholders("GET /users/:id batch=id").ok());  // a list cannot go in the path

  auto t = ParseTemplate("GET /users/:id/x?q=:q&lit=a%20b");
  REQUIRE(t.ok());
  std::map<std::string, Value> v = {{"id", Value::String("a/b c")}, {"q", Value::String("x&y=é")}};
  auto r = Render(*t, "http://h/api/?key=K", http::Bindings{&v, nullptr});
  REQUIRE(r.ok());
  CHECK(r->url == "http://h/api/users/a%2Fb%20c/x?key=K&q=x%26y%3D%C3%A9&lit=a%20b");
  // Integral doubles print as integers; null in the query omits the pair.
  v = {{"id", Value::Double(7.0)}, {"q", Value::Null()}};
  r = Render(*t, "http://h", http::Bindings{&v, nullptr});
  REQUIRE(r.ok());
  CHECK(r->url == "http://h/users/7/x?lit=a%20b");
  // An object cannot go into a URL path: the error names the parameter.
  v = {{"id", Value::Json(R"({"a":1})")}, {"q", Value::Int(1)}};
  r = Render(*t, "http://h", http::Bindings{&v, nullptr});
  REQUIRE(!r.ok());
  CHECK(r.status().message().find(":id") != absl::string_view::npos);
  CHECK(r.status().message().find("json") != absl::string_view::npos);
  // JSON bodies: values JSON-encoded, never pasted raw.
  t = ParseTemplate(R"(POST /s {"q": :q, "n": :n, "d": :d})");
  REQUIRE(t.ok());
  v = {{"q", Value::String("a\"b")}, {"n", Value::Int(3)}, {"d", Value::Decimal("9.50")}};
  r = Render(*t, "http://h", http::Bindings{&v, nullptr});
  REQUIRE(r.ok());
  CHECK(r->body == R"({"q": "a\"b", "n": 3, "d": 9.50})");
}

TEST_CASE("http rows: JSON typed on the way in, path and query parameters", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base());
  Rows rows;
  auto st = Run(*p, *conn, "GET /users", {}, &rows);
  INFO(st.ToString());
  REQUIRE(st.ok());
  REQUIRE(rows.rows.size() == 5);
  CHECK(rows.Texts("name")[2] == "Chloé");
  const int id = rows.Col("id"), score = rows.Col("score"), active = rows.Col("active"),
            tags = rows.Col("tags");
  REQUIRE((id >= 0 && score >= 0 && active >= 0 && tags >= 0));
  CHECK(rows.columns[id].type == ValueType::kInt64);
  CHECK(rows.rows[0][id].type() == ValueType::kInt64);
  CHECK(rows.rows[0][score].type() == ValueType::kDouble);
  CHECK(rows.rows[1][score].type() == ValueType::kInt64);
  CHECK(rows.rows[2][score].is_null());
  CHECK(rows.rows[0][active].type() == ValueType::kBool);
  CHECK(rows.rows[0][tags].type() == ValueType::kJson);
  CHECK(rows.rows[0][tags].as_text() == R"(["a","b"])");

  Rows orders;
  st = Run(*p, *conn, "GET /users/:uid/orders?status=:s rows_at=/orders",
           {{"uid", Value::Int(5)}, {"s", Value::String("new & paid")}}, &orders);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(orders.Texts("order_id") == std::vector<std::string>{"50", "51", "52"});
  CHECK(orders.Texts("status")[0] == "new & paid");

  // fields= picks columns by key or JSON pointer.
  Rows one;
  st = Run(*p, *conn, "GET /users/:uid fields=id,first_tag=/tags/0,missing",
           {{"uid", Value::Int(1)}}, &one);
  REQUIRE(st.ok());
  REQUIRE(one.columns.size() == 3);
  CHECK(one.Texts("first_tag") == std::vector<std::string>{"a"});
  CHECK(one.Texts("missing") == std::vector<std::string>{"NULL"});
}

TEST_CASE("http pagination: body link, Link header, page numbers, max_pages", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  srv.Reset();
  auto conn = ConnectTo(*p, srv.base());
  Rows body;
  REQUIRE(Run(*p, *conn, "GET /body_pages rows_at=/data next_at=/next", {}, &body).ok());
  CHECK(body.Texts("n") == std::vector<std::string>{"10", "11", "20", "21", "30", "31"});
  CHECK(srv.Count("/body_pages") == 3);

  Rows link;
  REQUIRE(Run(*p, *conn, "GET /link_pages", {}, &link).ok());
  CHECK(link.Texts("p") == std::vector<std::string>{"1", "2", "3", "4"});
  Rows nolink;
  REQUIRE(Run(*p, *conn, "GET /link_pages paginate=none", {}, &nolink).ok());
  CHECK(nolink.rows.size() == 1);

  auto paged = ConnectTo(*p, srv.base(), {{"page_param", "page"}});
  Rows pages;
  REQUIRE(Run(*p, *paged, "GET /num_pages", {}, &pages).ok());
  CHECK(pages.rows.size() == 6);
  CHECK(srv.Count("/num_pages") == 4);  // the 4th page is empty

  auto limited = ConnectTo(*p, srv.base(), {{"max_pages", "3"}});
  Rows endless;
  auto st = Run(*p, *limited, "GET /endless", {}, &endless);
  CHECK(st.code() == absl::StatusCode::kResourceExhausted);
  CHECK(st.message().find("max_pages=3") != absl::string_view::npos);
}

TEST_CASE("http batching: keys as one list, chunked by max_batch, linked by key", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  srv.Reset();
  auto conn = ConnectTo(*p, srv.base());
  Rows rows;
  ExecStats stats;
  std::vector<Value> keys = {Value::Int(1), Value::Int(3), Value::Double(5.0), Value::String("2"),
                             Value::Int(99)};
  auto st =
      Run(*p, *conn, "GET /users?ids=:id batch=id max_batch=2", {}, &rows, "id", keys, &stats);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(srv.Count("/users") == 3);  // 5 keys, 2 per request
  CHECK(stats.round_trips == 3);
  REQUIRE(rows.columns.back().name == "__qg_k0");
  REQUIRE(rows.rows.size() == 4);  // 99 has no user
  for (const auto& r : rows.rows) {
    // The key column carries the binding's own value (same type as sent).
    const Value& k = r.back();
    const Value& id = r[rows.Col("id")];
    CHECK(k.ToText().substr(0, id.ToText().size()) == id.ToText());
    if (id.as_int() == 5) CHECK(k.type() == ValueType::kDouble);
    if (id.as_int() == 2) CHECK(k.type() == ValueType::kString);
  }
  // A template that does not declare batch= refuses: the planner falls back.
  Rows none;
  st = Run(*p, *conn, "GET /users/:id", {}, &none, "id", keys);
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);

  // Batched JSON body: the key list becomes an array.
  Rows hits;
  st = Run(*p, *conn, R"(POST /search rows_at=/hits batch=ids {"ids": :ids, "q": :q})",
           {{"q", Value::String("")}}, &hits, "ids", {Value::Int(2), Value::Int(4)});
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(hits.Texts("name") == std::vector<std::string>{"Bob", "Dan"});
}

TEST_CASE("http retries 429 honouring Retry-After, and 503 exhausts retries", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  srv.Reset();
  auto conn = ConnectTo(*p, srv.base());
  Rows rows;
  ExecStats stats;
  auto st = Run(*p, *conn, "GET /limited?key=a&fail=1", {}, &rows, "", {}, &stats);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(rows.Texts("attempt") == std::vector<std::string>{"2"});
  CHECK(srv.Count("/limited") == 2);

  auto no_retry = ConnectTo(*p, srv.base(), {{"retries", "0"}});
  Rows r2;
  st = Run(*p, *no_retry, "GET /limited?key=b&fail=1", {}, &r2);
  CHECK(st.code() == absl::StatusCode::kResourceExhausted);
  CHECK(st.message().find("HTTP 429") != absl::string_view::npos);

  auto two = ConnectTo(*p, srv.base(), {{"retries", "2"}});
  Rows r3;
  st = Run(*p, *two, "GET /unavailable", {}, &r3);
  CHECK(st.code() == absl::StatusCode::kUnavailable);
  CHECK(st.message().find("HTTP 503") != absl::string_view::npos);
  CHECK(st.message().find("after 2 retries") != absl::string_view::npos);
  CHECK(srv.Count("/unavailable") == 3);
}

TEST_CASE("http timeout and cancel abort the transfer", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base(), {{"timeout", "300ms"}});
  Rows rows;
  auto st = Run(*p, *conn, "GET /slow?ms=3000", {}, &rows);
  CHECK(st.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(st.message().find("/slow") != absl::string_view::npos);

  auto c2 = ConnectTo(*p, srv.base());
  std::atomic<bool> done{false};
  std::thread canceller([&] {
    for (int i = 0; i < 100 && !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (i == 10) c2->Cancel();
    }
  });
  Rows r2;
  st = Run(*p, *c2, "GET /slow?ms=5000", {}, &r2);
  done = true;
  canceller.join();
  CHECK(st.code() == absl::StatusCode::kCancelled);
  // Cancelled until Reset, then usable again.
  CHECK(Run(*p, *c2, "GET /users", {}, &r2).code() == absl::StatusCode::kCancelled);
  REQUIRE(c2->Reset().ok());
  Rows r3;
  CHECK(Run(*p, *c2, "GET /users", {}, &r3).ok());
}

TEST_CASE("http allow-list: redirects inside pass, outside are refused", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base());
  Rows in;
  REQUIRE(Run(*p, *conn, "GET /redirect_in", {}, &in).ok());
  CHECK(in.rows.size() == 5);
  Rows out;
  auto st = Run(*p, *conn, "GET /redirect_out", {}, &out);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  CHECK(st.message().find("localhost") != absl::string_view::npos);
  // Absolute URLs in templates are checked too.
  st = Run(*p, *conn, "GET http://localhost:" + std::to_string(srv.port()) + "/users", {}, &out);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);

  auto wide = ConnectTo(*p, srv.base(),
                        {{"allow_hosts", "127.0.0.1:" + std::to_string(srv.port()) +
                                             ", http://localhost:" + std::to_string(srv.port())}});
  Rows ok;
  REQUIRE(Run(*p, *wide, "GET /redirect_out", {}, &ok).ok());
  CHECK(ok.rows.size() == 5);
}

TEST_CASE("http errors: status, URL without secrets, malformed JSON", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base() + "/?api_key=SECRET1",
                        {{"auth", "bearer"}, {"headers", "X-A: 1"}}, "TOKEN2");
  Rows echo;
  REQUIRE(Run(*p, *conn, "GET /echo", {}, &echo).ok());
  CHECK(echo.Texts("auth") == std::vector<std::string>{"Bearer TOKEN2"});
  CHECK(echo.Texts("x_a") == std::vector<std::string>{"1"});
  CHECK(echo.Texts("query") == std::vector<std::string>{"api_key=SECRET1"});

  Rows r;
  auto st = Run(*p, *conn, "GET /status/404", {}, &r);
  CHECK(st.code() == absl::StatusCode::kNotFound);
  const std::string msg(st.message());
  CHECK(msg.find("HTTP 404") != std::string::npos);
  CHECK(msg.find("/status/404") != std::string::npos);
  CHECK(msg.find("api_key=***") != std::string::npos);
  CHECK(msg.find("SECRET1") == std::string::npos);
  CHECK(msg.find("TOKEN2") == std::string::npos);
  CHECK(Run(*p, *conn, "GET /status/401", {}, &r).code() == absl::StatusCode::kPermissionDenied);

  st = Run(*p, *conn, "GET /malformed", {}, &r);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.message().find("not valid JSON") != absl::string_view::npos);

  // Basic auth and query auth.
  auto basic = ConnectTo(*p, srv.base(), {{"auth", "basic"}}, "pw", "alice");
  Rows b;
  REQUIRE(Run(*p, *basic, "GET /echo", {}, &b).ok());
  CHECK(b.Texts("auth")[0].rfind("Basic ", 0) == 0);
  auto q = ConnectTo(*p, srv.base(), {{"auth", "query:token"}}, "QSECRET");
  st = Run(*p, *q, "GET /status/500", {}, &b);
  CHECK(st.code() == absl::StatusCode::kUnavailable);
  CHECK(st.message().find("QSECRET") == absl::string_view::npos);
}

TEST_CASE("http ping, options and rate limit", "[http]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base(), {{"rate_limit", "50"}, {"burst", "2"}});
  CHECK(conn->Ping("").ok());
  CHECK(conn->Ping("/users").ok());
  CHECK(!conn->Ping("/status/500").ok());
  srv.Reset();
  for (int i = 0; i < 6; ++i) {
    Rows r;
    REQUIRE(Run(*p, *conn, "GET /users/1", {}, &r).ok());
  }
  CHECK(srv.Count("/users/1") == 6);

  ConnectRequest bad;
  bad.source_name = "s";
  bad.connect = "ftp://x";
  CHECK(!p->Connect(bad).ok());
  bad.connect = srv.base();
  bad.options = {{"timeout", "soon"}};
  CHECK(p->Connect(bad).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qg::httptest
