// qg/cancel.h — cooperative cancellation shared by a host, the executor and
// the drivers.
//
// A CancelToken is created by whoever may want to cancel (a host thread, the
// HTTP server, the timeout watchdog) and passed in ExecuteOptions. Running
// queries register a callback (the driver's cancel: sqlite3_interrupt,
// PQcancel, KILL QUERY) for as long as they run; Cancel() calls every
// registered callback once and makes every later check fail.
//
// Thread-safety: every member is safe to call from any thread.
#ifndef QG_CANCEL_H_
#define QG_CANCEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "qg/export.h"

namespace qg {

class QG_EXPORT CancelToken {
 public:
  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  // Cancels: records `reason` (kCancelled by default; the watchdog uses
  // kDeadlineExceeded), then calls every registered callback. Idempotent:
  // only the first reason is kept.
  void Cancel(absl::Status reason = absl::CancelledError("cancelled"));

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // OkStatus() while not cancelled, else the recorded reason.
  absl::Status status() const;

  // Registers a callback run on Cancel(); if already cancelled, runs it now
  // (in the calling thread) and returns 0. Returns an id for Unregister().
  // Callbacks must be fast and thread-safe. They run outside the token's
  // lock, in registration order, so a callback may use the token (status(),
  // Register, Unregister, Cancel).
  uint64_t Register(std::function<void()> on_cancel);
  // Removes a callback (unknown ids and 0 are ignored). When it returns, the
  // callback is not running and will never run, even if Cancel() is running
  // on another thread at that moment (Unregister then waits for that one
  // callback to finish) — so a driver may free what its callback touches.
  // A callback may unregister itself or others without deadlock.
  void Unregister(uint64_t id);

  // Cancels a child token with this one's reason when this one is cancelled
  // (graph -> node timeouts); at once if already cancelled. The link holds a
  // weak reference: a child that is gone is ignored. Returns the id to
  // Unregister() (CancelLink does that), 0 for a null child or when already
  // cancelled.
  uint64_t Link(const std::shared_ptr<CancelToken>& child);

 private:
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  absl::Status reason_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  // The callback Cancel() is running right now (0: none) and the thread
  // running it, so Unregister() can wait for it (unless called from it).
  uint64_t running_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread::id running_thread_ ABSL_GUARDED_BY(mu_);
};

// RAII registration of a callback on a token (no-op for a null token).
class QG_EXPORT CancelRegistration {
 public:
  CancelRegistration(CancelToken* token, std::function<void()> on_cancel);
  ~CancelRegistration();
  CancelRegistration(const CancelRegistration&) = delete;
  CancelRegistration& operator=(const CancelRegistration&) = delete;

 private:
  CancelToken* token_;
  uint64_t id_ = 0;
};

// RAII link of a child token to a parent (no-op for a null parent or child):
// the child is cancelled with the parent's reason while the link lives.
class QG_EXPORT CancelLink {
 public:
  CancelLink(CancelToken* parent, const std::shared_ptr<CancelToken>& child);
  ~CancelLink();
  CancelLink(const CancelLink&) = delete;
  CancelLink& operator=(const CancelLink&) = delete;

 private:
  CancelToken* parent_;
  uint64_t id_ = 0;
};

}  // namespace qg

#endif  // QG_CANCEL_H_
