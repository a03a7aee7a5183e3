// The http provider against a hostile remote API (fixture_server.py): error
// excerpts never carry the source's secrets in any encoding, allow_hosts is
// an origin list, path values cannot leave their segment, and credentials
// only go to the configured origin.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <vector>

#include "http_test_util.h"
#include "providers/http/http_provider.h"
#include "providers/http/http_redact.h"

namespace qg::httptest {
namespace {

std::string B64(std::string_view s) {
  static const char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlpha[(v >> k) & 63]);
  }
  if (i < s.size()) {
    unsigned v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(kAlpha[(v >> 18) & 63]);
    out.push_back(kAlpha[(v >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kAlpha[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string Pct(std::string_view s, bool lower) {
  const char* hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

// JSON string content as Python's json.dumps writes it (ASCII only).
std::string JsonEsc(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += {'\\', static_cast<char>(c)};
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {  // two-byte UTF-8 only (the secrets below)
      const unsigned cp = ((c & 0x1f) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3f);
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    }
  }
  return out;
}

struct Setup {
  std::string name;
  std::string connect_suffix;  // appended to the base URL
  std::map<std::string, std::string> options;
  std::string password, user;
  std::vector<std::string> secrets;  // what must never show, in any encoding
};

TEST_CASE("http errors never show a source's secret, in any encoding", "[http][security]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  const std::string tok = "tok/en+S\xc3\xa9\"cret 1";
  const std::string qkey = "k&y=\xc3\xa9/+\"q 2";
  const std::string hdr = "hd/r+\xc3\xa9\"x 3";
  const std::string bpw = "p\xc3\xa4:ss/w+rd\"4";
  const std::string ckey = "c/k+\xc3\xa9y5";
  const std::string opt = "opt/+\xc3\xa9v6";
  const std::vector<Setup> setups = {
      {"bearer", "", {{"auth", "bearer"}}, tok, "", {tok}},
      {"query api_key", "", {{"auth", "query:api_key"}}, qkey, "", {qkey}},
      {"custom header", "", {{"auth", "header:X-Api-Key"}}, hdr, "", {hdr}},
      {"basic", "", {{"auth", "basic"}}, bpw, "alice", {bpw, "alice:" + bpw}},
      {"api_key in the base URL", "/?api_key=" + Pct(ckey, false), {}, "", "", {ckey}},
      {"credential in the headers option", "", {{"headers", "X-Api-Key: " + opt}}, "", "", {opt}},
  };
  for (const Setup& s : setups) {
    for (const std::string& enc : std::vector<std::string>{"raw", "b64", "pct", "pctl", "json"}) {
      DYNAMIC_SECTION(s.name << " echoed as " << enc) {
        auto conn = ConnectTo(*p, srv.base() + s.connect_suffix, s.options, s.password, s.user);
        Rows r;
        auto st = Run(*p, *conn, "GET /leak/" + enc, {}, &r);
        const std::string msg(st.message());
        INFO(msg);
        REQUIRE(st.code() == absl::StatusCode::kInvalidArgument);
        CHECK(msg.find("HTTP 400") != std::string::npos);
        CHECK(msg.find("echo (" + enc + "): ") != std::string::npos);
        CHECK(msg.find("***") != std::string::npos);  // the echo was there, redacted
        for (const std::string& secret : s.secrets) {
          CHECK(msg.find(secret) == std::string::npos);
          CHECK(msg.find(B64(secret)) == std::string::npos);
          CHECK(msg.find(B64(secret).substr(0, B64(secret).find('='))) == std::string::npos);
          CHECK(msg.find(Pct(secret, false)) == std::string::npos);
          CHECK(msg.find(Pct(secret, true)) == std::string::npos);
          CHECK(msg.find(JsonEsc(secret)) == std::string::npos);
        }
      }
    }
  }
}

// A listening socket on a free loopback port nobody should reach.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  // Connections accepted so far.
  int Accepted() {
    int n = 0;
    for (;;) {
      int c = accept(fd, nullptr, nullptr);
      if (c < 0) break;
      close(c);
      ++n;
    }
    return n;
  }
  ~Listener() { close(fd); }
};

TEST_CASE("http allow_hosts: another port of an allowed host is never connected",
          "[http][security]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  Listener other;
  const std::string other_url = "http://127.0.0.1:" + std::to_string(other.port) + "/x";
  auto conn = ConnectTo(*p, srv.base(), {{"auth", "bearer"}}, "T0KEN");
  Rows r;
  // An absolute template URL, a redirect and a next-page link to the other port.
  auto st = Run(*p, *conn, "GET " + other_url, {}, &r);
  INFO(st.ToString());
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  CHECK(st.message().find("allow_hosts") != absl::string_view::npos);
  st = Run(*p, *conn, "GET /redirect_to?url=" + Pct(other_url, false), {}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  st = Run(*p, *conn, "GET /next_to?url=" + Pct(other_url, false), {}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  // A bare host means that host on the base scheme's default port (80) only.
  auto bare = ConnectTo(*p, srv.base(), {{"allow_hosts", "127.0.0.1"}});
  st = Run(*p, *bare, "GET " + other_url, {}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  st = Run(*p, *bare, "GET /users", {}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
  CHECK(other.Accepted() == 0);

  // The listener does see a connection when its origin is allowed (the check
  // above can fail).
  auto allowed = ConnectTo(
      *p, srv.base(),
      {{"allow_hosts", "http://127.0.0.1:" + std::to_string(other.port)}, {"timeout", "300ms"}});
  st = Run(*p, *allowed, "GET " + other_url, {}, &r);
  CHECK(st.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(other.Accepted() == 1);
}

TEST_CASE("http allow_hosts: origins with a path prefix", "[http][security]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base(), {{"allow_hosts", srv.base() + "/items"}});
  Rows r;
  auto st = Run(*p, *conn, "GET /items/1", {}, &r);
  INFO(st.ToString());
  CHECK(st.ok());
  CHECK(Run(*p, *conn, "GET /users", {}, &r).code() == absl::StatusCode::kPermissionDenied);
  CHECK(Run(*p, *conn, "GET /itemsx", {}, &r).code() == absl::StatusCode::kPermissionDenied);
  // A value that would leave the prefix once the server decodes it is refused.
  st = Run(*p, *conn, "GET /items/:id", {{"id", Value::String("../users")}}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
}

TEST_CASE("http path values stay inside their segment", "[http][security]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  auto conn = ConnectTo(*p, srv.base());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"../admin", "/items/..%2Fadmin"},         {"..", "/items/%2E%2E"}, {".", "/items/%2E"},
      {"a?b#c%d/e", "/items/a%3Fb%23c%25d%2Fe"}, {"v1.2", "/items/v1.2"},
  };
  for (const auto& [value, path] : cases) {
    srv.Reset();
    Rows r;
    auto st = Run(*p, *conn, "GET /items/:id", {{"id", Value::String(value)}}, &r);
    INFO(value << ": " << st.ToString());
    CHECK(st.ok());
    Rows seen;
    REQUIRE(Run(*p, *conn, "GET /_seen", {}, &seen).ok());
    CHECK(seen.Texts("raw_path") == std::vector<std::string>{path});
  }
}

TEST_CASE("http credentials go only to the configured origin", "[http][security]") {
  auto& srv = FixtureServer::Get();
  auto p = NewHttpProvider();
  const std::string other = "http://localhost:" + std::to_string(srv.port());
  const std::map<std::string, std::string> wide = {{"allow_hosts", srv.base() + ", " + other}};
  struct Auth {
    std::string option, user;
  };
  for (const Auth& a : {Auth{"bearer", ""}, Auth{"basic", "alice"}, Auth{"header:X-Api-Key", ""},
                        Auth{"query:api_key", ""}}) {
    DYNAMIC_SECTION(a.option) {
      auto opts = wide;
      opts["auth"] = a.option;
      auto conn = ConnectTo(*p, srv.base(), opts, "S3CRET", a.user);
      for (const char* via : {"/next_to", "/redirect_to"}) {
        srv.Reset();
        Rows r;
        auto st = Run(*p, *conn, std::string("GET ") + via + "?url=" + Pct(other + "/echo", false),
                      {}, &r);
        INFO(via << ": " << st.ToString());
        REQUIRE(st.ok());
        Rows seen;
        REQUIRE(Run(*p, *conn, "GET /_seen", {}, &seen).ok());
        REQUIRE(seen.rows.size() == 2);
        const auto paths = seen.Texts("raw_path");
        const auto hosts = seen.Texts("host");
        const auto auths = seen.Texts("auth");
        const auto keys = seen.Texts("x_api_key");
        // The configured origin got the credential ...
        CHECK(hosts[0] == "127.0.0.1:" + std::to_string(srv.port()));
        CHECK((auths[0] != "NULL" || keys[0] != "NULL" ||
               paths[0].find("api_key=S3CRET") != std::string::npos));
        // ... the other origin did not.
        CHECK(hosts[1] == "localhost:" + std::to_string(srv.port()));
        CHECK(paths[1] == "/echo");
        CHECK(auths[1] == "NULL");
        CHECK(keys[1] == "NULL");
      }
    }
  }
  // Without the other origin in allow_hosts the link is refused.
  auto strict = ConnectTo(*p, srv.base(), {{"auth", "bearer"}}, "S3CRET");
  Rows r;
  auto st = Run(*p, *strict, "GET /next_to?url=" + Pct(other + "/echo", false), {}, &r);
  CHECK(st.code() == absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace qg::httptest

namespace qg::httptest {
namespace {

TEST_CASE("http redactor: mixed escapes, surrogates, and a secret across the excerpt's end",
          "[http][security]") {
  http::SecretRedactor r;
  const std::string secret = "s/e+cr\xc3\xa9t\xf0\x9f\x94\x91";
  r.Add(secret);
  // One occurrence mixing raw bytes, %xx of either case, '+' for a space
  // and JSON escapes (a surrogate pair for the 4-byte character).
  CHECK(r.Redact("a s%2fe%2Bcr\\u00E9t\\ud83d\\udd11 b") == "a *** b");
  CHECK(r.Redact("a s\\/e+cr%C3%a9t%F0%9F%94%91 b") == "a *** b");
  CHECK(r.Redact("x" + B64(secret) + "x") == "x***x");
  CHECK(r.Redact("no secret: s/e+cr") == "no secret: s/e+cr");
  // A secret that starts before the cut is replaced whole, never cut.
  const std::string body = std::string(195, '.') + Pct(secret, true) + std::string(50, '.');
  bool truncated = false;
  const std::string cut = r.RedactPrefix(body, 200, &truncated);
  CHECK(truncated);
  CHECK(cut == std::string(195, '.') + "***" + "..");
  CHECK(cut.find("s%2f") == std::string::npos);
}

}  // namespace
}  // namespace qg::httptest
