// The semantic rules of QGDL (docs/design.md §3), shared by ParseGraph() and
// ValidateGraph(): pointers are computed from node and edge indices, so a
// graph built in C++ gets the same messages as the document it would be.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "graph/graph_internal.h"
#include "qg/graph.h"
#include "qg/placeholders.h"

namespace qg {
namespace graph_internal {

absl::Status IssueList::ToStatus(std::vector<GraphIssue>* out) const {
  if (out != nullptr) *out = issues_;
  if (issues_.empty()) return absl::OkStatus();
  std::string msg;
  for (const GraphIssue& issue : issues_) {
    if (!msg.empty()) msg += '\n';
    msg += issue.pointer.empty() ? "/" : issue.pointer;
    msg += ": ";
    msg += issue.message;
  }
  return absl::InvalidArgumentError(msg);
}

std::string EscapePointerToken(std::string_view token) {
  const std::string clipped = Clip(token);
  std::string out;
  out.reserve(clipped.size());
  for (char c : clipped) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string NodePtr(size_t i) { return fmt::format("/nodes/{}", i); }
std::string EdgePtr(size_t k) { return fmt::format("/edges/{}", k); }

// Non-trivial strongly connected components (Tarjan), iterative so that a
// long chain of nodes cannot exhaust the stack. Each component is sorted.
std::vector<std::vector<int>> CyclicComponents(const std::vector<std::vector<int>>& adj) {
  const int n = static_cast<int>(adj.size());
  std::vector<int> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<int> stack;
  std::vector<std::pair<int, size_t>> calls;  // (node, next successor)
  std::vector<std::vector<int>> components;
  int counter = 0;
  for (int s = 0; s < n; ++s) {
    if (index[s] != -1) continue;
    index[s] = low[s] = counter++;
    stack.push_back(s);
    on_stack[s] = true;
    calls.emplace_back(s, 0);
    while (!calls.empty()) {
      const int v = calls.back().first;
      const size_t next = calls.back().second;
      if (next < adj[v].size()) {
        calls.back().second = next + 1;
        const int w = adj[v][next];
        if (index[w] == -1) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = true;
          calls.emplace_back(w, 0);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      if (low[v] == index[v]) {
        std::vector<int> component;
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          component.push_back(w);
        } while (w != v);
        if (component.size() > 1) {
          std::sort(component.begin(), component.end());
          components.push_back(std::move(component));
        }
      }
      calls.pop_back();
      if (!calls.empty()) {
        const int parent = calls.back().first;
        low[parent] = std::min(low[parent], low[v]);
      }
    }
  }
  std::sort(components.begin(), components.end());
  return components;
}

// The shortest cycle through the component's first node, as node indices
// starting and ending with that node.
std::vector<int> CycleThrough(const std::vector<int>& component,
                              const std::vector<std::vector<int>>& adj) {
  const int start = component.front();
  absl::flat_hash_set<int> members(component.begin(), component.end());
  absl::flat_hash_map<int, int> parent;
  std::vector<int> queue = {start};
  parent[start] = -1;
  for (size_t head = 0; head < queue.size(); ++head) {
    const int u = queue[head];
    for (int w : adj[u]) {
      if (!members.contains(w)) continue;
      if (w == start) {
        std::vector<int> path;
        for (int x = u; x != -1; x = parent[x]) path.push_back(x);
        std::reverse(path.begin(), path.end());
        path.push_back(start);
        return path;
      }
      if (parent.emplace(w, u).second) queue.push_back(w);
    }
  }
  return {start, start};  // unreachable for a real component
}

}  // namespace

void CheckGraph(const Graph& graph, const ParseOptions& options, const GraphFieldStatus* status,
                IssueList* issues) {
  static const NodeFieldStatus kNodeOk;
  static const EdgeFieldStatus kEdgeOk;
  auto node_ok = [&](size_t i) -> const NodeFieldStatus& {
    return status != nullptr && i < status->nodes_status.size() ? status->nodes_status[i] : kNodeOk;
  };
  auto edge_ok = [&](size_t k) -> const EdgeFieldStatus& {
    return status != nullptr && k < status->edges_status.size() ? status->edges_status[k] : kEdgeOk;
  };
  const GraphLimits& limits = options.limits;
  const size_t n = graph.nodes.size();

  // Past a size limit nothing else is checked: the limits exist to bound the
  // work done on hostile input.
  bool too_big = false;
  if (static_cast<int64_t>(n) > limits.max_nodes) {
    issues->Add("/nodes", fmt::format("{} nodes, more than max_nodes ({})", n, limits.max_nodes));
    too_big = true;
  }
  if (static_cast<int64_t>(graph.edges.size()) > limits.max_edges) {
    issues->Add("/edges", fmt::format("{} edges, more than max_edges ({})", graph.edges.size(),
                                      limits.max_edges));
    too_big = true;
  }
  if (too_big) return;
  if (n == 0 && (status == nullptr || status->nodes)) {
    issues->Add("/nodes", "a graph needs at least one node");
  }

  // ---- nodes -------------------------------------------------------------
  absl::flat_hash_map<std::string_view, int> node_index;  // first occurrence
  bool all_ids_known = status == nullptr || status->nodes;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = graph.nodes[i];
    const NodeFieldStatus& ok = node_ok(i);
    const std::string ptr = NodePtr(i);
    if (!ok.node_id) {
      all_ids_known = false;
    } else if (node.node_id.empty()) {
      issues->Add(ptr + "/node_id", "node_id is empty");
    } else {
      if (node.node_id.find('.') != std::string::npos) {
        // Mapping keys are "node.field": a dotted id would be ambiguous.
        issues->Add(ptr + "/node_id",
                    fmt::format("node_id \"{}\" must not contain '.'", Clip(node.node_id)));
      }
      auto [it, inserted] = node_index.emplace(node.node_id, static_cast<int>(i));
      if (!inserted) {
        issues->Add(ptr + "/node_id", fmt::format("duplicate node_id \"{}\" (first at {})",
                                                  Clip(node.node_id), NodePtr(it->second)));
      }
    }
    if (ok.database_id) {
      if (node.database_id.empty()) {
        issues->Add(ptr + "/database_id", "database_id is empty");
      } else if (options.known_sources && !options.known_sources->contains(node.database_id)) {
        issues->Add(ptr + "/database_id",
                    fmt::format("unknown database_id \"{}\"", Clip(node.database_id)));
      }
    }
    if (ok.input_parameters) {
      absl::flat_hash_set<std::string_view> seen;
      for (size_t j = 0; j < node.input_parameters.size(); ++j) {
        const std::string& p = node.input_parameters[j];
        const std::string pp = fmt::format("{}/input_parameters/{}", ptr, j);
        if (p.empty()) {
          issues->Add(pp, "parameter name is empty");
        } else if (!seen.insert(p).second) {
          issues->Add(pp, fmt::format("duplicate parameter \"{}\"", Clip(p)));
        }
      }
    }
    if (ok.output_fields) {
      absl::flat_hash_set<std::string_view> seen;
      for (size_t j = 0; j < node.output_fields.size(); ++j) {
        const std::string& f = node.output_fields[j];
        const std::string fp = fmt::format("{}/output_fields/{}", ptr, j);
        if (f.empty()) {
          issues->Add(fp, "output field name is empty");
        } else if (!seen.insert(f).second) {
          issues->Add(fp, fmt::format("duplicate output field \"{}\"", Clip(f)));
        }
      }
    }
    if (!ok.query_string) continue;
    const std::string qp = ptr + "/query_string";
    if (node.query_string.empty()) {
      issues->Add(qp, "query_string is empty");
      continue;
    }
    if (static_cast<int64_t>(node.query_string.size()) > limits.max_query_length) {
      issues->Add(qp, fmt::format("query_string is {} bytes, more than max_query_length ({})",
                                  node.query_string.size(), limits.max_query_length));
      continue;
    }
    // SQLite (and every C driver) reads statement text up to a NUL: the rest
    // would be dropped without a word, past the one-statement check.
    if (const size_t nul = node.query_string.find('\0'); nul != std::string::npos) {
      issues->Add(qp, fmt::format("query_string contains a NUL byte (at byte {})", nul));
      continue;
    }
    if (!ok.input_parameters) continue;
    absl::StatusOr<std::vector<std::string>> used;
    if (options.placeholders_of) {
      used = options.placeholders_of(node);
    } else {
      absl::StatusOr<ParsedSql> parsed = ParseSql(node.query_string);
      if (parsed.ok()) {
        used = parsed->Names();
      } else {
        used = parsed.status();
      }
    }
    if (!used.ok()) {
      const absl::string_view message = used.status().message();
      issues->Add(qp, Clip(std::string_view(message.data(), message.size()), 4 * kMaxQuotedBytes));
      continue;
    }
    const absl::flat_hash_set<std::string_view> declared(node.input_parameters.begin(),
                                                         node.input_parameters.end());
    absl::flat_hash_set<std::string_view> used_set;
    for (const std::string& name : *used) {
      if (!used_set.insert(name).second) continue;
      if (!declared.contains(name)) {
        issues->Add(
            qp, fmt::format("placeholder \":{}\" is not declared in input_parameters", Clip(name)));
      }
    }
    absl::flat_hash_set<std::string_view> reported;
    for (size_t j = 0; j < node.input_parameters.size(); ++j) {
      const std::string& p = node.input_parameters[j];
      if (p.empty() || used_set.contains(p) || !reported.insert(p).second) continue;
      issues->Add(fmt::format("{}/input_parameters/{}", ptr, j),
                  fmt::format("parameter \"{}\" is never used in query_string", Clip(p)));
    }
  }

  // ---- edges -------------------------------------------------------------
  auto find = [&](const std::string& id) -> int {
    auto it = node_index.find(id);
    return it == node_index.end() ? -1 : it->second;
  };
  // (target node, parameter) -> (source node, field, edge) that feeds it.
  std::map<std::pair<int, std::string>, std::tuple<int, std::string, size_t>> fed;
  // Nodes whose incoming mappings may be incomplete (already reported), and
  // whether any edge's target is unknowable: "no source" is not checked there.
  std::set<int> unsure_targets;
  bool any_target_unknown = false;
  std::vector<std::vector<int>> adj(n);
  // Per node, its output fields / input parameters as sets, built on first
  // use: a mapping check is O(1), not a scan (docs/design.md §11).
  std::vector<std::optional<absl::flat_hash_set<std::string_view>>> out_sets(n), in_sets(n);
  auto as_set = [](std::optional<absl::flat_hash_set<std::string_view>>& slot,
                   const std::vector<std::string>& names)
      -> const absl::flat_hash_set<std::string_view>& {
    if (!slot.has_value()) slot.emplace(names.begin(), names.end());
    return *slot;
  };
  for (size_t k = 0; k < graph.edges.size(); ++k) {
    const Edge& edge = graph.edges[k];
    const EdgeFieldStatus& ok = edge_ok(k);
    const std::string ptr = EdgePtr(k);
    int src = -1, tgt = -1;
    if (ok.source_node) {
      src = find(edge.source_node);
      if (src < 0 && all_ids_known) {
        issues->Add(ptr + "/source_node",
                    fmt::format("unknown node \"{}\"", Clip(edge.source_node)));
      }
    }
    if (ok.target_node) {
      tgt = find(edge.target_node);
      if (tgt < 0 && all_ids_known) {
        issues->Add(ptr + "/target_node",
                    fmt::format("unknown node \"{}\"", Clip(edge.target_node)));
      }
    }
    if (tgt < 0) any_target_unknown = true;
    if (tgt >= 0 && !ok.input_mapping) unsure_targets.insert(tgt);
    if (src >= 0 && tgt >= 0) {
      if (src == tgt) {
        issues->Add(
            ptr, fmt::format("self-edge: node \"{}\" cannot feed itself", Clip(edge.source_node)));
      } else {
        adj[src].push_back(tgt);
      }
    }
    const std::string mp = ptr + "/input_mapping";
    for (const auto& [field, param] : edge.mapping) {
      if (src >= 0 && node_ok(src).output_fields) {
        if (!as_set(out_sets[src], graph.nodes[src].output_fields).contains(field)) {
          issues->Add(mp, fmt::format("\"{}.{}\" is not an output field of node \"{}\"",
                                      Clip(edge.source_node), Clip(field), Clip(edge.source_node)));
        }
      }
      if (tgt < 0) continue;
      if (node_ok(tgt).input_parameters) {
        if (!as_set(in_sets[tgt], graph.nodes[tgt].input_parameters).contains(param)) {
          issues->Add(mp, fmt::format("\"{}.{}\" is not an input parameter of node \"{}\"",
                                      Clip(edge.target_node), Clip(param), Clip(edge.target_node)));
        }
      }
      auto [it, inserted] = fed.emplace(std::make_pair(tgt, param), std::make_tuple(src, field, k));
      const auto& [prev_src, prev_field, prev_edge] = it->second;
      if (!inserted && (prev_src != src || prev_field != field)) {
        const std::string prev_node =
            prev_src >= 0 ? graph.nodes[prev_src].node_id : graph.edges[prev_edge].source_node;
        issues->Add(
            mp, fmt::format("parameter \"{}.{}\" is fed by both \"{}.{}\" ({}) and \"{}.{}\"",
                            Clip(edge.target_node), Clip(param), Clip(prev_node), Clip(prev_field),
                            EdgePtr(prev_edge) + "/input_mapping", Clip(edge.source_node),
                            Clip(field)));
      }
    }
  }
  for (const std::vector<int>& component : CyclicComponents(adj)) {
    std::string text = "cycle: ";
    const std::vector<int> cycle = CycleThrough(component, adj);
    for (size_t c = 0; c < cycle.size(); ++c) {
      if (c > 0) text += " -> ";
      text += Clip(graph.nodes[cycle[c]].node_id);
    }
    issues->Add("/edges", std::move(text));
  }

  // ---- parameters with no source -----------------------------------------
  if (!options.provided_params || any_target_unknown ||
      (status != nullptr && (!status->params || !status->edges))) {
    return;
  }
  absl::flat_hash_set<std::string_view> graph_params;
  for (const auto& [name, value] : graph.params) graph_params.insert(name);
  for (size_t i = 0; i < n; ++i) {
    if (!node_ok(i).input_parameters || unsure_targets.contains(static_cast<int>(i))) continue;
    const Node& node = graph.nodes[i];
    // A duplicate id is already an error, and edges only reach the first.
    if (find(node.node_id) != static_cast<int>(i)) continue;
    absl::flat_hash_set<std::string_view> reported;
    for (size_t j = 0; j < node.input_parameters.size(); ++j) {
      const std::string& p = node.input_parameters[j];
      if (p.empty() || !reported.insert(p).second) continue;
      if (fed.contains(std::make_pair(static_cast<int>(i), p)) || graph_params.contains(p) ||
          options.provided_params->contains(p)) {
        continue;
      }
      issues->Add(fmt::format("{}/input_parameters/{}", NodePtr(i), j),
                  fmt::format("parameter \"{}\" of node \"{}\" has no source (no edge, no graph "
                              "param, not provided)",
                              Clip(p), Clip(node.node_id)));
    }
  }
}

}  // namespace graph_internal

absl::Status ValidateGraph(const Graph& graph, const ParseOptions& options,
                           std::vector<GraphIssue>* issues) {
  graph_internal::IssueList list;
  graph_internal::CheckGraph(graph, options, nullptr, &list);
  return list.ToStatus(issues);
}

}  // namespace qg
