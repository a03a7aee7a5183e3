// tests/support/fault_sweep.h — runs one graph with the N-th driver call
// failing, for N = 1, 2, ... until a run completes without the fault
// striking (tests/support/fault_provider.h), and checks every run:
//
//  - it ends with the right result or with an error of a defined code
//    (kUnavailable, kAborted, kDataLoss, kDeadlineExceeded, kCancelled,
//    kResourceExhausted, kFailedPrecondition; never kInternal/kUnknown) whose
//    message names the faulted source, and the node too when the fault struck
//    a statement (execute, fetch);
//  - every pool of the engine is whole afterwards (nothing in use or waiting);
//  - with a coordinator log, Engine::Recover() (fault cleared: the source is
//    back) resolves everything;
//  - the case's own checks: the data is all-or-nothing as the outcome says,
//    nothing of ours is left open on the servers;
//  - a second run on the same engine, fault cleared, succeeds with the right
//    result (what the pools kept after the fault is usable).
//
// Every N gets a fresh engine, so each run makes the whole call sequence
// (connects included) instead of reusing the previous run's sessions.
// Uses Catch2 assertions: call from inside a TEST_CASE.
#ifndef QG_TESTS_SUPPORT_FAULT_SWEEP_H_
#define QG_TESTS_SUPPORT_FAULT_SWEEP_H_

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "qg/engine.h"
#include "support/fault_provider.h"

namespace qg::testing {

struct FaultSweepCase {
  std::string name;  // for messages: "seed/sqlite"
  bool persistent = false;
  FaultPlan::Where where = FaultPlan::Where::kBefore;
  // A fresh engine whose providers are FaultProviders sharing `plan`.
  std::function<std::unique_ptr<Engine>(const std::shared_ptr<FaultPlan>& plan)> make_engine;
  // Runs the graph once; `run` is unique within the sweep (for fresh keys).
  std::function<absl::StatusOr<GraphResult>(Engine& engine, int run)> run;
  // Checks the outcome of run `run` (after Recover() when `recover`): the
  // result is right, or the data agrees with the error.
  std::function<void(Engine& engine, int run, const absl::StatusOr<GraphResult>& outcome)> check;
  // Checks nothing of ours is left open on the servers (may be empty).
  std::function<void()> check_servers;
  bool recover = false;
  int max_runs = 3000;
};

struct FaultSweepStats {
  int runs = 0;                        // faulted runs (the fault struck)
  int errors = 0;                      // of which ended with an error
  int recovered = 0;                   // of which ended with the right result
  std::map<std::string, int> by_call;  // faulted runs per call kind
  std::map<std::string, int> by_code;  // errors per status code
  std::string Summary(const std::string& name) const {
    std::string s = name + ": " + std::to_string(runs) + " faulted runs (" +
                    std::to_string(errors) + " errors, " + std::to_string(recovered) +
                    " right results); calls:";
    for (const auto& [k, v] : by_call) s += " " + k + "=" + std::to_string(v);
    s += "; codes:";
    for (const auto& [k, v] : by_code) s += " " + k + "=" + std::to_string(v);
    return s;
  }
};

inline bool FaultCodeDefined(absl::StatusCode c) {
  switch (c) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

// Every pool of `engine` has nothing in use and nobody waiting.
inline void CheckPoolsWhole(const Engine& engine) {
  for (const auto& [key, stats] : engine.PoolStatistics()) {
    INFO("pool " << key);
    CHECK(stats.in_use == 0);
    CHECK(stats.waiting == 0);
  }
}

inline FaultSweepStats RunFaultSweep(const FaultSweepCase& c) {
  FaultSweepStats stats;
  bool completed = false;
  for (int n = 1; n <= c.max_runs && !completed; ++n) {
    auto plan = std::make_shared<FaultPlan>();
    std::unique_ptr<Engine> engine = c.make_engine(plan);
    REQUIRE(engine != nullptr);
    plan->Arm(n, c.persistent, c.where);
    absl::StatusOr<GraphResult> r = c.run(*engine, 2 * n);
    const bool fired = plan->fired();
    const std::string source = plan->fired_source();
    const FaultCall call = plan->fired_call();
    plan->Disarm();
    INFO(c.name << (c.persistent ? " persistent" : " transient")
                << (c.where == FaultPlan::Where::kAfter ? " (after the call)" : "") << ", call "
                << n << (fired ? std::string(" = ") + FaultCallName(call) : "") << " on source "
                << source << ": " << r.status().ToString());
    if (!fired) {
      CHECK(r.ok());
      completed = true;
    } else {
      ++stats.runs;
      ++stats.by_call[FaultCallName(call)];
      if (r.ok()) {
        ++stats.recovered;
      } else {
        ++stats.errors;
        ++stats.by_code[absl::StatusCodeToString(r.status().code())];
        CHECK(FaultCodeDefined(r.status().code()));
        const std::string msg(r.status().message());
        CHECK_THAT(msg, Catch::Contains("\"" + source + "\""));
        if (call == FaultCall::kExecute || call == FaultCall::kFetch) {
          CHECK_THAT(msg, Catch::Contains("node \""));
        }
      }
    }
    CheckPoolsWhole(*engine);
    if (c.recover) {
      absl::StatusOr<RecoveryReport> rec = engine->Recover();
      INFO("Recover: " << rec.status().ToString());
      REQUIRE(rec.ok());
      CHECK(rec->unresolved.empty());
      CheckPoolsWhole(*engine);
    }
    c.check(*engine, 2 * n, r);
    if (c.check_servers) c.check_servers();
    if (fired) {
      // The same engine, fault cleared: whatever its pools kept works.
      absl::StatusOr<GraphResult> again = c.run(*engine, 2 * n + 1);
      INFO("the run after the fault: " << again.status().ToString());
      CHECK(again.ok());
      c.check(*engine, 2 * n + 1, again);
      CheckPoolsWhole(*engine);
      if (c.check_servers) c.check_servers();
    }
  }
  CHECK(completed);
  std::printf("fault sweep %s\n",
              stats
                  .Summary(c.name + (c.persistent ? " persistent" : " transient") +
                           (c.where == FaultPlan::Where::kAfter ? " after" : ""))
                  .c_str());
  std::fflush(stdout);
  return stats;
}

}  // namespace qg::testing

#endif  // QG_TESTS_SUPPORT_FAULT_SWEEP_H_
