// Internal: the strategy choice in EXPLAIN (docs/design.md §11) — every
// alternative weighed for a dependent read with its estimated cost, and in
// EXPLAIN ANALYZE the original and revised decision of a re-planned node.
#ifndef QG_LIB_ENGINE_EXPLAIN_STRATEGY_H_
#define QG_LIB_ENGINE_EXPLAIN_STRATEGY_H_

#include <string>

#include "qg/plan.h"
#include "qg/result.h"

namespace qg {

// Text lines ("  alternatives: ...\n"); empty when the node weighed none.
std::string AlternativesText(const NodePlan& np);
// JSON members to append inside the node object (",\"expected_keys\":...").
std::string AlternativesJson(const NodePlan& np);
// "  replanned:   ...\n" when the run changed the plan's decision, else "".
std::string ReplanText(const NodeResult& r);
// JSON members for the node's "actual" object: strategy, planned_strategy
// and replan_reason (the last only when re-planned).
std::string ReplanJson(const NodeResult& r);

}  // namespace qg

#endif  // QG_LIB_ENGINE_EXPLAIN_STRATEGY_H_
