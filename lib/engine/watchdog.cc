#include "engine/watchdog.h"

#include <vector>

namespace qg {

Watchdog::Watchdog() : thread_([this] { Loop(); }) {}

Watchdog::~Watchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.Signal();
  }
  thread_.join();
  for (Firer& f : firers_) f.thread.join();
}

uint64_t Watchdog::Schedule(absl::Time deadline, std::weak_ptr<CancelToken> token,
                            absl::Status reason) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  const bool earliest = entries_.empty() || deadline < entries_.begin()->first.first;
  entries_.emplace(std::make_pair(deadline, id), Entry{std::move(token), std::move(reason)});
  deadline_of_[id] = deadline;
  if (earliest) cv_.Signal();
  return id;
}

void Watchdog::Unschedule(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) return;  // fired already
  entries_.erase(std::make_pair(it->second, id));
  deadline_of_.erase(it);
}

void Watchdog::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (entries_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    const absl::Time next = entries_.begin()->first.first;
    const absl::Time now = absl::Now();
    if (next > now) {
      cv_.WaitWithDeadline(&mu_, next);
      continue;
    }
    // Fire everything due, outside the lock: Cancel() runs driver callbacks.
    std::vector<Entry> due;
    while (!entries_.empty() && entries_.begin()->first.first <= now) {
      deadline_of_.erase(entries_.begin()->first.second);
      due.push_back(std::move(entries_.begin()->second));
      entries_.erase(entries_.begin());
    }
    mu_.Unlock();
    // Join the firers that are done, then start one for this batch.
    for (size_t i = 0; i < firers_.size();) {
      if (firers_[i].done->load()) {
        firers_[i].thread.join();
        firers_[i] = std::move(firers_.back());
        firers_.pop_back();
      } else {
        ++i;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    firers_.push_back(Firer{std::thread([due = std::move(due), done]() mutable {
                              for (Entry& e : due) {
                                if (std::shared_ptr<CancelToken> token = e.token.lock()) {
                                  token->Cancel(e.reason);
                                }
                              }
                              done->store(true);
                            }),
                            done});
    mu_.Lock();
  }
}

}  // namespace qg
