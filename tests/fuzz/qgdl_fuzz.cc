// libFuzzer target for the QGDL parser: any input must come back as either a
// graph or a kInvalidArgument listing at least one issue — never a crash, a
// hang or a sanitizer report — and an accepted graph must survive
// GraphToJson() and a second parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "qg/graph.h"

namespace {

const qg::ParseOptions& Options() {
  static const qg::ParseOptions* options = [] {
    auto* o = new qg::ParseOptions;
    o->known_sources = {{"db_users", "db_orders", "d", "db"}};
    o->provided_params = {{"city", "p", "x"}};
    // Small limits so the fuzzer reaches them with short inputs.
    o->limits.max_nodes = 64;
    o->limits.max_edges = 256;
    o->limits.max_query_length = 4096;
    o->limits.max_depth = 16;
    return o;
  }();
  return *options;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameGraph(const qg::Graph& a, const qg::Graph& b) {
  if (!(a.nodes == b.nodes && a.edges == b.edges && a.params == b.params &&
        a.transaction == b.transaction && a.timeout_ms == b.timeout_ms &&
        a.output.has_value() == b.output.has_value())) {
    return false;
  }
  if (!a.output) return true;
  return a.output->shape == b.output->shape && a.output->format == b.output->format &&
         a.output->max_rows == b.output->max_rows && a.output->max_bytes == b.output->max_bytes &&
         a.output->pretty == b.output->pretty;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<qg::GraphIssue> issues;
  absl::StatusOr<qg::Graph> graph = qg::ParseGraph(json, Options(), &issues);
  if (!graph.ok()) {
    Check(graph.status().code() == absl::StatusCode::kInvalidArgument);
    Check(!issues.empty());
    return 0;
  }
  Check(issues.empty());
  Check(qg::ValidateGraph(*graph, Options()).ok());

  // The dataflow order is a permutation with every edge pointing forward.
  const std::vector<int> order = qg::TopologicalOrder(*graph);
  Check(order.size() == graph->nodes.size());
  std::vector<int> position(order.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) {
    Check(order[i] >= 0 && static_cast<size_t>(order[i]) < order.size());
    Check(position[order[i]] == -1);
    position[order[i]] = static_cast<int>(i);
  }
  for (const qg::Edge& e : graph->edges) {
    Check(position[graph->FindNode(e.source_node)] < position[graph->FindNode(e.target_node)]);
  }

  const std::string text = qg::GraphToJson(*graph);
  qg::ParseOptions relaxed = Options();
  relaxed.limits.max_document_bytes = static_cast<int64_t>(text.size());
  absl::StatusOr<qg::Graph> again = qg::ParseGraph(text, relaxed);
  Check(again.ok());
  Check(SameGraph(*graph, *again));
  Check(qg::GraphToJson(*again) == text);
  return 0;
}
