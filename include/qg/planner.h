// qg/planner.h — the planner as a host sees it: plan a graph without
// running it and read every decision (docs/design.md §11).
//
// A Planner is a thin handle over an Engine: Plan() validates the graph
// with the engine's rules and plans it exactly as Execute() would (sources,
// cost estimates, the engine's plan hook, EngineOptions::plan_hook in
// qg/plan_hook.h), so the Plan it returns holds, per node, the strategy,
// batch size, parallel width, the estimate, the alternatives with their
// estimated costs and the reason. Planning may take a pooled connection per
// source to ask for estimates not cached yet; it never executes a node.
//
// Thread-safety: as the Engine (every member is thread-safe).
// Ownership: the Planner borrows the engine, which must outlive it.
//
//   qg::Planner planner(*engine);
//   auto plan = planner.PlanJson(qgdl_text, opts);
//   if (plan.ok()) {
//     for (const qg::NodePlan& np : plan->nodes) {
//       std::cout << np.node_id << ": " << qg::ExecKindName(np.kind) << " — " << np.reason;
//     }
//   }
#ifndef QG_PLANNER_H_
#define QG_PLANNER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "qg/engine.h"
#include "qg/export.h"
#include "qg/graph.h"
#include "qg/plan.h"

namespace qg {

class QG_EXPORT Planner {
 public:
  explicit Planner(Engine& engine) : engine_(engine) {}
  Planner(const Planner&) = delete;
  Planner& operator=(const Planner&) = delete;

  // The plan Execute() would run `graph` with (Engine::Explain).
  absl::StatusOr<qg::Plan> Plan(const Graph& graph, const ExecuteOptions& options = {}) const;
  // Parses `qgdl` with the engine's rules (Engine::GraphParseOptions), then Plan.
  absl::StatusOr<qg::Plan> PlanJson(std::string_view qgdl,
                                    const ExecuteOptions& options = {}) const;

 private:
  Engine& engine_;
};

}  // namespace qg

#endif  // QG_PLANNER_H_
