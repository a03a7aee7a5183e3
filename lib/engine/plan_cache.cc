#include "engine/plan_cache.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace qg {
namespace {

// Appends `s` length-prefixed, so no two field lists share a key.
void AppendField(std::string* key, std::string_view s) {
  absl::StrAppend(key, s.size(), ":");
  key->append(s.data(), s.size());
}

}  // namespace

std::string PlanCache::Key(std::string_view qgdl, const ExecuteOptions& options, uint64_t version,
                           CostMode mode) const {
  if (capacity_ == 0 || qgdl.size() > kMaxTextBytes) return "";
  std::vector<std::string_view> names;
  names.reserve(options.params.size());
  for (const auto& kv : options.params) names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::string key = absl::StrCat(
      version, "|", static_cast<int>(mode), "|",
      options.transaction.has_value() ? static_cast<int>(*options.transaction) : -1, "|");
  AppendField(&key, options.user);
  absl::StrAppend(&key, names.size(), "|");
  for (std::string_view n : names) AppendField(&key, n);
  AppendField(&key, qgdl);
  return key;
}

std::shared_ptr<PlannedGraph> PlanCache::Lookup(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void PlanCache::Insert(const std::string& key, std::shared_ptr<PlannedGraph> plan) {
  if (key.empty() || plan == nullptr) return;
  absl::MutexLock lock(&mu_);
  auto it = index_.find(std::string_view(key));
  if (it != index_.end()) {
    it->second->second = std::move(plan);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, std::move(plan));
  index_.emplace(std::string_view(lru_.front().first), lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(std::string_view(lru_.back().first));
    lru_.pop_back();
  }
}

PlanCache::Stats PlanCache::stats() const {
  absl::MutexLock lock(&mu_);
  return Stats{hits_, misses_, lru_.size()};
}

}  // namespace qg
