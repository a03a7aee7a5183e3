#include "qg/cancel.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace qg {

void CancelToken::Cancel(absl::Status reason) {
  if (reason.ok()) reason = absl::CancelledError("cancelled");
  std::vector<uint64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_.load(std::memory_order_relaxed)) return;
    reason_ = std::move(reason);
    cancelled_.store(true, std::memory_order_release);
    ids.reserve(callbacks_.size());
    for (const auto& [id, cb] : callbacks_) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());  // registration order
  // One at a time, outside the lock; a callback unregistered meanwhile is
  // skipped. Callbacks registered from now on run at once in Register().
  for (uint64_t id : ids) {
    std::function<void()> cb;
    {
      absl::MutexLock lock(&mu_);
      auto it = callbacks_.find(id);
      if (it == callbacks_.end()) continue;
      cb = std::move(it->second);
      callbacks_.erase(it);
      running_id_ = id;
      running_thread_ = std::this_thread::get_id();
    }
    if (cb) cb();
    {
      absl::MutexLock lock(&mu_);
      running_id_ = 0;
      running_thread_ = std::thread::id();
    }
  }
}

absl::Status CancelToken::status() const {
  if (!cancelled_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return reason_;
}

uint64_t CancelToken::Register(std::function<void()> on_cancel) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_.load(std::memory_order_relaxed)) {
      uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(on_cancel));
      return id;
    }
  }
  if (on_cancel) on_cancel();
  return 0;
}

void CancelToken::Unregister(uint64_t id) {
  if (id == 0) return;
  absl::MutexLock lock(&mu_);
  callbacks_.erase(id);
  if (running_id_ == id && running_thread_ != std::this_thread::get_id()) {
    struct Args {
      const CancelToken* token;
      uint64_t id;
    } args{this, id};
    mu_.Await(absl::Condition(
        +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->token->running_id_ != a->id; },
        &args));
  }
}

uint64_t CancelToken::Link(const std::shared_ptr<CancelToken>& child) {
  if (!child || child.get() == this) return 0;
  std::weak_ptr<CancelToken> weak = child;
  return Register([this, weak] {
    if (std::shared_ptr<CancelToken> c = weak.lock()) c->Cancel(status());
  });
}

CancelRegistration::CancelRegistration(CancelToken* token, std::function<void()> on_cancel)
    : token_(token) {
  if (token_ != nullptr) id_ = token_->Register(std::move(on_cancel));
}

CancelRegistration::~CancelRegistration() {
  if (token_ != nullptr) token_->Unregister(id_);
}

CancelLink::CancelLink(CancelToken* parent, const std::shared_ptr<CancelToken>& child)
    : parent_(parent) {
  if (parent_ != nullptr) id_ = parent_->Link(child);
}

CancelLink::~CancelLink() {
  if (parent_ != nullptr) parent_->Unregister(id_);
}

}  // namespace qg
