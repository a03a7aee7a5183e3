// Internal: the host's plan hook (qg/plan_hook.h, docs/design.md §11) —
// asked per dependent node after the planner's own choice; its override is
// checked against what the node's plan compiled and applied, or refused
// with the reason in the node's EXPLAIN text.
//
// Thread-safety: a function of one PlannedGraph while it is being built.
#ifndef QG_LIB_ENGINE_PLAN_HOOK_H_
#define QG_LIB_ENGINE_PLAN_HOOK_H_

#include <string>
#include <vector>

#include "engine/planner.h"
#include "qg/plan.h"
#include "qg/plan_hook.h"

namespace qg {

// The strategies pn can run with: per_binding always, batched when its
// batched statement was compiled, fetch_once when its fetch-all statement was.
std::vector<ExecKind> AvailableKinds(const PlannedNode& pn);

// Checks `o` for pn; "" when it can be applied, else why not.
std::string CheckOverride(const PlannedNode& pn, const NodePlan& np, const PlanOverride& o,
                          int64_t max_bindings);

// Calls the hook for dependent node pn (np: its plan entry) and applies a
// valid override to both; an invalid one, an error or a throw leaves them
// as planned but for the reason, which then says the hook was refused.
void ApplyPlanHook(const PlanHook& hook, int64_t max_bindings, PlannedNode& pn, NodePlan& np);

}  // namespace qg

#endif  // QG_LIB_ENGINE_PLAN_HOOK_H_
