#include "qg/cancel.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace qg {
namespace {

TEST_CASE("Cancel runs callbacks once, keeps the first reason", "[cancel]") {
  CancelToken t;
  CHECK_FALSE(t.cancelled());
  CHECK(t.status().ok());
  int a = 0, b = 0;
  uint64_t ia = t.Register([&] { ++a; });
  uint64_t ib = t.Register([&] { ++b; });
  CHECK(ia != ib);
  t.Unregister(ib);
  t.Cancel(absl::DeadlineExceededError("graph timeout"));
  t.Cancel(absl::CancelledError("second"));
  CHECK(t.cancelled());
  CHECK(a == 1);
  CHECK(b == 0);
  CHECK(t.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(t.status().message() == "graph timeout");
  // Register after cancel runs at once.
  int c = 0;
  CHECK(t.Register([&] { ++c; }) == 0);
  CHECK(c == 1);
  t.Unregister(ia);  // already ran: harmless
  t.Unregister(12345);
}

TEST_CASE("Cancel with an OK status still cancels", "[cancel]") {
  CancelToken t;
  t.Cancel(absl::OkStatus());
  CHECK(t.cancelled());
  CHECK(t.status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("Callbacks may use the token", "[cancel]") {
  CancelToken t;
  absl::Status seen;
  int later = 0;
  uint64_t self = 0;
  uint64_t other = t.Register([] {});
  self = t.Register([&] {
    seen = t.status();
    t.Unregister(self);
    t.Unregister(other);
    t.Register([&] { ++later; });
    t.Cancel();
  });
  int after = 0;
  t.Register([&] { ++after; });
  t.Cancel(absl::CancelledError("host"));
  CHECK(seen.message() == "host");
  CHECK(later == 1);
  CHECK(after == 1);
}

TEST_CASE("Registrations and links", "[cancel]") {
  CancelToken parent;
  auto child = std::make_shared<CancelToken>();
  auto gone = std::make_shared<CancelToken>();
  auto unlinked = std::make_shared<CancelToken>();
  int n = 0;
  {
    CancelRegistration r(&parent, [&] { ++n; });
    CancelRegistration none(nullptr, [&] { ++n; });
  }
  parent.Link(child);
  parent.Link(gone);
  gone.reset();
  { CancelLink l(&parent, unlinked); }
  CancelLink null_link(nullptr, child);
  parent.Cancel(absl::DeadlineExceededError("t"));
  CHECK(n == 0);
  CHECK(child->cancelled());
  CHECK(child->status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK_FALSE(unlinked->cancelled());
  auto late = std::make_shared<CancelToken>();
  CHECK(parent.Link(late) == 0);
  CHECK(late->cancelled());
  CHECK(parent.Link(nullptr) == 0);
}

TEST_CASE("Concurrent cancel, register and unregister", "[cancel]") {
  for (int round = 0; round < 200; ++round) {
    CancelToken t;
    std::atomic<int> calls{0};
    std::atomic<int> registered_live{0};
    std::atomic<bool> violated{false};
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) {
          // A registration whose state must never be touched after it ends.
          auto alive = std::make_shared<std::atomic<bool>>(true);
          int* counter = new int(0);
          {
            CancelRegistration reg(&t, [&calls, &violated, counter, alive] {
              if (!alive->load()) violated = true;
              ++*counter;
              ++calls;
            });
            registered_live++;
          }
          alive->store(false);
          delete counter;  // after Unregister returned: no callback may run now
        }
      });
    }
    threads.emplace_back([&] { t.Cancel(); });
    threads.emplace_back([&] { t.Cancel(absl::DeadlineExceededError("x")); });
    for (auto& th : threads) th.join();
    CHECK(t.cancelled());
    CHECK(registered_live.load() == 80);
    CHECK_FALSE(violated.load());
    CHECK(calls.load() <= 80);
    absl::Status s = t.status();
    CHECK((s.code() == absl::StatusCode::kCancelled ||
           s.code() == absl::StatusCode::kDeadlineExceeded));
  }
}

TEST_CASE("Every callback registered before Cancel runs exactly once", "[cancel]") {
  for (int round = 0; round < 100; ++round) {
    CancelToken t;
    std::atomic<int> calls{0};
    for (int i = 0; i < 10; ++i) t.Register([&] { ++calls; });
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) threads.emplace_back([&] { t.Cancel(); });
    for (auto& th : threads) th.join();
    CHECK(calls.load() == 10);
  }
}

}  // namespace
}  // namespace qg
