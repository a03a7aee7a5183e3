// lib/engine/engine_text.cc — the Engine conveniences built only on its
// public interface: opening with a JSON catalog, and EXPLAIN of a QGDL text
// (docs/design.md, C ABI: the C functions translate to these).
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/status_macros.h"
#include "qg/engine.h"
#include "qg/graph.h"
#include "qg/plan.h"

namespace qg {

absl::StatusOr<std::unique_ptr<Engine>> Engine::CreateWithCatalogJson(
    EngineOptions options, std::string_view catalog_json) {
  const bool recover = options.recover_on_open && !options.coordinator_log.empty();
  // Recovery before the JSON sources are known would leave their prepared
  // branches unresolved: recover below instead.
  options.recover_on_open = false;
  QG_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Create(std::move(options)));
  QG_RETURN_IF_ERROR(engine->LoadCatalogJson(catalog_json));
  // Unreachable sources stay logged for a later Recover().
  if (recover) (void)engine->Recover();
  return engine;
}

absl::StatusOr<std::string> Engine::ExplainText(std::string_view qgdl,
                                                const ExecuteOptions& options,
                                                ExplainFormat format) {
  QG_ASSIGN_OR_RETURN(Graph graph, ParseGraph(qgdl, GraphParseOptions(&options.params)));
  QG_ASSIGN_OR_RETURN(Plan plan, Explain(graph, options));
  return RenderPlan(plan, format);
}

absl::StatusOr<std::string> Engine::ExplainAnalyzeText(std::string_view qgdl,
                                                       ExecuteOptions options,
                                                       ExplainFormat format) {
  QG_ASSIGN_OR_RETURN(Graph graph, ParseGraph(qgdl, GraphParseOptions(&options.params)));
  options.estimate_costs = true;  // a one-shot run shows real estimates
  QG_ASSIGN_OR_RETURN(GraphResult result, Execute(graph, options));
  return RenderPlan(result.plan, format, &result);
}

}  // namespace qg
