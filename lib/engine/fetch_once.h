// Internal: fetch once and join locally (docs/design.md §5, §11) — the
// planner's side. The node's statement is rewritten (BatchForm::kFetchAll:
// each `col = :p` becomes `col IS NOT NULL`, the key columns are selected)
// so one execution returns the whole relation; the executor hashes the
// node's bindings and streams the relation's rows through that table,
// keeping each row for exactly the bindings a lookup would have given it.
//
// Thread-safety: functions of one PlannedGraph while it is being built.
#ifndef QG_LIB_ENGINE_FETCH_ONCE_H_
#define QG_LIB_ENGINE_FETCH_ONCE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/planner.h"
#include "engine/strategy_choice.h"

namespace qg {

// Compiles pn.fetch_all (sets pn.fetch_all_ok); kFailedPrecondition with
// the reason when the statement is not a simple `... WHERE ... col = :p`
// lookup (the batched rewrite's rules) or the provider cannot fetch once.
absl::Status CompileFetchOnce(PlannedNode& pn);

// After every node is planned and estimated, before the plan is ordered
// (plan.nodes[i] is node i): gives each dependent read its alternatives
// with their estimated costs, and lets auto nodes choose between batched,
// per-binding and fetch-once (strategy_choice.h). The expected key count
// is the product of the mapping parents' estimated rows. Then every
// dependent node (writes too) goes to the host's plan hook, if any
// (engine/plan_hook.h).
void DecideStrategies(PlannedGraph& pg, const PlannerInputs& in);

// The cost shape (CostModel) of the node's fetch-once statement.
std::string FetchAllShape(const PlannedNode& pn);

// An auto node decided again with the actual key count.
StrategyChoice Redecide(const PlannedNode& pn, double actual_keys);

// What a finished mapping parent returned against its estimate.
struct ParentRows {
  std::string node_id;
  double estimated = -1;
  double actual = 0;
};

// Adaptive re-planning (docs/design.md §11): the strategy an auto
// dependent read runs with, given its parents' actual rows and its actual
// key count. When a parent missed its estimate by more than kReplanFactor,
// the choice is made again with `keys` and *reason says so (original and
// revised decision); otherwise the planned strategy, *reason untouched.
ExecKind ReplanAtStart(const PlannedNode& pn, const std::vector<ParentRows>& parents, size_t keys,
                       std::string* reason);

}  // namespace qg

#endif  // QG_LIB_ENGINE_FETCH_ONCE_H_
