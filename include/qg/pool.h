// qg/pool.h — a pool of connections to one (data source, external user).
//
// docs/design.md §9. The pool grows with demand up to pool_max and shrinks when
// idle; Acquire() either hands out a healthy connection within
// acquire_timeout or fails with kResourceExhausted naming the pool (a
// contract, never an unbounded wait). Connections idle longer than
// health_check_interval are validated (Ping) before reuse; every returned
// connection is Reset(); broken ones are closed and replaced. max_lifetime
// retires connections, with jitter so they do not all retire at once.
//
// Thread-safety: every member is thread-safe. A PooledConnection is used by
// one thread at a time and must not outlive its pool.
//
//   auto c = pool.Acquire(cancel_token);
//   if (!c.ok()) return c.status();
//   (*c)->Execute(stmt, args, &sink, &stats);
//   // returned to the pool (reset) when `c` goes out of scope
#ifndef QG_POOL_H_
#define QG_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "qg/cancel.h"
#include "qg/export.h"
#include "qg/provider.h"

namespace qg {

struct PoolOptions {
  int pool_min = 0;
  int pool_max = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration idle_timeout =
      absl::Seconds(60);  // idle connections above pool_min close after this
  absl::Duration max_lifetime = absl::Minutes(30);  // zero: unlimited
  double lifetime_jitter = 0.1;  // each connection retires at max_lifetime * (1 - U[0, jitter])
  std::string health_check;      // query for Ping ("" = provider default)
  absl::Duration health_check_interval =
      absl::Seconds(30);  // validate on reuse after idling this long
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration statement_timeout = absl::ZeroDuration();
};

// Live figures (docs/design.md §9).
struct PoolStats {
  int in_use = 0;
  int idle = 0;
  int waiting = 0;
  int max = 0;
  uint64_t created = 0;
  uint64_t closed = 0;
  uint64_t broken = 0;  // closed because broken (failed ping/reset, driver error)
  uint64_t acquired = 0;
  uint64_t timeouts = 0;    // acquire_timeout expirations
  double wait_seconds = 0;  // total time callers waited in Acquire
};

class ConnectionPool;

// Exclusive use of one pooled connection; returns it on destruction.
class QG_EXPORT PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  ~PooledConnection();

  Connection* get() const { return conn_.get(); }
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }
  explicit operator bool() const { return conn_ != nullptr; }
  // When the connection was opened, and when max_lifetime (with jitter)
  // retires it (absl::InfiniteFuture() when unlimited).
  absl::Time created_at() const { return created_; }
  absl::Time retire_at() const { return retire_at_; }

  // The connection is unusable: close it instead of returning it.
  void MarkBroken() { broken_ = true; }
  // Returns it now (Reset, then back to idle, or closed if broken).
  void Release();

 private:
  friend class ConnectionPool;
  PooledConnection(ConnectionPool* pool, std::unique_ptr<Connection> conn, absl::Time created,
                   absl::Time retire_at);
  ConnectionPool* pool_ = nullptr;
  std::unique_ptr<Connection> conn_;
  absl::Time created_;
  absl::Time retire_at_;
  bool broken_ = false;
};

using ConnectionFactory = std::function<absl::StatusOr<std::unique_ptr<Connection>>()>;

class QG_EXPORT ConnectionPool {
 public:
  // `name` identifies the pool in errors and metrics ("db_orders/app").
  ConnectionPool(std::string name, PoolOptions options, ConnectionFactory factory);
  ~ConnectionPool();  // closes idle connections; all must have been returned
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Waits at most options.acquire_timeout (or until `cancel` fires). Errors:
  // kResourceExhausted "pool db_orders/app: no connection within 500ms
  // (pool_max=2, in use 2)"; kUnavailable when connecting fails; kCancelled.
  absl::StatusOr<PooledConnection> Acquire(CancelToken* cancel = nullptr);
  // Like Acquire, with an explicit deadline (the earlier of it and
  // acquire_timeout applies).
  absl::StatusOr<PooledConnection> AcquireBy(absl::Time deadline, CancelToken* cancel = nullptr);

  PoolStats stats() const;
  const std::string& name() const { return name_; }
  const PoolOptions& options() const { return options_; }

  // Closes idle connections past idle_timeout / max_lifetime and tops up to
  // pool_min. Called by the engine's maintenance thread; safe to call anytime.
  void Maintain();
  // Graceful drain (catalog ALTER/DROP): idle connections close now, in-use
  // ones close when returned. The engine forgets a drained pool, so only the
  // graphs already holding it still Acquire from it (they finish with the old
  // definition); nothing it lends is kept afterwards.
  void Drain();

 private:
  friend class PooledConnection;
  struct Idle {
    std::unique_ptr<Connection> conn;
    absl::Time created;
    absl::Time retire_at;
    absl::Time idle_since;
  };
  void Return(std::unique_ptr<Connection> conn, absl::Time created, absl::Time retire_at,
              bool broken);
  absl::Time RetireTime(absl::Time created) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes connections (outside mu_), then frees their slots: a slot counts
  // until its driver session is really gone, so the source never sees more
  // than pool_max sessions from this pool.
  void Discard(std::vector<std::unique_ptr<Connection>>& conns) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  const PoolOptions options_;
  const ConnectionFactory factory_;

  mutable absl::Mutex mu_;
  std::deque<Idle> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int connecting_ ABSL_GUARDED_BY(mu_) = 0;
  int closing_ ABSL_GUARDED_BY(mu_) = 0;  // being closed outside mu_
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  PoolStats counters_ ABSL_GUARDED_BY(mu_);
  uint64_t rng_state_ ABSL_GUARDED_BY(mu_) = 0x9e3779b97f4a7c15ULL;
};

}  // namespace qg

#endif  // QG_POOL_H_
