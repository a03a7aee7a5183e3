// Internal: the parallel dataflow executor (docs/design.md §5).
//
// A node starts as soon as all its parents have finished. Starting a node
// computes its bindings from the parents' rows (CPU only), then spreads its
// work items (the single execution, each binding, or each batch chunk) over
// up to `max_parallelism` tasks, each holding one connection and pulling
// items until none are left. Tasks of one source run at most the source's
// pool_max at once per graph (so a graph wider than a pool queues instead of
// timing out in Acquire); the last task of a node finishes it and starts the
// children whose parents are all done. Nothing ever blocks a worker waiting
// for another task, so a small worker pool cannot deadlock.
//
// Cancellation: the graph has a token (cancelled by the host's token, the
// graph timeout, or the first failure of an on_error=fail node); each node
// has its own token linked to it (and to the node's timeout). While a
// statement runs, the connection's Cancel() is registered on the node token.
//
// Thread-safety: RunGraph may be called from many threads at once.
#ifndef QG_LIB_ENGINE_EXECUTOR_H_
#define QG_LIB_ENGINE_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/planner.h"
#include "engine/thread_pool.h"
#include "engine/watchdog.h"
#include "qg/cancel.h"
#include "qg/provider.h"
#include "qg/result.h"

namespace qg {

// One connection lent to one task; gives it back when destroyed.
class ConnectionLease {
 public:
  virtual ~ConnectionLease() = default;
  virtual Connection& conn() = 0;
  virtual void MarkBroken() = 0;
  // Called once before the lease is destroyed: OK when every work item of
  // the task succeeded, else the failure (a transaction rolls the node back
  // to its savepoint).
  virtual void Done(const absl::Status& outcome) { (void)outcome; }
};

// Where tasks get their connections: PoolBroker (autonomous) lends from each
// source's pool; TransactionBroker (engine/transaction.h, common / 2pc) pins
// one connection per participating source.
class ConnectionBroker {
 public:
  virtual ~ConnectionBroker() = default;
  virtual absl::StatusOr<std::unique_ptr<ConnectionLease>> Acquire(const PlannedNode& node,
                                                                   CancelToken* cancel) = 0;
  // Tasks of one source that may hold a connection at once in one graph.
  virtual int MaxConcurrent(const SourceHandle& source) = 0;
};

// Leases from each source's ConnectionPool.
class PoolBroker : public ConnectionBroker {
 public:
  absl::StatusOr<std::unique_ptr<ConnectionLease>> Acquire(const PlannedNode& node,
                                                           CancelToken* cancel) override;
  int MaxConcurrent(const SourceHandle& source) override;
};

struct ExecutionContext {
  std::shared_ptr<PlannedGraph> planned;
  ParamList params;  // graph params overridden by execution params
  int64_t max_bindings = 1000000;
  int64_t max_result_rows = 0;   // 0: unlimited
  int64_t max_result_bytes = 0;  // 0: unlimited
  ThreadPool* workers = nullptr;
  Watchdog* watchdog = nullptr;
  ConnectionBroker* broker = nullptr;
  CostModel* cost_model = nullptr;        // records what each node cost (may be null)
  std::shared_ptr<CancelToken> cancel;    // the host's token (may be null)
  std::optional<absl::Duration> timeout;  // the graph's timeout (none: unlimited)
};

// Runs the planned graph; returns when every task has finished and every
// connection is back. On failure of an on_error=fail node returns its error
// ("node \"x\" (source \"db\"): ..."), on cancel kCancelled, on the graph
// timeout kDeadlineExceeded.
absl::StatusOr<GraphResult> RunGraph(const ExecutionContext& ctx);

}  // namespace qg

#endif  // QG_LIB_ENGINE_EXECUTOR_H_
