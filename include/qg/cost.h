// qg/cost.h — what a source says a query will cost (MitoPlex cost
// estimators, docs/design.md §11).
//
// Each provider may supply a CostEstimator that asks the source's own planner
// (PostgreSQL EXPLAIN (FORMAT JSON), MySQL EXPLAIN FORMAT=JSON, SQLite's
// planner) and answers in the engine's units. The engine caches estimates per
// (source, statement text) and uses them to choose strategies, batch sizes,
// parallel width and term order; EXPLAIN shows them beside the actuals.
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
  // Cost units are estimated milliseconds on an idle source.
  double startup_cost = 0;  // fixed cost of one execution (round trip, planning)
  double per_row_cost = 0;  // cost per row produced
  bool uses_index = false;  // the lookup is an index probe, not a scan
  std::string origin;       // "postgres EXPLAIN", "sqlite planner", "default", ...
};

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
