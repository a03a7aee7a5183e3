// qg/cost.h — what a source says a query will cost (MitoPlex cost
// estimators, docs/design.md §11).
//
// Every connection answers Connection::EstimateCost (qg/provider.h) by asking
// the source's own planner (PostgreSQL EXPLAIN (FORMAT JSON), MySQL EXPLAIN
// FORMAT=JSON, SQLite's planner) or its history (http, csv), in the engine's
// units. A host may install a CostEstimator per source
// (EngineOptions::cost_estimators) that answers instead. The engine caches
// estimates per (source, statement shape), calibrates them with what
// executions actually cost, and shows them beside the actuals in EXPLAIN.
// An estimate that fails or holds negative / non-finite numbers is replaced
// by a default whose fallback_reason says why.
//
// Thread-safety: Estimate() may be called concurrently with different
// connections.
#ifndef QG_COST_H_
#define QG_COST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/export.h"

namespace qg {

class Connection;
struct Statement;
struct BoundArg;

struct CostEstimate {
  // Rows one execution returns (for a batched statement: for all its items).
  double rows = -1;  // -1: unknown
  // One unit: expected milliseconds on this source. An execution answering
  // `b` bindings and returning `r` rows costs about
  //   startup_cost + b * per_binding_cost + r * per_row_cost.
  double startup_cost = 0;      // fixed cost of one execution (round trip, planning)
  double per_binding_cost = 0;  // cost per binding (key) one execution answers
  double per_row_cost = 0;      // cost per row produced
  bool uses_index = false;      // the lookup is an index probe, not a scan
  // True once scaled by what executions of this source actually cost on
  // this machine (the engine's calibration).
  bool calibrated = false;
  std::string origin;  // "postgres EXPLAIN", "sqlite planner", "default", ...
  // Set when the estimator failed or answered nonsense and the engine used
  // its default instead ("" otherwise).
  std::string fallback_reason;

  bool rows_known() const { return rows >= 0; }
  // Expected milliseconds of one execution answering `bindings` bindings.
  double TotalMs(double bindings = 1) const {
    return startup_cost + bindings * per_binding_cost + (rows > 0 ? rows : 0) * per_row_cost;
  }
};

// A host's per-source override of the source's own estimate.
class QG_EXPORT CostEstimator {
 public:
  virtual ~CostEstimator() = default;
  // Estimates one execution of `stmt` on `conn`. `args` holds representative
  // arguments (possibly nulls) so sources that plan with values can.
  virtual absl::StatusOr<CostEstimate> Estimate(Connection& conn, const Statement& stmt,
                                                const std::vector<BoundArg>& args) = 0;
};

}  // namespace qg

#endif  // QG_COST_H_
