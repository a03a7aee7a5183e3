// Internal: the choice between the strategies of a dependent read
// (docs/design.md §11) — batched lookup, one lookup per binding, or fetch
// the whole relation once and join it with the bindings in the engine.
//
// A pure function of the estimates: no connection, no clock. The planner
// calls it with the key count it expects (the parents' estimated rows); the
// executor calls it again with the actual key count when a parent's actual
// rows differ from its estimate by more than kReplanFactor.
//
// Thread-safety: plain values and a pure function.
#ifndef QG_LIB_ENGINE_STRATEGY_CHOICE_H_
#define QG_LIB_ENGINE_STRATEGY_CHOICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qg/cost.h"
#include "qg/plan.h"

namespace qg {

struct StrategyInputs {
  // Distinct bindings the node is expected to get (-1: unknown).
  double expected_keys = -1;
  // One lookup execution for one binding: rows = rows per binding.
  CostEstimate lookup;
  // One execution of the fetch-once statement: rows = the whole relation.
  CostEstimate fetch_all;
  int64_t batch_size = 1000;  // bindings per batched execution
  int parallelism = 1;        // connections a lookup strategy may use at once
  bool batched_possible = true;
  std::string batched_refusal;  // why not, when !batched_possible
  bool fetch_once_possible = false;
  std::string fetch_once_refusal;  // why not, when !fetch_once_possible
};

struct StrategyChoice {
  ExecKind kind = ExecKind::kBatched;  // kBatched | kPerBinding | kFetchOnce
  std::string reason;
  // batched, per_binding, fetch_once (in that order), each with its
  // estimated milliseconds (-1 when it could not be estimated).
  std::vector<Alternative> alternatives;
};

// A parent whose actual rows are more than this factor away from its
// estimate (either way) makes the executor decide its children again.
inline constexpr double kReplanFactor = 4.0;

// Whether `actual` rows differ from the `estimated` rows (< 0: unknown, no
// re-plan) by more than kReplanFactor. Zero counts as one row.
bool EstimateMissed(double estimated, double actual);

// Chooses the cheapest possible strategy. Without a known key count or
// relation size, or with estimates that are not numbers, it keeps the
// default order (batched, else per-binding) and says why. Costs that are
// all zero (rows known, no cost parts) use default unit costs (noted in the
// alternatives). Ties prefer batched; per-binding replaces a possible
// batched lookup only when estimated at least 2x cheaper.
StrategyChoice ChooseStrategy(const StrategyInputs& in);

}  // namespace qg

#endif  // QG_LIB_ENGINE_STRATEGY_CHOICE_H_
