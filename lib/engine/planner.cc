#include "engine/planner.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "engine/cost_model.h"
#include "engine/fetch_once.h"

namespace qg {
namespace {

void AddDistinct(std::vector<int>* v, int x) {
  if (std::find(v->begin(), v->end(), x) == v->end()) v->push_back(x);
}

// Planning stops when the caller cancels or the deadline passes.
absl::Status CheckInterrupted(const PlannerInputs& in) {
  if (in.cancel != nullptr && in.cancel->cancelled()) return in.cancel->status();
  if (in.deadline != absl::InfiniteFuture() && absl::Now() >= in.deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("graph timed out after ", absl::ToInt64Milliseconds(in.timeout),
                     " ms (while planning)"));
  }
  return absl::OkStatus();
}

// Tries one batch form; on success fills pn's batched fields.
absl::Status TryBatchForm(PlannedNode& pn, BatchForm form, int64_t requested,
                          const Capabilities& caps) {
  const Node& node = *pn.node;
  CompileRequest req;
  req.query_string = node.query_string;
  req.input_parameters = node.input_parameters;
  req.mode = node.mode;
  req.key_params = pn.binding_params;
  req.form = form;
  int64_t size = requested;
  int64_t limit = 0;  // most keys one execution can take (0: no limit)
  if (form == BatchForm::kInList) {
    if (caps.max_placeholders == 0) {
      return absl::FailedPreconditionError("the provider takes no bound placeholders");
    }
    // One item first, to learn how many non-key arguments the text has.
    req.batch_items = 1;
    QG_ASSIGN_OR_RETURN(Statement one, pn.source->provider->Compile(req));
    int64_t non_key = 0;
    for (const BatchArg& a : one.args) {
      if (a.kind == BatchArg::Kind::kParam) ++non_key;
    }
    // A batched write repeats its whole VALUES tuple per row.
    const int64_t room = static_cast<int64_t>(caps.max_placeholders) - (pn.is_write ? 0 : non_key);
    const int64_t per_item = pn.is_write
                                 ? static_cast<int64_t>(std::max<size_t>(one.args.size(), 1))
                                 : static_cast<int64_t>(pn.binding_params.size());
    const int64_t cap = room / per_item;
    if (cap < 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no room for keys under the placeholder limit (", caps.max_placeholders, ")"));
    }
    size = std::min(size, cap);
    limit = cap;
  }
  if (caps.max_batch_items > 0) {
    size = std::min<int64_t>(size, caps.max_batch_items);
    limit = limit > 0 ? std::min<int64_t>(limit, caps.max_batch_items) : caps.max_batch_items;
  }
  size = std::max<int64_t>(size, 1);
  req.batch_items = static_cast<size_t>(size);
  QG_ASSIGN_OR_RETURN(Statement full, pn.source->provider->Compile(req));
  const size_t want_keys = pn.is_write ? 0 : pn.binding_params.size();
  if (full.key_columns != want_keys) {
    return absl::FailedPreconditionError(absl::StrCat("the provider's batched statement returns ",
                                                      full.key_columns, " key columns for ",
                                                      pn.binding_params.size(), " keys"));
  }
  pn.form = form;
  pn.batch_size = size;
  // Every execution costs the source a probe of the table: a large key set
  // is cut into one piece per parallel connection rather than into many
  // small batches (measured: 100 batches of 1000 keys against PostgreSQL
  // touched nearly every heap page of the orders table each time), up to
  // what one execution can take.
  pn.batch_size_flexible = caps.large_batches && !pn.is_write && !node.batch_size;
  pn.max_batch_size = limit;
  pn.batched_full = std::move(full);
  {
    absl::MutexLock lock(&pn.batch_mu);
    pn.batch_cache.emplace(static_cast<size_t>(size), pn.batched_full);
  }
  return absl::OkStatus();
}

// Chooses kBatched when it can; returns the refusal otherwise.
absl::Status PlanBatched(PlannedNode& pn, int64_t requested) {
  const Capabilities& caps = pn.source->caps;
  std::vector<BatchForm> forms;
  if (caps.batch_any_array && pn.binding_params.size() == 1) forms.push_back(BatchForm::kAnyArray);
  if (caps.batch_in_list) forms.push_back(BatchForm::kInList);
  if (forms.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("provider \"", std::string(pn.source->provider->name()), "\" cannot batch",
                     caps.batch_any_array ? " several keys" : ""));
  }
  absl::Status last;
  for (BatchForm f : forms) {
    last = TryBatchForm(pn, f, requested, caps);
    if (last.ok()) return last;
  }
  return last;
}

void EstimateNodes(PlannedGraph& pg, const std::vector<int>& order, const PlannerInputs& in) {
  const int n = static_cast<int>(pg.nodes.size());
  std::vector<double> rows(n, -1);
  CostModel fallback;  // no engine model: defaults, nothing kept
  CostModel& model = in.cost_model != nullptr ? *in.cost_model : fallback;
  PlannerInputs local = in;
  if (in.cost_model == nullptr) local.cost_mode = CostMode::kCachedOnly;
  for (int i : order) {
    if (i < 0 || i >= n) continue;
    PlannedNode& pn = *pg.nodes[i];
    double bindings = 1;
    for (const InputGroup& gr : pn.groups) {
      const double r = gr.parent >= 0 && gr.parent < n ? rows[gr.parent] : -1;
      bindings *= r >= 0 ? r : 1;  // unknown: one
    }
    bindings = std::min(bindings, 1e12);
    pn.cost_shape = CostModel::Shape(pn, pn.kind == ExecKind::kBatched);
    NodeEstimate ne = model.EstimateNode(pn, bindings, local);
    rows[i] = ne.rows;
    NodePlan& np = pg.plan.nodes[i];
    np.estimate = pn.kind == ExecKind::kBatched ? ne.batched : ne.plain;
    np.expected_bindings = ne.bindings;
    np.expected_rows = ne.rows;
    np.expected_ms = ne.ms;
    np.ms_per_binding = pn.groups.empty() ? -1 : ne.ms_per_binding;
    np.ms_batched = ne.ms_batched;
  }
}

}  // namespace

CostEstimate EstimateStatement(const PlannedNode& pn, const Statement& stmt,
                               const PlannerInputs& in) {
  CostModel fallback;  // no engine model: defaults, nothing kept
  CostModel& model = in.cost_model != nullptr ? *in.cost_model : fallback;
  PlannerInputs local = in;
  if (in.cost_model == nullptr) local.cost_mode = CostMode::kCachedOnly;
  const std::string shape = &stmt == &pn.fetch_all ? FetchAllShape(pn) : CostModel::Shape(pn, false);
  return model.Estimate(pn, shape, stmt, 1, local);
}

std::string NodeErrorPrefix(const Node& node) {
  return absl::StrCat("node \"", node.node_id, "\" (source \"", node.database_id, "\"): ");
}

absl::StatusOr<Statement> PlannedNode::BatchedStatement(size_t items) const {
  {
    absl::MutexLock lock(&batch_mu);
    auto it = batch_cache.find(items);
    if (it != batch_cache.end()) return it->second;
  }
  CompileRequest req;
  req.query_string = node->query_string;
  req.input_parameters = node->input_parameters;
  req.mode = node->mode;
  req.key_params = binding_params;
  req.batch_items = items;
  req.form = form;
  absl::StatusOr<Statement> stmt = source->provider->Compile(req);
  if (!stmt.ok()) return Annotate(stmt.status(), error_prefix);
  absl::MutexLock lock(&batch_mu);
  batch_cache.emplace(items, *stmt);
  return stmt;
}

absl::StatusOr<std::shared_ptr<PlannedGraph>> BuildPlan(const Graph& graph,
                                                        const PlannerInputs& in) {
  auto pg = std::make_shared<PlannedGraph>();
  pg->graph = graph;
  const Graph& g = pg->graph;
  pg->plan.transaction = g.transaction;
  pg->plan.edges = g.edges;
  const int n = static_cast<int>(g.nodes.size());
  pg->nodes.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto pn = std::make_unique<PlannedNode>();
    pn->index = i;
    pn->node = &g.nodes[i];
    pn->error_prefix = NodeErrorPrefix(g.nodes[i]);
    auto it = in.sources.find(g.nodes[i].database_id);
    if (it == in.sources.end() || it->second == nullptr) {
      return absl::NotFoundError(absl::StrCat(pn->error_prefix, "unknown data source"));
    }
    pn->source = it->second;
    pg->nodes.push_back(std::move(pn));
  }
  // Node ids -> index (first occurrence, as Graph::FindNode).
  absl::flat_hash_map<std::string_view, int> node_index;
  node_index.reserve(n);
  for (int i = 0; i < n; ++i) node_index.emplace(g.nodes[i].node_id, i);
  // Per node: its binding_params as a set (membership tests stay O(1)).
  std::vector<absl::flat_hash_set<std::string_view>> bound(n);

  // Inputs: mapping groups (one per parent) and ordering parents.
  for (const Edge& e : g.edges) {
    auto find = [&node_index](const std::string& id) {
      auto it = node_index.find(id);
      return it == node_index.end() ? -1 : it->second;
    };
    const int from = find(e.source_node);
    const int to = find(e.target_node);
    if (from < 0 || to < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("edge ", e.source_node, " -> ", e.target_node, " names an unknown node"));
    }
    PlannedNode& t = *pg->nodes[to];
    AddDistinct(&t.parents, from);
    AddDistinct(&pg->nodes[from]->children, to);
    if (e.mapping.empty()) {
      AddDistinct(&t.order_parents, from);
      continue;
    }
    InputGroup* group = nullptr;
    for (InputGroup& gr : t.groups) {
      if (gr.parent == from) group = &gr;
    }
    if (group == nullptr) {
      t.groups.push_back(InputGroup{from, {}});
      group = &t.groups.back();
    }
    for (const auto& [field, param] : e.mapping) {
      if (!bound[to].insert(param).second) {
        continue;  // fed twice: the validator reports it; keep the first
      }
      group->fields.emplace_back(field, t.binding_params.size());
      t.binding_params.push_back(param);
    }
  }

  // Values for non-mapped parameters must exist before anything runs.
  absl::flat_hash_set<std::string_view> have_value;
  if (in.params != nullptr) {
    have_value.reserve(in.params->size());
    for (const auto& kv : *in.params) have_value.insert(kv.first);
  }
  for (const auto& pnp : pg->nodes) {
    QG_RETURN_IF_ERROR(CheckInterrupted(in));
    for (const std::string& p : pnp->node->input_parameters) {
      if (bound[pnp->index].contains(p)) continue;
      if (!have_value.contains(p)) {
        return absl::InvalidArgumentError(
            absl::StrCat(pnp->error_prefix, "parameter \"", p, "\" has no value"));
      }
    }
  }

  // Strategies and statements.
  for (const auto& pnp : pg->nodes) {
    QG_RETURN_IF_ERROR(CheckInterrupted(in));
    PlannedNode& pn = *pnp;
    const Node& node = *pn.node;
    const SourceHandle& src = *pn.source;
    pn.is_write = node.mode == NodeMode::kWrite;
    pn.max_parallelism = std::max(1, std::min(src.config.pool.pool_max, in.workers));
    if (pn.is_write && !src.caps.parallel_writes) pn.max_parallelism = 1;
    if (pn.is_write && !src.caps.writes) {
      return absl::InvalidArgumentError(absl::StrCat(pn.error_prefix, "provider \"",
                                                     std::string(src.provider->name()),
                                                     "\" does not support writes"));
    }
    CompileRequest req;
    req.query_string = node.query_string;
    req.input_parameters = node.input_parameters;
    req.mode = node.mode;
    absl::StatusOr<Statement> plain = src.provider->Compile(req);
    if (!plain.ok()) return Annotate(plain.status(), pn.error_prefix);
    pn.plain = std::move(*plain);

    NodePlan np;
    np.node = pn.index;
    np.node_id = node.node_id;
    np.database_id = node.database_id;
    np.provider = std::string(src.provider->name());
    np.key_params = pn.binding_params;
    for (int p : pn.parents) np.depends_on.push_back(p);
    std::sort(np.depends_on.begin(), np.depends_on.end());

    if (pn.groups.empty()) {
      pn.kind = ExecKind::kSingle;
      np.reason = pn.is_write ? "write, no incoming mappings: one execution"
                              : "no incoming mappings: one execution";
    } else if (pn.is_write && node.strategy == Strategy::kFetchOnce) {
      return absl::InvalidArgumentError(
          absl::StrCat(pn.error_prefix, "strategy \"fetch_once\" is for reads"));
    } else if (pn.is_write && node.strategy == Strategy::kPerBinding) {
      pn.kind = ExecKind::kPerBinding;
      np.reason = "write: forced by strategy \"per_binding\"";
    } else if (pn.is_write) {
      const int64_t requested = node.batch_size.value_or(in.default_batch_size);
      absl::Status batched = PlanBatched(pn, requested);
      if (batched.ok()) {
        pn.kind = ExecKind::kBatched;
        np.reason = absl::StrCat(node.strategy == Strategy::kBatched
                                     ? "write, forced by strategy \"batched\""
                                     : "write, auto",
                                 ": rows as one multi-row VALUES per batch");
      } else if (node.strategy == Strategy::kBatched) {
        return absl::InvalidArgumentError(absl::StrCat(
            pn.error_prefix, "strategy \"batched\" is not possible: ", batched.message()));
      } else {
        pn.kind = ExecKind::kPerBinding;
        np.reason = absl::StrCat("write: one execution per binding (", batched.message(), ")");
      }
    } else if (node.strategy == Strategy::kPerBinding) {
      pn.kind = ExecKind::kPerBinding;
      np.reason = "forced by strategy \"per_binding\"";
    } else if (node.strategy == Strategy::kFetchOnce) {
      absl::Status f = CompileFetchOnce(pn);
      if (!f.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            pn.error_prefix, "strategy \"fetch_once\" is not possible: ", f.message()));
      }
      pn.kind = ExecKind::kFetchOnce;
      np.reason =
          "forced by strategy \"fetch_once\": the whole relation in one execution, joined "
          "with the bindings in the engine";
    } else {
      const int64_t requested = node.batch_size.value_or(in.default_batch_size);
      absl::Status batched = PlanBatched(pn, requested);
      if (batched.ok()) {
        pn.kind = ExecKind::kBatched;
        np.reason = absl::StrCat(
            node.strategy == Strategy::kBatched ? "forced by strategy \"batched\"" : "auto",
            pn.batched_full.key_grouped ? ": aggregate grouped by key" : "",
            pn.form == BatchForm::kAnyArray ? ": keys as one array argument (= ANY)"
                                            : ": keys as an IN list",
            pn.batch_size_flexible
                ? "; a key set larger than batch_size x parallelism is split evenly over the "
                  "parallel connections"
                : "");
      } else if (node.strategy == Strategy::kBatched) {
        return absl::InvalidArgumentError(absl::StrCat(
            pn.error_prefix, "strategy \"batched\" is not possible: ", batched.message()));
      } else {
        pn.kind = ExecKind::kPerBinding;
        np.reason = absl::StrCat("auto: batched rewrite refused: ", batched.message());
      }
    }
    np.kind = pn.kind;
    np.batch_size = pn.kind == ExecKind::kBatched ? pn.batch_size : 0;
    np.parallelism =
        pn.kind == ExecKind::kSingle || pn.kind == ExecKind::kFetchOnce ? 1 : pn.max_parallelism;
    const Statement& shown = pn.kind == ExecKind::kBatched     ? pn.batched_full
                             : pn.kind == ExecKind::kFetchOnce ? pn.fetch_all
                                                               : pn.plain;
    np.statement = shown.text;
    pg->plan.nodes.push_back(std::move(np));
  }

  // Estimates, in dataflow order: a node's expected bindings are the product
  // of its mapping parents' expected rows (docs/design.md §11). Then every
  // dependent read weighs its alternatives with them; auto nodes choose.
  std::vector<int> order = TopologicalOrder(g);
  EstimateNodes(*pg, order, in);
  DecideStrategies(*pg, in);

  // The public plan lists nodes in dataflow order.
  std::vector<bool> placed(n, false);
  std::vector<NodePlan> ordered;
  ordered.reserve(pg->plan.nodes.size());
  for (int i : order) {
    if (i < 0 || i >= n || placed[i]) continue;
    placed[i] = true;
    ordered.push_back(std::move(pg->plan.nodes[i]));
  }
  for (int i = 0; i < n; ++i) {
    if (!placed[i]) ordered.push_back(std::move(pg->plan.nodes[i]));
  }
  pg->plan.nodes = std::move(ordered);
  return pg;
}

}  // namespace qg
