#include "engine/executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <iterator>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "engine/aggregate_fill.h"
#include "engine/cost_model.h"
#include "engine/fetch_once.h"
#include "qg/pool.h"

namespace qg {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ValueBytes(const Value& v) {
  return static_cast<int64_t>(sizeof(Value)) +
         (v.is_text() ? static_cast<int64_t>(v.as_text().size()) : 0);
}

// Reserves room for n values; a large reservation is backed by huge pages
// where the kernel offers them on request (Linux THP "madvise" mode): the
// values are written once, in order, and a first touch per 4 KiB page cost
// a third of a million-row node's time in a VM (measured).
void ReserveValues(std::vector<Value>& v, size_t n) {
  if (v.capacity() >= n) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // The advice must come before the first touch: a fresh buffer is advised,
  // then the values move in (reserve() would move them first, on 4 KiB pages).
  std::vector<Value> fresh;
  fresh.reserve(n);
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(fresh.data());
  const uintptr_t end = reinterpret_cast<uintptr_t>(fresh.data() + fresh.capacity());
  const uintptr_t from = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t to = end & ~(kHuge - 1);
  if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
  fresh.insert(fresh.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  v.swap(fresh);
#else
  v.reserve(n);
#endif
}

// The most rows a column's room is grown or projected by at once (768 MiB
// of values).
constexpr size_t kMaxProjectedRows = size_t{16} << 20;

// The next capacity of a column that is full: doubling while small, then
// eight-fold times `items` (at most kMaxProjectedRows more): room not yet
// written costs address space only, and every step moves all the values so
// far. The first item of a node passes the node's item count: FinishNode
// appends the other items to its columns, which then usually have the room.
size_t GrownCapacity(size_t capacity, size_t items) {
  if (capacity < (size_t{1} << 16)) return std::max<size_t>(256, capacity * 2);
  const size_t factor = 8 * std::max<size_t>(items, 1);
  return capacity + std::min<size_t>(capacity * (factor - 1), kMaxProjectedRows);
}

std::string KeyText(const std::vector<Value>& key) {
  std::string s;
  for (const Value& v : key) {
    s += v.ToText();
    s.push_back('\x1f');
  }
  return s;
}

// The bindings a batched row belongs to when its key values are not
// key-equal to any binding: the source compared them its own way (SQLite's
// type affinity turning 1 into '1', a case-insensitive collation in MySQL).
// Such a row belongs to every binding whose key text matches, exactly or
// else ignoring case, as it would have with one execution per binding.
// Fetch once (`exact_text` true): no source compared the row with the
// bindings, so only an exact text match counts (no case folding), and a
// row no binding wants gets none (an empty list, not an error).
struct NodeRun;
absl::StatusOr<std::vector<uint32_t>> LooseMatches(NodeRun& nr, const std::vector<Value>& key,
                                                   bool exact_text = false);

class PoolLease : public ConnectionLease {
 public:
  explicit PoolLease(PooledConnection c) : c_(std::move(c)) {}
  Connection& conn() override { return *c_; }
  void MarkBroken() override { c_.MarkBroken(); }

 private:
  PooledConnection c_;
};

// A key tuple seen in place: `n` values from `data` (a binding, or the key
// columns at the end of a batched row).
struct KeySpan {
  const Value* data = nullptr;
  size_t n = 0;
};

// Hashes and compares like ValueRowKeyHash / ValueRowKeyEqual.
size_t HashKey(KeySpan k) {
  size_t h = k.n;
  ValueKeyHash one;
  for (size_t i = 0; i < k.n; ++i) h = absl::HashOf(h, one(k.data[i]));
  return h;
}

bool KeysEqual(KeySpan a, KeySpan b) {
  if (a.n != b.n) return false;
  ValueKeyEqual eq;
  for (size_t i = 0; i < a.n; ++i) {
    if (!eq(a.data[i], b.data[i])) return false;
  }
  return true;
}

// A set of tuples from a list, held as indices into the list (no copies),
// found by a KeySpan without building a vector.
class TupleSet {
 public:
  explicit TupleSet(const std::vector<std::vector<Value>>* tuples)
      : set_(0, Hash{tuples}, Eq{tuples}) {}

  void Reserve(size_t n) { set_.reserve(n); }
  bool Insert(uint32_t i) { return set_.insert(i).second; }
  int64_t Find(KeySpan key) const {
    auto it = set_.find(key);
    return it == set_.end() ? -1 : static_cast<int64_t>(*it);
  }

 private:
  static KeySpan At(const std::vector<std::vector<Value>>* t, uint32_t i) {
    return KeySpan{(*t)[i].data(), (*t)[i].size()};
  }
  struct Hash {
    using is_transparent = void;
    const std::vector<std::vector<Value>>* tuples;
    size_t operator()(uint32_t i) const { return HashKey(At(tuples, i)); }
    size_t operator()(KeySpan k) const { return HashKey(k); }
  };
  struct Eq {
    using is_transparent = void;
    const std::vector<std::vector<Value>>* tuples;
    bool operator()(uint32_t a, uint32_t b) const {
      return a == b || KeysEqual(At(tuples, a), At(tuples, b));
    }
    bool operator()(uint32_t a, KeySpan b) const { return KeysEqual(At(tuples, a), b); }
    bool operator()(KeySpan a, uint32_t b) const { return KeysEqual(a, At(tuples, b)); }
  };
  absl::flat_hash_set<uint32_t, Hash, Eq> set_;
};

// The distinct key tuples of a list (a node's bindings, or the values a
// parent offers), by index into the list, under the key semantics of
// ValueKeyEqual. While every tuple is a single int64 (the usual join key)
// they sit in an int64 -> index map: one probe, no pointer to follow (the
// general set cost a cache miss per row: 8% of a million-row node). A key
// of another type (7.0, "7") is looked up in the general set, built the
// first time one is asked for.
//
// Insert is for one thread while the index is built; Find may then be
// called from any number of threads.
class TupleIndex {
 public:
  explicit TupleIndex(const std::vector<std::vector<Value>>* tuples)
      : tuples_(tuples), general_(tuples) {}

  void Reserve(size_t n) { all_int_ ? ints_.reserve(n) : general_.Reserve(n); }

  // Indexes tuples[i]; false when an equal tuple is indexed already.
  bool Insert(uint32_t i) {
    const std::vector<Value>& t = (*tuples_)[i];
    if (all_int_) {
      if (t.size() == 1 && t[0].type() == ValueType::kInt64) {
        const int64_t v = t[0].as_int();
        min_ = ints_.empty() ? v : std::min(min_, v);
        max_ = ints_.empty() ? v : std::max(max_, v);
        return ints_.try_emplace(v, i).second;
      }
      all_int_ = false;
      general_.Reserve(ints_.size() + 1);
      for (const auto& [v, k] : ints_) general_.Insert(k);
      ints_ = {};
      general_built_.store(true, std::memory_order_release);
    }
    return general_.Insert(i);
  }

  // After the last Insert: int64 keys that fill most of their range (ids)
  // get a direct table, 4 bytes a slot and no hashing: the hash map's
  // slots missed the cache on nearly every row of a million-row result.
  void Seal() {
    if (!all_int_ || ints_.empty()) return;
    const uint64_t span = static_cast<uint64_t>(max_) - static_cast<uint64_t>(min_);
    if (span >= 4 * static_cast<uint64_t>(ints_.size()) + 1024 || span >= kMaxDense) return;
    dense_.assign(span + 1, kAbsent);
    for (const auto& [v, k] : ints_)
      dense_[static_cast<uint64_t>(v) - static_cast<uint64_t>(min_)] = k;
  }

  // The index of the tuple equal to `key`, or -1.
  int64_t Find(KeySpan key) const {
    if (!all_int_) return general_.Find(key);
    if (key.n == 1 && key.data[0].type() == ValueType::kInt64) {
      const int64_t v = key.data[0].as_int();
      if (!dense_.empty()) {
        if (v < min_ || v > max_) return -1;
        const uint32_t k = dense_[static_cast<uint64_t>(v) - static_cast<uint64_t>(min_)];
        return k == kAbsent ? -1 : static_cast<int64_t>(k);
      }
      auto it = ints_.find(v);
      return it == ints_.end() ? -1 : static_cast<int64_t>(it->second);
    }
    if (!general_built_.load(std::memory_order_acquire)) {
      absl::MutexLock lock(&build_mu_);
      if (!general_built_.load(std::memory_order_relaxed)) {
        general_.Reserve(ints_.size());
        for (const auto& [v, k] : ints_) general_.Insert(k);
        general_built_.store(true, std::memory_order_release);
      }
    }
    return general_.Find(key);
  }

 private:
  static constexpr uint32_t kAbsent = ~uint32_t{0};
  static constexpr uint64_t kMaxDense = uint64_t{1} << 26;  // 256 MiB of table at most

  const std::vector<std::vector<Value>>* tuples_;
  bool all_int_ = true;
  absl::flat_hash_map<int64_t, uint32_t> ints_;
  int64_t min_ = 0, max_ = 0;    // of ints_
  std::vector<uint32_t> dense_;  // Seal(): dense_[v - min_] = ints_[v], or kAbsent
  mutable absl::Mutex build_mu_;
  mutable std::atomic<bool> general_built_{false};
  mutable TupleSet general_;  // built by Find under build_mu_ while all_int_
};

// The rows one work item produced, already projected onto the node's
// output columns, column by column (no per-row allocation; FinishNode moves
// the columns of a one-item node into the result as they are).
struct ItemOutput {
  std::vector<std::vector<Value>> columns;
  std::vector<uint32_t> row_binding;
  size_t num_rows = 0;
};

// What one task did.
struct TaskOutcome {
  absl::Status status;
  int64_t round_trips = 0;
  int64_t rows_affected = -1;
};

// The per-execution state of one node.
struct NodeRun {
  PlannedNode* pn = nullptr;
  std::shared_ptr<CancelToken> token;  // node token: graph cancel + node timeout
  std::unique_ptr<CancelRegistration> graph_link;
  WatchdogTimer timer;
  int pending_parents = 0;
  // The strategy this run uses: the plan's, unless re-planned at start
  // (engine/fetch_once.h ReplanAtStart, with replan_reason).
  ExecKind kind = ExecKind::kSingle;
  std::string replan_reason;

  // Set by StartNode before any task runs; read-only afterwards.
  std::vector<std::vector<Value>> bindings;
  TupleIndex binding_index{&bindings};  // kBatched, kFetchOnce: key tuple -> binding
  // kBatched, built on the first key that misses binding_index: bindings by
  // the text of their keys, exact and lower-cased (see LooseMatches).
  absl::Mutex loose_mu;
  bool loose_built ABSL_GUARDED_BY(loose_mu) = false;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> text_index ABSL_GUARDED_BY(loose_mu);
  absl::flat_hash_map<std::string, std::vector<uint32_t>> lower_index ABSL_GUARDED_BY(loose_mu);
  std::vector<Value> param_values;   // plain statement: non-key arg values (kParam)
  std::vector<int> arg_binding_pos;  // plain statement: binding position or -1
  size_t batch_size = 0;             // kBatched: bindings per execution
  size_t num_items = 0;
  std::vector<ItemOutput> items;  // each written by the one task that took it

  std::atomic<size_t> next_item{0};
  std::atomic<size_t> items_done{0};
  std::atomic<bool> stop{false};

  // Guarded by GraphRun::mu_.
  int pending_tasks = 0;
  int tasks = 0;
  absl::Status error;
  int64_t round_trips = 0;
  int64_t rows_affected = -1;
  bool have_columns = false;
  std::vector<std::string> columns;  // when output_fields is empty
  bool finished = false;

  NodeResult result;
};

class GraphRun : public std::enable_shared_from_this<GraphRun> {
 public:
  explicit GraphRun(const ExecutionContext& ctx)
      : ctx_(ctx), graph_token_(std::make_shared<CancelToken>()) {
    // First value of a name wins (as ParamValue always did); O(1) lookups.
    param_index_.reserve(ctx_.params.size());
    for (size_t i = 0; i < ctx_.params.size(); ++i) param_index_.emplace(ctx_.params[i].first, i);
  }

  absl::StatusOr<GraphResult> Run();

  // Called by sinks: whether the graph has result limits to count against,
  // and the count.
  bool limited() const { return ctx_.max_result_rows > 0 || ctx_.max_result_bytes > 0; }
  int64_t max_rows() const { return ctx_.max_result_rows; }
  absl::Status AddResult(int64_t rows, int64_t bytes);
  void NoteColumns(NodeRun& nr, const std::vector<std::string>& names);

 private:
  void StartNode(int i);
  void FinishNode(int i, NodeStatus status);
  void RunTask(int i);
  absl::Status ExecuteItem(NodeRun& nr, Connection& conn, size_t item, TaskOutcome* out);
  void OnTaskDone(int i, TaskOutcome outcome);
  absl::StatusOr<std::vector<std::vector<Value>>> ComputeBindings(const NodeRun& nr);
  // Records a node's failure; returns true when the graph must be cancelled
  // (the first failure of an on_error=fail node). Requires mu_.
  bool RecordErrorLocked(NodeRun& nr, absl::Status error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An invalid-argument failure of a dependent node (a value its source
  // could not take) with where its bound values came from:
  // "... (bound values: :uid <- users.name)".
  absl::Status WithBindingOrigins(const NodeRun& nr, const absl::Status& s) const;
  void CancelGraph(const absl::Status& reason) { graph_token_->Cancel(reason); }
  void Schedule(const std::string& key, int max_slots, std::function<void()> fn);
  void ReleaseSlot(const std::string& key);
  void Submit(std::function<void()> fn);
  int64_t Now() const { return SteadyNs() - start_ns_; }
  const PlannedNode& planned(int i) const { return *ctx_.planned->nodes[i]; }
  absl::Status ParamValue(const std::string& name, Value* out) const;

  bool AllFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return finished_ == static_cast<int>(nodes_.size());
  }

  const ExecutionContext ctx_;  // a copy: tasks may outlive the caller's frame
  absl::flat_hash_map<std::string_view, size_t> param_index_;  // into ctx_.params
  std::shared_ptr<CancelToken> graph_token_;
  int64_t start_ns_ = 0;
  std::vector<std::unique_ptr<NodeRun>> nodes_;
  std::atomic<int64_t> result_rows_{0};
  std::atomic<int64_t> result_bytes_{0};

  struct Slots {
    int free = 0;
    std::deque<std::function<void()>> waiting;
  };

  absl::Mutex mu_;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Slots> slots_ ABSL_GUARDED_BY(mu_);
};

// Collects one work item's rows: projects them onto the node's output fields,
// strips and resolves batched key columns, and enforces the result limits.
class CollectSink : public RowSink {
 public:
  // `item`: the work item's index; `item_bindings`: how many of the node's
  // bindings it executes (0: not a dependent item).
  // `key_columns`, `key_position`: the statement's (see Statement).
  CollectSink(GraphRun* run, NodeRun* nr, size_t item, size_t item_bindings, int64_t fixed_binding,
              size_t key_columns, int key_position)
      : run_(run),
        nr_(nr),
        out_(&nr->items[item]),
        item_(item),
        item_bindings_(item_bindings),
        fixed_binding_(fixed_binding),
        key_columns_(key_columns),
        key_position_(key_columns == 1 ? key_position : -1),
        fetch_once_(nr->kind == ExecKind::kFetchOnce) {}

  absl::Status OnColumns(const std::vector<ColumnInfo>& columns) override {
    const size_t trailing = key_position_ >= 0 ? 0 : key_columns_;
    if (columns.size() < trailing ||
        (key_position_ >= 0 && static_cast<size_t>(key_position_) >= columns.size())) {
      return absl::InternalError(absl::StrCat("the batched statement returned ", columns.size(),
                                              " columns, too few for its key columns"));
    }
    const size_t visible = columns.size() - trailing;
    total_columns_ = columns.size();
    std::vector<std::string> names;
    names.reserve(visible);
    for (size_t i = 0; i < visible; ++i) names.push_back(columns[i].name);
    const std::vector<std::string>& fields = nr_->pn->node->output_fields;
    projection_.clear();
    if (fields.empty()) {
      for (size_t i = 0; i < visible; ++i) projection_.push_back(i);
      run_->NoteColumns(*nr_, names);
    } else {
      for (const std::string& f : fields) {
        int found = -1;
        for (size_t i = 0; i < visible && found < 0; ++i) {
          if (names[i] == f) found = static_cast<int>(i);
        }
        for (size_t i = 0; i < visible && found < 0; ++i) {
          if (absl::EqualsIgnoreCase(names[i], f)) found = static_cast<int>(i);
        }
        if (found < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("output field \"", f, "\" is not among the columns the query returned (",
                           absl::StrJoin(names, ", "), ")"));
        }
        projection_.push_back(static_cast<size_t>(found));
      }
    }
    std::vector<size_t> sorted = projection_;
    std::sort(sorted.begin(), sorted.end());
    can_move_ = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    if (out_->num_rows > 0 && out_->columns.size() != projection_.size()) {
      return absl::InternalError("the statement's columns changed between its results");
    }
    out_->columns.resize(projection_.size());
    return absl::OkStatus();
  }

  void ExpectRows(size_t rows) override {
    size_t want = out_->num_rows + rows;
    if (item_ == 0 && nr_->num_items > 1 && item_bindings_ > 0 && out_->num_rows == 0) {
      // The first item's columns become the node's (FinishNode appends the
      // other items to them): room for the whole node, projected from this
      // item's rows per binding, plus a tenth. Untouched room costs address
      // space only.
      // The projection is a guess: it is bounded by the result row limit and
      // by kMaxProjectedRows (a skewed first item must not ask for more
      // address space than the machine will lend); FinishNode grows the
      // columns past it when the guess was short.
      const double per_binding = static_cast<double>(rows) / static_cast<double>(item_bindings_);
      const double projected = per_binding * static_cast<double>(nr_->bindings.size()) * 1.1;
      double cap = static_cast<double>(kMaxProjectedRows);
      if (run_->max_rows() > 0) cap = std::min(cap, static_cast<double>(run_->max_rows()));
      want = std::max(want, static_cast<size_t>(std::min(projected, cap)));
    }
    for (std::vector<Value>& c : out_->columns) ReserveValues(c, want);
    if (fixed_binding_ >= 0 || key_columns_ > 0) out_->row_binding.reserve(want);
  }

  // Counts the rows not yet counted against the graph's result limits.
  // Called every kCountEvery rows (a shared counter per row made tasks
  // contend) and once after the statement.
  absl::Status Flush() {
    if (pending_rows_ == 0) return absl::OkStatus();
    absl::Status s = run_->AddResult(pending_rows_, pending_bytes_);
    pending_rows_ = 0;
    pending_bytes_ = 0;
    return s;
  }

  // A row the statement did not return (its visible columns) for `binding`.
  absl::Status AppendFor(std::vector<Value>& row, uint32_t binding) {
    const size_t trailing = key_position_ >= 0 ? 0 : key_columns_;
    if (row.size() + trailing != total_columns_) {
      return absl::InternalError(absl::StrCat("a filled row has ", row.size(), " values for ",
                                              total_columns_ - trailing, " columns"));
    }
    row.resize(total_columns_);
    QG_RETURN_IF_ERROR(Append(row, /*move=*/true));
    out_->row_binding.push_back(binding);
    return absl::OkStatus();
  }

  absl::Status OnRow(std::vector<Value>& row) override {
    if (row.size() != total_columns_) {
      return absl::InternalError(
          absl::StrCat("a row has ", row.size(), " values for ", total_columns_, " columns"));
    }
    uint32_t binding = static_cast<uint32_t>(fixed_binding_ < 0 ? 0 : fixed_binding_);
    if (key_columns_ > 0) {
      const KeySpan key = key_position_ >= 0
                              ? KeySpan{row.data() + key_position_, 1}
                              : KeySpan{row.data() + (total_columns_ - key_columns_), key_columns_};
      const int64_t found = nr_->binding_index.Find(key);
      if (found >= 0) {
        binding = static_cast<uint32_t>(found);
      } else {
        // Fetch once: a row with a null key is no binding's (= never
        // matches null); neither is a row whose key no binding has.
        if (fetch_once_) {
          for (size_t k = 0; k < key.n; ++k) {
            if (key.data[k].is_null()) return absl::OkStatus();
          }
        }
        // Further bindings the row belongs to (loose matches) get copies.
        QG_ASSIGN_OR_RETURN(
            std::vector<uint32_t> more,
            LooseMatches(*nr_, std::vector<Value>(key.data, key.data + key.n), fetch_once_));
        if (more.empty()) return absl::OkStatus();
        binding = more.back();
        more.pop_back();
        for (uint32_t extra : more) {
          QG_RETURN_IF_ERROR(Append(row, /*move=*/false));
          out_->row_binding.push_back(extra);
        }
      }
    }
    QG_RETURN_IF_ERROR(Append(row, can_move_));
    if (fixed_binding_ >= 0 || key_columns_ > 0) out_->row_binding.push_back(binding);
    return absl::OkStatus();
  }

 private:
  // Adds the row's projected values to the item's columns.
  absl::Status Append(std::vector<Value>& row, bool move) {
    if (limited_) {
      for (size_t idx : projection_) pending_bytes_ += ValueBytes(row[idx]);
      if (++pending_rows_ >= kCountEvery) QG_RETURN_IF_ERROR(Flush());
    }
    for (size_t c = 0; c < projection_.size(); ++c) {
      Value& v = row[projection_[c]];
      std::vector<Value>& col = out_->columns[c];
      if (col.size() == col.capacity()) QG_RETURN_IF_ERROR(Grow(col));
      if (move) {
        col.push_back(std::move(v));
      } else {
        col.push_back(v);
      }
    }
    ++out_->num_rows;
    return absl::OkStatus();
  }

  // Room for more values: the generous step (address space), else, when
  // that much is refused, half as much again; an error if even that is.
  absl::Status Grow(std::vector<Value>& col) {
    try {
      ReserveValues(col, GrownCapacity(col.capacity(), item_ == 0 ? nr_->num_items : 1));
      return absl::OkStatus();
    } catch (const std::bad_alloc&) {
    }
    try {
      ReserveValues(col, col.capacity() + col.capacity() / 2 + 256);
      return absl::OkStatus();
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of memory after collecting ", out_->num_rows, " rows"));
    }
  }

  static constexpr int64_t kCountEvery = 256;

  GraphRun* run_;
  NodeRun* nr_;
  ItemOutput* out_;
  size_t item_;
  size_t item_bindings_;
  const bool limited_ = run_->limited();
  int64_t pending_rows_ = 0;
  int64_t pending_bytes_ = 0;
  int64_t fixed_binding_;  // per-binding item: its binding; -1: none / from keys
  size_t key_columns_;
  int key_position_;  // >= 0: the key is this visible column, none trails
  size_t total_columns_ = 0;
  std::vector<size_t> projection_;
  bool can_move_ = true;
  bool fetch_once_;  // rows no binding wants are dropped
};

absl::StatusOr<std::vector<uint32_t>> LooseMatches(NodeRun& nr, const std::vector<Value>& key,
                                                   bool exact_text) {
  absl::MutexLock lock(&nr.loose_mu);
  if (!nr.loose_built) {
    nr.loose_built = true;
    for (size_t k = 0; k < nr.bindings.size(); ++k) {
      const std::string text = KeyText(nr.bindings[k]);
      nr.text_index[text].push_back(static_cast<uint32_t>(k));
      nr.lower_index[absl::AsciiStrToLower(text)].push_back(static_cast<uint32_t>(k));
    }
  }
  const std::string text = KeyText(key);
  auto it = nr.text_index.find(text);
  if (it != nr.text_index.end()) return it->second;
  if (exact_text) return std::vector<uint32_t>{};
  it = nr.lower_index.find(absl::AsciiStrToLower(text));
  if (it != nr.lower_index.end()) return it->second;
  std::vector<std::string> shown;
  for (const Value& v : key) shown.push_back(v.DebugString());
  return absl::InternalError(
      absl::StrCat("a batched row's key (", absl::StrJoin(shown, ", "), ") matches no binding"));
}

absl::Status GraphRun::AddResult(int64_t rows, int64_t bytes) {
  const int64_t r = result_rows_.fetch_add(rows) + rows;
  const int64_t b = result_bytes_.fetch_add(bytes) + bytes;
  if (ctx_.max_result_rows > 0 && r > ctx_.max_result_rows) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the graph's result exceeds max_result_rows (", ctx_.max_result_rows, ")"));
  }
  if (ctx_.max_result_bytes > 0 && b > ctx_.max_result_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the graph's result exceeds max_result_bytes (", ctx_.max_result_bytes, ")"));
  }
  return absl::OkStatus();
}

void GraphRun::NoteColumns(NodeRun& nr, const std::vector<std::string>& names) {
  absl::MutexLock lock(&mu_);
  if (!nr.have_columns) {
    nr.have_columns = true;
    nr.columns = names;
  }
}

void GraphRun::Submit(std::function<void()> fn) { ctx_.workers->Submit(std::move(fn)); }

absl::Status GraphRun::ParamValue(const std::string& name, Value* out) const {
  if (auto it = param_index_.find(name); it != param_index_.end()) {
    *out = ctx_.params[it->second].second;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("parameter \"", name, "\" has no value"));
}

absl::StatusOr<GraphResult> GraphRun::Run() {
  const PlannedGraph& pg = *ctx_.planned;
  const int n = static_cast<int>(pg.nodes.size());
  start_ns_ = SteadyNs();
  nodes_.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto nr = std::make_unique<NodeRun>();
    nr->pn = pg.nodes[i].get();
    nr->pending_parents = static_cast<int>(nr->pn->parents.size());
    nr->kind = nr->pn->kind;
    nodes_.push_back(std::move(nr));
  }

  // The host's token and the graph timeout both cancel the graph token.
  std::weak_ptr<CancelToken> weak_graph = graph_token_;
  CancelRegistration host_link(ctx_.cancel.get(), [weak_graph] {
    if (auto t = weak_graph.lock()) t->Cancel(absl::CancelledError("cancelled"));
  });
  WatchdogTimer graph_timer;
  if (ctx_.timeout.has_value()) {
    graph_timer = WatchdogTimer(
        ctx_.watchdog, absl::Now() + *ctx_.timeout, graph_token_,
        absl::DeadlineExceededError(absl::StrCat("graph timed out after ",
                                                 absl::ToInt64Milliseconds(*ctx_.timeout), " ms")));
  }

  // Roots are collected first: once one runs, it may bring another node's
  // pending_parents to 0 and start it itself.
  std::vector<int> roots;
  for (int i = 0; i < n; ++i) {
    if (nodes_[i]->pending_parents == 0) roots.push_back(i);
  }
  auto self = shared_from_this();
  for (int i : roots) Submit([self, i] { self->StartNode(i); });
  absl::Status failure;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &GraphRun::AllFinished));
    failure = failure_;
  }
  graph_timer.Reset();
  const int64_t elapsed = SteadyNs() - start_ns_;

  if (!failure.ok()) return failure;
  bool any_cancelled = false;
  for (const auto& nr : nodes_) any_cancelled |= nr->result.status == NodeStatus::kCancelled;
  if (any_cancelled || graph_token_->cancelled()) {
    if (ctx_.cancel != nullptr && ctx_.cancel->cancelled()) return ctx_.cancel->status();
    absl::Status s = graph_token_->status();
    if (!s.ok()) return s;
    if (any_cancelled) return absl::CancelledError("cancelled");
  }

  GraphResult result;
  result.graph = pg.graph;
  result.plan = pg.plan;
  result.nodes.reserve(n);
  for (auto& nr : nodes_) {
    result.stats.rows += static_cast<int64_t>(nr->result.num_rows);
    result.stats.round_trips += nr->result.stats.round_trips;
    result.nodes.push_back(std::move(nr->result));
  }
  result.stats.elapsed_ns = elapsed;
  return result;
}

absl::StatusOr<std::vector<std::vector<Value>>> GraphRun::ComputeBindings(const NodeRun& nr) {
  const PlannedNode& pn = *nr.pn;
  std::vector<std::vector<std::vector<Value>>> tuples_per_group;
  tuples_per_group.reserve(pn.groups.size());
  for (const InputGroup& g : pn.groups) {
    const NodeResult& parent = nodes_[g.parent]->result;
    std::vector<int> cols;
    for (const auto& [field, pos] : g.fields) {
      const int c = parent.FindColumn(field);
      if (c < 0) {
        return absl::InvalidArgumentError(absl::StrCat(pn.error_prefix, "field \"", field,
                                                       "\" is not a column of node \"",
                                                       parent.node_id, "\""));
      }
      cols.push_back(c);
    }
    std::vector<std::vector<Value>> tuples;
    TupleIndex seen(&tuples);
    for (size_t r = 0; r < parent.num_rows; ++r) {
      std::vector<Value> t;
      t.reserve(cols.size());
      bool has_null = false;
      for (int c : cols) {
        const Value& v = parent.columns[c].values[r];
        if (v.is_null()) {
          has_null = true;
          break;
        }
        t.push_back(v);
      }
      if (has_null) continue;  // nulls do not bind
      tuples.push_back(std::move(t));
      if (!seen.Insert(static_cast<uint32_t>(tuples.size() - 1))) {
        tuples.pop_back();  // a duplicate
        continue;
      }
      if (static_cast<int64_t>(tuples.size()) > ctx_.max_bindings) break;
    }
    tuples_per_group.push_back(std::move(tuples));
  }
  int64_t total = 1;
  for (const auto& t : tuples_per_group) {
    const int64_t size = static_cast<int64_t>(t.size());
    if (size == 0) return std::vector<std::vector<Value>>{};
    if (total > ctx_.max_bindings / size) {
      return absl::ResourceExhaustedError(
          absl::StrCat(pn.error_prefix, "the bindings from its parents exceed max_bindings (",
                       ctx_.max_bindings, ")"));
    }
    total *= size;
  }
  if (total > ctx_.max_bindings) {
    return absl::ResourceExhaustedError(
        absl::StrCat(pn.error_prefix, "the bindings from its parents exceed max_bindings (",
                     ctx_.max_bindings, ")"));
  }
  // Cross product of the groups (the last group varies fastest).
  std::vector<std::vector<Value>> bindings;
  bindings.reserve(static_cast<size_t>(total));
  std::vector<size_t> at(tuples_per_group.size(), 0);
  for (int64_t k = 0; k < total; ++k) {
    std::vector<Value> b(pn.binding_params.size());
    for (size_t g = 0; g < pn.groups.size(); ++g) {
      const std::vector<Value>& tuple = tuples_per_group[g][at[g]];
      for (size_t j = 0; j < pn.groups[g].fields.size(); ++j) {
        b[pn.groups[g].fields[j].second] = tuple[j];
      }
    }
    bindings.push_back(std::move(b));
    for (size_t g = tuples_per_group.size(); g-- > 0;) {
      if (++at[g] < tuples_per_group[g].size()) break;
      at[g] = 0;
    }
  }
  return bindings;
}

absl::Status GraphRun::WithBindingOrigins(const NodeRun& nr, const absl::Status& s) const {
  if (s.code() != absl::StatusCode::kInvalidArgument || nr.pn->groups.empty()) return s;
  std::string origins;
  for (const InputGroup& g : nr.pn->groups) {
    for (const auto& [field, pos] : g.fields) {
      absl::StrAppend(&origins, origins.empty() ? "" : ", ", ":", nr.pn->binding_params[pos],
                      " <- ", nodes_[g.parent]->pn->node->node_id, ".", field);
    }
  }
  return absl::Status(s.code(), absl::StrCat(s.message(), " (bound values: ", origins, ")"));
}

bool GraphRun::RecordErrorLocked(NodeRun& nr, absl::Status error) {
  if (!nr.error.ok()) return false;  // the first error of a node wins
  nr.error = std::move(error);
  nr.stop.store(true);
  if (nr.pn->node->on_error == OnError::kFail && failure_.ok()) {
    failure_ = nr.error;
    return true;
  }
  return false;
}

void GraphRun::StartNode(int i) {
  NodeRun& nr = *nodes_[i];
  const PlannedNode& pn = *nr.pn;
  const Node& node = *pn.node;
  nr.result.stats.start_ns = Now();
  if (graph_token_->cancelled()) return FinishNode(i, NodeStatus::kCancelled);

  // Parents: a failed or cancelled parent, or a mapping parent without rows
  // to give, means no bindings.
  bool skip = false;
  for (int p : pn.parents) {
    const NodeStatus ps = nodes_[p]->result.status;
    if (ps == NodeStatus::kCancelled) return FinishNode(i, NodeStatus::kCancelled);
    if (ps == NodeStatus::kFailed) skip = true;
  }
  for (const InputGroup& g : pn.groups) {
    if (nodes_[g.parent]->result.status != NodeStatus::kOk) skip = true;
  }
  if (skip) return FinishNode(i, NodeStatus::kSkipped);

  if (!pn.groups.empty()) {
    absl::StatusOr<std::vector<std::vector<Value>>> b = ComputeBindings(nr);
    if (!b.ok()) {
      bool cancel;
      {
        absl::MutexLock lock(&mu_);
        cancel = RecordErrorLocked(nr, b.status());
      }
      if (cancel) CancelGraph(b.status());
      return FinishNode(i, NodeStatus::kFailed);
    }
    nr.bindings = std::move(*b);
    if (nr.bindings.empty()) return FinishNode(i, NodeStatus::kSkipped);
    // Adaptive re-planning: a parent far off its estimate decides again.
    if (pn.auto_strategy) {
      std::vector<ParentRows> parents;
      for (const InputGroup& g : pn.groups) {
        parents.push_back(ParentRows{nodes_[g.parent]->pn->node->node_id,
                                     nodes_[g.parent]->pn->est_rows,
                                     static_cast<double>(nodes_[g.parent]->result.num_rows)});
      }
      nr.kind = ReplanAtStart(pn, parents, nr.bindings.size(), &nr.replan_reason);
    }
  }

  // Arguments of the plain statement.
  if (nr.kind != ExecKind::kBatched) {
    // Last position of a name (binding_params holds each name once).
    absl::flat_hash_map<std::string_view, int> binding_pos;
    for (size_t k = 0; k < pn.binding_params.size(); ++k) {
      binding_pos.insert_or_assign(pn.binding_params[k], static_cast<int>(k));
    }
    for (const BatchArg& a : pn.plain.args) {
      int pos = -1;
      if (auto it = binding_pos.find(a.name); it != binding_pos.end()) pos = it->second;
      Value v;
      if (pos < 0) {
        absl::Status s = ParamValue(a.name, &v);
        if (!s.ok()) {
          s = Annotate(s, pn.error_prefix);
          bool cancel;
          {
            absl::MutexLock lock(&mu_);
            cancel = RecordErrorLocked(nr, s);
          }
          if (cancel) CancelGraph(s);
          return FinishNode(i, NodeStatus::kFailed);
        }
      }
      nr.arg_binding_pos.push_back(pos);
      nr.param_values.push_back(std::move(v));
    }
  }

  switch (nr.kind) {
    case ExecKind::kSingle:
      nr.num_items = 1;
      break;
    case ExecKind::kFetchOnce:  // one execution; its rows find their bindings by key
      nr.num_items = 1;
      nr.binding_index.Reserve(nr.bindings.size());
      for (size_t k = 0; k < nr.bindings.size(); ++k) {
        nr.binding_index.Insert(static_cast<uint32_t>(k));
      }
      nr.binding_index.Seal();
      break;
    case ExecKind::kPerBinding:
      nr.num_items = nr.bindings.size();
      break;
    case ExecKind::kBatched: {
      size_t bs = static_cast<size_t>(std::max<int64_t>(pn.batch_size, 1));
      if (pn.batch_size_flexible) {
        // As many pieces as connections may run at once, but no more than
        // this machine's cores: converting the rows is the client's share
        // of the work (measured on 2 cores, 100k keys: 2 pieces 1.1 s,
        // 8 pieces 1.45 s).
        const int cores = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
        const size_t width = static_cast<size_t>(std::max(
            1, std::min({pn.max_parallelism, ctx_.broker->MaxConcurrent(*pn.source), cores})));
        const size_t even = (nr.bindings.size() + width - 1) / width;
        if (even > bs) {
          // An IN list's text has one placeholder per key: whole multiples
          // of batch_size keep the number of statement texts small.
          bs = pn.form == BatchForm::kInList ? (even + bs - 1) / bs * bs : even;
        }
        if (pn.max_batch_size > 0) bs = std::min(bs, static_cast<size_t>(pn.max_batch_size));
      }
      nr.batch_size = bs;
      nr.num_items = (nr.bindings.size() + bs - 1) / bs;
      nr.binding_index.Reserve(nr.bindings.size());
      for (size_t k = 0; k < nr.bindings.size(); ++k) {
        nr.binding_index.Insert(static_cast<uint32_t>(k));
      }
      nr.binding_index.Seal();
      break;
    }
  }
  nr.items.resize(nr.num_items);

  // The node's token: cancelled with the graph, or by its own timeout.
  nr.token = std::make_shared<CancelToken>();
  std::weak_ptr<CancelToken> weak_node = nr.token;
  nr.graph_link = std::make_unique<CancelRegistration>(graph_token_.get(), [weak_node] {
    if (auto t = weak_node.lock()) t->Cancel(absl::CancelledError("cancelled"));
  });
  if (node.timeout_ms.has_value()) {
    nr.timer =
        WatchdogTimer(ctx_.watchdog, absl::Now() + absl::Milliseconds(*node.timeout_ms), nr.token,
                      absl::DeadlineExceededError(absl::StrCat(pn.error_prefix, "timed out after ",
                                                               *node.timeout_ms, " ms")));
  }

  const int max_slots = std::max(1, ctx_.broker->MaxConcurrent(*pn.source));
  int tasks = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(std::min(pn.max_parallelism, max_slots)), nr.num_items));
  tasks = std::max(tasks, 1);
  {
    absl::MutexLock lock(&mu_);
    nr.tasks = tasks;
    nr.pending_tasks = tasks;
  }
  auto self = shared_from_this();
  for (int t = 0; t < tasks; ++t) {
    Schedule(pn.source->pool_key, max_slots, [self, i] { self->RunTask(i); });
  }
}

void GraphRun::Schedule(const std::string& key, int max_slots, std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = slots_.try_emplace(key);
    if (inserted) it->second.free = max_slots;
    if (it->second.free <= 0) {
      it->second.waiting.push_back(std::move(fn));
      return;
    }
    --it->second.free;
  }
  Submit(std::move(fn));
}

void GraphRun::ReleaseSlot(const std::string& key) {
  std::function<void()> next;
  {
    absl::MutexLock lock(&mu_);
    Slots& s = slots_[key];
    if (s.waiting.empty()) {
      ++s.free;
      return;
    }
    next = std::move(s.waiting.front());
    s.waiting.pop_front();
  }
  Submit(std::move(next));
}

void GraphRun::RunTask(int i) {
  NodeRun& nr = *nodes_[i];
  const PlannedNode& pn = *nr.pn;
  TaskOutcome outcome;
  if (!nr.stop.load() && !nr.token->cancelled()) {
    absl::StatusOr<std::unique_ptr<ConnectionLease>> lease =
        ctx_.broker->Acquire(pn, nr.token.get());
    if (!lease.ok()) {
      outcome.status = lease.status();
    } else {
      Connection& conn = (*lease)->conn();
      while (!nr.stop.load() && !nr.token->cancelled()) {
        const size_t item = nr.next_item.fetch_add(1);
        if (item >= nr.num_items) break;
        absl::Status s;
        try {
          s = ExecuteItem(nr, conn, item, &outcome);
        } catch (const std::bad_alloc&) {
          // Whatever the source was in the middle of is not worth keeping.
          (*lease)->MarkBroken();
          s = absl::ResourceExhaustedError("out of memory");
        }
        if (!s.ok()) {
          if (s.code() == absl::StatusCode::kUnavailable) (*lease)->MarkBroken();
          outcome.status = std::move(s);
          break;
        }
        nr.items_done.fetch_add(1);
      }
      if (conn.broken()) (*lease)->MarkBroken();
      absl::Status done = outcome.status;
      if (done.ok() && nr.token->cancelled()) done = nr.token->status();
      if (done.ok() && nr.items_done.load() < nr.num_items && nr.stop.load()) {
        done = absl::CancelledError("stopped");
      }
      (*lease)->Done(done);
      lease->reset();  // back to the pool before anything is reported
    }
  }
  ReleaseSlot(pn.source->pool_key);
  OnTaskDone(i, std::move(outcome));
}

absl::Status GraphRun::ExecuteItem(NodeRun& nr, Connection& conn, size_t item, TaskOutcome* out) {
  const PlannedNode& pn = *nr.pn;
  std::vector<BoundArg> args;
  const Statement* stmt = &pn.plain;
  Statement batched;
  int64_t fixed_binding = -1;
  if (nr.kind == ExecKind::kFetchOnce) {
    stmt = &pn.fetch_all;
    for (const BatchArg& a : stmt->args) {
      if (a.kind != BatchArg::Kind::kParam) {
        return absl::InternalError("the fetch-once statement takes a key argument");
      }
      BoundArg b;
      QG_RETURN_IF_ERROR(ParamValue(a.name, &b.value));
      args.push_back(std::move(b));
    }
  } else if (nr.kind == ExecKind::kBatched) {
    const size_t bs = nr.batch_size;
    const size_t begin = item * bs;
    const size_t end = std::min(begin + bs, nr.bindings.size());
    QG_ASSIGN_OR_RETURN(batched, pn.BatchedStatement(end - begin));
    stmt = &batched;
    args.reserve(stmt->args.size());
    for (const BatchArg& a : stmt->args) {
      BoundArg b;
      size_t pos = 0;
      while (pos < pn.binding_params.size() && pn.binding_params[pos] != a.name) ++pos;
      switch (a.kind) {
        case BatchArg::Kind::kParam:
          QG_RETURN_IF_ERROR(ParamValue(a.name, &b.value));
          break;
        case BatchArg::Kind::kKeyItem:
          if (pos == pn.binding_params.size() || begin + a.item >= end) {
            return absl::InternalError(absl::StrCat("batched argument \"", a.name, "\" item ",
                                                    a.item, " is out of range"));
          }
          b.value = nr.bindings[begin + a.item][pos];
          break;
        case BatchArg::Kind::kKeyArray:
          if (pos == pn.binding_params.size()) {
            return absl::InternalError(
                absl::StrCat("batched argument \"", a.name, "\" is not a key parameter"));
          }
          b.is_array = true;
          b.array.reserve(end - begin);
          for (size_t k = begin; k < end; ++k) b.array.push_back(nr.bindings[k][pos]);
          break;
      }
      args.push_back(std::move(b));
    }
  } else {
    if (nr.kind == ExecKind::kPerBinding) fixed_binding = static_cast<int64_t>(item);
    args.reserve(pn.plain.args.size());
    for (size_t k = 0; k < pn.plain.args.size(); ++k) {
      BoundArg b;
      const int pos = nr.arg_binding_pos[k];
      b.value = pos >= 0 ? nr.bindings[item][pos] : nr.param_values[k];
      args.push_back(std::move(b));
    }
  }
  size_t item_bindings = 0;
  if (nr.kind == ExecKind::kBatched) {
    item_bindings = std::min(nr.batch_size, nr.bindings.size() - item * nr.batch_size);
  } else if (nr.kind == ExecKind::kFetchOnce) {
    item_bindings = nr.bindings.size();
  } else if (nr.kind == ExecKind::kPerBinding) {
    item_bindings = 1;
  }
  CollectSink sink(this, &nr, item, item_bindings, fixed_binding, stmt->key_columns,
                   stmt->key_position);
  ExecStats stats;
  absl::Status s;
  {
    CancelRegistration reg(nr.token.get(), [&conn] { conn.Cancel(); });
    s = conn.Execute(*stmt, args, &sink, &stats);
  }
  if (s.ok() && stmt->key_grouped) {  // keys without a group: docs/design.md §11
    const size_t begin = item * nr.batch_size;
    s = FillEmptyGroups(
        *stmt, nr.items[item].row_binding, begin, begin + item_bindings,
        [&sink](std::vector<Value>& row, uint32_t b) { return sink.AppendFor(row, b); });
  }
  if (s.ok()) s = sink.Flush();
  out->round_trips += stats.round_trips > 0 ? stats.round_trips : 1;
  if (stats.rows_affected >= 0) {
    out->rows_affected = (out->rows_affected < 0 ? 0 : out->rows_affected) + stats.rows_affected;
  }
  return s;
}

void GraphRun::OnTaskDone(int i, TaskOutcome outcome) {
  NodeRun& nr = *nodes_[i];
  bool cancel = false;
  bool last = false;
  absl::Status reason;
  {
    absl::MutexLock lock(&mu_);
    nr.round_trips += outcome.round_trips;
    if (outcome.rows_affected >= 0) {
      nr.rows_affected = (nr.rows_affected < 0 ? 0 : nr.rows_affected) + outcome.rows_affected;
    }
    // A driver may end a cancelled statement without an error (MySQL's
    // SLEEP() returns 1 when KILL QUERY interrupts it), so rows produced
    // while the node's token was cancelled are never trusted.
    if (!outcome.status.ok() || nr.token->cancelled()) {
      if (graph_token_->cancelled()) {
        nr.stop.store(true);  // cancelled with the graph: not this node's failure
      } else if (nr.token->cancelled()) {
        cancel = RecordErrorLocked(nr, nr.token->status());  // the node's timeout
      } else {
        cancel = RecordErrorLocked(
            nr, Annotate(WithBindingOrigins(nr, outcome.status), nr.pn->error_prefix));
      }
      if (cancel) reason = nr.error;
    }
    last = --nr.pending_tasks == 0;
  }
  if (cancel) CancelGraph(reason);
  if (!last) return;

  NodeStatus status = NodeStatus::kOk;
  bool failed;
  {
    absl::MutexLock lock(&mu_);
    failed = !nr.error.ok();
    if (!failed && nr.items_done.load() < nr.num_items) {
      if (graph_token_->cancelled()) {
        status = NodeStatus::kCancelled;
      } else if (nr.token->cancelled()) {
        cancel = RecordErrorLocked(nr, nr.token->status());
        if (cancel) reason = nr.error;
        failed = true;
      } else {
        cancel = RecordErrorLocked(
            nr, absl::InternalError(absl::StrCat(nr.pn->error_prefix, "work left undone")));
        if (cancel) reason = nr.error;
        failed = true;
      }
    }
  }
  if (cancel) CancelGraph(reason);
  FinishNode(i, failed ? NodeStatus::kFailed : status);
}

void GraphRun::FinishNode(int i, NodeStatus status) {
  NodeRun& nr = *nodes_[i];
  const PlannedNode& pn = *nr.pn;
  const Node& node = *pn.node;
  nr.timer.Reset();
  nr.graph_link.reset();

  NodeResult& r = nr.result;
  r.node_id = node.node_id;
  r.database_id = node.database_id;
  r.status = status;
  r.binding_params = pn.binding_params;
  r.stats.strategy = pn.is_write ? "write" : std::string(ExecKindName(nr.kind));
  r.stats.planned_strategy = pn.is_write ? "write" : std::string(ExecKindName(pn.kind));
  r.stats.replan_reason = nr.replan_reason;
  r.stats.bindings = static_cast<int64_t>(nr.bindings.size());
  for (const NodePlan& np : ctx_.planned->plan.nodes) {
    if (np.node == i) r.stats.estimated_rows = np.expected_rows;
  }
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    r.stats.round_trips = nr.round_trips;
    r.stats.rows_affected = nr.rows_affected;
    r.stats.parallelism = std::max(nr.tasks, 1);
    if (status == NodeStatus::kFailed) r.error = nr.error;
    if (status == NodeStatus::kCancelled) {
      r.error = failure_.ok() ? graph_token_->status() : failure_;
      if (r.error.ok()) r.error = absl::CancelledError("cancelled");
    }
    names = node.output_fields.empty() && nr.have_columns ? nr.columns : node.output_fields;
  }
  for (const std::string& name : names) r.columns.push_back(Column{name, ValueType::kNull, {}});
  if (status == NodeStatus::kOk) {
    size_t total = 0;
    for (const ItemOutput& it : nr.items) total += it.num_rows;
    const bool dependent = !pn.groups.empty();
    // The first item with rows lends its columns (sized for the whole node
    // when it could project it, see CollectSink::ExpectRows); the others
    // are appended in item order.
    for (ItemOutput& it : nr.items) {
      if (it.num_rows == 0) continue;
      it.columns.resize(r.columns.size());
      for (std::vector<Value>& col : it.columns) col.resize(it.num_rows);  // lacking: null
      it.row_binding.resize(dependent ? it.num_rows : 0, 0);
      for (size_t c = 0; c < r.columns.size(); ++c) {
        std::vector<Value>& to = r.columns[c].values;
        if (to.empty()) {
          to = std::move(it.columns[c]);
          continue;
        }
        ReserveValues(to, total);
        std::move(it.columns[c].begin(), it.columns[c].end(), std::back_inserter(to));
      }
      if (r.row_binding.empty()) {
        r.row_binding = std::move(it.row_binding);
      } else {
        r.row_binding.reserve(total);
        r.row_binding.insert(r.row_binding.end(), it.row_binding.begin(), it.row_binding.end());
      }
      it = ItemOutput{};
    }
    nr.items.clear();
    for (Column& c : r.columns) {
      for (const Value& v : c.values) {
        if (!v.is_null()) {
          c.type = v.type();
          break;
        }
      }
    }
    r.num_rows = total;
    r.bindings = std::move(nr.bindings);
  } else {
    nr.items.clear();
    if (status == NodeStatus::kSkipped) nr.bindings.clear();
  }
  r.stats.end_ns = Now();
  // Calibration (docs/design.md §11); a dependent node without bindings
  // says nothing of its cost.
  if (status == NodeStatus::kOk && ctx_.cost_model != nullptr &&
      (pn.groups.empty() || r.stats.bindings > 0)) {
    CostObservation obs{(r.stats.end_ns - r.stats.start_ns) / 1e6, r.stats.round_trips,
                        std::max<int64_t>(r.stats.bindings, 1), static_cast<int64_t>(r.num_rows)};
    if (nr.kind == ExecKind::kFetchOnce) {
      // The time is the fetch-all statement's; the joined rows per binding
      // are what a lookup returns.
      CostObservation rows = obs;
      rows.learn_ms = false;
      ctx_.cost_model->Record(pn.source->name, CostModel::Shape(pn, false), rows);
      obs.learn_rows = false;
      ctx_.cost_model->Record(pn.source->name, FetchAllShape(pn), obs);
    } else {
      ctx_.cost_model->Record(pn.source->name, pn.cost_shape, obs);
    }
  }

  std::vector<int> ready;
  {
    absl::MutexLock lock(&mu_);
    nr.finished = true;
    for (int c : pn.children) {
      if (--nodes_[c]->pending_parents == 0) ready.push_back(c);
    }
    ++finished_;
  }
  if (ready.empty()) return;
  auto self = shared_from_this();
  for (int c : ready) Submit([self, c] { self->StartNode(c); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionLease>> PoolBroker::Acquire(const PlannedNode& node,
                                                                     CancelToken* cancel) {
  if (node.source->pool == nullptr) {
    return absl::InternalError("the source has no connection pool");
  }
  absl::StatusOr<PooledConnection> c = node.source->pool->Acquire(cancel);
  if (!c.ok()) return c.status();
  return std::unique_ptr<ConnectionLease>(std::make_unique<PoolLease>(std::move(*c)));
}

int PoolBroker::MaxConcurrent(const SourceHandle& source) {
  return source.pool != nullptr ? source.pool->options().pool_max : source.config.pool.pool_max;
}

absl::StatusOr<GraphResult> RunGraph(const ExecutionContext& ctx) {
  if (ctx.planned == nullptr || ctx.workers == nullptr || ctx.watchdog == nullptr ||
      ctx.broker == nullptr) {
    return absl::InternalError("executor: incomplete execution context");
  }
  auto run = std::make_shared<GraphRun>(ctx);
  return run->Run();
}

}  // namespace qg
