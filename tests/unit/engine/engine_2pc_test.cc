// Two-phase commit without servers: two FakeProviders with two-phase commit
// on are two servers ("pa" on fake "fa", "pb" on fake "fb"); their event
// records, merged by sequence number with the transaction hook's marks, show
// the order PREPARE (every participant) -> commit decision durable in the
// coordinator log -> COMMIT PREPARED. A coordinator "crash" is an exception
// (FakeProvider::Crash) thrown from the transaction hook or from an injected
// provider call: nothing after it runs, the fakes keep what was prepared, and
// a new engine on the same log resolves it with Recover() (docs/design.md,
// testing). The PostgreSQL/MariaDB versions are in tests/integration.
#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

using qg::testing::FakeProvider;
using Call = FakeProvider::TwoPhaseCall;

constexpr char kGraph[] = R"({"transaction": "2pc", "nodes": [
    {"node_id": "wa", "database_id": "pa", "mode": "write", "query_string": "write"},
    {"node_id": "wb", "database_id": "pb", "mode": "write", "query_string": "write"}],
   "edges": [{"source_node": "wa", "target_node": "wb"}]})";

struct Env {
  TempDir dir;
  std::shared_ptr<FakeProvider> fa = std::make_shared<FakeProvider>("fa");
  std::shared_ptr<FakeProvider> fb = std::make_shared<FakeProvider>("fb");
  std::unique_ptr<Engine> engine;
  std::vector<std::pair<int64_t, std::string>> marks;  // hook points, stamped
  std::string crash_point;                             // the hook throws here

  std::string log() const { return dir.File("tx.log"); }
  // The coordinator log's records as "decision" rows (sorted).
  std::vector<std::string> Decisions() const {
    return SqlRows(log(), "SELECT decision FROM transactions");
  }
};

// (Re)opens the engine on env's log and fakes: a restart after a crash.
void Open(Env& env, bool recover_on_open) {
  env.engine.reset();
  EngineOptions o;
  o.register_builtin_providers = false;
  o.coordinator_log = env.log();
  o.transaction_prefix = "t";
  o.recover_on_open = recover_on_open;
  Env* e = &env;
  o.transaction_hook = [e](std::string_view point) {
    // What the log holds at this point, read from outside the engine.
    const std::vector<std::string> d = e->Decisions();
    e->marks.emplace_back(FakeProvider::NextSequence(),
                          "hook " + std::string(point) + " log=" + (d.empty() ? "-" : d[0]));
    if (point == e->crash_point) throw FakeProvider::Crash{std::string(point)};
  };
  auto engine = Engine::Create(std::move(o));
  REQUIRE(engine.ok());
  env.engine = std::move(*engine);
  REQUIRE(env.engine->RegisterProvider(env.fa).ok());
  REQUIRE(env.engine->RegisterProvider(env.fb).ok());
  for (const auto& [source, provider] : {std::pair{"pa", "fa"}, std::pair{"pb", "fb"}}) {
    SourceConfig s;
    s.name = source;
    s.provider = provider;
    s.pool.pool_max = 4;
    s.pool.acquire_timeout = absl::Seconds(30);
    REQUIRE(env.engine->AddSource(s).ok());
  }
}

std::unique_ptr<Env> MakeEnv() {
  auto env = std::make_unique<Env>();
  env->fa->SetTwoPhase(true);
  env->fb->SetTwoPhase(true);
  Open(*env, false);
  return env;
}

// Every 2PC event of both fakes and the hook marks, in sequence order, as
// "fa: prepare GID" / "hook after_prepare log=none"; with `tx_id` set, the
// gids are written "<a>.N" (the transaction id replaced).
std::vector<std::string> Events(const Env& env, const std::string& tx_id = "") {
  std::vector<std::pair<int64_t, std::string>> all = env.marks;
  for (const auto* f : {env.fa.get(), env.fb.get()}) {
    for (const auto& e : f->tx_events()) {
      if (e.what.find("prepare") == std::string::npos && e.what.find("crash") == std::string::npos)
        continue;
      all.emplace_back(e.seq, std::string(f->name()) + ": " + e.what);
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (auto& [seq, what] : all) {
    if (!tx_id.empty()) {
      const size_t at = what.find("t." + tx_id);
      if (at != std::string::npos) what.replace(at, 2 + tx_id.size(), "<tx>");
    }
    out.push_back(what);
  }
  return out;
}

TEST_CASE("2pc: PREPARE on every participant, then the decision logged, then COMMIT PREPARED",
          "[engine][tx][2pc]") {
  auto env = MakeEnv();
  auto r = env->engine->ExecuteJson(kGraph);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const TransactionReport& rep = r->transaction;
  CHECK(rep.mode == "2pc");
  REQUIRE(rep.participants.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(rep.participants[i].state == ParticipantState::kCommitted);
    CHECK(rep.participants[i].gid == "t." + rep.id + "." + std::to_string(i));
  }
  CHECK(Events(*env, rep.id) == std::vector<std::string>{
                                    "fa: prepare <tx>.0",
                                    "fb: prepare <tx>.1",
                                    "hook after_prepare log=none",
                                    "hook after_decision log=commit",
                                    "fa: commit prepared <tx>.0",
                                    "hook between_commits log=commit",
                                    "fb: commit prepared <tx>.1",
                                });
  CHECK(env->fa->prepared().empty());
  CHECK(env->fb->prepared().empty());
  CHECK(env->Decisions().empty());  // resolved: forgotten
}

struct CrashCase {
  std::string point;
  std::vector<std::string> prepared_after;  // "fa"/"fb" still prepared after the crash
  std::string decision;                     // in the log after the crash
  int committed, rolled_back;               // by Recover()
};

// Crashes the coordinator at the hook point, restarts, recovers. (The
// restarted engine gets its fake providers after Create(), so recovery is the
// explicit Recover(); recover_on_open is covered in tests/integration.)
void CheckHookCrash(const CrashCase& c) {
  INFO("crash at " << c.point);
  auto env = MakeEnv();
  env->crash_point = c.point;
  CHECK_THROWS_AS(env->engine->ExecuteJson(kGraph), FakeProvider::Crash);
  env->engine.reset();
  std::vector<std::string> prepared;
  if (!env->fa->prepared().empty()) prepared.push_back("fa");
  if (!env->fb->prepared().empty()) prepared.push_back("fb");
  CHECK(prepared == c.prepared_after);
  CHECK(env->Decisions() == std::vector<std::string>{c.decision});

  const size_t before = Events(*env).size();
  Open(*env, false);
  auto rec = env->engine->Recover();
  REQUIRE(rec.ok());
  CHECK(rec->unresolved.empty());
  CHECK(rec->committed == c.committed);
  CHECK(rec->rolled_back == c.rolled_back);
  CHECK(rec->resolved_log == 1);
  CHECK(env->fa->prepared().empty());
  CHECK(env->fb->prepared().empty());
  CHECK(env->Decisions().empty());
  // What recovery did on the servers: only the decision's kind of call.
  const std::vector<std::string> all = Events(*env);
  int commits = 0, rollbacks = 0;
  for (size_t i = before; i < all.size(); ++i) {
    commits += all[i].find(": commit prepared t.") != std::string::npos;
    rollbacks += all[i].find(": rollback prepared t.") != std::string::npos;
  }
  CHECK(commits == c.committed);
  CHECK(rollbacks == c.rolled_back);
  // A second pass finds nothing.
  auto again = env->engine->Recover();
  REQUIRE(again.ok());
  CHECK(again->committed + again->rolled_back + again->resolved_log == 0);
}

TEST_CASE("2pc crash at each hook point: Recover() follows the logged decision",
          "[engine][tx][2pc]") {
  SECTION("after_prepare: no decision, both branches rolled back") {
    const CrashCase c{"after_prepare", {"fa", "fb"}, "none", 0, 2};
    CheckHookCrash(c);
  }
  SECTION("after_decision: both branches committed") {
    const CrashCase c{"after_decision", {"fa", "fb"}, "commit", 2, 0};
    CheckHookCrash(c);
  }
  SECTION("between_commits: the second branch committed") {
    const CrashCase c{"between_commits", {"fb"}, "commit", 1, 0};
    CheckHookCrash(c);
  }
}

TEST_CASE("2pc crash inside a provider call: Recover() resolves what was applied",
          "[engine][tx][2pc]") {
  auto env = MakeEnv();
  int committed = 0, rolled_back = 0;
  std::string decision;
  SECTION("PREPARE on pb applied, its answer lost") {
    env->fb->CrashAt(Call::kPrepare, true);
    decision = "none";
    rolled_back = 2;
  }
  SECTION("PREPARE on pb never ran") {
    env->fb->CrashAt(Call::kPrepare, false);
    decision = "none";
    rolled_back = 1;  // pb's open transaction ended with its session
  }
  SECTION("COMMIT PREPARED on pa applied, its answer lost") {
    env->fa->CrashAt(Call::kCommitPrepared, true);
    decision = "commit";
    committed = 1;  // pb; pa's branch is no longer prepared
  }
  CHECK_THROWS_AS(env->engine->ExecuteJson(kGraph), FakeProvider::Crash);
  env->engine.reset();
  CHECK(env->Decisions() == std::vector<std::string>{decision});
  Open(*env, false);
  auto rec = env->engine->Recover();
  REQUIRE(rec.ok());
  CHECK(rec->unresolved.empty());
  CHECK(rec->committed == committed);
  CHECK(rec->rolled_back == rolled_back);
  CHECK(rec->resolved_log == 1);
  CHECK(env->fa->prepared().empty());
  CHECK(env->fb->prepared().empty());
  CHECK(env->Decisions().empty());
}

TEST_CASE("2pc: a failed PREPARE rolls every prepared branch back and commits nothing",
          "[engine][tx][2pc]") {
  auto env = MakeEnv();
  env->fb->FailTwoPhase(Call::kPrepare, 1);
  auto r = env->engine->ExecuteJson(kGraph);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kAborted);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("prepare failed on source \"pb\""));
  const std::vector<std::string> ev = Events(*env);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].rfind("fa: prepare t.", 0) == 0);
  CHECK(ev[1].rfind("fb: prepare t.", 0) == 0);
  CHECK(ev[1].find(" failed") != std::string::npos);
  CHECK(ev[2].rfind("fa: rollback prepared t.", 0) == 0);
  CHECK(env->fa->prepared().empty());
  CHECK(env->fb->prepared().empty());
  CHECK(env->Decisions().empty());
}

TEST_CASE("2pc: COMMIT PREPARED failing after the decision is pending until Recover()",
          "[engine][tx][2pc]") {
  auto env = MakeEnv();
  // The pinned session and the fresh one the engine retries on both fail.
  env->fb->FailTwoPhase(Call::kCommitPrepared, 2);
  auto r = env->engine->ExecuteJson(kGraph);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const auto& parts = r->transaction.participants;
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].state == ParticipantState::kCommitted);
  CHECK(parts[1].state == ParticipantState::kCommitPending);
  CHECK(env->fb->prepared() == std::vector<std::string>{parts[1].gid});
  CHECK(env->Decisions() == std::vector<std::string>{"commit"});

  // Still unreachable: the record stays for the next pass.
  env->fb->FailTwoPhase(Call::kListPrepared, 1);
  auto first = env->engine->Recover();
  REQUIRE(first.ok());
  CHECK(first->unresolved.size() == 1);
  CHECK(first->resolved_log == 0);
  CHECK(env->Decisions() == std::vector<std::string>{"commit"});

  auto second = env->engine->Recover();
  REQUIRE(second.ok());
  CHECK(second->unresolved.empty());
  CHECK(second->committed == 1);
  CHECK(second->resolved_log == 1);
  CHECK(env->fb->prepared().empty());
  CHECK(env->Decisions().empty());
}

TEST_CASE("2pc Recover() rolls back a stray branch of its own prefix only", "[engine][tx][2pc]") {
  auto env = MakeEnv();
  for (const std::string gid : {"t.00000000deadbeef.0", "other.00000000deadbeef.0"}) {
    ConnectRequest req;
    auto c = env->fa->Connect(req);
    REQUIRE(c.ok());
    REQUIRE((*c)->Begin(TxOptions{}).ok());
    REQUIRE((*c)->PrepareTransaction(gid).ok());
  }
  auto rec = env->engine->Recover();
  REQUIRE(rec.ok());
  CHECK(rec->rolled_back == 1);
  CHECK(rec->committed == 0);
  CHECK(env->fa->prepared() == std::vector<std::string>{"other.00000000deadbeef.0"});
}

}  // namespace
}  // namespace qg::enginetest
