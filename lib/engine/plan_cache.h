// Internal: the engine's plan cache (docs/design.md §11). A graph text
// already parsed, validated and planned is planned once: ExecuteJson looks its
// text up under everything else a plan depends on —
//   - the catalog version (a plan holds the sources' configs and pools),
//   - the caller's local user (a plan holds the pools of that user's logins:
//     one user's plan never runs on another's connections),
//   - the names of the execution's parameters (validation checks that every
//     placeholder has a value), the transaction mode override and whether
//     planning could ask the sources for estimates.
// Entries are evicted least recently used past `capacity`; a graph text
// longer than kMaxTextBytes is not kept.
//
// A cached PlannedGraph is shared by concurrent executions and must not be
// changed once inserted (the executor only reads it).
//
// Thread-safety: all members are thread-safe.
#ifndef QG_LIB_ENGINE_PLAN_CACHE_H_
#define QG_LIB_ENGINE_PLAN_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/planner.h"
#include "qg/engine.h"

namespace qg {

class PlanCache {
 public:
  static constexpr size_t kMaxTextBytes = size_t{1} << 20;

  explicit PlanCache(size_t capacity) : capacity_(capacity) {}

  // The key of `qgdl` executed with `options` against catalog `version`.
  // Empty when the text is not to be cached (cache off, text too long).
  std::string Key(std::string_view qgdl, const ExecuteOptions& options, uint64_t version,
                  CostMode mode) const;

  // The plan stored under `key`, or null.
  std::shared_ptr<PlannedGraph> Lookup(const std::string& key);
  void Insert(const std::string& key, std::shared_ptr<PlannedGraph> plan);

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<PlannedGraph>>;

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string_view, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace qg

#endif  // QG_LIB_ENGINE_PLAN_CACHE_H_
