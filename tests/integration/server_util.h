// Server-independent helpers shared by the PostgreSQL and MariaDB
// integration tests (pg_util.h, mysql_util.h): a row-collecting sink,
// connecting through a provider, running :name-placeholder SQL with bound
// parameters, and polling.
#ifndef QG_TESTS_INTEGRATION_SERVER_UTIL_H_
#define QG_TESTS_INTEGRATION_SERVER_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/provider.h"
#include "qg/value.h"

namespace qg::testing {

// Every column and row a statement produced.
struct CollectedRows final : public RowSink {
  std::vector<ColumnInfo> columns;
  std::vector<std::vector<Value>> rows;
  absl::Status OnColumns(const std::vector<ColumnInfo>& c) override {
    columns = c;
    return absl::OkStatus();
  }
  absl::Status OnRow(std::vector<Value>& r) override {
    rows.push_back(r);
    return absl::OkStatus();
  }
};

// A ConnectRequest for a test server (5 s connect timeout).
ConnectRequest ServerRequest(const std::string& source_name, const std::string& connect,
                             const std::string& user, const std::string& password);
// Connects; REQUIREs success (the failure's status in the message).
std::unique_ptr<Connection> ConnectOrFail(Provider& provider, const ConnectRequest& request);

// Compiles `sql` (with :name placeholders, each name in `params` declared)
// with `provider` and runs it on `conn` with the values bound.
absl::StatusOr<CollectedRows> RunQuery(Provider& provider, Connection& conn, const std::string& sql,
                                       const ParamList& params = {}, ExecStats* stats = nullptr);
// The same, with the rows going to `sink`.
absl::Status RunQueryInto(Provider& provider, Connection& conn, const std::string& sql,
                          const ParamList& params, RowSink* sink, ExecStats* stats = nullptr);

// Polls every 20 ms, up to `timeout_ms`, until `pred` is true; returns
// whether it became true.
template <typename Pred>
bool PollFor(Pred pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_SERVER_UTIL_H_
