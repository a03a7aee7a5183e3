#include "engine/cost_model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace qg {
namespace {

// Weight of the newest observation in the smoothed factors.
constexpr double kAlpha = 0.5;
// Bounds of a calibration factor (a clock hiccup must not make estimates absurd).
constexpr double kMinFactor = 1e-4;
constexpr double kMaxFactor = 1e4;
constexpr size_t kMaxReason = 200;
// Shapes kept at most; past it the cache starts over (many distinct graph
// texts must not grow memory without bound).
constexpr size_t kMaxEntries = 100000;

bool BadCost(double v) { return !std::isfinite(v) || v < 0; }

std::string Clip(std::string_view s) {
  if (s.size() <= kMaxReason) return std::string(s);
  return std::string(s.substr(0, kMaxReason)) + "...";
}

// Representative arguments for an estimate: parameter values where known,
// nulls for keys.
std::vector<BoundArg> EstimateArgs(const Statement& stmt, const ParamList* params) {
  std::vector<BoundArg> args;
  args.reserve(stmt.args.size());
  // Last value of a name wins; one index keeps this linear (docs/design.md §11).
  absl::flat_hash_map<std::string_view, const Value*> by_name;
  if (params != nullptr) {
    by_name.reserve(params->size());
    for (const auto& [name, value] : *params) by_name.insert_or_assign(name, &value);
  }
  for (const BatchArg& a : stmt.args) {
    BoundArg b;
    if (a.kind == BatchArg::Kind::kKeyArray) {
      b.is_array = true;
      b.array.push_back(Value::Null());
    } else if (a.kind == BatchArg::Kind::kParam) {
      if (auto it = by_name.find(a.name); it != by_name.end()) b.value = *it->second;
    }
    args.push_back(std::move(b));
  }
  return args;
}

double Ewma(double old, double now, bool first) {
  return first ? now : kAlpha * now + (1 - kAlpha) * old;
}

}  // namespace

CostEstimate DefaultCostEstimate() {
  CostEstimate e;
  e.rows = -1;
  e.startup_cost = 1.0;
  e.per_binding_cost = 0;
  e.per_row_cost = 0.001;
  e.origin = "default";
  return e;
}

CostEstimate SanitizeEstimate(const absl::StatusOr<CostEstimate>& est, const std::string& origin) {
  CostEstimate d = DefaultCostEstimate();
  if (!est.ok()) {
    d.fallback_reason = Clip(absl::StrCat("the estimator of ", origin, " failed (",
                                          absl::StatusCodeToString(est.status().code()),
                                          "): ", est.status().message()));
    return d;
  }
  const CostEstimate& e = *est;
  const char* bad = nullptr;
  double value = 0;
  if (!std::isfinite(e.rows) || (e.rows < 0 && e.rows != -1)) {
    bad = "rows";
    value = e.rows;
  } else if (BadCost(e.startup_cost)) {
    bad = "startup_cost";
    value = e.startup_cost;
  } else if (BadCost(e.per_binding_cost)) {
    bad = "per_binding_cost";
    value = e.per_binding_cost;
  } else if (BadCost(e.per_row_cost)) {
    bad = "per_row_cost";
    value = e.per_row_cost;
  }
  if (bad != nullptr) {
    d.fallback_reason = absl::StrCat("the estimator of ", origin, " returned ", bad, "=", value,
                                     " (negative or not finite)");
    return d;
  }
  CostEstimate out = e;
  out.calibrated = false;
  out.fallback_reason.clear();
  if (out.origin.empty()) out.origin = origin;
  return out;
}

std::string CostModel::Key(const std::string& source, const std::string& shape) {
  std::string key = source;
  key.push_back('\0');
  key += shape;
  return key;
}

std::string CostModel::Shape(const PlannedNode& pn, bool batched) {
  if (!batched) return pn.plain.text;
  return absl::StrCat(pn.form == BatchForm::kAnyArray ? "any-array" : "in-list",
                      std::string(1, '\0'), pn.plain.text);
}

CostEstimate CostModel::Calibrated(const Entry& e, const std::string& source, double items) const {
  CostEstimate c = e.raw;
  c.calibrated = false;
  double factor = 1;
  if (e.samples > 0) {
    factor = e.ms_factor;
    c.calibrated = true;
  } else if (auto it = sources_.find(source); it != sources_.end() && it->second.samples > 0) {
    factor = it->second.ms_factor;
    c.calibrated = true;
  }
  c.startup_cost *= factor;
  c.per_binding_cost *= factor;
  c.per_row_cost *= factor;
  if (e.rows_per_binding >= 0) {
    c.rows = e.rows_per_binding * items;
    c.calibrated = true;
  } else if (c.rows >= 0 && e.items > 0 && e.items != items) {
    c.rows = c.rows / e.items * items;
  }
  return c;
}

CostEstimate CostModel::Estimate(const PlannedNode& pn, const std::string& shape,
                                 const Statement& stmt, double items, const PlannerInputs& in) {
  SourceHandle& src = *pn.source;
  const std::string key = Key(src.name, shape);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && (it->second.fetched || in.cost_mode != CostMode::kFetch)) {
      return Calibrated(it->second, src.name, items);
    }
  }
  CostEstimate raw = DefaultCostEstimate();
  bool fetched = false;
  if (in.cost_mode == CostMode::kFetch && src.pool != nullptr) {
    absl::StatusOr<PooledConnection> conn = src.pool->Acquire(in.cancel);
    if (!conn.ok()) {
      // Not cached as fetched: the source may come back.
      raw.fallback_reason = "no connection to ask the source for an estimate";
    } else {
      auto ov = overrides_.find(src.name);
      const bool host = ov != overrides_.end() && ov->second != nullptr;
      const std::string origin =
          host ? std::string("host estimator") : std::string(src.provider->name());
      absl::StatusOr<CostEstimate> est =
          host ? ov->second->Estimate(**conn, stmt, EstimateArgs(stmt, in.params))
               : (*conn)->EstimateCost(stmt, EstimateArgs(stmt, in.params));
      if ((*conn)->broken()) conn->MarkBroken();
      if (!est.ok() && est.status().code() == absl::StatusCode::kUnimplemented) {
        raw.fallback_reason =
            absl::StrCat("provider \"", std::string(src.provider->name()), "\" gives no estimate");
        fetched = true;  // asking again will not help
      } else {
        raw = SanitizeEstimate(est, origin);
        // A failed estimator is asked again next time; nonsense is kept.
        fetched = est.ok();
      }
    }
  }
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries && !entries_.contains(key)) entries_.clear();
  Entry& e = entries_[key];
  if (!e.fetched) {
    if (fetched && e.samples > 0) e.samples = 0;  // the factor was against another basis
    e.raw = raw;
    e.fetched = fetched;
    e.items = std::max(items, 1.0);
  }
  return Calibrated(e, src.name, items);
}

NodeEstimate CostModel::EstimateNode(const PlannedNode& pn, double bindings,
                                     const PlannerInputs& in) {
  NodeEstimate ne;
  ne.bindings = pn.groups.empty() ? 1 : std::max(0.0, bindings);
  ne.plain = Estimate(pn, Shape(pn, false), pn.plain, 1, in);
  const bool batched = pn.kind == ExecKind::kBatched;
  const double batch = std::max<double>(1, static_cast<double>(pn.batch_size));
  double rows_per_binding = ne.plain.rows;
  if (batched) {
    ne.batched = Estimate(pn, Shape(pn, true), pn.batched_full, batch, in);
    // The batched form's own history is best; else the plain statement's
    // per-key rows (a planner estimating a key array of nulls is often far
    // off); else the batched estimate spread over its items.
    // (`calibrated` may come from the source's time factor alone: rows need
    // the shape's own row history.)
    if (ne.batched.rows_known() &&
        (HasRowHistory(pn.source->name, Shape(pn, true)) || !ne.plain.rows_known())) {
      rows_per_binding = ne.batched.rows / batch;
    }
  }
  ne.rows = rows_per_binding >= 0 ? rows_per_binding * ne.bindings : -1;
  const double rows = ne.rows > 0 ? ne.rows : 0;
  const CostEstimate& p = ne.plain;
  ne.ms_per_binding = ne.bindings * (p.startup_cost + p.per_binding_cost) + rows * p.per_row_cost;
  if (batched) {
    const CostEstimate& b = ne.batched;
    const double executions = std::ceil(ne.bindings / batch);
    ne.ms_batched =
        executions * b.startup_cost + ne.bindings * b.per_binding_cost + rows * b.per_row_cost;
  }
  ne.ms = batched ? ne.ms_batched : ne.ms_per_binding;
  return ne;
}

bool CostModel::HasRowHistory(const std::string& source, const std::string& shape) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = entries_.find(Key(source, shape));
  return it != entries_.end() && it->second.rows_per_binding >= 0;
}

void CostModel::Record(const std::string& source, const std::string& shape,
                       const CostObservation& obs) {
  if (!std::isfinite(obs.ms) || obs.ms < 0 || obs.executions < 0 || obs.rows < 0) return;
  const double bindings = std::max<double>(1, static_cast<double>(obs.bindings));
  const double rows = static_cast<double>(obs.rows);
  absl::MutexLock lock(&mu_);
  const std::string key = Key(source, shape);
  if (entries_.size() >= kMaxEntries && !entries_.contains(key)) entries_.clear();
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) e.raw = DefaultCostEstimate();
  if (obs.learn_rows) {
    e.rows_per_binding = Ewma(e.rows_per_binding, rows / bindings, e.rows_per_binding < 0);
  }
  if (!obs.learn_ms) return;
  const double predicted = static_cast<double>(obs.executions) * e.raw.startup_cost +
                           bindings * e.raw.per_binding_cost + rows * e.raw.per_row_cost;
  if (predicted <= 0 || obs.executions == 0) return;
  const double f = std::clamp(obs.ms / predicted, kMinFactor, kMaxFactor);
  e.ms_factor = Ewma(e.ms_factor, f, e.samples == 0);
  ++e.samples;
  SourceCalibration& s = sources_[source];
  s.ms_factor = Ewma(s.ms_factor, f, s.samples == 0);
  ++s.samples;
}

void CostModel::DropSource(const std::string& source) {
  const std::string prefix = Key(source, "");
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->first.rfind(prefix, 0) == 0) {
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  sources_.erase(source);
}

size_t CostModel::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace qg
