// Internal: the engine's cost model (docs/design.md §11). It owns what the
// planner knows of costs:
//   - raw estimates per (source, statement shape), asked through the cost
//     seam — Connection::EstimateCost, or a host's CostEstimator installed
//     for the source through EngineOptions::cost_estimators — and sanitised
//     (an estimator that fails or answers negative / NaN / infinite values
//     gives a safe default whose fallback_reason says why);
//   - calibration: the executor records what each execution of a node
//     actually cost (ms, executions, bindings, rows); the model keeps smoothed
//     (EWMA) factors per shape and per source, so estimates converge to what
//     executions cost on this machine after a few runs;
//   - node estimates: the plain and batched forms of a node for the bindings
//     its parents are expected to produce (EstimateNode).
// A statement's shape does not vary with the batch size: a batched form is
// keyed by its form and the plain statement's text. Everything of a source is
// dropped when the catalog changes it.
//
// Thread-safety: all members are thread-safe.
#ifndef QG_LIB_ENGINE_COST_MODEL_H_
#define QG_LIB_ENGINE_COST_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/planner.h"
#include "qg/cost.h"

namespace qg {

// What one node's run actually cost.
struct CostObservation {
  double ms = 0;           // wall time of the node
  int64_t executions = 0;  // round trips
  int64_t bindings = 0;    // distinct bindings (1 for a node without inputs)
  int64_t rows = 0;        // rows returned
  // What the run can teach: a fetch-once run's time is its fetch-all
  // statement's (ms only), its rows per binding are the lookup's (rows only).
  bool learn_rows = true;
  bool learn_ms = true;
};

// The planner's view of one node.
struct NodeEstimate {
  CostEstimate plain;    // one execution of the plain statement
  CostEstimate batched;  // one execution of the batched form (batch_size items); origin "" if none
  double bindings = 1;   // expected bindings (from the parents' expected rows)
  double rows = -1;      // expected rows of the whole node (-1: unknown)
  double ms_per_binding = -1;  // expected ms of the node run per binding, one at a time
  double ms_batched = -1;      // expected ms of the node run batched (-1: no batched form)
  double ms = -1;              // expected ms of the node run with its chosen strategy
};

// Checks an estimator's answer: an error, a negative cost, a row count below
// -1, or a non-finite number gives the default estimate with
// fallback_reason set. `origin` fills an empty origin.
CostEstimate SanitizeEstimate(const absl::StatusOr<CostEstimate>& est, const std::string& origin);

// The estimate used when nothing better is known.
CostEstimate DefaultCostEstimate();

class CostModel {
 public:
  using Overrides = absl::flat_hash_map<std::string, std::shared_ptr<CostEstimator>>;
  explicit CostModel(Overrides overrides = {}) : overrides_(std::move(overrides)) {}

  // The shape key of a statement: the plain text for kSingle / kPerBinding,
  // the form and the plain text for a batched statement (any batch size).
  static std::string Shape(const PlannedNode& pn, bool batched);

  // One execution of `stmt` (shape `shape`) on the node's source, calibrated.
  // With CostMode::kFetch a missing raw estimate is asked from the source.
  // `items`: bindings the statement answers (batched: its batch size).
  CostEstimate Estimate(const PlannedNode& pn, const std::string& shape, const Statement& stmt,
                        double items, const PlannerInputs& in);

  // The plain and batched estimates of a planned node and the node totals
  // for `bindings` expected bindings (1 for a node without inputs).
  NodeEstimate EstimateNode(const PlannedNode& pn, double bindings, const PlannerInputs& in);

  // What one run of a node with shape `shape` on `source` cost.
  void Record(const std::string& source, const std::string& shape, const CostObservation& obs);

  // Forgets every estimate and calibration of `source` (catalog change).
  void DropSource(const std::string& source);

  // Number of cached shapes (tests).
  size_t size() const;

 private:
  struct Entry {
    CostEstimate raw;
    bool fetched = false;          // raw came from the source (not the default)
    double items = 1;              // bindings the raw estimate's statement answers
    double rows_per_binding = -1;  // EWMA of observed rows / bindings
    double ms_factor = 1;          // EWMA of actual / raw-predicted ms
    int samples = 0;
  };
  struct SourceCalibration {
    double ms_factor = 1;
    int samples = 0;
  };
  static std::string Key(const std::string& source, const std::string& shape);
  // True when runs of `shape` on `source` have taught its rows per binding.
  bool HasRowHistory(const std::string& source, const std::string& shape) const;
  CostEstimate Calibrated(const Entry& e, const std::string& source, double items) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Overrides overrides_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, SourceCalibration> sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace qg

#endif  // QG_LIB_ENGINE_COST_MODEL_H_
