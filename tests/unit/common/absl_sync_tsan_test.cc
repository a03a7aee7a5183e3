// abseil synchronisation as ThreadSanitizer sees it (make test-tsan): the
// system abseil is not instrumented, and tests/tsan/absl_tsan_interposer.cc
// makes its Mutex, CondVar and Await visible. The first cases are correct
// code and must run without a report. The hidden "[.tsan-planted-race]"
// cases are races on purpose — behind no lock, and behind two different
// mutexes — which TSan must report: make test-tsan runs them alone and fails
// unless each is reported. In the normal build they only count.
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace qg {
namespace {

constexpr int kThreads = 8;
constexpr int kIncrements = 2000;

template <typename F>
void RunThreads(F body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(body, t);
  for (std::thread& th : threads) th.join();
}

TEST_CASE("an absl::Mutex-protected counter is race-free", "[common][tsan]") {
  absl::Mutex mu;
  int64_t counter = 0;  // guarded by mu
  RunThreads([&](int t) {
    for (int i = 0; i < kIncrements; ++i) {
      if ((i + t) % 3 == 0) {
        mu.Lock();
        ++counter;
        mu.Unlock();
      } else if ((i + t) % 3 == 1) {
        absl::MutexLock l(&mu);
        ++counter;
      } else {
        while (!mu.TryLock()) {
        }
        ++counter;
        mu.Unlock();
      }
    }
  });
  absl::ReaderMutexLock l(&mu);
  CHECK(counter == int64_t{kThreads} * kIncrements);
}

TEST_CASE("Await, AwaitWithTimeout and CondVar hand data over race-free", "[common][tsan]") {
  absl::Mutex mu;
  absl::CondVar cv;
  std::vector<int> queue;  // guarded by mu
  bool closed = false;     // guarded by mu
  int64_t sum = 0;         // guarded by mu
  std::thread consumer([&] {
    absl::MutexLock l(&mu);
    while (true) {
      mu.Await(absl::Condition(
          +[](decltype(&queue) q) { return !q->empty(); }, &queue));
      const int v = queue.back();
      queue.pop_back();
      if (v < 0) break;
      sum += v;
    }
    closed = true;
    cv.SignalAll();
  });
  RunThreads([&](int t) {
    for (int i = 1; i <= 100; ++i) {
      absl::MutexLock l(&mu);
      // Wait until the consumer took the previous item (bounded queue of 4).
      mu.AwaitWithTimeout(absl::Condition(
                              +[](decltype(&queue) q) { return q->size() < 4; }, &queue),
                          absl::Seconds(30));
      queue.push_back(i);
    }
  });
  {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(
        +[](decltype(&queue) q) { return q->empty(); }, &queue));
    queue.push_back(-1);
    while (!closed) cv.WaitWithTimeout(&mu, absl::Seconds(30));
  }
  consumer.join();
  absl::MutexLock l(&mu);
  CHECK(sum == int64_t{kThreads} * 100 * 101 / 2);
}

TEST_CASE("planted race: a counter behind no lock", "[.tsan-planted-race][.]") {
  int64_t counter = 0;
  RunThreads([&](int) {
    for (int i = 0; i < kIncrements; ++i) {
      counter = counter + 1;  // racy on purpose
    }
  });
  CHECK(counter >= 1);
}

TEST_CASE("planted race: a counter behind two different mutexes", "[.tsan-planted-race][.]") {
  absl::Mutex a, b;
  int64_t counter = 0;
  RunThreads([&](int t) {
    absl::Mutex* mu = t % 2 == 0 ? &a : &b;
    for (int i = 0; i < kIncrements; ++i) {
      absl::MutexLock l(mu);
      counter = counter + 1;  // racy on purpose: a and b do not exclude each other
    }
  });
  CHECK(counter >= 1);
}

}  // namespace
}  // namespace qg
