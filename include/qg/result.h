// qg/result.h — the results of a graph: typed columnar batches per node,
// with the binding each row came from, and per-node status and timings.
//
// A dependent node runs once per distinct binding of its mapped parameters
// (docs/design.md §5). NodeResult keeps those bindings and, for every row, the
// index of the binding that produced it, so results can be joined or nested
// afterwards (qg/output.h) without re-running anything.
//
// Thread-safety: plain values. Ownership: a GraphResult owns everything in it.
#ifndef QG_RESULT_H_
#define QG_RESULT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "qg/export.h"
#include "qg/graph.h"
#include "qg/output.h"
#include "qg/plan.h"
#include "qg/transaction.h"
#include "qg/value.h"

namespace qg {

// A named column of values. `type` is the column's single type when every
// non-null value has it, kNull when all are null, and the first non-null
// value's type otherwise (SQLite may mix types in one column; each Value
// keeps its own type, so nothing is lost).
struct Column {
  std::string name;
  ValueType type = ValueType::kNull;
  std::vector<Value> values;
};

enum class NodeStatus {
  kOk,
  kSkipped,    // dependent node with no bindings: zero rows, never executed
  kFailed,     // failed; with on_error=continue the graph went on
  kCancelled,  // cancelled or not started because the graph failed/was cancelled
};
QG_EXPORT std::string_view NodeStatusName(
    NodeStatus s);  // "ok" | "skipped" | "failed" | "cancelled"

struct NodeStats {
  std::string strategy;  // "single" | "batched" | "per_binding" | "fetch_once" | "write"
  // The plan's strategy, and why the executor changed it (empty: it did
  // not): a parent's actual rows differed from its estimate by more than 4x
  // and the choice was made again with the actual key count (§11).
  std::string planned_strategy;
  std::string replan_reason;
  int64_t bindings = 0;        // distinct bindings executed
  int64_t round_trips = 0;     // statements sent to the source
  int64_t rows_affected = -1;  // write nodes
  int64_t start_ns = 0;        // steady-clock nanoseconds since the graph started
  int64_t end_ns = 0;
  int parallelism = 1;         // connections used at once
  double estimated_rows = -1;  // from the plan, for EXPLAIN ANALYZE
};

struct QG_EXPORT NodeResult {
  std::string node_id;
  std::string database_id;
  NodeStatus status = NodeStatus::kOk;
  absl::Status error;  // set when status is kFailed/kCancelled
  std::vector<Column> columns;
  size_t num_rows = 0;

  // Dependent nodes: the mapped parameters (target parameter names, in the
  // order the node's edges list them), each distinct binding of their values,
  // and for each row the index into `bindings` that produced it. Empty for
  // nodes without incoming mappings.
  std::vector<std::string> binding_params;
  std::vector<std::vector<Value>> bindings;
  std::vector<uint32_t> row_binding;

  NodeStats stats;

  // Column index by name, or -1.
  int FindColumn(std::string_view name) const;
};

struct GraphStats {
  int64_t elapsed_ns = 0;
  int64_t rows = 0;
  int64_t round_trips = 0;
};

struct QG_EXPORT GraphResult {
  Graph graph;                    // the graph that ran (for shaping the output)
  Plan plan;                      // the plan it ran with (EXPLAIN ANALYZE)
  std::vector<NodeResult> nodes;  // same order as graph.nodes
  GraphStats stats;
  TransactionReport transaction;  // common / 2pc: what each participant did

  const NodeResult* FindNode(std::string_view node_id) const;
};

// The output options of a result: its graph's own "output" (shape, format,
// max_rows, max_bytes, pretty; qg/output.h's defaults when the graph has
// none), with `shape` / `format` overriding the graph's when given. Every
// host that writes a result for a graph applies its settings through this:
// the CLI's `run`, the C ABI's qg_result_write and qg_result_to_text.
QG_EXPORT OutputOptions GraphOutputOptions(const GraphResult& result,
                                           std::optional<Shape> shape = std::nullopt,
                                           std::optional<Format> format = std::nullopt);

}  // namespace qg

#endif  // QG_RESULT_H_
