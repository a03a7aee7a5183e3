// Issue 14's Done-when for estimates (docs/design.md §11): EXPLAIN ANALYZE of
// the seed graph on a real server shows the source's own estimates (never
// the default) from the first run, and once calibrated (three more runs)
// every node's expected rows are within 2x of its actual rows.
#ifndef QG_TESTS_INTEGRATION_COST_CHECKS_H_
#define QG_TESTS_INTEGRATION_COST_CHECKS_H_

#include <catch2/catch.hpp>
#include <string>

#include "qg/engine.h"
#include "qg/plan.h"

namespace qg::testing {

inline void CheckSeedEstimatesConverge(Engine& engine, const std::string& graph_json,
                                       const std::string& origin_prefix) {
  auto g = ParseGraph(graph_json, engine.GraphParseOptions());
  REQUIRE(g.ok());
  ExecuteOptions opts;
  opts.params = {{"city", Value::String("Paris")}};
  opts.estimate_costs = true;  // as EXPLAIN ANALYZE does
  for (int run = 0; run < 4; ++run) {
    auto r = engine.Execute(*g, opts);
    INFO(r.status().message());
    REQUIRE(r.ok());
    const std::string text = RenderPlan(r->plan, ExplainFormat::kText, &*r);
    INFO("run " << run << "\n" << text);
    for (const NodePlan& np : r->plan.nodes) {
      INFO(np.node_id);
      CHECK(np.estimate.origin.rfind(origin_prefix, 0) == 0);
      CHECK(np.estimate.fallback_reason.empty());
    }
    if (run == 0) continue;
    for (const NodeResult& nr : r->nodes) {
      INFO(nr.node_id << ": expected rows " << nr.stats.estimated_rows << ", actual "
                      << nr.num_rows);
      REQUIRE(nr.num_rows > 0);
      CHECK(nr.stats.estimated_rows >= static_cast<double>(nr.num_rows) / 2);
      CHECK(nr.stats.estimated_rows <= static_cast<double>(nr.num_rows) * 2);
    }
    if (run == 3) {
      for (const NodePlan& np : r->plan.nodes) CHECK(np.estimate.calibrated);
      CHECK(text.find("calibrated") != std::string::npos);
    }
  }
}

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_COST_CHECKS_H_
