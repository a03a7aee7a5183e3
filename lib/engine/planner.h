// Internal: turns a validated Graph into a PlannedGraph — the public Plan
// (what EXPLAIN shows) plus what the executor needs per node: the compiled
// statements, how bindings are formed from the parents' rows, and the
// resolved source (provider + pool).
//
// Strategy rules (docs/design.md §5):
//   - no incoming mappings: kSingle;
//   - write nodes: kBatched as one multi-row `INSERT … VALUES (…), (…)` per
//     batch when the statement is a plain INSERT … VALUES (RewriteInsertBatched)
//     and the provider batches IN lists, else kPerBinding;
//   - `batched` forced or `auto`: the provider's batch forms are tried
//     (kAnyArray first when the provider has it and there is one key, it has
//     no placeholder limit; then kInList), each via Provider::Compile of a
//     full batch; auto falls back to kPerBinding with the refusal as the
//     reason, a forced `batched` fails with kInvalidArgument.
// Batch size: node.batch_size or the engine default, capped for kInList by
// (max_placeholders - non-key args) / keys, and by max_batch_items.
//
// Cost estimates come from the engine's CostModel (engine/cost_model.h),
// asked for every node in dataflow order; CostMode says whether planning may
// take a connection to ask the source.
//
// Thread-safety: BuildPlan is reentrant; a
// PlannedGraph is immutable once built except for BatchedStatement()'s
// internal cache, which is guarded.
#ifndef QG_LIB_ENGINE_PLANNER_H_
#define QG_LIB_ENGINE_PLANNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/strategy_choice.h"
#include "qg/cancel.h"
#include "qg/catalog.h"
#include "qg/graph.h"
#include "qg/plan.h"
#include "qg/plan_hook.h"
#include "qg/pool.h"
#include "qg/provider.h"

namespace qg {

// A data source as one execution sees it: its config, provider, and the
// pool for the caller's external user.
struct SourceHandle {
  std::string name;
  SourceConfig config;
  std::shared_ptr<Provider> provider;
  Capabilities caps;
  std::string pool_key;
  std::string external_user;  // the login the pool connects as ("" = default)
  std::shared_ptr<ConnectionPool> pool;
};

class CostModel;

enum class CostMode {
  kCachedOnly,  // use estimates already cached; never connect
  kFetch,       // ask the source (one pooled connection) for uncached ones
};

struct PlannerInputs {
  // Every database_id of the graph, resolved.
  absl::flat_hash_map<std::string, std::shared_ptr<SourceHandle>> sources;
  // Parameter values (graph params overridden by execution params), used as
  // representative arguments for cost estimates.
  const ParamList* params = nullptr;
  int64_t default_batch_size = 1000;
  int workers = 1;
  CostMode cost_mode = CostMode::kCachedOnly;
  CostModel* cost_model = nullptr;  // null: default estimates
  // The host's hook (EngineOptions::plan_hook; null or empty: none) and the
  // bound its batch sizes must keep (engine/plan_hook.h).
  const PlanHook* plan_hook = nullptr;
  int64_t max_bindings = 1000000;
  CancelToken* cancel = nullptr;  // for connections taken to estimate; stops planning
  // Planning fails with kDeadlineExceeded past this (the graph's timeout).
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration timeout = absl::InfiniteDuration();  // for the error message
};

// One input group of a dependent node: the parameters fed by one parent,
// bound together row by row.
struct InputGroup {
  int parent = -1;
  // (parent's output field, position in PlannedNode::binding_params)
  std::vector<std::pair<std::string, size_t>> fields;
};

struct PlannedNode {
  int index = -1;
  const Node* node = nullptr;  // points into PlannedGraph::graph
  std::shared_ptr<SourceHandle> source;
  ExecKind kind = ExecKind::kSingle;
  bool is_write = false;
  Statement plain;  // kSingle / kPerBinding (and write nodes)
  // kBatched:
  BatchForm form = BatchForm::kInList;
  int64_t batch_size = 0;
  // When true (a read whose node does not set batch_size) the executor may
  // put more keys in one execution, up to max_batch_size (0: no limit), to
  // spread a large key set evenly over the node's parallel connections; an
  // IN list grows by whole multiples of batch_size (fewer statement texts).
  bool batch_size_flexible = false;
  int64_t max_batch_size = 0;
  Statement batched_full;  // compiled for batch_size items
  // The shape (CostModel::Shape) the executor records this node's cost under.
  std::string cost_shape;
  // kFetchOnce (engine/fetch_once.h): the whole relation with its key
  // columns; compiled for fetch_once nodes and for auto dependent reads.
  Statement fetch_all;
  bool fetch_all_ok = false;
  // Auto dependent reads: what the strategy choice was made from; the
  // executor decides again from it when a parent's rows missed their
  // estimate (docs/design.md §11).
  bool auto_strategy = false;
  StrategyInputs choice;
  double est_rows = -1;  // this node's estimated rows (-1: unknown)

  std::vector<std::string> binding_params;  // mapped parameters, edge order
  std::vector<InputGroup> groups;           // mapping parents
  std::vector<int> order_parents;           // parents through ordering-only edges
  std::vector<int> parents;                 // all parents, distinct
  std::vector<int> children;                // all children, distinct
  int max_parallelism = 1;                  // min(pool_max, workers)

  // "node \"x\" (source \"db\"): "
  std::string error_prefix;

  // The batched statement for `items` bindings (compiled once per size).
  absl::StatusOr<Statement> BatchedStatement(size_t items) const;

  mutable absl::Mutex batch_mu;
  mutable absl::flat_hash_map<size_t, Statement> batch_cache ABSL_GUARDED_BY(batch_mu);
};

struct PlannedGraph {
  Graph graph;
  Plan plan;
  std::vector<std::unique_ptr<PlannedNode>> nodes;  // indexed like graph.nodes
};

// "node \"x\" (source \"db\"): "
std::string NodeErrorPrefix(const Node& node);

// The estimate of one execution of `stmt` on pn's source (cached, or asked
// of the source when inputs allow; "default" with unknown rows otherwise).
CostEstimate EstimateStatement(const PlannedNode& pn, const Statement& stmt,
                               const PlannerInputs& in);

absl::StatusOr<std::shared_ptr<PlannedGraph>> BuildPlan(const Graph& graph,
                                                        const PlannerInputs& inputs);

}  // namespace qg

#endif  // QG_LIB_ENGINE_PLANNER_H_
