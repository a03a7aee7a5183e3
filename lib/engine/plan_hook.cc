#include "engine/plan_hook.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cost_model.h"
#include "engine/fetch_once.h"

namespace qg {
namespace {

std::string Name(ExecKind k) { return std::string(ExecKindName(k)); }

// The largest batch one execution of pn's source takes, within max_bindings.
int64_t BatchLimit(const PlannedNode& pn, int64_t max_bindings) {
  return pn.max_batch_size > 0 ? std::min(pn.max_batch_size, max_bindings) : max_bindings;
}

// Asks the hook; an error or a throw becomes the refusal in *why.
std::optional<PlanOverride> Ask(const PlanHook& hook, const PlanHookView& view, std::string* why) {
  try {
    absl::StatusOr<std::optional<PlanOverride>> got = hook(view);
    if (!got.ok()) {
      *why = absl::StrCat("it returned an error: ", got.status().ToString());
      return std::nullopt;
    }
    return std::move(*got);
  } catch (const std::exception& e) {
    *why = absl::StrCat("it threw an exception: ", e.what());
  } catch (...) {
    *why = "it threw an exception";
  }
  return std::nullopt;
}

// Applies an override CheckOverride accepted.
void Apply(PlannedNode& pn, NodePlan& np, const PlanOverride& o) {
  const ExecKind kind = o.kind.value_or(pn.kind);
  if (kind != pn.kind) {
    pn.kind = kind;
    if (kind == ExecKind::kFetchOnce) {
      pn.cost_shape = FetchAllShape(pn);
      np.statement = pn.fetch_all.text;
      if (pn.auto_strategy) np.estimate = pn.choice.fetch_all;
    } else if (kind == ExecKind::kPerBinding) {
      pn.cost_shape = CostModel::Shape(pn, false);
      np.statement = pn.plain.text;
      if (pn.auto_strategy) np.estimate = pn.choice.lookup;
    } else {
      pn.cost_shape = CostModel::Shape(pn, true);
      np.statement = pn.batched_full.text;
    }
    for (const Alternative& a : np.alternatives) {
      if (a.kind == kind && a.est_ms >= 0) np.expected_ms = a.est_ms;
    }
  }
  if (o.batch_size.has_value()) {
    // CheckOverride compiled this size already: BatchedStatement caches it.
    absl::StatusOr<Statement> stmt = pn.BatchedStatement(static_cast<size_t>(*o.batch_size));
    pn.batch_size = *o.batch_size;
    pn.batch_size_flexible = false;  // the host's size, as a node's batch_size
    if (stmt.ok()) pn.batched_full = std::move(*stmt);
    np.statement = pn.batched_full.text;
  }
  if (o.parallelism.has_value()) pn.max_parallelism = *o.parallelism;
  np.kind = pn.kind;
  np.batch_size = pn.kind == ExecKind::kBatched ? pn.batch_size : 0;
  np.parallelism = pn.kind == ExecKind::kFetchOnce ? 1 : pn.max_parallelism;
  // The host's decision is final: no adaptive re-planning overrides it.
  pn.auto_strategy = false;
}

}  // namespace

std::vector<ExecKind> AvailableKinds(const PlannedNode& pn) {
  std::vector<ExecKind> out;
  if (!pn.batched_full.text.empty()) out.push_back(ExecKind::kBatched);
  out.push_back(ExecKind::kPerBinding);
  if (pn.fetch_all_ok && !pn.is_write) out.push_back(ExecKind::kFetchOnce);
  return out;
}

std::string CheckOverride(const PlannedNode& pn, const NodePlan& np, const PlanOverride& o,
                          int64_t max_bindings) {
  const ExecKind kind = o.kind.value_or(np.kind);
  if (o.kind.has_value()) {
    const std::vector<ExecKind> avail = AvailableKinds(pn);
    if (std::find(avail.begin(), avail.end(), *o.kind) == avail.end()) {
      std::string names;
      for (ExecKind k : avail) absl::StrAppend(&names, names.empty() ? "" : ", ", Name(k));
      return absl::StrCat("strategy ", Name(*o.kind),
                          " is not available for this node (available: ", names, ")");
    }
  }
  if (o.batch_size.has_value()) {
    const int64_t bs = *o.batch_size;
    const int64_t limit = BatchLimit(pn, max_bindings);
    if (kind != ExecKind::kBatched) {
      return absl::StrCat("a batch size for strategy ", Name(kind), ", which does not batch");
    }
    if (bs < 1) return absl::StrCat("batch size ", bs, " is below 1");
    if (bs > max_bindings) {
      return absl::StrCat("batch size ", bs, " is above max_bindings (", max_bindings, ")");
    }
    if (bs > limit) {
      return absl::StrCat("batch size ", bs, " is above what one execution of the source takes (",
                          limit, ")");
    }
    absl::StatusOr<Statement> stmt = pn.BatchedStatement(static_cast<size_t>(bs));
    if (!stmt.ok()) {
      return absl::StrCat("batch size ", bs, " does not compile: ", stmt.status().message());
    }
  }
  if (o.parallelism.has_value()) {
    const int w = *o.parallelism;
    if (w < 1 || w > pn.max_parallelism) {
      return absl::StrCat("parallel width ", w, " is outside 1..", pn.max_parallelism);
    }
    if (kind == ExecKind::kFetchOnce && w != 1) {
      return absl::StrCat("parallel width ", w, " for fetch_once, which runs one execution");
    }
  }
  return "";
}

void ApplyPlanHook(const PlanHook& hook, int64_t max_bindings, PlannedNode& pn, NodePlan& np) {
  if (!hook) return;
  const PlanHookView view{np,
                          pn.node->strategy != Strategy::kAuto,
                          pn.is_write,
                          AvailableKinds(pn),
                          pn.max_parallelism,
                          BatchLimit(pn, max_bindings)};
  std::string why;
  std::optional<PlanOverride> o = Ask(hook, view, &why);
  if (o.has_value()) why = CheckOverride(pn, np, *o, max_bindings);
  if (!why.empty()) {
    np.reason = absl::StrCat(np.reason, "; the host's plan hook was refused (", why,
                             "): the planner's choice stands");
    return;
  }
  if (!o.has_value()) return;  // the hook kept the planner's decision
  const std::string planned = absl::StrCat(Name(np.kind), " (", np.reason, ")");
  Apply(pn, np, *o);
  std::string what = Name(np.kind);
  if (np.kind == ExecKind::kBatched) absl::StrAppend(&what, ", batch size ", np.batch_size);
  absl::StrAppend(&what, ", parallel width ", np.parallelism);
  np.reason = absl::StrCat("chosen by the host's plan hook: ", what,
                           o->note.empty() ? "" : absl::StrCat(" (", o->note, ")"),
                           "; the planner had chosen ", planned);
}

}  // namespace qg
