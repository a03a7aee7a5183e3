// A host that reads the planner's decisions and overrides one of them
// (docs/design.md §11): qg::Planner plans the seed graph without running
// it; EngineOptions::plan_hook is asked per dependent node and here asks
// for the strategy named on the command line for "order_data".
//
// Run from the repository root after scripts/make-example-data.sh:
//   build/bin/plan_hook [batched|per_binding|fetch_once] [City]
// It prints EXPLAIN before execution, then what each node ran with.
// An override the node cannot run with (try one that the source cannot do,
// or edit the batch size below to 0) keeps the planner's choice, and the
// EXPLAIN reason says why the hook was refused.
#include "qg/plan_hook.h"

#include <cstdio>
#include <optional>
#include <string>

#include "qg/engine.h"
#include "qg/plan.h"
#include "qg/planner.h"

namespace {

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "%s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string wanted = argc > 1 ? argv[1] : "fetch_once";
  const std::string city = argc > 2 ? argv[2] : "Paris";
  std::optional<qg::ExecKind> kind;
  for (qg::ExecKind k :
       {qg::ExecKind::kBatched, qg::ExecKind::kPerBinding, qg::ExecKind::kFetchOnce}) {
    if (qg::ExecKindName(k) == wanted) kind = k;
  }
  if (!kind.has_value()) {
    std::fprintf(stderr, "usage: plan_hook [batched|per_binding|fetch_once] [City]\n");
    return 2;
  }

  qg::EngineOptions options;
  options.plan_hook =
      [kind](const qg::PlanHookView& v) -> absl::StatusOr<std::optional<qg::PlanOverride>> {
    if (v.decision.node_id != "order_data") return std::nullopt;  // keep the planner's choice
    // What the planner weighed, with each alternative's estimated cost.
    for (const qg::Alternative& a : v.decision.alternatives) {
      std::printf("hook: %s %s est %.3g ms (%s)\n", std::string(qg::ExecKindName(a.kind)).c_str(),
                  a.possible ? "possible" : "not possible", a.est_ms, a.note.c_str());
    }
    qg::PlanOverride o;
    o.kind = *kind;
    if (*kind == qg::ExecKind::kBatched) o.batch_size = 50;
    o.note = "the host knows its data";
    return o;
  };
  auto engine = qg::Engine::Create(options);
  if (!engine.ok()) return Fail(engine.status());
  absl::Status st = (*engine)->LoadCatalogJson(R"({"sources": [
    {"name": "db_users", "provider": "sqlite", "connect": "examples/data/users.sqlite"},
    {"name": "db_orders", "provider": "sqlite", "connect": "examples/data/orders.sqlite"}]})");
  if (!st.ok()) return Fail(st);

  const char* graph = R"({"nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"]}],
    "edges": [{"source_node": "user_data", "target_node": "order_data",
               "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
  qg::ExecuteOptions opts;
  opts.params = {{"city", qg::Value::String(city)}};

  qg::Planner planner(**engine);
  absl::StatusOr<qg::Plan> plan = planner.PlanJson(graph, opts);
  if (!plan.ok()) return Fail(plan.status());
  std::printf("%s\n", qg::RenderPlan(*plan, qg::ExplainFormat::kText).c_str());

  absl::StatusOr<qg::GraphResult> result = (*engine)->ExecuteJson(graph, opts);
  if (!result.ok()) return Fail(result.status());
  for (const qg::NodeResult& n : result->nodes) {
    std::printf("%s: %zu rows, strategy %s, %lld round trips\n", n.node_id.c_str(), n.num_rows,
                n.stats.strategy.c_str(), static_cast<long long>(n.stats.round_trips));
  }
  return 0;
}
