#include "engine/strategy_choice.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qg {
namespace {

// Unit costs (ms) used when an estimate knows its rows but gives no cost
// parts (every part zero): a loopback round trip, and per binding / per row
// what reading a small row costs the client (docs/design.md §11).
constexpr double kDefaultStartupMs = 0.3;
constexpr double kDefaultPerBindingMs = 0.002;
constexpr double kDefaultPerRowMs = 0.002;
// The engine's share of fetch-once per fetched row: one probe of the
// bindings' hash table (and dropping the rows no binding wants).
constexpr double kJoinPerRowMs = 0.0003;
// Per-binding execution replaces a possible batched lookup only when it is
// estimated at least this many times cheaper: its estimate assumes every
// parallel connection is free, and it holds that many connections.
constexpr double kPerBindingMargin = 2.0;

bool Finite(double x) { return std::isfinite(x); }

// The estimate's cost parts, or why they cannot be used.
struct Costs {
  double rows = -1;
  double startup = 0, per_binding = 0, per_row = 0;
  bool defaulted = false;
  std::string bad;  // non-empty: not usable
};

Costs Sane(const CostEstimate& e) {
  Costs c;
  if (!Finite(e.rows) || !Finite(e.startup_cost) || !Finite(e.per_binding_cost) ||
      !Finite(e.per_row_cost) || e.startup_cost < 0 || e.per_binding_cost < 0 ||
      e.per_row_cost < 0) {
    c.bad = "the estimate is not a usable number (NaN, infinite or negative)";
    return c;
  }
  c.rows = e.rows;  // < 0: unknown
  c.startup = e.startup_cost;
  c.per_binding = e.per_binding_cost;
  c.per_row = e.per_row_cost;
  if (c.startup == 0 && c.per_binding == 0 && c.per_row == 0) {
    c.startup = kDefaultStartupMs;
    c.per_binding = kDefaultPerBindingMs;
    c.per_row = kDefaultPerRowMs;
    c.defaulted = true;
  }
  return c;
}

std::string Ms(double ms) { return absl::StrFormat("%.3g ms", ms); }

}  // namespace

bool EstimateMissed(double estimated, double actual) {
  if (!Finite(estimated) || estimated < 0 || !Finite(actual) || actual < 0) return false;
  const double e = std::max(estimated, 1.0);
  const double a = std::max(actual, 1.0);
  return a > e * kReplanFactor || e > a * kReplanFactor;
}

StrategyChoice ChooseStrategy(const StrategyInputs& in) {
  StrategyChoice out;
  const int64_t batch = std::max<int64_t>(in.batch_size, 1);
  const double width = std::max(in.parallelism, 1);
  const bool keys_known = Finite(in.expected_keys) && in.expected_keys >= 0;
  const double keys = keys_known ? in.expected_keys : -1;
  const Costs lookup = Sane(in.lookup);
  const Costs fetch = Sane(in.fetch_all);

  // Rows all lookups together return: never more than the whole relation.
  double lookup_rows = -1;
  if (keys_known && lookup.bad.empty() && lookup.rows >= 0) {
    lookup_rows = keys * lookup.rows;
    if (fetch.bad.empty() && fetch.rows >= 0) lookup_rows = std::min(lookup_rows, fetch.rows);
  }
  const std::string lookup_note = !lookup.bad.empty() ? lookup.bad
                                  : !keys_known       ? "key count unknown"
                                  : lookup_rows < 0   ? "rows per binding unknown"
                                  : lookup.defaulted
                                      ? "default unit costs (the estimate has rows only)"
                                      : "";

  Alternative batched{ExecKind::kBatched, -1, in.batched_possible, ""};
  if (!in.batched_possible) {
    batched.note = in.batched_refusal;
  } else if (lookup_rows >= 0) {
    const double execs = std::ceil(keys / static_cast<double>(batch));
    batched.est_ms =
        (execs * lookup.startup + keys * lookup.per_binding + lookup_rows * lookup.per_row) /
        std::max(1.0, std::min(width, execs));
    batched.note = lookup_note.empty()
                       ? absl::StrCat(execs, " executions of up to ", batch, " keys")
                       : lookup_note;
  } else {
    batched.note = lookup_note;
  }

  Alternative per_binding{ExecKind::kPerBinding, -1, true, ""};
  if (lookup_rows >= 0) {
    per_binding.est_ms =
        (keys * (lookup.startup + lookup.per_binding) + lookup_rows * lookup.per_row) /
        std::max(1.0, std::min(width, keys));
    per_binding.note = lookup_note.empty() ? absl::StrCat(keys, " executions") : lookup_note;
  } else {
    per_binding.note = lookup_note;
  }

  Alternative fetch_once{ExecKind::kFetchOnce, -1, in.fetch_once_possible, ""};
  if (!in.fetch_once_possible) {
    fetch_once.note = in.fetch_once_refusal;
  } else if (!fetch.bad.empty()) {
    fetch_once.note = fetch.bad;
  } else if (fetch.rows < 0) {
    fetch_once.note = "relation size unknown";
  } else {
    fetch_once.est_ms =
        fetch.startup + fetch.per_binding + fetch.rows * (fetch.per_row + kJoinPerRowMs);
    fetch_once.note =
        absl::StrCat("one execution, ", fetch.rows, " rows joined locally",
                     fetch.defaulted ? "; default unit costs (the estimate has rows only)" : "");
  }
  out.alternatives = {batched, per_binding, fetch_once};

  // The default when the estimates cannot decide: today's order.
  auto fallback = [&](std::string why) {
    out.kind = in.batched_possible ? ExecKind::kBatched : ExecKind::kPerBinding;
    out.reason =
        absl::StrCat("auto: ", why, "; ",
                     in.batched_possible
                         ? "batched lookup (the default)"
                         : absl::StrCat("per binding (batched refused: ", in.batched_refusal, ")"));
    return out;
  };
  if (!keys_known) return fallback("expected key count unknown");
  for (const Alternative& a : out.alternatives) {
    if (a.possible && a.est_ms < 0) {
      return fallback(
          absl::StrCat("no estimate for ", std::string(ExecKindName(a.kind)), " (", a.note, ")"));
    }
  }
  const Alternative* best = nullptr;
  for (const Alternative& a : out.alternatives) {
    if (!a.possible) continue;
    double cost = a.est_ms;
    if (a.kind == ExecKind::kPerBinding && in.batched_possible) cost *= kPerBindingMargin;
    const double best_cost = best == nullptr ? 0
                             : best->kind == ExecKind::kPerBinding && in.batched_possible
                                 ? best->est_ms * kPerBindingMargin
                                 : best->est_ms;
    if (best == nullptr || cost < best_cost) best = &a;
  }
  if (best == nullptr) return fallback("no strategy could be estimated");
  out.kind = best->kind;
  std::string others;
  for (const Alternative& a : out.alternatives) {
    if (&a == best || !a.possible) continue;
    absl::StrAppend(&others, others.empty() ? "" : ", ", std::string(ExecKindName(a.kind)), " ",
                    Ms(a.est_ms));
  }
  out.reason = absl::StrCat(
      "auto: cheapest for ", keys, " expected keys: ", std::string(ExecKindName(best->kind)), " ",
      Ms(best->est_ms), others.empty() ? "" : absl::StrCat(" (", others, ")"));
  return out;
}

}  // namespace qg
