// ParseGraph(): QGDL JSON -> Graph. Reports structural problems (syntax,
// types, unknown, duplicate and missing keys, mapping key syntax) with the
// pointer of the offending value, keeps going so every problem is found in
// one pass, then applies the semantic rules shared with ValidateGraph().
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "graph/graph_internal.h"
#include "qg/graph.h"
#include "simdjson.h"

namespace qg {
namespace {

using graph_internal::EdgeFieldStatus;
using graph_internal::EscapePointerToken;
using graph_internal::GraphFieldStatus;
using graph_internal::IssueList;
using graph_internal::NodeFieldStatus;
using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view KindName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// Copies out of the simdjson_result temporaries (a range-for over
// `get_object().value_unsafe()` would iterate a dangling reference). Only
// called once the type has been checked.
simdjson::dom::object AsObject(element e) {
  simdjson::dom::object obj;
  const simdjson::error_code err = e.get_object().get(obj);
  (void)err;
  return obj;
}
simdjson::dom::array AsArray(element e) {
  simdjson::dom::array arr;
  const simdjson::error_code err = e.get_array().get(arr);
  (void)err;
  return arr;
}

std::string Join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// "node.field" -> ("node", "field"); false unless both parts are non-empty.
// Node ids cannot contain '.', so the first dot is the separator.
bool SplitQualified(std::string_view s, std::string_view* node, std::string_view* rest) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size()) return false;
  *node = s.substr(0, dot);
  *rest = s.substr(dot + 1);
  return true;
}

constexpr std::string_view kByteOrderMarkMessage =
    "the document starts with a UTF-8 byte-order mark (EF BB BF); save it without one";

constexpr std::array<std::string_view, 6> kTopKeys = {"nodes",       "edges",      "params",
                                                      "transaction", "timeout_ms", "output"};
constexpr std::array<std::string_view, 1> kTopRequired = {"nodes"};
constexpr std::array<std::string_view, 10> kNodeKeys = {
    "node_id", "database_id", "query_string", "input_parameters", "output_fields",
    "mode",    "strategy",    "batch_size",   "timeout_ms",       "on_error"};
constexpr std::array<std::string_view, 3> kNodeRequired = {"node_id", "database_id",
                                                           "query_string"};
constexpr std::array<std::string_view, 3> kEdgeKeys = {"source_node", "target_node",
                                                       "input_mapping"};
constexpr std::array<std::string_view, 2> kEdgeRequired = {"source_node", "target_node"};
constexpr std::array<std::string_view, 5> kOutputKeys = {"shape", "format", "max_rows", "max_bytes",
                                                         "pretty"};

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};
constexpr std::array<EnumName<TransactionMode>, 3> kTransactions = {{
    {"autonomous", TransactionMode::kAutonomous},
    {"common", TransactionMode::kCommon},
    {"2pc", TransactionMode::kTwoPhase},
}};
constexpr std::array<EnumName<NodeMode>, 2> kModes = {{
    {"read", NodeMode::kRead},
    {"write", NodeMode::kWrite},
}};
constexpr std::array<EnumName<Strategy>, 4> kStrategies = {{
    {"auto", Strategy::kAuto},
    {"batched", Strategy::kBatched},
    {"per_binding", Strategy::kPerBinding},
    {"fetch_once", Strategy::kFetchOnce},
}};
constexpr std::array<EnumName<OnError>, 2> kOnErrors = {{
    {"fail", OnError::kFail},
    {"continue", OnError::kContinue},
}};
// The graph module keeps its own names for shapes and formats (the result
// module's ParseShape/ParseFormat are not linked into it); GraphToJson uses
// the same spellings.
constexpr std::array<EnumName<Shape>, 3> kShapes = {{
    {"nodes", Shape::kNodes},
    {"joined", Shape::kJoined},
    {"nested", Shape::kNested},
}};
constexpr std::array<EnumName<Format>, 3> kFormats = {{
    {"json", Format::kJson},
    {"ndjson", Format::kNdjson},
    {"csv", Format::kCsv},
}};

class Parser {
 public:
  Parser(const ParseOptions& options, IssueList* issues) : options_(options), issues_(issues) {}

  void ParseRoot(element root, Graph* graph, GraphFieldStatus* status) {
    bool have_nodes = false;
    const bool is_object =
        ForEachField(root, "", kTopKeys, kTopRequired,
                     [&](std::string_view key, element value, const std::string& ptr) {
                       if (key == "nodes") {
                         have_nodes = ParseNodes(value, ptr, graph, status);
                       } else if (key == "edges") {
                         status->edges = ParseEdges(value, ptr, graph, status);
                       } else if (key == "params") {
                         status->params = ParseParams(value, ptr, &graph->params);
                       } else if (key == "transaction") {
                         ParseEnum(value, ptr, kTransactions, &graph->transaction);
                       } else if (key == "timeout_ms") {
                         int64_t v;
                         if (ParseInt(value, ptr, 1, &v)) graph->timeout_ms = v;
                       } else if (key == "output") {
                         OutputOptions out;
                         ParseOutput(value, ptr, &out);
                         graph->output = out;
                       }
                     });
    status->nodes = is_object && have_nodes;
  }

 private:
  void Add(const std::string& ptr, std::string message) { issues_->Add(ptr, std::move(message)); }

  bool ExpectType(element e, const std::string& ptr, element_type want, std::string_view what) {
    if (e.type() == want) return true;
    Add(ptr, fmt::format("expected {}, got {}", what, KindName(e.type())));
    return false;
  }

  // Calls on_field(key, value, pointer) for each allowed key; reports
  // duplicate keys (simdjson's DOM keeps them), unknown keys and missing
  // required keys. False when `e` is not an object.
  template <typename F>
  bool ForEachField(element e, const std::string& ptr, std::span<const std::string_view> allowed,
                    std::span<const std::string_view> required, F&& on_field) {
    if (!ExpectType(e, ptr, element_type::OBJECT, "an object")) return false;
    absl::flat_hash_set<std::string_view> seen;
    for (simdjson::dom::key_value_pair field : AsObject(e)) {
      const std::string field_ptr = ptr + "/" + EscapePointerToken(field.key);
      if (std::find(allowed.begin(), allowed.end(), field.key) == allowed.end()) {
        Add(field_ptr, fmt::format("unknown key \"{}\" (expected one of: {})", Clip(field.key),
                                   Join(allowed)));
        continue;
      }
      if (!seen.insert(field.key).second) {
        Add(field_ptr, fmt::format("duplicate key \"{}\"", Clip(field.key)));
        continue;
      }
      on_field(field.key, field.value, field_ptr);
    }
    for (std::string_view key : required) {
      if (!seen.contains(key)) Add(ptr, fmt::format("missing required key \"{}\"", key));
    }
    return true;
  }

  bool ParseString(element e, const std::string& ptr, std::string* out) {
    if (!ExpectType(e, ptr, element_type::STRING, "a string")) return false;
    *out = std::string(e.get_string().value_unsafe());
    return true;
  }

  bool ParseStringList(element e, const std::string& ptr, std::vector<std::string>* out) {
    if (!ExpectType(e, ptr, element_type::ARRAY, "an array of strings")) return false;
    bool ok = true;
    size_t i = 0;
    for (element item : AsArray(e)) {
      std::string s;
      if (ParseString(item, fmt::format("{}/{}", ptr, i), &s)) {
        out->push_back(std::move(s));
      } else {
        ok = false;
      }
      ++i;
    }
    return ok;
  }

  // An integer >= min (min is 0 or 1).
  bool ParseInt(element e, const std::string& ptr, int64_t min, int64_t* out) {
    const std::string_view want = min > 0 ? "a positive integer" : "a non-negative integer";
    switch (e.type()) {
      case element_type::INT64: {
        const int64_t v = e.get_int64().value_unsafe();
        if (v < min) {
          Add(ptr, fmt::format("expected {}, got {}", want, v));
          return false;
        }
        *out = v;
        return true;
      }
      case element_type::UINT64:
        Add(ptr, fmt::format("{} is too large (at most {})", e.get_uint64().value_unsafe(),
                             std::numeric_limits<int64_t>::max()));
        return false;
      case element_type::DOUBLE:
        Add(ptr, fmt::format("expected {}, got {}", want, e.get_double().value_unsafe()));
        return false;
      default:
        Add(ptr, fmt::format("expected {}, got {}", want, KindName(e.type())));
        return false;
    }
  }

  bool ParseBool(element e, const std::string& ptr, bool* out) {
    if (!ExpectType(e, ptr, element_type::BOOL, "a boolean")) return false;
    *out = e.get_bool().value_unsafe();
    return true;
  }

  template <typename E, size_t N>
  bool ParseEnum(element e, const std::string& ptr, const std::array<EnumName<E>, N>& names,
                 E* out) {
    if (!ExpectType(e, ptr, element_type::STRING, "a string")) return false;
    const std::string_view s = e.get_string().value_unsafe();
    std::string allowed;
    for (const EnumName<E>& n : names) {
      if (n.name == s) {
        *out = n.value;
        return true;
      }
      if (!allowed.empty()) allowed += ", ";
      allowed += n.name;
    }
    Add(ptr, fmt::format("\"{}\" is not one of: {}", Clip(s), allowed));
    return false;
  }

  bool ParseNodes(element e, const std::string& ptr, Graph* graph, GraphFieldStatus* status) {
    if (!ExpectType(e, ptr, element_type::ARRAY, "an array of nodes")) return false;
    simdjson::dom::array arr = AsArray(e);
    if (static_cast<int64_t>(arr.size()) > options_.limits.max_nodes) {
      // Not even looked at: the limit bounds the work done on hostile input.
      Add(ptr,
          fmt::format("{} nodes, more than max_nodes ({})", arr.size(), options_.limits.max_nodes));
      return false;
    }
    size_t i = 0;
    for (element item : arr) {
      Node& node = graph->nodes.emplace_back();
      NodeFieldStatus& st = status->nodes_status.emplace_back();
      ParseNode(item, fmt::format("{}/{}", ptr, i++), &node, &st);
    }
    return true;
  }

  void ParseNode(element e, const std::string& ptr, Node* node, NodeFieldStatus* st) {
    NodeFieldStatus seen{false, false, false, true, true};
    const bool is_object = ForEachField(
        e, ptr, kNodeKeys, kNodeRequired,
        [&](std::string_view key, element value, const std::string& vptr) {
          if (key == "node_id") {
            seen.node_id = ParseString(value, vptr, &node->node_id);
          } else if (key == "database_id") {
            seen.database_id = ParseString(value, vptr, &node->database_id);
          } else if (key == "query_string") {
            seen.query_string = ParseString(value, vptr, &node->query_string);
          } else if (key == "input_parameters") {
            seen.input_parameters = ParseStringList(value, vptr, &node->input_parameters);
          } else if (key == "output_fields") {
            seen.output_fields = ParseStringList(value, vptr, &node->output_fields);
          } else if (key == "mode") {
            ParseEnum(value, vptr, kModes, &node->mode);
          } else if (key == "strategy") {
            ParseEnum(value, vptr, kStrategies, &node->strategy);
          } else if (key == "batch_size") {
            int64_t v;
            if (ParseInt(value, vptr, 1, &v)) node->batch_size = v;
          } else if (key == "timeout_ms") {
            int64_t v;
            if (ParseInt(value, vptr, 1, &v)) node->timeout_ms = v;
          } else if (key == "on_error") {
            ParseEnum(value, vptr, kOnErrors, &node->on_error);
          }
        });
    *st = is_object ? seen : NodeFieldStatus{false, false, false, false, false};
  }

  bool ParseEdges(element e, const std::string& ptr, Graph* graph, GraphFieldStatus* status) {
    if (!ExpectType(e, ptr, element_type::ARRAY, "an array of edges")) return false;
    simdjson::dom::array arr = AsArray(e);
    if (static_cast<int64_t>(arr.size()) > options_.limits.max_edges) {
      Add(ptr,
          fmt::format("{} edges, more than max_edges ({})", arr.size(), options_.limits.max_edges));
      return false;
    }
    size_t k = 0;
    for (element item : arr) {
      Edge& edge = graph->edges.emplace_back();
      EdgeFieldStatus& st = status->edges_status.emplace_back();
      ParseEdge(item, fmt::format("{}/{}", ptr, k++), &edge, &st);
    }
    return true;
  }

  void ParseEdge(element e, const std::string& ptr, Edge* edge, EdgeFieldStatus* st) {
    EdgeFieldStatus seen{false, false, true};
    std::optional<element> mapping;
    std::string mapping_ptr;
    const bool is_object =
        ForEachField(e, ptr, kEdgeKeys, kEdgeRequired,
                     [&](std::string_view key, element value, const std::string& vptr) {
                       if (key == "source_node") {
                         seen.source_node = ParseString(value, vptr, &edge->source_node);
                       } else if (key == "target_node") {
                         seen.target_node = ParseString(value, vptr, &edge->target_node);
                       } else if (key == "input_mapping") {
                         // Checked once both ends are known, wherever they appear.
                         mapping = value;
                         mapping_ptr = vptr;
                       }
                     });
    if (!is_object) {
      *st = EdgeFieldStatus{false, false, false};
      return;
    }
    if (mapping) {
      seen.input_mapping =
          ParseMapping(*mapping, mapping_ptr, seen.source_node ? &edge->source_node : nullptr,
                       seen.target_node ? &edge->target_node : nullptr, &edge->mapping);
    }
    *st = seen;
  }

  // {"src.field": "dst.param", ...}; `source`/`target` are null when the
  // edge's own ends are broken (then the prefixes cannot be compared).
  bool ParseMapping(element e, const std::string& ptr, const std::string* source,
                    const std::string* target,
                    std::vector<std::pair<std::string, std::string>>* out) {
    if (!ExpectType(e, ptr, element_type::OBJECT, "an object")) return false;
    bool ok = true;
    absl::flat_hash_set<std::string_view> seen;
    for (simdjson::dom::key_value_pair entry : AsObject(e)) {
      const std::string entry_ptr = ptr + "/" + EscapePointerToken(entry.key);
      if (!seen.insert(entry.key).second) {
        Add(entry_ptr, fmt::format("duplicate key \"{}\"", Clip(entry.key)));
        ok = false;
        continue;
      }
      std::string value;
      if (!ParseString(entry.value, entry_ptr, &value)) {
        ok = false;
        continue;
      }
      std::string_view src_node, field, dst_node, param;
      bool entry_ok = true;
      if (!SplitQualified(entry.key, &src_node, &field)) {
        Add(ptr, fmt::format("key \"{}\" is not of the form \"node.field\"", Clip(entry.key)));
        entry_ok = false;
      } else if (source != nullptr && src_node != *source) {
        Add(ptr, fmt::format("key \"{}\" names node \"{}\", not the edge's source_node \"{}\"",
                             Clip(entry.key), Clip(src_node), Clip(*source)));
        entry_ok = false;
      }
      if (!SplitQualified(value, &dst_node, &param)) {
        Add(ptr, fmt::format("value \"{}\" is not of the form \"node.parameter\"", Clip(value)));
        entry_ok = false;
      } else if (target != nullptr && dst_node != *target) {
        Add(ptr, fmt::format("value \"{}\" names node \"{}\", not the edge's target_node \"{}\"",
                             Clip(value), Clip(dst_node), Clip(*target)));
        entry_ok = false;
      }
      if (!entry_ok) {
        ok = false;
        continue;
      }
      out->emplace_back(std::string(field), std::string(param));
    }
    return ok;
  }

  bool ParseParams(element e, const std::string& ptr, ParamList* out) {
    if (!ExpectType(e, ptr, element_type::OBJECT, "an object")) return false;
    bool ok = true;
    absl::flat_hash_set<std::string_view> seen;
    for (simdjson::dom::key_value_pair field : AsObject(e)) {
      if (!seen.insert(field.key).second) {
        Add(ptr + "/" + EscapePointerToken(field.key),
            fmt::format("duplicate key \"{}\"", Clip(field.key)));
        ok = false;
        continue;
      }
      out->emplace_back(std::string(field.key), ToValue(field.value));
    }
    return ok;
  }

  static Value ToValue(element e) {
    switch (e.type()) {
      case element_type::STRING:
        return Value::String(std::string(e.get_string().value_unsafe()));
      case element_type::INT64:
        return Value::Int(e.get_int64().value_unsafe());
      case element_type::UINT64:  // an integer past int64: "other numbers"
      case element_type::DOUBLE:
        return Value::Double(e.get_double().value_unsafe());
      case element_type::BOOL:
        return Value::Bool(e.get_bool().value_unsafe());
      case element_type::NULL_VALUE:
        return Value::Null();
      case element_type::ARRAY:
      case element_type::OBJECT:
        return Value::Json(simdjson::minify(e));
    }
    return Value::Null();
  }

  void ParseOutput(element e, const std::string& ptr, OutputOptions* out) {
    ForEachField(e, ptr, kOutputKeys, {},
                 [&](std::string_view key, element value, const std::string& vptr) {
                   int64_t v;
                   if (key == "shape") {
                     ParseEnum(value, vptr, kShapes, &out->shape);
                   } else if (key == "format") {
                     ParseEnum(value, vptr, kFormats, &out->format);
                   } else if (key == "max_rows") {
                     if (ParseInt(value, vptr, 0, &v)) out->max_rows = static_cast<uint64_t>(v);
                   } else if (key == "max_bytes") {
                     if (ParseInt(value, vptr, 0, &v)) out->max_bytes = static_cast<uint64_t>(v);
                   } else if (key == "pretty") {
                     ParseBool(value, vptr, &out->pretty);
                   }
                 });
  }

  const ParseOptions& options_;
  IssueList* issues_;
};

}  // namespace

absl::StatusOr<Graph> ParseGraph(std::string_view json, const ParseOptions& options,
                                 std::vector<GraphIssue>* issues) {
  IssueList list;
  const GraphLimits& limits = options.limits;
  if (static_cast<int64_t>(json.size()) > limits.max_document_bytes) {
    list.Add("", fmt::format("document is {} bytes, more than max_document_bytes ({})", json.size(),
                             limits.max_document_bytes));
    return list.ToStatus(issues);
  }
  // A byte-order mark is named rather than reported as malformed JSON
  // (RFC 8259 forbids one; an editor may add it silently).
  if (json.starts_with("\xEF\xBB\xBF")) {
    list.Add("", std::string(kByteOrderMarkMessage));
    return list.ToStatus(issues);
  }
  // simdjson counts the document itself as one level; max_depth counts
  // nested arrays and objects, so the seed (object > array > object > array)
  // is depth 4. The parser refuses deeper input itself, without recursion.
  const int64_t depth = std::clamp<int64_t>(limits.max_depth, 1, 1 << 16) + 1;
  simdjson::dom::parser parser;
  if (auto err = parser.allocate(std::max<size_t>(json.size(), 64), static_cast<size_t>(depth))) {
    list.Add("", fmt::format("cannot allocate the JSON parser: {}", simdjson::error_message(err)));
    return list.ToStatus(issues);
  }
  element root;
  if (auto err = parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(root)) {
    if (err == simdjson::DEPTH_ERROR) {
      list.Add("", fmt::format("JSON nesting is deeper than max_depth ({})", limits.max_depth));
    } else {
      list.Add("", fmt::format("malformed JSON: {}", simdjson::error_message(err)));
    }
    return list.ToStatus(issues);
  }
  Graph graph;
  GraphFieldStatus status;
  Parser(options, &list).ParseRoot(root, &graph, &status);
  graph_internal::CheckGraph(graph, options, &status, &list);
  if (!list.empty()) return list.ToStatus(issues);
  if (issues != nullptr) issues->clear();
  return graph;
}

}  // namespace qg
