// qg/graph.h — the query graph (QGDL, docs/design.md §3) as a C++ value, its
// parser and its validator.
//
// ParseGraph() accepts exactly the seed's JSON plus the optional extensions of
// docs/design.md §3, and reports every problem it finds at once, each with a JSON
// pointer into the document:
//   /edges/0/input_mapping: "user_data.idx" is not an output field of node "user_data"
// Validation happens before any connection is taken.
//
// Thread-safety: Graph is a plain value; the functions are reentrant.
//
//   qg::ParseOptions opts;
//   opts.known_sources = {"db_users", "db_orders"};
//   absl::StatusOr<qg::Graph> g = qg::ParseGraph(json, opts);
//   if (!g.ok()) std::cerr << g.status().message();
#ifndef QG_GRAPH_H_
#define QG_GRAPH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/export.h"
#include "qg/output.h"
#include "qg/value.h"

namespace qg {

enum class NodeMode { kRead, kWrite };
enum class Strategy { kAuto, kBatched, kPerBinding, kFetchOnce };
enum class OnError { kFail, kContinue };
enum class TransactionMode { kAutonomous, kCommon, kTwoPhase };

QG_EXPORT std::string_view StrategyName(Strategy s);  // "auto" | "batched" | "per_binding" | "fetch_once"
QG_EXPORT std::string_view TransactionModeName(
    TransactionMode m);  // "autonomous" | "common" | "2pc"
// The inverse of TransactionModeName; kInvalidArgument listing the modes.
QG_EXPORT absl::StatusOr<TransactionMode> ParseTransactionMode(std::string_view name);

struct Node {
  std::string node_id;
  std::string database_id;
  std::string query_string;
  std::vector<std::string> input_parameters;
  std::vector<std::string> output_fields;
  // Extensions (defaults when absent).
  NodeMode mode = NodeMode::kRead;
  Strategy strategy = Strategy::kAuto;
  std::optional<int64_t> batch_size;  // > 0
  std::optional<int64_t> timeout_ms;  // > 0
  OnError on_error = OnError::kFail;

  bool operator==(const Node&) const = default;
};

struct Edge {
  std::string source_node;
  std::string target_node;
  // (source field, target parameter), unqualified, in document order:
  // {"user_data.id": "order_data.user_id"} -> {"id", "user_id"}.
  // Empty: an ordering dependency only.
  std::vector<std::pair<std::string, std::string>> mapping;

  bool operator==(const Edge&) const = default;
};

struct QG_EXPORT Graph {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  ParamList params;  // top-level "params"
  TransactionMode transaction = TransactionMode::kAutonomous;
  std::optional<int64_t> timeout_ms;
  std::optional<OutputOptions> output;  // top-level "output": {"shape", "format"}

  // Index of a node by id, or -1.
  int FindNode(std::string_view node_id) const;
};

// Configurable limits checked by the parser (kInvalidArgument past them,
// named in the message with the pointer where they were exceeded).
struct GraphLimits {
  int64_t max_nodes = 1000;
  int64_t max_edges = 10000;
  int64_t max_query_length = 1 << 20;  // bytes per query_string
  int64_t max_depth = 64;              // JSON nesting depth
  int64_t max_document_bytes = 16 << 20;
};

// One problem found in a graph.
struct GraphIssue {
  std::string pointer;  // JSON pointer, "" for the document itself
  std::string message;
};

struct ParseOptions {
  GraphLimits limits;
  // When set, every database_id must be one of these.
  std::optional<std::set<std::string>> known_sources;
  // Names of parameters that will be supplied at execution (besides the
  // graph's own "params"); a parameter with no edge and no value is an error.
  // When unset, the "parameter has no source" rule is not checked.
  std::optional<std::set<std::string>> provided_params;
  // Lists the :name placeholders of a node's query_string. Defaults to the
  // SQL tokenizer (qg/placeholders.h); the engine substitutes the node's
  // provider's own rule. An error is reported at /nodes/i/query_string.
  std::function<absl::StatusOr<std::vector<std::string>>(const Node&)> placeholders_of;
};

// Parses and validates. On failure the status is kInvalidArgument whose
// message lists every issue, one per line, as "<pointer>: <message>", and
// `issues` (when non-null) receives them structured.
QG_EXPORT absl::StatusOr<Graph> ParseGraph(std::string_view json, const ParseOptions& options = {},
                                           std::vector<GraphIssue>* issues = nullptr);

// Validates a graph built in C++ (or re-validates a parsed one against other
// options). Same rules and pointers as ParseGraph.
QG_EXPORT absl::Status ValidateGraph(const Graph& graph, const ParseOptions& options = {},
                                     std::vector<GraphIssue>* issues = nullptr);

// Node indices in a dataflow (topological) order; stable: among ready nodes
// the one declared first comes first. Requires a validated (acyclic) graph.
QG_EXPORT std::vector<int> TopologicalOrder(const Graph& graph);

// Serialises a graph back to QGDL JSON (extensions only when not default).
QG_EXPORT std::string GraphToJson(const Graph& graph);

}  // namespace qg

#endif  // QG_GRAPH_H_
