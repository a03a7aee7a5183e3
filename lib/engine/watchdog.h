// Internal: the engine's timeout watchdog. One thread sleeps until the
// earliest deadline and then cancels that deadline's token with the status
// given when it was scheduled (kDeadlineExceeded naming the graph or node).
//
// Thread-safety: every member is thread-safe.
#ifndef QG_LIB_ENGINE_WATCHDOG_H_
#define QG_LIB_ENGINE_WATCHDOG_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "qg/cancel.h"

namespace qg {

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();  // pending deadlines are dropped, never fired
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // At `deadline`, calls token->Cancel(reason) unless Unschedule()d first or
  // the token is gone. Returns an id for Unschedule().
  uint64_t Schedule(absl::Time deadline, std::weak_ptr<CancelToken> token, absl::Status reason);
  void Unschedule(uint64_t id);

 private:
  struct Entry {
    std::weak_ptr<CancelToken> token;
    absl::Status reason;
  };
  void Loop();

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<std::pair<absl::Time, uint64_t>, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, absl::Time> deadline_of_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Cancel() runs driver callbacks that may block (MySQL repeats KILL QUERY
  // until the statement ends), so due tokens are cancelled on short-lived
  // threads: one slow cancel never delays another graph's deadline.
  struct Firer {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Firer> firers_;  // only touched by the loop thread and ~Watchdog
  std::thread thread_;
};

// Schedules on construction, unschedules on destruction (no-op when empty).
class WatchdogTimer {
 public:
  WatchdogTimer() = default;
  WatchdogTimer(Watchdog* dog, absl::Time deadline, std::weak_ptr<CancelToken> token,
                absl::Status reason)
      : dog_(dog), id_(dog->Schedule(deadline, std::move(token), std::move(reason))) {}
  ~WatchdogTimer() { Reset(); }
  WatchdogTimer(WatchdogTimer&& o) noexcept : dog_(o.dog_), id_(o.id_) { o.dog_ = nullptr; }
  WatchdogTimer& operator=(WatchdogTimer&& o) noexcept {
    if (this != &o) {
      Reset();
      dog_ = o.dog_;
      id_ = o.id_;
      o.dog_ = nullptr;
    }
    return *this;
  }
  void Reset() {
    if (dog_ != nullptr) dog_->Unschedule(id_);
    dog_ = nullptr;
  }

 private:
  Watchdog* dog_ = nullptr;
  uint64_t id_ = 0;
};

}  // namespace qg

#endif  // QG_LIB_ENGINE_WATCHDOG_H_
