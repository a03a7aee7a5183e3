// The public Planner (qg/planner.h): a thin handle over Engine::Explain.
#include "absl/status/statusor.h"
#include "qg/graph.h"
#include "qg/planner.h"

namespace qg {

absl::StatusOr<qg::Plan> Planner::Plan(const Graph& graph, const ExecuteOptions& options) const {
  return engine_.Explain(graph, options);
}

absl::StatusOr<qg::Plan> Planner::PlanJson(std::string_view qgdl,
                                           const ExecuteOptions& options) const {
  absl::StatusOr<Graph> graph = ParseGraph(qgdl, engine_.GraphParseOptions(&options.params));
  if (!graph.ok()) return graph.status();
  return engine_.Explain(*graph, options);
}

}  // namespace qg
