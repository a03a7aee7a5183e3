// Graph helpers: lookup, names, dataflow order and serialisation back to
// QGDL JSON.
#include "qg/graph.h"

#include <cmath>
#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace qg {

int Graph::FindNode(std::string_view node_id) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].node_id == node_id) return static_cast<int>(i);
  }
  return -1;
}

std::string_view StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kAuto:
      return "auto";
    case Strategy::kBatched:
      return "batched";
    case Strategy::kPerBinding:
      return "per_binding";
    case Strategy::kFetchOnce:
      return "fetch_once";
  }
  return "auto";
}

std::string_view TransactionModeName(TransactionMode m) {
  switch (m) {
    case TransactionMode::kAutonomous:
      return "autonomous";
    case TransactionMode::kCommon:
      return "common";
    case TransactionMode::kTwoPhase:
      return "2pc";
  }
  return "autonomous";
}

absl::StatusOr<TransactionMode> ParseTransactionMode(std::string_view name) {
  for (TransactionMode m :
       {TransactionMode::kAutonomous, TransactionMode::kCommon, TransactionMode::kTwoPhase}) {
    if (name == TransactionModeName(m)) return m;
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown transaction mode \"{}\" (autonomous, common or 2pc)", name));
}

std::vector<int> TopologicalOrder(const Graph& graph) {
  const int n = static_cast<int>(graph.nodes.size());
  absl::flat_hash_map<std::string_view, int> index;
  for (int i = 0; i < n; ++i) index.emplace(graph.nodes[i].node_id, i);
  std::vector<std::vector<int>> succ(n);
  std::vector<int> in_degree(n, 0);
  for (const Edge& e : graph.edges) {
    auto s = index.find(e.source_node);
    auto t = index.find(e.target_node);
    if (s == index.end() || t == index.end() || s->second == t->second) continue;
    succ[s->second].push_back(t->second);
    ++in_degree[t->second];
  }
  // Kahn's algorithm with a min-heap: among ready nodes the one declared
  // first runs first, so the order is stable under unrelated edits.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    if (in_degree[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(n);
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const int v = ready.top();
    ready.pop();
    order.push_back(v);
    placed[v] = true;
    for (int w : succ[v]) {
      if (--in_degree[w] == 0) ready.push(w);
    }
  }
  // Only an invalid (cyclic) graph gets here; keep the result a permutation
  // so a caller that skipped validation cannot index out of range.
  for (int i = 0; i < n; ++i) {
    if (!placed[i]) order.push_back(i);
  }
  return order;
}

namespace {

void AppendValue(std::string* out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      *out += "null";
      return;
    case ValueType::kBool:
      *out += v.as_bool() ? "true" : "false";
      return;
    case ValueType::kInt64:
      *out += fmt::format("{}", v.as_int());
      return;
    case ValueType::kDouble: {
      const double d = v.as_double();
      if (!std::isfinite(d)) {  // JSON has no spelling for these
        *out += "null";
        return;
      }
      AppendDouble(out, d);  // "1.0", not "1": parses back as a double
      return;
    }
    case ValueType::kDecimal:
      if (IsJsonNumber(v.as_text())) {
        *out += v.as_text();
      } else {
        AppendJsonString(out, v.as_text());
      }
      return;
    case ValueType::kJson:
      // Built in C++, the text may not be JSON at all; keep the output valid.
      if (IsValidJson(v.as_text())) {
        *out += v.as_text();
      } else {
        AppendJsonString(out, v.as_text());
      }
      return;
    case ValueType::kString:
    case ValueType::kBytes:
    case ValueType::kTimestamp:
      AppendJsonString(out, v.as_text());
      return;
  }
  *out += "null";
}

void AppendStringList(std::string* out, const std::vector<std::string>& list) {
  out->push_back('[');
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) *out += ", ";
    AppendJsonString(out, list[i]);
  }
  out->push_back(']');
}

// `"key": ` at the given indentation, preceded by a comma unless first.
void AppendKey(std::string* out, std::string_view indent, std::string_view key, bool* first) {
  if (!*first) *out += ",\n";
  *first = false;
  *out += indent;
  AppendJsonString(out, key);
  *out += ": ";
}

}  // namespace

// Declared in qg/output.h; defined here, where graphs name their output.
std::string_view ShapeName(Shape s) {
  switch (s) {
    case Shape::kNodes:
      return "nodes";
    case Shape::kJoined:
      return "joined";
    case Shape::kNested:
      return "nested";
  }
  return "unknown";
}

std::string_view FormatName(Format f) {
  switch (f) {
    case Format::kJson:
      return "json";
    case Format::kNdjson:
      return "ndjson";
    case Format::kCsv:
      return "csv";
  }
  return "unknown";
}

std::string GraphToJson(const Graph& graph) {
  std::string out = "{\n  \"nodes\": [";
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    out += i == 0 ? "\n    {\n" : ",\n    {\n";
    bool first = true;
    const std::string_view in = "      ";
    AppendKey(&out, in, "node_id", &first);
    AppendJsonString(&out, n.node_id);
    AppendKey(&out, in, "database_id", &first);
    AppendJsonString(&out, n.database_id);
    AppendKey(&out, in, "query_string", &first);
    AppendJsonString(&out, n.query_string);
    AppendKey(&out, in, "input_parameters", &first);
    AppendStringList(&out, n.input_parameters);
    AppendKey(&out, in, "output_fields", &first);
    AppendStringList(&out, n.output_fields);
    if (n.mode != NodeMode::kRead) {
      AppendKey(&out, in, "mode", &first);
      out += "\"write\"";
    }
    if (n.strategy != Strategy::kAuto) {
      AppendKey(&out, in, "strategy", &first);
      AppendJsonString(&out, StrategyName(n.strategy));
    }
    if (n.batch_size) {
      AppendKey(&out, in, "batch_size", &first);
      out += fmt::format("{}", *n.batch_size);
    }
    if (n.timeout_ms) {
      AppendKey(&out, in, "timeout_ms", &first);
      out += fmt::format("{}", *n.timeout_ms);
    }
    if (n.on_error != OnError::kFail) {
      AppendKey(&out, in, "on_error", &first);
      out += "\"continue\"";
    }
    out += "\n    }";
  }
  out += graph.nodes.empty() ? "],\n  \"edges\": [" : "\n  ],\n  \"edges\": [";
  for (size_t k = 0; k < graph.edges.size(); ++k) {
    const Edge& e = graph.edges[k];
    out += k == 0 ? "\n    {\n" : ",\n    {\n";
    bool first = true;
    const std::string_view in = "      ";
    AppendKey(&out, in, "source_node", &first);
    AppendJsonString(&out, e.source_node);
    AppendKey(&out, in, "target_node", &first);
    AppendJsonString(&out, e.target_node);
    AppendKey(&out, in, "input_mapping", &first);
    out += "{";
    for (size_t m = 0; m < e.mapping.size(); ++m) {
      if (m > 0) out += ", ";
      AppendJsonString(&out, e.source_node + "." + e.mapping[m].first);
      out += ": ";
      AppendJsonString(&out, e.target_node + "." + e.mapping[m].second);
    }
    out += "}\n    }";
  }
  out += graph.edges.empty() ? "]" : "\n  ]";
  if (!graph.params.empty()) {
    out += ",\n  \"params\": {";
    for (size_t p = 0; p < graph.params.size(); ++p) {
      if (p > 0) out += ", ";
      AppendJsonString(&out, graph.params[p].first);
      out += ": ";
      AppendValue(&out, graph.params[p].second);
    }
    out += "}";
  }
  if (graph.transaction != TransactionMode::kAutonomous) {
    out += ",\n  \"transaction\": ";
    AppendJsonString(&out, TransactionModeName(graph.transaction));
  }
  if (graph.timeout_ms) out += fmt::format(",\n  \"timeout_ms\": {}", *graph.timeout_ms);
  if (graph.output) {
    const OutputOptions& o = *graph.output;
    out += ",\n  \"output\": {\"shape\": ";
    AppendJsonString(&out, ShapeName(o.shape));
    out += ", \"format\": ";
    AppendJsonString(&out, FormatName(o.format));
    if (o.max_rows != 0) out += fmt::format(", \"max_rows\": {}", o.max_rows);
    if (o.max_bytes != 0) out += fmt::format(", \"max_bytes\": {}", o.max_bytes);
    if (o.pretty) out += ", \"pretty\": true";
    out += "}";
  }
  out += "\n}\n";
  return out;
}

}  // namespace qg
