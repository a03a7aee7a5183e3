// qg/plan.h — the plan of a graph: per node its strategy, batch size,
// parallel width, compiled statement and cost estimate; rendered by EXPLAIN
// as text, JSON or Graphviz DOT (docs/design.md §11). With actuals from a
// GraphResult (EXPLAIN ANALYZE) estimates and actuals sit side by side.
//
// Thread-safety: plain values.
#ifndef QG_PLAN_H_
#define QG_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qg/cost.h"
#include "qg/export.h"
#include "qg/graph.h"

namespace qg {

struct GraphResult;

enum class ExecKind {
  kSingle,      // no incoming mappings: one execution
  kBatched,     // many bindings per round trip
  kPerBinding,  // one prepared statement per binding, several connections at once
  kFetchOnce,   // the whole relation fetched once, joined with the bindings in the engine
};
// "single" | "batched" | "per_binding" | "fetch_once"
QG_EXPORT std::string_view ExecKindName(ExecKind k);

// One strategy the planner weighed for a dependent node (docs/design.md §11).
struct Alternative {
  ExecKind kind = ExecKind::kBatched;
  double est_ms = -1;  // -1: no estimate
  bool possible = true;
  std::string note;  // why not possible, or how the cost was reckoned
};

struct NodePlan {
  int node = -1;  // index into graph.nodes
  std::string node_id;
  std::string database_id;
  std::string provider;
  ExecKind kind = ExecKind::kSingle;
  std::string reason;                   // why this strategy (forced, rewrite refused: ..., cost)
  int64_t batch_size = 0;               // bindings per round trip (batched)
  int parallelism = 1;                  // connections used at once
  std::vector<int> depends_on;          // node indices that must finish first
  std::vector<std::string> key_params;  // mapped parameters
  std::string statement;                // native text as sent (batched: for a full batch)
  // One execution of `statement`, calibrated (docs/design.md §11).
  CostEstimate estimate;
  // The node as a whole: expected bindings (from the parents' expected
  // rows), rows and milliseconds with the chosen strategy, and the
  // alternatives' milliseconds (-1: unknown / not possible).
  double expected_bindings = -1;
  double expected_rows = -1;
  double expected_ms = -1;
  double ms_per_binding = -1;
  double ms_batched = -1;
  // Dependent reads: every strategy weighed, with its estimated cost, and
  // the key count the choice assumed (-1: unknown).
  std::vector<Alternative> alternatives;
  double expected_keys = -1;
};

struct Plan {
  std::vector<NodePlan> nodes;  // in dataflow order
  TransactionMode transaction = TransactionMode::kAutonomous;
  std::vector<Edge> edges;  // the graph's edges (DOT labels them with their mappings)
  // In a GraphResult: the execution reused a plan from the engine's plan
  // cache (EngineOptions::plan_cache_size) instead of planning.
  bool cached = false;
};

enum class ExplainFormat { kText, kJson, kDot };
QG_EXPORT absl::StatusOr<ExplainFormat> ParseExplainFormat(
    std::string_view s);  // "text" | "json" | "dot"

// `actuals` (may be null) adds actual rows, round trips and times per node.
QG_EXPORT std::string RenderPlan(const Plan& plan, ExplainFormat format,
                                 const GraphResult* actuals = nullptr);

}  // namespace qg

#endif  // QG_PLAN_H_
