// The connection pool of qg/pool.h (docs/design.md §9).
//
// Invariants, all under mu_: in_use_ + idle_.size() + connecting_ never
// exceeds pool_max (a connect is counted in connecting_ from the moment a
// caller decides to open one until the factory returns), and every
// connection handed out is counted in in_use_ until Return() has finished
// with it. Connecting, pinging, resetting and closing happen outside mu_:
// they are driver round trips.
#include "qg/pool.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qg {

// ---- PooledConnection ----------------------------------------------------

PooledConnection::PooledConnection(ConnectionPool* pool, std::unique_ptr<Connection> conn,
                                   absl::Time created, absl::Time retire_at)
    : pool_(pool), conn_(std::move(conn)), created_(created), retire_at_(retire_at) {}

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      created_(other.created_),
      retire_at_(other.retire_at_),
      broken_(std::exchange(other.broken_, false)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    created_ = other.created_;
    retire_at_ = other.retire_at_;
    broken_ = std::exchange(other.broken_, false);
  }
  return *this;
}

PooledConnection::~PooledConnection() { Release(); }

void PooledConnection::Release() {
  ConnectionPool* pool = std::exchange(pool_, nullptr);
  std::unique_ptr<Connection> conn = std::move(conn_);
  bool broken = std::exchange(broken_, false);
  if (pool != nullptr && conn != nullptr) {
    pool->Return(std::move(conn), created_, retire_at_, broken);
  }
}

// ---- ConnectionPool ------------------------------------------------------

ConnectionPool::ConnectionPool(std::string name, PoolOptions options, ConnectionFactory factory)
    : name_(std::move(name)), options_(std::move(options)), factory_(std::move(factory)) {
  // Seed the jitter generator per pool so pools created together do not
  // retire their connections in lockstep.
  rng_state_ ^= static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^
                static_cast<uint64_t>(reinterpret_cast<uintptr_t>(this));
}

ConnectionPool::~ConnectionPool() {
  std::vector<std::unique_ptr<Connection>> to_close;
  {
    absl::MutexLock lock(&mu_);
    // Destroying a pool with connections still out is a bug in the caller:
    // they would return into freed memory.
    assert(in_use_ == 0 && connecting_ == 0 && waiting_ == 0);
    for (Idle& idle : idle_) to_close.push_back(std::move(idle.conn));
    idle_.clear();
  }
  to_close.clear();
}

void ConnectionPool::Discard(std::vector<std::unique_ptr<Connection>>& conns) {
  if (conns.empty()) return;
  const int n = static_cast<int>(conns.size());
  conns.clear();  // the driver round trips happen here, outside mu_
  absl::MutexLock lock(&mu_);
  closing_ -= n;
}

absl::Time ConnectionPool::RetireTime(absl::Time created) {
  if (options_.max_lifetime <= absl::ZeroDuration() ||
      options_.max_lifetime == absl::InfiniteDuration()) {
    return absl::InfiniteFuture();
  }
  // splitmix64: a cheap, decent generator; jitter needs no more.
  rng_state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t z = rng_state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
  const double jitter = std::clamp(options_.lifetime_jitter, 0.0, 1.0);
  return created + options_.max_lifetime * (1.0 - u * jitter);
}

absl::StatusOr<PooledConnection> ConnectionPool::Acquire(CancelToken* cancel) {
  return AcquireBy(absl::InfiniteFuture(), cancel);
}

absl::StatusOr<PooledConnection> ConnectionPool::AcquireBy(absl::Time deadline,
                                                           CancelToken* cancel) {
  const absl::Time start = absl::Now();
  const absl::Duration budget =
      std::max(absl::ZeroDuration(), std::min(options_.acquire_timeout, deadline - start));
  deadline = std::min(deadline, start + options_.acquire_timeout);
  if (cancel != nullptr && cancel->cancelled()) return cancel->status();

  // A cancel wakes waiters: taking and releasing mu_ makes absl re-evaluate
  // every waiter's condition, which checks the token.
  CancelRegistration registration(cancel, [this] { absl::MutexLock lock(&mu_); });

  std::vector<std::unique_ptr<Connection>> to_close;  // counted in closing_
  bool waited = false;
  const int pool_max = std::max(1, options_.pool_max);
  auto has_room = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return in_use_ + static_cast<int>(idle_.size()) + connecting_ + closing_ < pool_max;
  };
  // Ends the wait accounting, unlocks, closes what was retired on the way.
  auto finish = [&](bool acquired) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (waited) counters_.wait_seconds += absl::ToDoubleSeconds(absl::Now() - start);
    if (acquired) ++counters_.acquired;
    mu_.Unlock();
    Discard(to_close);
  };

  mu_.Lock();
  while (true) {
    if (cancel != nullptr && cancel->cancelled()) {
      finish(false);
      return cancel->status();
    }

    // 1. Reuse an idle connection, most recently returned first (so the
    //    others stay idle long enough for Maintain() to shrink the pool).
    bool retry = false;
    while (!idle_.empty()) {
      Idle idle = std::move(idle_.back());
      idle_.pop_back();
      const absl::Time now = absl::Now();
      if (idle.retire_at <= now) {
        ++counters_.closed;
        ++closing_;
        to_close.push_back(std::move(idle.conn));
        continue;
      }
      const bool validate = now - idle.idle_since >= options_.health_check_interval;
      ++in_use_;
      if (validate) {
        mu_.Unlock();
        Discard(to_close);
        absl::Status ping = idle.conn->Ping(options_.health_check);
        const bool healthy = ping.ok() && !idle.conn->broken();
        if (!healthy) idle.conn.reset();  // closed before its slot is freed
        mu_.Lock();
        if (!healthy) {
          --in_use_;
          ++counters_.broken;
          ++counters_.closed;
          retry = true;  // the state may have changed while unlocked
          break;
        }
      }
      finish(true);
      return PooledConnection(this, std::move(idle.conn), idle.created, idle.retire_at);
    }
    if (retry) continue;

    // 2. Open a new one if there is room.
    if (has_room()) {
      ++connecting_;
      mu_.Unlock();
      Discard(to_close);
      absl::StatusOr<std::unique_ptr<Connection>> conn = factory_();
      if (conn.ok() && *conn == nullptr) {
        conn = absl::InternalError("connection factory returned no connection");
      }
      if (conn.ok()) {
        mu_.Lock();
        --connecting_;
        const absl::Time created = absl::Now();
        ++counters_.created;
        ++in_use_;
        const absl::Time retire_at = RetireTime(created);
        finish(true);
        return PooledConnection(this, std::move(*conn), created, retire_at);
      }
      mu_.Lock();
      --connecting_;
      finish(false);
      return absl::Status(conn.status().code(),
                          absl::StrCat("pool ", name_, ": ", conn.status().message()));
    }

    // 3. Wait for a return, a free slot, a drain or a cancel.
    waited = true;
    ++waiting_;
    auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !idle_.empty() || has_room() || (cancel != nullptr && cancel->cancelled());
    };
    const bool woke = mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (!woke) {
      ++counters_.timeouts;
      std::string message =
          absl::StrCat("pool ", name_, ": no connection within ", absl::FormatDuration(budget),
                       " (pool_max=", pool_max, ", in use ", in_use_, ", waiting ", waiting_, ")");
      --waiting_;
      finish(false);
      return absl::ResourceExhaustedError(message);
    }
    --waiting_;
  }
}

void ConnectionPool::Return(std::unique_ptr<Connection> conn, absl::Time created,
                            absl::Time retire_at, bool broken) {
  broken = broken || conn->broken();
  if (!broken) {
    absl::Status reset = conn->Reset();
    broken = !reset.ok() || conn->broken();
  }
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (!broken && !draining_ && retire_at > now) {
      --in_use_;
      idle_.push_back(Idle{std::move(conn), created, retire_at, now});
      return;
    }
  }
  // Closed while still counted in in_use_, so its slot is freed only once
  // the session is gone.
  conn.reset();
  absl::MutexLock lock(&mu_);
  --in_use_;
  ++counters_.closed;
  if (broken) ++counters_.broken;
}

PoolStats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  PoolStats s = counters_;
  s.in_use = in_use_;
  s.idle = static_cast<int>(idle_.size());
  s.waiting = waiting_;
  s.max = options_.pool_max;
  return s;
}

void ConnectionPool::Maintain() {
  std::vector<std::unique_ptr<Connection>> to_close;
  int to_open = 0;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    auto close = [&](std::deque<Idle>::iterator it) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      to_close.push_back(std::move(it->conn));
      ++counters_.closed;
      ++closing_;
      return idle_.erase(it);
    };
    // Retired connections go regardless of pool_min (replaced below).
    for (auto it = idle_.begin(); it != idle_.end();) {
      it = it->retire_at <= now ? close(it) : std::next(it);
    }
    // Shrink: the front of idle_ has idled longest.
    int live = in_use_ + static_cast<int>(idle_.size()) + connecting_;
    for (auto it = idle_.begin(); it != idle_.end() && live > options_.pool_min;) {
      if (now - it->idle_since >= options_.idle_timeout) {
        it = close(it);
        --live;
      } else {
        ++it;
      }
    }
    if (!draining_) {
      const int room = options_.pool_max - live - closing_;
      to_open = std::max(0, std::min(options_.pool_min - live, room));
      connecting_ += to_open;
    }
  }
  Discard(to_close);

  for (int i = 0; i < to_open; ++i) {
    absl::StatusOr<std::unique_ptr<Connection>> conn = factory_();
    const bool ok = conn.ok() && *conn != nullptr;
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    if (!ok) {
      // The source is down: give back the remaining reservations and let
      // the next Maintain() (or demand) try again.
      connecting_ -= to_open - i;
      return;
    }
    ++counters_.created;
    if (draining_) {
      ++counters_.closed;
      mu_.Unlock();
      conn->reset();  // its slot stays reserved until the session is gone
      mu_.Lock();
      --connecting_;
      continue;
    }
    --connecting_;
    idle_.push_back(Idle{std::move(*conn), now, RetireTime(now), now});
  }
}

void ConnectionPool::Drain() {
  std::vector<std::unique_ptr<Connection>> to_close;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (Idle& idle : idle_) {
      to_close.push_back(std::move(idle.conn));
      ++counters_.closed;
      ++closing_;
    }
    idle_.clear();
  }
  Discard(to_close);
}

}  // namespace qg
