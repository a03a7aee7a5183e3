#include "engine/fetch_once.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/cost_model.h"
#include "engine/plan_hook.h"

namespace qg {
namespace {

void Apply(PlannedNode& pn, NodePlan& np, const StrategyChoice& ch) {
  const StrategyInputs& c = pn.choice;
  if (ch.kind == ExecKind::kFetchOnce && pn.fetch_all_ok) {
    pn.kind = ExecKind::kFetchOnce;
    pn.cost_shape = FetchAllShape(pn);
    np.statement = pn.fetch_all.text;
    np.estimate = c.fetch_all;
    np.batch_size = 0;
    np.parallelism = 1;
    np.reason = ch.reason;
  } else if (ch.kind == ExecKind::kPerBinding) {
    pn.kind = ExecKind::kPerBinding;
    pn.cost_shape = CostModel::Shape(pn, false);
    np.statement = pn.plain.text;
    if (np.estimate.origin == "default") np.estimate = c.lookup;
    np.batch_size = 0;
    np.parallelism = pn.max_parallelism;
    np.reason = ch.reason;
  } else if (pn.kind == ExecKind::kBatched) {
    // The batched details (form, flexible batch size) stay in the reason.
    std::string how = np.reason;
    if (absl::StartsWith(how, "auto: ")) how = how.substr(6);
    np.reason = absl::StrCat(ch.reason, "; ", how);
  }
  np.kind = pn.kind;
}

}  // namespace

absl::Status CompileFetchOnce(PlannedNode& pn) {
  pn.fetch_all_ok = false;
  if (pn.binding_params.empty()) {
    return absl::FailedPreconditionError("the node has no mapped parameters");
  }
  if (pn.node->mode == NodeMode::kWrite) {
    return absl::FailedPreconditionError("fetch once is for reads");
  }
  CompileRequest req;
  req.query_string = pn.node->query_string;
  req.input_parameters = pn.node->input_parameters;
  req.mode = pn.node->mode;
  req.key_params = pn.binding_params;
  req.batch_items = 1;
  req.form = BatchForm::kFetchAll;
  absl::StatusOr<Statement> stmt = pn.source->provider->Compile(req);
  if (!stmt.ok()) return absl::FailedPreconditionError(stmt.status().message());
  // A provider that does not know the form may have compiled something
  // else (an IN list): only a statement without key arguments that returns
  // every key column is a whole-relation fetch.
  for (const BatchArg& a : stmt->args) {
    if (a.kind != BatchArg::Kind::kParam) {
      return absl::FailedPreconditionError(
          absl::StrCat("provider \"", std::string(pn.source->provider->name()),
                       "\" cannot fetch a whole relation (its statement takes keys)"));
    }
  }
  if (stmt->key_columns != pn.binding_params.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the provider's fetch-once statement returns ", stmt->key_columns,
                     " key columns for ", pn.binding_params.size(), " keys"));
  }
  pn.fetch_all = std::move(*stmt);
  pn.fetch_all_ok = true;
  return absl::OkStatus();
}

namespace {

// One dependent read: its alternatives weighed; an auto node chooses.
void DecideRead(PlannedGraph& pg, int i, const PlannerInputs& in) {
  PlannedNode& pn = *pg.nodes[i];
  NodePlan& np = pg.plan.nodes[i];
  const bool is_auto = pn.node->strategy == Strategy::kAuto;
  StrategyInputs c;
  c.fetch_once_refusal = "not compiled (strategy forced)";
  if (is_auto && !pn.fetch_all_ok) {
    absl::Status s = CompileFetchOnce(pn);
    if (!s.ok()) c.fetch_once_refusal = std::string(s.message());
  }
  double keys = 1;
  for (const InputGroup& g : pn.groups) {
    const double rows = pg.nodes[g.parent]->est_rows;
    keys = rows < 0 || keys < 0 ? -1 : keys * rows;
  }
  c.expected_keys = keys;
  c.lookup = EstimateStatement(pn, pn.plain, in);
  if (pn.fetch_all_ok) c.fetch_all = EstimateStatement(pn, pn.fetch_all, in);
  c.batch_size = pn.batch_size > 0 ? pn.batch_size : in.default_batch_size;
  c.parallelism = pn.max_parallelism;
  c.batched_possible = !pn.batched_full.text.empty();
  if (!c.batched_possible) {
    c.batched_refusal = is_auto ? np.reason : "not compiled (strategy forced)";
  }
  c.fetch_once_possible = pn.fetch_all_ok;
  const StrategyChoice ch = ChooseStrategy(c);
  np.alternatives = ch.alternatives;
  np.expected_keys = c.expected_keys;
  if (!is_auto) return;
  pn.auto_strategy = true;
  pn.choice = c;
  Apply(pn, np, ch);
}

}  // namespace

void DecideStrategies(PlannedGraph& pg, const PlannerInputs& in) {
  const int n = static_cast<int>(pg.nodes.size());
  if (static_cast<int>(pg.plan.nodes.size()) != n) return;
  for (int i = 0; i < n; ++i) pg.nodes[i]->est_rows = pg.plan.nodes[i].expected_rows;
  for (int i = 0; i < n; ++i) {
    PlannedNode& pn = *pg.nodes[i];
    NodePlan& np = pg.plan.nodes[i];
    if (pn.groups.empty() || np.node != i) continue;
    if (!pn.is_write) DecideRead(pg, i, in);
    // The host's plan hook, after the planner's own choice (plan_hook.h).
    if (in.plan_hook != nullptr) ApplyPlanHook(*in.plan_hook, in.max_bindings, pn, np);
  }
}

std::string FetchAllShape(const PlannedNode& pn) {
  return absl::StrCat("fetch-all", std::string(1, '\0'), pn.plain.text);
}

StrategyChoice Redecide(const PlannedNode& pn, double actual_keys) {
  StrategyInputs c = pn.choice;
  c.expected_keys = actual_keys;
  return ChooseStrategy(c);
}

ExecKind ReplanAtStart(const PlannedNode& pn, const std::vector<ParentRows>& parents, size_t keys,
                       std::string* reason) {
  if (!pn.auto_strategy) return pn.kind;
  const ParentRows* missed = nullptr;
  for (const ParentRows& p : parents) {
    if (EstimateMissed(p.estimated, p.actual)) {
      missed = &p;
      break;
    }
  }
  if (missed == nullptr) return pn.kind;
  const StrategyChoice ch = Redecide(pn, static_cast<double>(keys));
  ExecKind kind = ch.kind;
  // Only what the plan compiled can run.
  if ((kind == ExecKind::kFetchOnce && !pn.fetch_all_ok) ||
      (kind == ExecKind::kBatched && pn.batched_full.text.empty())) {
    kind = pn.kind;
  }
  *reason = absl::StrCat("parent \"", missed->node_id, "\" returned ", missed->actual,
                         " rows where ", missed->estimated, " were estimated (more than ",
                         kReplanFactor, "x off); decided again for ", keys, " keys: planned ",
                         std::string(ExecKindName(pn.kind)), ", now ",
                         std::string(ExecKindName(kind)), " (", ch.reason, ")");
  return kind;
}

}  // namespace qg
