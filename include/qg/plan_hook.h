// qg/plan_hook.h — how a host influences the planner (docs/design.md §11).
//
// EngineOptions::plan_hook is called once per dependent node (a node fed by
// incoming mappings, read or write) while a graph is planned, after the
// planner's own cost-based choice. It sees that choice read-only (strategy,
// batch size, parallel width, estimates, the alternatives with their
// estimated costs, the reason) and may answer an override. The engine checks
// the override against what the node can run with: a strategy the node does
// not offer, a batch size below 1, above EngineOptions::max_bindings or
// above what one execution of the source can take, a parallel width outside
// 1..max_parallelism, a hook that returns an error or throws — each keeps the
// planner's choice and EXPLAIN's reason names the hook and why it was
// refused. An accepted override is what runs ("chosen by the host's plan
// hook" in EXPLAIN) and is final: adaptive re-planning leaves it alone.
//
// Thread-safety: the hook may be called from several threads at once (each
// planning of a graph calls it on the planning thread); it must not call
// back into the engine. It should not throw (a throw is caught and refused).
// Plans made with a hook are kept in the plan cache like any other: the hook
// is fixed for the engine's life.
//
//   qg::EngineOptions options;
//   options.plan_hook = [](const qg::PlanHookView& v)
//       -> absl::StatusOr<std::optional<qg::PlanOverride>> {
//     if (v.decision.node_id != "orders") return std::nullopt;  // keep
//     qg::PlanOverride o;
//     o.batch_size = 500;
//     return o;
//   };
#ifndef QG_PLAN_HOOK_H_
#define QG_PLAN_HOOK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/plan.h"

namespace qg {

// What the hook sees of one dependent node. Borrowed: valid during the call.
struct PlanHookView {
  // The planner's decision: kind, batch_size, parallelism, reason,
  // estimate, expected keys / rows / ms, alternatives with est_ms.
  const NodePlan& decision;
  bool forced = false;    // the graph set the node's "strategy"
  bool is_write = false;  // write nodes offer batched and per_binding only
  // The strategies this node can run with (what the plan compiled).
  std::vector<ExecKind> available;
  // Bounds an override must keep: 1..max_parallelism connections; a batch
  // size of 1..max_batch_size keys (the smaller of max_bindings and what
  // one execution of the source can take).
  int max_parallelism = 1;
  int64_t max_batch_size = 0;
};

// Fields left empty keep the planner's value.
struct PlanOverride {
  std::optional<ExecKind> kind;       // kBatched | kPerBinding | kFetchOnce
  std::optional<int64_t> batch_size;  // batched only
  std::optional<int> parallelism;     // connections at once (fetch once: 1)
  std::string note;                   // shown in EXPLAIN beside the decision
};

// std::nullopt: keep the planner's decision. An error Status: keep it too,
// and EXPLAIN says the hook failed (with the status' message).
using PlanHook = std::function<absl::StatusOr<std::optional<PlanOverride>>(const PlanHookView&)>;

}  // namespace qg

#endif  // QG_PLAN_HOOK_H_
