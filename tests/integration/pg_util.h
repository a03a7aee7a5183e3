// Helpers for the PostgreSQL integration tests: connections through the
// provider, a collecting row sink, and direct superuser SQL (libpqxx).
#ifndef QG_TESTS_INTEGRATION_PG_UTIL_H_
#define QG_TESTS_INTEGRATION_PG_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/provider.h"
#include "qg/value.h"
#include "server_util.h"
#include "servers.h"

namespace qg::testing {

// Every column and row of a statement (server_util.h).
using Rows = CollectedRows;

// The provider under test (one per process).
Provider& PgProvider();

// A ConnectRequest for the test server's database `db` as user qg.
ConnectRequest PgRequest(const std::string& db = "qgtest");
// Connects (REQUIREs success).
std::unique_ptr<Connection> PgConnect(const std::string& db = "qgtest");

// Compiles `sql` (with :name placeholders) and runs it with `params`.
absl::StatusOr<Rows> PgQuery(Connection& conn, const std::string& sql, const ParamList& params = {},
                             ExecStats* stats = nullptr);
// Same, for statements whose rows are not wanted; REQUIREs success.
void PgExec(Connection& conn, const std::string& sql, const ParamList& params = {});

// Runs SQL as the superuser over the unix socket; returns the first column
// of the first row as text ("" when no row). Throws on error (Catch reports).
std::string SuperSql(const std::string& sql, const std::string& db = "qgtest");

// Number of server sessions of user qg (excluding the caller's admin one).
int QgSessionCount();

// Waits (polling every 20 ms, up to `timeout_ms`) until `pred` is true.
template <typename Pred>
bool WaitFor(Pred pred, int timeout_ms);

}  // namespace qg::testing

template <typename Pred>
bool qg::testing::WaitFor(Pred pred, int timeout_ms) {
  return PollFor(pred, timeout_ms);
}

#endif  // QG_TESTS_INTEGRATION_PG_UTIL_H_
