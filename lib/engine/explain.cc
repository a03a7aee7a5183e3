// EXPLAIN: the plan as text, JSON or Graphviz DOT, optionally with the
// actuals of a run beside the estimates (EXPLAIN ANALYZE).
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_writer.h"
#include "engine/explain_strategy.h"
#include "qg/plan.h"
#include "qg/result.h"

namespace qg {
namespace {

std::string Num(double d) {
  if (std::isnan(d) || std::isinf(d)) return "null";
  if (d == std::floor(d) && std::fabs(d) < 1e15) return absl::StrCat(static_cast<int64_t>(d));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", d);
  return buf;
}

std::string JsonString(std::string_view s) { return JsonQuote(s); }

// DOT double-quoted strings: escape quotes and backslashes; "\n" is a line
// break in labels.
std::string DotEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string NodeIdOf(const Plan& plan, int index) {
  for (const NodePlan& np : plan.nodes) {
    if (np.node == index) return np.node_id;
  }
  return absl::StrCat("#", index);
}

const NodeResult* ActualOf(const GraphResult* actuals, const NodePlan& np) {
  if (actuals == nullptr) return nullptr;
  return actuals->FindNode(np.node_id);
}

std::string EstimateText(const CostEstimate& e) {
  std::string s = absl::StrCat(
      "rows=", e.rows < 0 ? "unknown" : Num(e.rows), " startup=", Num(e.startup_cost),
      " per_binding=", Num(e.per_binding_cost), " per_row=", Num(e.per_row_cost),
      e.uses_index ? " index" : "", " origin=", e.origin.empty() ? "default" : e.origin,
      e.calibrated ? " calibrated" : "");
  if (!e.fallback_reason.empty()) absl::StrAppend(&s, " fallback=\"", e.fallback_reason, "\"");
  return s;
}

std::string OrUnknown(double v) { return v < 0 ? "unknown" : Num(v); }

// The node as a whole: expected bindings, rows and ms, and the alternatives.
std::string ExpectedText(const NodePlan& np) {
  std::string s =
      absl::StrCat("bindings=", OrUnknown(np.expected_bindings),
                   " rows=", OrUnknown(np.expected_rows), " ms=", OrUnknown(np.expected_ms));
  if (np.ms_per_binding >= 0) absl::StrAppend(&s, " per_binding_ms=", Num(np.ms_per_binding));
  if (np.ms_batched >= 0) absl::StrAppend(&s, " batched_ms=", Num(np.ms_batched));
  return s;
}

std::string ActualText(const NodeResult& r) {
  std::string s =
      absl::StrCat("status=", std::string(NodeStatusName(r.status)), " rows=", r.num_rows,
                   " bindings=", r.stats.bindings, " round_trips=", r.stats.round_trips,
                   " parallelism=", r.stats.parallelism,
                   " elapsed_ms=", Num((r.stats.end_ns - r.stats.start_ns) / 1e6));
  if (r.stats.rows_affected >= 0) absl::StrAppend(&s, " rows_affected=", r.stats.rows_affected);
  if (!r.error.ok()) absl::StrAppend(&s, " error=", r.error.message());
  return s;
}

std::string RenderText(const Plan& plan, const GraphResult* actuals) {
  std::string out = absl::StrCat("plan: ", plan.nodes.size(), " node(s), transaction ",
                                 std::string(TransactionModeName(plan.transaction)),
                                 plan.cached ? ", cached" : "", "\n");
  if (actuals != nullptr) {
    absl::StrAppend(&out, "actual: elapsed_ms=", Num(actuals->stats.elapsed_ns / 1e6),
                    " rows=", actuals->stats.rows, " round_trips=", actuals->stats.round_trips,
                    "\n");
  }
  for (const NodePlan& np : plan.nodes) {
    absl::StrAppend(&out, "node ", np.node_id, " (source ", np.database_id, ", provider ",
                    np.provider, ")\n");
    absl::StrAppend(&out, "  strategy:    ", std::string(ExecKindName(np.kind)));
    if (np.kind == ExecKind::kBatched) absl::StrAppend(&out, ", batch_size ", np.batch_size);
    absl::StrAppend(&out, ", parallelism ", np.parallelism, "\n");
    if (!np.reason.empty()) absl::StrAppend(&out, "  reason:      ", np.reason, "\n");
    if (!np.depends_on.empty()) {
      std::vector<std::string> deps;
      for (int d : np.depends_on) deps.push_back(NodeIdOf(plan, d));
      absl::StrAppend(&out, "  depends_on:  ", absl::StrJoin(deps, ", "), "\n");
    }
    if (!np.key_params.empty()) {
      absl::StrAppend(&out, "  key_params:  ", absl::StrJoin(np.key_params, ", "), "\n");
    }
    absl::StrAppend(&out, "  statement:   ", np.statement, "\n");
    absl::StrAppend(&out, "  estimate:    ", EstimateText(np.estimate), "\n");
    absl::StrAppend(&out, "  expected:    ", ExpectedText(np), "\n");
    out += AlternativesText(np);
    if (const NodeResult* r = ActualOf(actuals, np)) {
      absl::StrAppend(&out, "  actual:      ", ActualText(*r), "\n");
      out += ReplanText(*r);
    }
  }
  return out;
}

std::string RenderJson(const Plan& plan, const GraphResult* actuals) {
  std::string out =
      absl::StrCat("{\"transaction\":", JsonString(TransactionModeName(plan.transaction)),
                   plan.cached ? ",\"cached\":true" : "");
  if (actuals != nullptr) {
    absl::StrAppend(&out, ",\"actual\":{\"elapsed_ms\":", Num(actuals->stats.elapsed_ns / 1e6),
                    ",\"rows\":", actuals->stats.rows,
                    ",\"round_trips\":", actuals->stats.round_trips, "}");
  }
  out += ",\"nodes\":[";
  bool first = true;
  for (const NodePlan& np : plan.nodes) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, "{\"node_id\":", JsonString(np.node_id),
                    ",\"source\":", JsonString(np.database_id),
                    ",\"provider\":", JsonString(np.provider),
                    ",\"strategy\":", JsonString(ExecKindName(np.kind)),
                    ",\"reason\":", JsonString(np.reason), ",\"batch_size\":", np.batch_size,
                    ",\"parallelism\":", np.parallelism, ",\"depends_on\":[");
    for (size_t k = 0; k < np.depends_on.size(); ++k) {
      if (k > 0) out += ",";
      out += JsonString(NodeIdOf(plan, np.depends_on[k]));
    }
    out += "],\"key_params\":[";
    for (size_t k = 0; k < np.key_params.size(); ++k) {
      if (k > 0) out += ",";
      out += JsonString(np.key_params[k]);
    }
    const CostEstimate& e = np.estimate;
    absl::StrAppend(&out, "],\"statement\":", JsonString(np.statement),
                    ",\"estimate\":{\"rows\":", e.rows < 0 ? "null" : Num(e.rows),
                    ",\"startup_cost\":", Num(e.startup_cost),
                    ",\"per_binding_cost\":", Num(e.per_binding_cost),
                    ",\"per_row_cost\":", Num(e.per_row_cost),
                    ",\"uses_index\":", e.uses_index ? "true" : "false",
                    ",\"calibrated\":", e.calibrated ? "true" : "false",
                    ",\"origin\":", JsonString(e.origin.empty() ? "default" : e.origin));
    if (!e.fallback_reason.empty()) {
      absl::StrAppend(&out, ",\"fallback_reason\":", JsonString(e.fallback_reason));
    }
    auto num_or_null = [](double v) { return v < 0 ? std::string("null") : Num(v); };
    absl::StrAppend(&out, "},\"expected\":{\"bindings\":", num_or_null(np.expected_bindings),
                    ",\"rows\":", num_or_null(np.expected_rows),
                    ",\"ms\":", num_or_null(np.expected_ms),
                    ",\"per_binding_ms\":", num_or_null(np.ms_per_binding),
                    ",\"batched_ms\":", num_or_null(np.ms_batched), "}");
    out += AlternativesJson(np);
    if (const NodeResult* r = ActualOf(actuals, np)) {
      absl::StrAppend(&out, ",\"actual\":{\"status\":", JsonString(NodeStatusName(r->status)),
                      ",\"rows\":", r->num_rows, ",\"bindings\":", r->stats.bindings,
                      ",\"round_trips\":", r->stats.round_trips,
                      ",\"parallelism\":", r->stats.parallelism,
                      ",\"elapsed_ms\":", Num((r->stats.end_ns - r->stats.start_ns) / 1e6));
      out += ReplanJson(*r);
      if (r->stats.rows_affected >= 0) {
        absl::StrAppend(&out, ",\"rows_affected\":", r->stats.rows_affected);
      }
      if (!r->error.ok())
        absl::StrAppend(&out, ",\"error\":", JsonString(std::string(r->error.message())));
      out += "}";
    }
    out += "}";
  }
  out += "]}";
  return out;
}

std::string RenderDot(const Plan& plan, const GraphResult* actuals) {
  std::string out = "digraph plan {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (const NodePlan& np : plan.nodes) {
    std::string label = absl::StrCat(np.node_id, "\n", np.database_id, " (", np.provider, ")\n",
                                     std::string(ExecKindName(np.kind)));
    if (np.kind == ExecKind::kBatched) absl::StrAppend(&label, ", batch ", np.batch_size);
    absl::StrAppend(&label, ", parallelism ", np.parallelism, "\n", np.statement, "\nestimate ",
                    EstimateText(np.estimate), "\nexpected ", ExpectedText(np));
    if (const NodeResult* r = ActualOf(actuals, np)) {
      absl::StrAppend(&label, "\nactual ", ActualText(*r));
    }
    absl::StrAppend(&out, "  \"", DotEscape(np.node_id), "\" [label=\"", DotEscape(label),
                    "\"];\n");
  }
  for (const Edge& e : plan.edges) {
    std::vector<std::string> parts;
    for (const auto& [field, param] : e.mapping)
      parts.push_back(absl::StrCat(field, " -> ", param));
    absl::StrAppend(&out, "  \"", DotEscape(e.source_node), "\" -> \"", DotEscape(e.target_node),
                    "\"");
    if (parts.empty()) {
      out += " [style=dashed, label=\"after\"]";
    } else {
      absl::StrAppend(&out, " [label=\"", DotEscape(absl::StrJoin(parts, "\n")), "\"]");
    }
    out += ";\n";
  }
  out += "}\n";
  return out;
}

}  // namespace

std::string_view ExecKindName(ExecKind k) {
  switch (k) {
    case ExecKind::kSingle:
      return "single";
    case ExecKind::kBatched:
      return "batched";
    case ExecKind::kPerBinding:
      return "per_binding";
    case ExecKind::kFetchOnce:
      return "fetch_once";
  }
  return "single";
}

absl::StatusOr<ExplainFormat> ParseExplainFormat(std::string_view s) {
  const std::string lower = absl::AsciiStrToLower(std::string(s));
  if (lower == "text") return ExplainFormat::kText;
  if (lower == "json") return ExplainFormat::kJson;
  if (lower == "dot") return ExplainFormat::kDot;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown explain format \"", std::string(s), "\" (expected text, json or dot)"));
}

std::string RenderPlan(const Plan& plan, ExplainFormat format, const GraphResult* actuals) {
  switch (format) {
    case ExplainFormat::kText:
      return RenderText(plan, actuals);
    case ExplainFormat::kJson:
      return RenderJson(plan, actuals);
    case ExplainFormat::kDot:
      return RenderDot(plan, actuals);
  }
  return RenderText(plan, actuals);
}

}  // namespace qg
