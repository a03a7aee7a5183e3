// Internal: what the QGDL parser and the validator share.
//
// ParseGraph() turns the document into a Graph, reporting structural
// problems (JSON syntax, types, unknown/missing keys, mapping key syntax) as
// it goes, then hands the Graph to CheckGraph() — the same semantic rules
// ValidateGraph() applies to a graph built in C++. Fields the parser already
// found broken are flagged in GraphFieldStatus so the semantic pass does not
// pile follow-on noise on top of the real problem.
#ifndef QG_LIB_GRAPH_GRAPH_INTERNAL_H_
#define QG_LIB_GRAPH_GRAPH_INTERNAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "qg/graph.h"

namespace qg::graph_internal {

// Which fields of a parsed graph hold what the document said. A field that is
// false was missing or malformed and has already been reported.
struct NodeFieldStatus {
  bool node_id = true;
  bool database_id = true;
  bool query_string = true;
  bool input_parameters = true;
  bool output_fields = true;
};
struct EdgeFieldStatus {
  bool source_node = true;
  bool target_node = true;
  bool input_mapping = true;  // false: some entries were dropped
};
struct GraphFieldStatus {
  bool nodes = true;   // "nodes" present and an array
  bool edges = true;   // "edges" absent or an array within max_edges
  bool params = true;  // "params" absent or well-formed
  std::vector<NodeFieldStatus> nodes_status;
  std::vector<EdgeFieldStatus> edges_status;
};

class IssueList {
 public:
  // `pointer` is a JSON pointer; "" is the document itself.
  void Add(std::string pointer, std::string message) {
    issues_.push_back(GraphIssue{std::move(pointer), std::move(message)});
  }
  bool empty() const { return issues_.empty(); }
  const std::vector<GraphIssue>& issues() const { return issues_; }

  // kInvalidArgument listing every issue as "<pointer>: <message>", one per
  // line ("/" for the document root); OK when there is none. Copies the
  // issues into `out` when non-null.
  absl::Status ToStatus(std::vector<GraphIssue>* out) const;

 private:
  std::vector<GraphIssue> issues_;
};

// Escapes one reference token of a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1).
std::string EscapePointerToken(std::string_view token);

// The semantic rules of docs/design.md §3 on a built graph. `status` may be null
// (every field trusted, as for a graph built in C++).
void CheckGraph(const Graph& graph, const ParseOptions& options, const GraphFieldStatus* status,
                IssueList* issues);

}  // namespace qg::graph_internal

#endif  // QG_LIB_GRAPH_GRAPH_INTERNAL_H_
