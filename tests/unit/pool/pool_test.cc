// Tests of qg::ConnectionPool against the fake provider. Checks are on
// states and counts; waits are for states, with generous bounds. The only
// timed assertions are lower bounds on a wait that must run to its deadline
// (a deadline cannot fire early on a loaded machine), with upper bounds that
// are generous.
#include "qg/pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "qg/cancel.h"
#include "support/fake_provider.h"

namespace qg {
namespace {

using qg::testing::FakeProvider;

ConnectionFactory FactoryOf(FakeProvider& fake) {
  return [&fake]() {
    ConnectRequest r;
    r.source_name = "db";
    r.user = "app";
    return fake.Connect(r);
  };
}

PoolOptions Options(int pool_max) {
  PoolOptions o;
  o.pool_max = pool_max;
  o.acquire_timeout = absl::Seconds(30);
  o.health_check_interval = absl::Hours(1);
  return o;
}

// Waits (bounded) until `pred` holds; returns whether it did.
template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 20000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

class CountingSink : public RowSink {
 public:
  absl::Status OnColumns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status OnRow(std::vector<Value>&) override {
    ++rows;
    return absl::OkStatus();
  }
  int rows = 0;
};

absl::Status RunOn(Connection& c, FakeProvider& fake, std::string_view query) {
  CompileRequest req;
  req.query_string = query;
  auto stmt = fake.Compile(req);
  if (!stmt.ok()) return stmt.status();
  std::vector<BoundArg> args(stmt->args.size());
  for (auto& a : args) a.value = Value::Int(1);
  CountingSink sink;
  ExecStats stats;
  return c.Execute(*stmt, args, &sink, &stats);
}

TEST_CASE("pool reuses an idle connection and resets it on return", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(4), FactoryOf(fake));
  for (int i = 0; i < 3; ++i) {
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    REQUIRE(*c);
    CHECK(pool.stats().in_use == 1);
  }
  PoolStats s = pool.stats();
  CHECK(fake.connects() == 1);
  CHECK(fake.resets() == 3);
  CHECK(s.created == 1);
  CHECK(s.acquired == 3);
  CHECK(s.in_use == 0);
  CHECK(s.idle == 1);
  CHECK(s.max == 4);
  CHECK(s.wait_seconds == 0);
}

TEST_CASE("pool grows to pool_max and no further", "[pool]") {
  FakeProvider fake;
  PoolOptions o = Options(3);
  o.acquire_timeout = absl::Milliseconds(20);
  ConnectionPool pool("db/app", o, FactoryOf(fake));
  std::vector<PooledConnection> held;
  for (int i = 0; i < 3; ++i) {
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    held.push_back(std::move(*c));
  }
  CHECK(fake.connects() == 3);
  auto extra = pool.Acquire();
  CHECK(extra.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(fake.connects() == 3);
  CHECK(pool.stats().in_use == 3);
  held.clear();
  PoolStats s = pool.stats();
  CHECK(s.in_use == 0);
  CHECK(s.idle == 3);
  CHECK(s.timeouts == 1);
}

TEST_CASE("acquire_timeout is a contract: kResourceExhausted naming the pool", "[pool]") {
  FakeProvider fake;
  PoolOptions o = Options(1);
  o.acquire_timeout = absl::Milliseconds(100);
  ConnectionPool pool("db_orders/app", o, FactoryOf(fake));
  auto holder = pool.Acquire();
  REQUIRE(holder.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto second = pool.Acquire();  // returns: not hung
  const auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE(second.status().code() == absl::StatusCode::kResourceExhausted);
  // The wait lasts the whole acquire_timeout (not a fraction of it) and ends.
  CHECK(waited >= std::chrono::milliseconds(95));
  CHECK(waited < std::chrono::seconds(20));
  const std::string msg(second.status().message());
  CHECK(msg.find("pool db_orders/app") != std::string::npos);
  CHECK(msg.find("no connection within 100ms") != std::string::npos);
  CHECK(msg.find("pool_max=1") != std::string::npos);
  CHECK(msg.find("in use 1") != std::string::npos);
  CHECK(msg.find("waiting 1") != std::string::npos);
  PoolStats s = pool.stats();
  CHECK(s.timeouts == 1);
  CHECK(s.waiting == 0);
  CHECK(s.wait_seconds >= 0.095);
  holder->Release();
  CHECK(pool.stats().in_use == 0);
  CHECK(pool.Acquire().ok());
}

TEST_CASE("an explicit deadline in the past fails at once when full", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(1), FactoryOf(fake));
  auto holder = pool.Acquire();
  REQUIRE(holder.ok());
  auto c = pool.AcquireBy(absl::Now() - absl::Seconds(1));
  CHECK(c.status().code() == absl::StatusCode::kResourceExhausted);
  // With room, a past deadline still gets a connection (no wait needed).
  holder->Release();
  CHECK(pool.AcquireBy(absl::Now() - absl::Seconds(1)).ok());
}

TEST_CASE("an explicit deadline before acquire_timeout bounds the wait from both sides", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(1), FactoryOf(fake));  // acquire_timeout 30 s
  auto holder = pool.Acquire();
  REQUIRE(holder.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto c = pool.AcquireBy(absl::Now() + absl::Milliseconds(100));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(c.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(waited >= std::chrono::milliseconds(95));
  CHECK(waited < std::chrono::seconds(20));
  CHECK(pool.stats().timeouts == 1);
}

TEST_CASE("a waiter gets the connection another caller returns", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(1), FactoryOf(fake));
  auto holder = pool.Acquire();
  REQUIRE(holder.ok());
  absl::Status result = absl::UnknownError("not run");
  std::thread waiter([&] {
    auto c = pool.Acquire();
    result = c.status();
  });
  REQUIRE(WaitFor([&] { return pool.stats().waiting == 1; }));
  holder->Release();
  waiter.join();
  CHECK(result.ok());
  PoolStats s = pool.stats();
  CHECK(s.in_use == 0);
  CHECK(s.waiting == 0);
  CHECK(s.created == 1);
  CHECK(s.acquired == 2);
}

TEST_CASE("cancelling a waiter wakes it with the token's status", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(1), FactoryOf(fake));
  auto holder = pool.Acquire();
  REQUIRE(holder.ok());
  CancelToken token;
  absl::Status result = absl::UnknownError("not run");
  std::thread waiter([&] { result = pool.Acquire(&token).status(); });
  REQUIRE(WaitFor([&] { return pool.stats().waiting == 1; }));
  token.Cancel();
  waiter.join();
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK(pool.stats().waiting == 0);
  CHECK(pool.stats().in_use == 1);
  // An already cancelled token fails at once, even with room.
  holder->Release();
  CHECK(pool.Acquire(&token).status().code() == absl::StatusCode::kCancelled);
  CHECK(pool.stats().in_use == 0);
}

TEST_CASE("a connection marked broken is closed and replaced", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(2), FactoryOf(fake));
  {
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    c->MarkBroken();
  }
  PoolStats s = pool.stats();
  CHECK(s.broken == 1);
  CHECK(s.closed == 1);
  CHECK(s.idle == 0);
  CHECK(s.in_use == 0);
  CHECK(fake.live_connections() == 0);
  CHECK(fake.resets() == 0);  // a broken connection is not reset
  auto c = pool.Acquire();
  REQUIRE(c.ok());
  CHECK(fake.connects() == 2);
}

TEST_CASE("a connection the driver reports broken is closed on return", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(2), FactoryOf(fake));
  {
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    absl::Status st = RunOn(**c, fake, "@fail=unavailable @broken write");
    CHECK(st.code() == absl::StatusCode::kUnavailable);
    CHECK((*c)->broken());
  }
  CHECK(pool.stats().broken == 1);
  CHECK(fake.live_connections() == 0);
}

TEST_CASE("a failed health check on reuse replaces the connection", "[pool]") {
  FakeProvider fake;
  PoolOptions o = Options(2);
  o.health_check_interval = absl::ZeroDuration();  // validate on every reuse
  o.health_check = "SELECT 1";
  ConnectionPool pool("db/app", o, FactoryOf(fake));
  { REQUIRE(pool.Acquire().ok()); }
  { REQUIRE(pool.Acquire().ok()); }
  CHECK(fake.pings() == 1);  // a fresh connection is not pinged; a reused one is
  CHECK(fake.connects() == 1);
  fake.SetPingFails(true);
  {
    auto c = pool.Acquire();
    REQUIRE(c.ok());  // the bad one was replaced by a new one
  }
  CHECK(fake.pings() == 2);
  CHECK(fake.connects() == 2);
  PoolStats s = pool.stats();
  CHECK(s.broken == 1);
  CHECK(s.in_use == 0);
  CHECK(s.idle == 1);
  CHECK(fake.live_connections() == 1);
}

TEST_CASE("no health check before health_check_interval has passed", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(2), FactoryOf(fake));  // interval: 1h
  fake.SetPingFails(true);
  for (int i = 0; i < 3; ++i) REQUIRE(pool.Acquire().ok());
  CHECK(fake.pings() == 0);
  CHECK(fake.connects() == 1);
}

TEST_CASE("a connect failure is the factory's status, annotated with the pool", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(2), FactoryOf(fake));
  fake.FailNextConnects(1);
  auto c = pool.Acquire();
  REQUIRE(c.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(c.status().message()) == "pool db/app: fake: connect failed");
  PoolStats s = pool.stats();
  CHECK(s.in_use == 0);
  CHECK(s.created == 0);
  CHECK(pool.Acquire().ok());
  CHECK(pool.stats().created == 1);
}

TEST_CASE("max_lifetime retires connections, with jitter", "[pool]") {
  FakeProvider fake;
  SECTION("retired connections are closed, not reused") {
    PoolOptions o = Options(2);
    o.max_lifetime = absl::Milliseconds(1);
    o.lifetime_jitter = 0.5;
    ConnectionPool pool("db/app", o, FactoryOf(fake));
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    const absl::Time retire = c->retire_at();
    CHECK(retire > c->created_at());
    CHECK(retire <= c->created_at() + absl::Milliseconds(1));
    c->Release();
    REQUIRE(WaitFor([&] { return absl::Now() > retire; }));
    auto d = pool.Acquire();
    REQUIRE(d.ok());
    CHECK(fake.connects() == 2);
    CHECK(pool.stats().closed >= 1);
    d->Release();
    REQUIRE(WaitFor([&] { return absl::Now() > d->retire_at(); }));
    pool.Maintain();  // retired idle connections go in Maintain too
    CHECK(pool.stats().idle == 0);
    CHECK(fake.live_connections() == 0);
  }
  SECTION("each connection retires at max_lifetime * (1 - U[0, jitter])") {
    PoolOptions o = Options(16);
    o.max_lifetime = absl::Hours(100);
    o.lifetime_jitter = 0.5;
    ConnectionPool pool("db/app", o, FactoryOf(fake));
    std::vector<PooledConnection> held;
    std::vector<absl::Duration> lifetimes;
    for (int i = 0; i < 16; ++i) {
      auto c = pool.Acquire();
      REQUIRE(c.ok());
      lifetimes.push_back(c->retire_at() - c->created_at());
      held.push_back(std::move(*c));
    }
    for (absl::Duration d : lifetimes) {
      CHECK(d >= absl::Hours(50));
      CHECK(d <= absl::Hours(100));
    }
    std::sort(lifetimes.begin(), lifetimes.end());
    CHECK(lifetimes.front() != lifetimes.back());  // not all at once
  }
  SECTION("no jitter: exactly max_lifetime; zero: unlimited") {
    PoolOptions o = Options(2);
    o.max_lifetime = absl::Hours(1);
    o.lifetime_jitter = 0;
    ConnectionPool pool("db/app", o, FactoryOf(fake));
    auto c = pool.Acquire();
    REQUIRE(c.ok());
    CHECK(c->retire_at() - c->created_at() == absl::Hours(1));
    o.max_lifetime = absl::ZeroDuration();
    ConnectionPool unlimited("db/app", o, FactoryOf(fake));
    auto u = unlimited.Acquire();
    REQUIRE(u.ok());
    CHECK(u->retire_at() == absl::InfiniteFuture());
  }
}

TEST_CASE("Maintain shrinks idle connections above pool_min", "[pool]") {
  FakeProvider fake;
  PoolOptions o = Options(4);
  o.pool_min = 1;
  SECTION("past idle_timeout") { o.idle_timeout = absl::ZeroDuration(); }
  SECTION("not yet idle long enough") { o.idle_timeout = absl::Hours(1); }
  ConnectionPool pool("db/app", o, FactoryOf(fake));
  {
    std::vector<PooledConnection> held;
    for (int i = 0; i < 3; ++i) held.push_back(std::move(*pool.Acquire()));
  }
  REQUIRE(pool.stats().idle == 3);
  pool.Maintain();
  if (o.idle_timeout == absl::ZeroDuration()) {
    CHECK(pool.stats().idle == 1);  // pool_min stays
    CHECK(pool.stats().closed == 2);
    CHECK(fake.live_connections() == 1);
  } else {
    CHECK(pool.stats().idle == 3);
    CHECK(fake.live_connections() == 3);
  }
}

TEST_CASE("Maintain tops up to pool_min", "[pool]") {
  FakeProvider fake;
  PoolOptions o = Options(4);
  o.pool_min = 2;
  ConnectionPool pool("db/app", o, FactoryOf(fake));
  CHECK(pool.stats().idle == 0);
  fake.FailNextConnects(1);
  pool.Maintain();  // source down: nothing opened, nothing leaked
  CHECK(pool.stats().idle == 0);
  CHECK(fake.live_connections() == 0);
  pool.Maintain();
  CHECK(pool.stats().idle == 2);
  CHECK(pool.stats().created == 2);
  pool.Maintain();  // already there
  CHECK(fake.connects() == 2);
  // In-use connections count toward pool_min.
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  pool.Maintain();
  CHECK(fake.connects() == 2);
  CHECK(pool.stats().in_use == 2);
}

TEST_CASE("Drain closes idle now, in-use on return, and keeps nothing it still lends", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(4), FactoryOf(fake));
  auto held = pool.Acquire();
  REQUIRE(held.ok());
  { REQUIRE(pool.Acquire().ok()); }  // leaves one idle
  REQUIRE(pool.stats().idle == 1);
  REQUIRE(fake.live_connections() == 2);
  pool.Drain();
  CHECK(pool.stats().idle == 0);
  CHECK(fake.live_connections() == 1);
  {
    auto late = pool.Acquire();  // a running graph's next task still gets one
    REQUIRE(late.ok());
    CHECK(fake.live_connections() == 2);
  }
  CHECK(fake.live_connections() == 1);  // closed on return, not kept idle
  CHECK(pool.stats().idle == 0);
  held->Release();
  CHECK(fake.live_connections() == 0);
  CHECK(pool.stats().in_use == 0);
  pool.Maintain();  // no top-up while draining
  CHECK(fake.live_connections() == 0);
}

TEST_CASE("A waiter on a drained pool gets a fresh connection when one returns", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(1), FactoryOf(fake));
  auto held = pool.Acquire();
  REQUIRE(held.ok());
  absl::Status result = absl::UnknownError("not run");
  std::thread waiter([&] {
    auto c = pool.Acquire();
    result = c.status();
  });
  REQUIRE(WaitFor([&] { return pool.stats().waiting == 1; }));
  pool.Drain();
  held->Release();  // closed (draining), which frees the slot for the waiter
  waiter.join();
  CHECK(result.ok());
  CHECK(fake.connects() == 2);
  CHECK(fake.live_connections() == 0);
}

TEST_CASE("PooledConnection moves keep exactly one owner", "[pool]") {
  FakeProvider fake;
  ConnectionPool pool("db/app", Options(2), FactoryOf(fake));
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  PooledConnection x = std::move(*a);
  CHECK_FALSE(*a);
  CHECK(x);
  x = std::move(*b);  // returns the first one
  CHECK(pool.stats().in_use == 1);
  CHECK(pool.stats().idle == 1);
  x.Release();
  x.Release();  // idempotent
  CHECK(pool.stats().in_use == 0);
  CHECK(pool.stats().idle == 2);
}

TEST_CASE("concurrent acquire and release never exceed pool_max nor lose a connection",
          "[pool][stress]") {
  FakeProvider fake;
  fake.AddTable("t", {"a"}, {{Value::Int(1)}});
  PoolOptions o = Options(4);
  o.health_check_interval = absl::ZeroDuration();
  o.max_lifetime = absl::Milliseconds(5);  // some retire along the way
  o.idle_timeout = absl::ZeroDuration();
  ConnectionPool pool("db/app", o, FactoryOf(fake));
  constexpr int kThreads = 8;
  constexpr int kRounds = 150;
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::thread maintainer([&] {
    while (!stop.load()) {
      pool.Maintain();
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        auto c = pool.Acquire();
        if (!c.ok()) {
          ++failures;
          continue;
        }
        if (!RunOn(**c, fake, "table t where a = :a").ok()) ++failures;
        if ((i + t) % 17 == 0) c->MarkBroken();
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  maintainer.join();
  PoolStats s = pool.stats();
  CHECK(failures.load() == 0);
  CHECK(s.in_use == 0);
  CHECK(s.waiting == 0);
  CHECK(s.acquired == uint64_t{kThreads * kRounds});
  CHECK(fake.max_live_connections() <= 4);
  CHECK(fake.max_concurrent_executions() <= 4);
  CHECK(s.broken >= 1);
  CHECK(fake.live_connections() == s.idle);
  CHECK(s.created - s.closed == static_cast<uint64_t>(s.idle));
}

}  // namespace
}  // namespace qg
