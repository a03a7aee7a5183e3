// Internal: the engine-wide pool of executor threads.
//
// Threads are started on demand, up to `max_threads`, and live until the pool
// is destroyed. Tasks must not block waiting for other tasks of the same
// pool (the executor is written as continuations for that reason); they may
// block on I/O (a statement, a pool acquire), which is bounded by cancel
// tokens and timeouts.
//
// Thread-safety: Submit() may be called from any thread, including workers.
#ifndef QG_LIB_ENGINE_THREAD_POOL_H_
#define QG_LIB_ENGINE_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace qg {

class ThreadPool {
 public:
  explicit ThreadPool(int max_threads);
  // Runs every task already submitted, then joins the threads.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  int max_threads() const { return max_threads_; }

 private:
  void WorkerLoop();

  const int max_threads_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace qg

#endif  // QG_LIB_ENGINE_THREAD_POOL_H_
