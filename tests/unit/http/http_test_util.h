// Helpers for the http provider tests: the fixture server (a python3
// http.server script on a free loopback port, started once per test binary),
// a row-collecting sink and one-call execution through a provider.
#ifndef QG_TESTS_UNIT_HTTP_HTTP_TEST_UTIL_H_
#define QG_TESTS_UNIT_HTTP_HTTP_TEST_UTIL_H_

#include <curl/curl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qg/provider.h"

namespace qg::httptest {

class FixtureServer {
 public:
  static FixtureServer& Get() {
    static FixtureServer server;
    return server;
  }
  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Requests the server saw for `path` ("" = all) since the last Reset().
  int Count(const std::string& path) {
    std::string body = Fetch(base() + "/_count?path=" + path);
    auto p = body.find(':');
    return p == std::string::npos ? -1 : std::atoi(body.c_str() + p + 1);
  }
  void Reset() { Fetch(base() + "/_reset"); }

  ~FixtureServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

 private:
  FixtureServer() {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      const std::string script = std::string(QG_SOURCE_DIR) + "/tests/unit/http/fixture_server.py";
      execlp("python3", "python3", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* f = fdopen(fds[0], "r");
    REQUIRE(f != nullptr);
    char line[64] = {0};
    REQUIRE(fgets(line, sizeof line, f) != nullptr);
    fclose(f);
    REQUIRE(sscanf(line, "PORT %d", &port_) == 1);
  }

  static size_t Append(char* p, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  }
  static std::string Fetch(const std::string& url) {
    std::string out;
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    return out;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

struct Rows : RowSink {
  std::vector<ColumnInfo> columns;
  std::vector<std::vector<Value>> rows;
  absl::Status OnColumns(const std::vector<ColumnInfo>& c) override {
    columns = c;
    return absl::OkStatus();
  }
  absl::Status OnRow(std::vector<Value>& row) override {
    rows.push_back(row);
    return absl::OkStatus();
  }
  int Col(const std::string& name) const {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }
  // Column `name` of every row as text ("NULL" for null).
  std::vector<std::string> Texts(const std::string& name) const {
    std::vector<std::string> out;
    const int c = Col(name);
    for (const auto& r : rows) {
      out.push_back(c < 0 ? "?" : r[c].is_null() ? "NULL" : r[c].ToText());
    }
    return out;
  }
};

inline std::unique_ptr<Connection> ConnectTo(Provider& p, const std::string& connect,
                                             std::map<std::string, std::string> options = {},
                                             const std::string& password = "",
                                             const std::string& user = "") {
  ConnectRequest req;
  req.source_name = "src";
  req.connect = connect;
  req.options = std::move(options);
  req.password = password;
  req.user = user;
  req.connect_timeout = absl::Seconds(5);
  auto c = p.Connect(req);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

// Compiles `query` (declaring every name in `params` and `key`) and runs it.
// With `keys`, a batched statement for keys.size() bindings of `key`.
inline absl::Status Run(Provider& p, Connection& conn, const std::string& query,
                        const std::map<std::string, Value>& params, Rows* out,
                        const std::string& key = "", const std::vector<Value>& keys = {},
                        ExecStats* stats = nullptr) {
  CompileRequest req;
  req.query_string = query;
  for (const auto& [k, v] : params) req.input_parameters.push_back(k);
  if (!key.empty()) {
    req.input_parameters.push_back(key);
    req.key_params = {key};
    req.batch_items = keys.size();
  }
  auto stmt = p.Compile(req);
  if (!stmt.ok()) return stmt.status();
  std::vector<BoundArg> args;
  for (const BatchArg& a : stmt->args) {
    BoundArg b;
    if (a.kind == BatchArg::Kind::kKeyItem) {
      b.value = keys[a.item];
    } else {
      b.value = params.at(a.name);
    }
    args.push_back(std::move(b));
  }
  ExecStats local;
  return conn.Execute(*stmt, args, out, stats != nullptr ? stats : &local);
}

}  // namespace qg::httptest

#endif  // QG_TESTS_UNIT_HTTP_HTTP_TEST_UTIL_H_
