// Helpers for the http provider tests: the fixture server (a python3
// http.server script on a free loopback port, started once per test binary;
// shared with other test binaries in support/http_fixture_server.h), a
// row-collecting sink and one-call execution through a provider.
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
#include "support/http_fixture_server.h"

namespace qg::httptest {

// The fixture server (tests/support/http_fixture_server.h).
using FixtureServer = qg::test_support::HttpFixtureServer;

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
