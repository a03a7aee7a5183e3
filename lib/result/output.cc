#include "qg/output.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/json_writer.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "qg/result.h"

namespace qg {

absl::StatusOr<Shape> ParseShape(std::string_view s) {
  if (s == "nodes") return Shape::kNodes;
  if (s == "joined") return Shape::kJoined;
  if (s == "nested") return Shape::kNested;
  return absl::InvalidArgumentError(
      fmt::format("unknown output shape \"{}\" (expected nodes, joined or nested)", s));
}

absl::StatusOr<Format> ParseFormat(std::string_view s) {
  if (s == "json") return Format::kJson;
  if (s == "ndjson") return Format::kNdjson;
  if (s == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(
      fmt::format("unknown output format \"{}\" (expected json, ndjson or csv)", s));
}

namespace {

const Value& NullValue() {
  static const Value* v = new Value();
  return *v;
}

// ---- the model: nodes in graph order and the mapping links between them ----

struct NodeView {
  std::string id;
  const NodeResult* result = nullptr;  // null: the node has no result
  std::vector<std::string> names;      // column names
  size_t rows = 0;                     // rows it contributes (0 unless ok)

  const Value& Cell(size_t col, size_t row) const {
    if (result == nullptr || col >= result->columns.size()) return NullValue();
    const std::vector<Value>& vals = result->columns[col].values;
    return row < vals.size() ? vals[row] : NullValue();
  }
  // The value of binding parameter `k` for `row`, or null when unknown.
  const Value& Binding(int k, size_t row) const {
    if (result == nullptr || k < 0 || row >= result->row_binding.size()) return NullValue();
    uint32_t b = result->row_binding[row];
    if (b >= result->bindings.size()) return NullValue();
    const std::vector<Value>& vals = result->bindings[b];
    return static_cast<size_t>(k) < vals.size() ? vals[k] : NullValue();
  }
};

using Key = std::vector<Value>;
using RowIndex = absl::flat_hash_map<Key, std::vector<uint32_t>, ValueRowKeyHash, ValueRowKeyEqual>;

// All mapping edges from `parent` to `child`, merged: child row c matches
// parent row p when, for every pair j, the child's binding value of
// child_params[j] equals p's value of parent_cols[j].
struct Link {
  int parent = -1;
  int child = -1;
  std::vector<int> parent_cols;   // -1: field not among the parent's columns
  std::vector<int> child_params;  // -1: parameter not among the child's binding_params
  bool usable = true;             // every index resolved; else nothing matches
  // Built lazily.
  bool child_index_built = false;
  RowIndex child_index;  // child binding key -> child rows
  bool parent_index_built = false;
  RowIndex parent_index;  // parent column key -> parent rows
};

class Model {
 public:
  explicit Model(const GraphResult& r) {
    absl::flat_hash_map<std::string_view, size_t> result_of;
    for (size_t i = 0; i < r.nodes.size(); ++i) result_of.emplace(r.nodes[i].node_id, i);
    absl::flat_hash_map<std::string_view, int> view_of;
    std::vector<bool> used(r.nodes.size(), false);
    auto add = [&](std::string_view id, const NodeResult* res, const Node* node) {
      if (view_of.contains(id)) return;
      NodeView v;
      v.id = std::string(id);
      v.result = res;
      if (res != nullptr && !res->columns.empty()) {
        for (const Column& c : res->columns) v.names.push_back(c.name);
      } else if (node != nullptr) {
        v.names = node->output_fields;
      }
      v.rows = (res != nullptr && res->status == NodeStatus::kOk) ? res->num_rows : 0;
      view_of.emplace(id, static_cast<int>(views.size()));
      views.push_back(std::move(v));
    };
    for (const Node& n : r.graph.nodes) {
      auto it = result_of.find(n.node_id);
      const NodeResult* res = nullptr;
      if (it != result_of.end()) {
        res = &r.nodes[it->second];
        used[it->second] = true;
      }
      add(n.node_id, res, &n);
    }
    for (size_t i = 0; i < r.nodes.size(); ++i) {
      if (!used[i]) add(r.nodes[i].node_id, &r.nodes[i], nullptr);
    }
    // Stable addresses: views is complete; keys may now point into it.
    for (const Edge& e : r.graph.edges) {
      if (e.mapping.empty()) continue;  // ordering only: does not join
      auto p = view_of.find(e.source_node), c = view_of.find(e.target_node);
      if (p == view_of.end() || c == view_of.end() || p->second == c->second) continue;
      Link* link = nullptr;
      for (Link& l : links) {
        if (l.parent == p->second && l.child == c->second) link = &l;
      }
      if (link == nullptr) {
        links.emplace_back();
        link = &links.back();
        link->parent = p->second;
        link->child = c->second;
      }
      const NodeView& pv = views[link->parent];
      const NodeView& cv = views[link->child];
      for (const auto& [field, param] : e.mapping) {
        int col = pv.result ? pv.result->FindColumn(field) : -1;
        int k = -1;
        if (cv.result != nullptr) {
          const auto& bp = cv.result->binding_params;
          auto it = std::find(bp.begin(), bp.end(), param);
          if (it != bp.end()) k = static_cast<int>(it - bp.begin());
        }
        if (col < 0 || k < 0) link->usable = false;
        link->parent_cols.push_back(col);
        link->child_params.push_back(k);
      }
    }
  }

  // Key of a parent row for `link` (false: a null or unknown value, no match).
  bool ParentKey(const Link& l, size_t row, Key* key) const {
    key->clear();
    if (!l.usable) return false;
    for (int col : l.parent_cols) {
      const Value& v = views[l.parent].Cell(static_cast<size_t>(col), row);
      if (v.is_null()) return false;
      key->push_back(v);
    }
    return true;
  }
  bool ChildKey(const Link& l, size_t row, Key* key) const {
    key->clear();
    if (!l.usable) return false;
    for (int k : l.child_params) {
      const Value& v = views[l.child].Binding(k, row);
      if (v.is_null()) return false;
      key->push_back(v);
    }
    return true;
  }

  // Child rows matching parent row `prow` (null when none).
  const std::vector<uint32_t>* ChildrenOf(Link& l, size_t prow) {
    if (!l.child_index_built) {
      l.child_index_built = true;
      Key key;
      for (size_t r = 0; r < views[l.child].rows; ++r) {
        if (ChildKey(l, r, &key)) l.child_index[key].push_back(static_cast<uint32_t>(r));
      }
    }
    Key key;
    if (!ParentKey(l, prow, &key)) return nullptr;
    auto it = l.child_index.find(key);
    return it == l.child_index.end() ? nullptr : &it->second;
  }
  // Parent rows matching child row `crow`.
  const std::vector<uint32_t>* ParentsOf(Link& l, size_t crow) {
    if (!l.parent_index_built) {
      l.parent_index_built = true;
      Key key;
      for (size_t r = 0; r < views[l.parent].rows; ++r) {
        if (ParentKey(l, r, &key)) l.parent_index[key].push_back(static_cast<uint32_t>(r));
      }
    }
    Key key;
    if (!ChildKey(l, crow, &key)) return nullptr;
    auto it = l.parent_index.find(key);
    return it == l.parent_index.end() ? nullptr : &it->second;
  }
  bool Matches(const Link& l, size_t prow, size_t crow) const {
    if (!l.usable) return false;
    ValueKeyEqual eq;
    for (size_t j = 0; j < l.parent_cols.size(); ++j) {
      if (!eq(views[l.parent].Cell(static_cast<size_t>(l.parent_cols[j]), prow),
              views[l.child].Binding(l.child_params[j], crow)))
        return false;
    }
    return true;
  }

  std::vector<NodeView> views;
  std::vector<Link> links;
};

// ---- the buffered, limited output ------------------------------------------

class Emitter {
 public:
  Emitter(const OutputOptions& options, const OutputSink& sink) : options_(options), sink_(sink) {}

  std::string* buf() { return &buf_; }

  // Call before writing each row.
  absl::Status Row() {
    if (options_.max_rows != 0 && ++rows_ > options_.max_rows) {
      return absl::ResourceExhaustedError(
          fmt::format("result exceeds max_rows={}", options_.max_rows));
    }
    return absl::OkStatus();
  }
  // Call after each row: enforces max_bytes, then hands full chunks over.
  absl::Status Check() {
    QG_RETURN_IF_ERROR(CheckBytes());
    if (buf_.size() < kOutputChunkBytes) return absl::OkStatus();
    size_t off = 0;
    while (buf_.size() - off >= kOutputChunkBytes) {
      QG_RETURN_IF_ERROR(Emit(std::string_view(buf_).substr(off, kOutputChunkBytes)));
      off += kOutputChunkBytes;
    }
    buf_.erase(0, off);
    return absl::OkStatus();
  }
  absl::Status Finish() {
    QG_RETURN_IF_ERROR(Check());
    if (!buf_.empty()) QG_RETURN_IF_ERROR(Emit(buf_));
    buf_.clear();
    return absl::OkStatus();
  }

 private:
  absl::Status CheckBytes() {
    if (options_.max_bytes != 0 && flushed_ + buf_.size() > options_.max_bytes) {
      return absl::ResourceExhaustedError(
          fmt::format("result exceeds max_bytes={}", options_.max_bytes));
    }
    return absl::OkStatus();
  }
  absl::Status Emit(std::string_view chunk) {
    flushed_ += chunk.size();
    return sink_(chunk);
  }

  const OutputOptions& options_;
  const OutputSink& sink_;
  std::string buf_;
  uint64_t rows_ = 0;
  uint64_t flushed_ = 0;
};

// ---- CSV ----------------------------------------------------------------------

void AppendCsvText(std::string* out, std::string_view text) {
  if (text.empty()) {
    out->append("\"\"");  // empty string, distinct from null (empty field)
    return;
  }
  std::string clean = SanitizeUtf8(text);
  if (clean.find_first_of(",\"\r\n") == std::string::npos) {
    out->append(clean);
    return;
  }
  out->push_back('"');
  for (char c : clean) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendCsvValue(std::string* out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return;
    case ValueType::kBytes:
      AppendCsvText(out, Base64Encode(v.as_text()));
      return;
    default:
      AppendCsvText(out, v.ToText());
  }
}

// ---- the writers ----------------------------------------------------------------

class Writer {
 public:
  Writer(const GraphResult& result, const OutputOptions& options, const OutputSink& sink)
      : options_(options),
        em_(options, sink),
        model_(result),
        json_(em_.buf(),
              JsonWriter::Options{.pretty = options.pretty && options.format == Format::kJson}) {}

  absl::Status Run() {
    absl::Status s;
    switch (options_.shape) {
      case Shape::kNodes:
        s = Nodes();
        break;
      case Shape::kJoined:
        s = Joined();
        break;
      case Shape::kNested:
        s = Nested();
        break;
    }
    QG_RETURN_IF_ERROR(s);
    return em_.Finish();
  }

 private:
  bool json() const { return options_.format == Format::kJson; }
  bool ndjson() const { return options_.format == Format::kNdjson; }
  std::string& out() { return *em_.buf(); }

  void EndDocument() {
    // Every format ends with a newline.
    json_.Newline();
  }

  // -- nodes --
  absl::Status Nodes() {
    const auto& views = model_.views;
    if (json()) {
      json_.BeginObject().Key("nodes").BeginObject();
      for (const NodeView& v : views) {
        json_.Key(v.id).BeginObject().Key("columns").BeginArray();
        for (const std::string& n : v.names) json_.String(n);
        json_.EndArray().Key("rows").BeginArray();
        for (size_t r = 0; r < v.rows; ++r) {
          QG_RETURN_IF_ERROR(em_.Row());
          json_.BeginArray();
          for (size_t c = 0; c < v.names.size(); ++c) json_.Val(v.Cell(c, r));
          json_.EndArray();
          QG_RETURN_IF_ERROR(em_.Check());
        }
        json_.EndArray().EndObject();
      }
      json_.EndObject().Key("stats").BeginObject();
      for (const NodeView& v : views) Stats(v);
      json_.EndObject().EndObject();
      EndDocument();
      return absl::OkStatus();
    }
    if (ndjson()) {
      for (const NodeView& v : views) {
        for (size_t r = 0; r < v.rows; ++r) {
          QG_RETURN_IF_ERROR(em_.Row());
          json_.BeginObject().Key("node").String(v.id).Key("row").BeginObject();
          for (size_t c = 0; c < v.names.size(); ++c) json_.Key(v.names[c]).Val(v.Cell(c, r));
          json_.EndObject().EndObject().Newline();
          QG_RETURN_IF_ERROR(em_.Check());
        }
      }
      return absl::OkStatus();
    }
    // csv
    for (const NodeView& v : model_.views) {
      out() += "# node: ";
      for (char ch : SanitizeUtf8(v.id)) out() += (ch == '\r' || ch == '\n') ? ' ' : ch;
      out() += '\n';
      for (size_t c = 0; c < v.names.size(); ++c) {
        if (c) out() += ',';
        AppendCsvText(&out(), v.names[c]);
      }
      out() += '\n';
      for (size_t r = 0; r < v.rows; ++r) {
        QG_RETURN_IF_ERROR(em_.Row());
        for (size_t c = 0; c < v.names.size(); ++c) {
          if (c) out() += ',';
          AppendCsvValue(&out(), v.Cell(c, r));
        }
        out() += '\n';
        QG_RETURN_IF_ERROR(em_.Check());
      }
      out() += '\n';
    }
    return absl::OkStatus();
  }

  void Stats(const NodeView& v) {
    const NodeResult* r = v.result;
    json_.Key(v.id).BeginObject();
    json_.Key("status").String(r ? NodeStatusName(r->status) : "cancelled");
    json_.Key("rows").Uint(v.rows);
    json_.Key("skipped").Bool(r != nullptr && r->status == NodeStatus::kSkipped);
    json_.Key("strategy").String(r ? r->stats.strategy : "");
    json_.Key("bindings").Int(r ? r->stats.bindings : 0);
    json_.Key("round_trips").Int(r ? r->stats.round_trips : 0);
    double ms = r ? static_cast<double>(r->stats.end_ns - r->stats.start_ns) / 1e6 : 0.0;
    json_.Key("elapsed_ms").Double(ms < 0 ? 0.0 : ms);
    if (r != nullptr && r->stats.rows_affected >= 0) {
      json_.Key("rows_affected").Int(r->stats.rows_affected);
    }
    if (r != nullptr && !r->error.ok()) {
      json_.Key("error").String(std::string(r->error.message()));
      json_.Key("error_code").String(absl::StatusCodeToString(r->error.code()));
    }
    json_.EndObject();
  }

  // -- joined --
  //
  // Nodes are visited in an order where each node after the first of its
  // weakly connected component (via mapping links) is linked to an earlier
  // one; its candidate rows come from a hash index probed through one such
  // link and are filtered by the others. Components follow each other, so
  // they combine as a cross product.
  struct Step {
    int view;
    // Links to earlier nodes of the same component; probe is the first.
    std::vector<int> links;
  };

  void PlanJoin() {
    const size_t n = model_.views.size();
    std::vector<std::vector<int>> adj(n);
    for (size_t i = 0; i < model_.links.size(); ++i) {
      adj[model_.links[i].parent].push_back(static_cast<int>(i));
      adj[model_.links[i].child].push_back(static_cast<int>(i));
    }
    std::vector<bool> placed(n, false);
    for (size_t start = 0; start < n; ++start) {
      if (placed[start]) continue;
      placed[start] = true;
      steps_.push_back({static_cast<int>(start), {}});
      component_start_.push_back(steps_.size() - 1);
      std::vector<int> members = {static_cast<int>(start)};
      while (true) {
        int next = -1;
        for (int m : members) {
          for (int li : adj[m]) {
            const Link& l = model_.links[li];
            int other = l.parent == m ? l.child : l.parent;
            if (!placed[other] && (next < 0 || other < next)) next = other;
          }
        }
        if (next < 0) break;
        placed[next] = true;
        Step st{next, {}};
        for (int li : adj[next]) {
          const Link& l = model_.links[li];
          int other = l.parent == next ? l.child : l.parent;
          if (placed[other] && other != next &&
              std::find(members.begin(), members.end(), other) != members.end()) {
            st.links.push_back(li);
          }
        }
        members.push_back(next);
        steps_.push_back(std::move(st));
      }
    }
    component_start_.push_back(steps_.size());
    assignment_.assign(n, 0);
  }

  // Enumerates steps [pos, end); `leaf` runs for each full assignment. Stops
  // when `stop_` is set or on error.
  template <typename Leaf>
  absl::Status Enumerate(size_t pos, size_t end, Leaf& leaf) {
    if (stop_) return absl::OkStatus();
    if (pos == end) return leaf();
    const Step& st = steps_[pos];
    const NodeView& v = model_.views[st.view];
    auto try_row = [&](size_t r) -> absl::Status {
      for (size_t i = 1; i < st.links.size(); ++i) {
        const Link& l = model_.links[st.links[i]];
        bool ok = l.child == st.view ? model_.Matches(l, assignment_[l.parent], r)
                                     : model_.Matches(l, r, assignment_[l.child]);
        if (!ok) return absl::OkStatus();
      }
      assignment_[st.view] = r;
      return Enumerate(pos + 1, end, leaf);
    };
    if (st.links.empty()) {
      for (size_t r = 0; r < v.rows && !stop_; ++r) QG_RETURN_IF_ERROR(try_row(r));
      return absl::OkStatus();
    }
    Link& probe = model_.links[st.links[0]];
    const std::vector<uint32_t>* rows = probe.child == st.view
                                            ? model_.ChildrenOf(probe, assignment_[probe.parent])
                                            : model_.ParentsOf(probe, assignment_[probe.child]);
    if (rows == nullptr) return absl::OkStatus();
    for (uint32_t r : *rows) {
      if (stop_) break;
      if (r >= v.rows) continue;
      QG_RETURN_IF_ERROR(try_row(r));
    }
    return absl::OkStatus();
  }

  // False when some component has no joined row (then the join is empty).
  absl::Status AllComponentsNonEmpty(bool* nonempty) {
    *nonempty = true;
    for (const NodeView& v : model_.views) {
      if (v.rows == 0) *nonempty = false;
    }
    if (!*nonempty) return absl::OkStatus();
    for (size_t c = 0; c + 1 < component_start_.size(); ++c) {
      bool found = false;
      auto leaf = [&]() -> absl::Status {
        found = true;
        stop_ = true;
        return absl::OkStatus();
      };
      QG_RETURN_IF_ERROR(Enumerate(component_start_[c], component_start_[c + 1], leaf));
      stop_ = false;
      if (!found) {
        *nonempty = false;
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  absl::Status Joined() {
    PlanJoin();
    std::vector<std::pair<int, size_t>> cols;  // (view, column)
    std::vector<std::string> keys;
    for (size_t i = 0; i < model_.views.size(); ++i) {
      const NodeView& v = model_.views[i];
      for (size_t c = 0; c < v.names.size(); ++c) {
        cols.emplace_back(static_cast<int>(i), c);
        keys.push_back(fmt::format("{}.{}", v.id, v.names[c]));
      }
    }
    if (json()) json_.BeginObject().Key("rows").BeginArray();
    if (options_.format == Format::kCsv) {
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i) out() += ',';
        AppendCsvText(&out(), keys[i]);
      }
      out() += '\n';
    }
    bool nonempty = false;
    QG_RETURN_IF_ERROR(AllComponentsNonEmpty(&nonempty));
    if (nonempty && !model_.views.empty()) {
      auto leaf = [&]() -> absl::Status {
        QG_RETURN_IF_ERROR(em_.Row());
        if (options_.format == Format::kCsv) {
          for (size_t i = 0; i < cols.size(); ++i) {
            if (i) out() += ',';
            const NodeView& v = model_.views[cols[i].first];
            AppendCsvValue(&out(), v.Cell(cols[i].second, assignment_[cols[i].first]));
          }
          out() += '\n';
        } else {
          json_.BeginObject();
          for (size_t i = 0; i < cols.size(); ++i) {
            const NodeView& v = model_.views[cols[i].first];
            json_.Key(keys[i]).Val(v.Cell(cols[i].second, assignment_[cols[i].first]));
          }
          json_.EndObject();
          if (ndjson()) json_.Newline();
        }
        return em_.Check();
      };
      QG_RETURN_IF_ERROR(Enumerate(0, steps_.size(), leaf));
    }
    if (json()) {
      json_.EndArray().EndObject();
      EndDocument();
    }
    return absl::OkStatus();
  }

  // -- nested --
  absl::Status Nested() {
    if (options_.format == Format::kCsv) {
      return absl::InvalidArgumentError(
          "csv cannot represent the nested shape; use json or ndjson");
    }
    const size_t n = model_.views.size();
    children_.assign(n, {});
    std::vector<bool> has_parent(n, false);
    for (size_t i = 0; i < model_.links.size(); ++i) {
      children_[model_.links[i].parent].push_back(static_cast<int>(i));
      has_parent[model_.links[i].child] = true;
    }
    for (auto& ch : children_) {
      std::stable_sort(ch.begin(), ch.end(),
                       [&](int a, int b) { return model_.links[a].child < model_.links[b].child; });
    }
    if (json()) json_.BeginObject();
    for (size_t i = 0; i < n; ++i) {
      if (has_parent[i]) continue;
      const NodeView& v = model_.views[i];
      if (json()) {
        json_.Key(v.id).BeginArray();
        for (size_t r = 0; r < v.rows; ++r)
          QG_RETURN_IF_ERROR(NestedRow(static_cast<int>(i), r, 0));
        json_.EndArray();
      } else {
        for (size_t r = 0; r < v.rows; ++r) {
          json_.BeginObject().Key(v.id);
          QG_RETURN_IF_ERROR(NestedRow(static_cast<int>(i), r, 0));
          json_.EndObject().Newline();
          QG_RETURN_IF_ERROR(em_.Check());
        }
      }
    }
    if (json()) {
      json_.EndObject();
      EndDocument();
    }
    return absl::OkStatus();
  }

  absl::Status NestedRow(int view, size_t row, size_t depth) {
    if (depth > model_.views.size()) {
      return absl::InvalidArgumentError("the graph's mapping edges form a cycle");
    }
    QG_RETURN_IF_ERROR(em_.Row());
    const NodeView& v = model_.views[view];
    json_.BeginObject();
    for (size_t c = 0; c < v.names.size(); ++c) json_.Key(v.names[c]).Val(v.Cell(c, row));
    for (int li : children_[view]) {
      Link& l = model_.links[li];
      json_.Key(model_.views[l.child].id).BeginArray();
      const std::vector<uint32_t>* rows = model_.ChildrenOf(l, row);
      if (rows != nullptr) {
        for (uint32_t cr : *rows) QG_RETURN_IF_ERROR(NestedRow(l.child, cr, depth + 1));
      }
      json_.EndArray();
    }
    json_.EndObject();
    return em_.Check();
  }

  const OutputOptions& options_;
  Emitter em_;
  Model model_;
  JsonWriter json_;
  // joined
  std::vector<Step> steps_;
  std::vector<size_t> component_start_;
  std::vector<size_t> assignment_;
  bool stop_ = false;
  // nested
  std::vector<std::vector<int>> children_;
};

}  // namespace

absl::Status WriteResult(const GraphResult& result, const OutputOptions& options,
                         const OutputSink& sink) {
  if (!sink) return absl::InvalidArgumentError("WriteResult: no sink");
  Writer w(result, options, sink);
  return w.Run();
}

absl::StatusOr<std::string> ResultToString(const GraphResult& result,
                                           const OutputOptions& options) {
  std::string out;
  QG_RETURN_IF_ERROR(WriteResult(result, options, [&out](std::string_view chunk) {
    out.append(chunk);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace qg
