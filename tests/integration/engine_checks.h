// Engine-level helpers and check bodies shared by the PostgreSQL and MariaDB
// engine tests (pg_engine_test.cc, mysql_engine_test.cc): the same fault
// scenarios run against either server, each server supplying its own SQL and
// its own way to watch, kill, stop and start sessions. The checks use Catch2
// assertions, so call them from inside a TEST_CASE.
#ifndef QG_TESTS_INTEGRATION_ENGINE_CHECKS_H_
#define QG_TESTS_INTEGRATION_ENGINE_CHECKS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qg/engine.h"
#include "server_util.h"

namespace qg::testing {

// Seconds since `t0`.
double Since(std::chrono::steady_clock::time_point t0);
// A file's contents; REQUIREs that it can be read.
std::string ReadFile(const std::string& path);

// An engine with the catalog `{"sources": [<sources>...]}`; REQUIREs success.
std::unique_ptr<Engine> EngineWithSources(const std::vector<std::string>& sources);
// An engine with the catalog JSON `catalog`; REQUIREs success.
std::unique_ptr<Engine> EngineWithCatalog(const std::string& catalog);

// Connections in use / idle over all of the engine's pools.
int InUse(const Engine& e);
int Idle(const Engine& e);
// The statistics of `source`'s pool (zeros when it has none).
PoolStats PoolOf(const Engine& e, const std::string& source);

// A graph of one node "n" on `source` running `sql` with output field "x";
// `extra` is appended to the top-level object (e.g. `, "timeout_ms": 20`).
std::string OneNodeGraph(const std::string& source, const std::string& sql,
                         const std::string& extra = "");

// A row as comparable text: ToText() of each value (sources type the same
// value differently) or DebugString() (types must agree too).
std::string TextKey(const std::vector<Value>& row);
std::string DebugKey(const std::vector<Value>& row);
using RowKey = std::string (*)(const std::vector<Value>&);

// The rows of `child` joined with `parent` on child.child_field =
// parent.parent_field (each row parent columns then child columns, as
// `key`), sorted. CHECKs every child row matches exactly one parent row.
std::vector<std::string> JoinedKeys(const GraphResult& r, const std::string& parent,
                                    const std::string& parent_field, const std::string& child,
                                    const std::string& child_field, RowKey key);
// Every row of `rows` as `key`, sorted.
std::vector<std::string> SortedKeys(const CollectedRows& rows, RowKey key);

// Runs the seed graph `graph` (user_data -> order_data) for Paris, Tokyo and
// Nowhere and compares every joined row, as `key`, with `native_join(city)`:
// the same join computed natively in one database. Nowhere's order_data is
// skipped; for the others `more(result, order_data)` checks further (plan,
// strategy, types). Every connection is back in its pool afterwards.
void CheckSeedGraphAgainstNative(
    Engine& engine, const std::string& graph, RowKey key,
    const std::function<absl::StatusOr<CollectedRows>(const std::string& city)>& native_join,
    const std::function<void(const GraphResult&, const NodeResult&)>& more);

// A graph with two independent nodes, "victim" on `victim_source` and
// "sibling" on another source, both long-running. Once `both_running()`
// holds, `kill_victim()` ends the victim's server session: the graph must
// fail within 2 s with kUnavailable naming the node and source, the
// sibling's statement must stop server-side (`sibling_stopped()`), no
// connection stays in use and the next graph on `victim_source` succeeds.
struct KilledSessionCase {
  std::string graph;
  std::string victim_source;
  std::function<bool()> both_running;
  std::function<void()> kill_victim;
  std::function<bool()> sibling_stopped;
};
void CheckKilledSessionFailsGraph(Engine& engine, const KilledSessionCase& c);

// `graph` (on `source`) works; after `stop()` it fails three times with
// kUnavailable naming the source, each within 10 s; after `start()` it works
// again within 2 s, on the same engine; no connection stays in use.
void CheckServerStopAndRestart(Engine& engine, const std::string& graph, const std::string& source,
                               const std::function<void()>& stop,
                               const std::function<void()>& start);

// 8 threads run `graph` at once on `source`, a pool of max 2 whose
// acquire_timeout is shorter than the graph: at least 2 succeed, the others
// fail fast with kResourceExhausted naming the pool.
void CheckPoolExhaustion(Engine& engine, const std::string& graph, const std::string& source);

// `graph` runs 4 times, each after the server closed the pool's idle
// sessions (`sessions_gone()` polled up to 5 s): never an error.
void CheckIdleSessionsClosed(Engine& engine, const std::string& graph,
                             const std::function<bool()>& sessions_gone);

// 1000 graphs from 4 threads (seeds seed..seed+3): half `ok_graph` (params
// city=Oslo/Lyon), the rest `error_graph` (must fail kInvalidArgument),
// `slow_graph` (must time out: kDeadlineExceeded) and `cancel_graph`
// cancelled after 0-20 ms (ok or kCancelled). CHECKs the outcomes and that
// no connection stays in use; the caller checks the server's sessions.
struct InjectedFailureGraphs {
  std::string ok_graph;
  std::string error_graph;
  std::string slow_graph;
  std::string cancel_graph;
  unsigned seed = 1234;
};
void RunGraphsWithInjectedFailures(Engine& engine, const InjectedFailureGraphs& g);

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_ENGINE_CHECKS_H_
