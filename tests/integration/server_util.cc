#include "server_util.h"

#include <catch2/catch.hpp>
#include <cctype>

#include "absl/container/flat_hash_map.h"

namespace qg::testing {

ConnectRequest ServerRequest(const std::string& source_name, const std::string& connect,
                             const std::string& user, const std::string& password) {
  ConnectRequest r;
  r.source_name = source_name;
  r.connect = connect;
  r.user = user;
  r.password = password;
  r.connect_timeout = absl::Seconds(5);
  return r;
}

std::unique_ptr<Connection> ConnectOrFail(Provider& provider, const ConnectRequest& request) {
  auto c = provider.Connect(request);
  INFO(request.source_name << ": " << c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

absl::Status RunQueryInto(Provider& provider, Connection& conn, const std::string& sql,
                          const ParamList& params, RowSink* sink, ExecStats* stats) {
  CompileRequest req;
  req.query_string = sql;
  // A query runs as a read (read-only on PostgreSQL and MariaDB); anything
  // else (DDL, DML, SET) as a write, as the tests' setup statements need.
  {
    size_t i = sql.find_first_not_of(" \t\r\n(");
    std::string word;
    while (i != std::string::npos && i < sql.size() &&
           std::isalpha(static_cast<unsigned char>(sql[i]))) {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
    }
    const bool read = word == "SELECT" || word == "WITH" || word == "VALUES" || word == "SHOW" ||
                      word == "EXPLAIN" || word == "TABLE";
    req.mode = read ? NodeMode::kRead : NodeMode::kWrite;
  }
  for (const auto& [name, value] : params) req.input_parameters.push_back(name);
  auto stmt = provider.Compile(req);
  if (!stmt.ok()) return stmt.status();
  absl::flat_hash_map<std::string, const Value*> by_name;
  for (const auto& [name, value] : params) by_name.insert_or_assign(name, &value);
  std::vector<BoundArg> args;
  for (const BatchArg& a : stmt->args) {
    BoundArg b;
    if (auto it = by_name.find(a.name); it != by_name.end()) b.value = *it->second;
    args.push_back(std::move(b));
  }
  ExecStats local;
  return conn.Execute(*stmt, args, sink, stats != nullptr ? stats : &local);
}

absl::StatusOr<CollectedRows> RunQuery(Provider& provider, Connection& conn, const std::string& sql,
                                       const ParamList& params, ExecStats* stats) {
  CollectedRows rows;
  absl::Status s = RunQueryInto(provider, conn, sql, params, &rows, stats);
  if (!s.ok()) return s;
  return rows;
}

}  // namespace qg::testing
