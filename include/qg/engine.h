// qg/engine.h — the entry point for C++ hosts.
//
// An Engine owns its providers (registered explicitly: no global registry),
// its catalog of data sources, one connection pool per (source, external
// user), a worker pool and a watchdog for timeouts. Execute() validates a
// graph before taking any connection, plans it, runs it in dataflow order
// with independent work in parallel, and returns every node's rows.
//
// Thread-safety: every member is thread-safe; many graphs may run at once.
// Ownership: Create() returns the engine; everything it returns is owned by
// the caller. Destroying the engine waits for running graphs to finish.
//
//   auto engine = qg::Engine::Create();                 // sqlite built in
//   (*engine)->LoadCatalogJson(R"({"sources": [{"name": "db_users",
//       "provider": "sqlite", "connect": "users.sqlite"}]})");
//   qg::ExecuteOptions opts;
//   opts.params = {{"city", qg::Value::String("Paris")}};
//   auto result = (*engine)->ExecuteJson(qgdl_text, opts);
//   if (!result.ok()) { /* result.status() names the node and source */ }
#ifndef QG_ENGINE_H_
#define QG_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qg/cancel.h"
#include "qg/catalog.h"
#include "qg/cost.h"
#include "qg/export.h"
#include "qg/graph.h"
#include "qg/plan.h"
#include "qg/plan_hook.h"
#include "qg/pool.h"
#include "qg/provider.h"
#include "qg/result.h"
#include "qg/transaction.h"
#include "qg/value.h"

namespace qg {

struct EngineOptions {
  int workers = 0;  // executor threads; 0 = 4 x hardware threads (min 4)
  GraphLimits limits;
  // Dependent joins: at most this many bindings per node (cross products of
  // several source nodes included); past it the node fails with
  // kResourceExhausted naming the node.
  int64_t max_bindings = 1000000;
  // Rows/bytes a graph may hold in memory in total; kResourceExhausted past it.
  int64_t max_result_rows = 50000000;
  int64_t max_result_bytes = int64_t{8} << 30;
  int64_t default_batch_size = 1000;       // bindings per batched round trip
  bool register_builtin_providers = true;  // sqlite (and the others compiled in)
  // Cost estimates are cached on the engine per (source, statement shape)
  // and calibrated with what executions cost. Explain() asks the sources for
  // missing ones (a pooled connection each); Execute() uses only cached ones
  // unless this (or ExecuteOptions::estimate_costs) is true.
  bool estimate_costs_on_execute = false;
  // Optional per-source overrides of the sources' own estimates (keyed by
  // source name); an override that fails or answers nonsense gives the
  // default estimate, and EXPLAIN says why.
  absl::flat_hash_map<std::string, std::shared_ptr<CostEstimator>> cost_estimators;
  // ExecuteJson keeps the plans of this many graph texts (least recently
  // used out; 0: off): a text run again against the same catalog version, by
  // the same user, with the same parameter names, is not parsed, validated
  // and planned again (GraphResult::plan.cached says so). Parameter values
  // are bound per execution; estimates are those of the first planning.
  size_t plan_cache_size = 256;
  // Called per dependent node while planning, after the planner's own
  // choice; may override strategy, batch size and parallel width. Invalid
  // overrides keep the planner's choice and EXPLAIN says why (qg/plan_hook.h).
  PlanHook plan_hook;
  // When set, the catalog is persisted in this SQLite file (created on first
  // use); Create loads it and refuses a corrupt or unknown-version file.
  std::string catalog_path;
  // Two-phase commit (qg/transaction.h). The coordinator log: a SQLite file
  // (created with mode 0600, synchronous=FULL); without one, "2pc" graphs are
  // refused. Every global transaction id this engine makes starts with
  // "<transaction_prefix>." (letters, digits, '_', '-'; at most 16); Recover()
  // resolves those only, so engines sharing a source need distinct prefixes.
  std::string coordinator_log;
  std::string transaction_prefix = "qg";
  // Create() runs Recover() (after loading catalog_path) when there is a log.
  bool recover_on_open = true;
  TransactionHook transaction_hook;  // tests: crash injection points
};

struct ExecuteOptions {
  std::string user;                            // the caller's local user (picks user mappings)
  ParamList params;                            // override the graph's "params"
  std::shared_ptr<CancelToken> cancel;         // cancel from another thread
  std::optional<absl::Duration> timeout;       // overrides the graph's timeout_ms
  std::optional<TransactionMode> transaction;  // overrides the graph's "transaction"
  // Ask the sources for estimates not cached yet before executing (EXPLAIN
  // ANALYZE sets it, so a one-shot run shows real estimates).
  bool estimate_costs = false;
};

class QG_EXPORT Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options = {});
  // Create() with a JSON catalog: the sources are loaded before the
  // coordinator log (if any) is recovered, since the crashed transactions'
  // sources may be among them. A source Recover() cannot reach stays logged
  // for a later Recover(); that does not fail the call. (docs/design.md, C ABI:
  // qg_engine_open is this.)
  static absl::StatusOr<std::unique_ptr<Engine>> CreateWithCatalogJson(
      EngineOptions options, std::string_view catalog_json);
  virtual ~Engine() = default;

  // Adds a provider kind; kAlreadyExists if the name is taken.
  virtual absl::Status RegisterProvider(std::shared_ptr<Provider> provider) = 0;

  // Catalog. Sources must name a registered provider; their options are
  // checked against it.
  virtual absl::Status LoadCatalogJson(std::string_view json) = 0;
  virtual absl::Status AddSource(SourceConfig source) = 0;
  virtual Catalog catalog() const = 0;
  // Bumped on every catalog change (sources, user mappings; CREATE, ALTER,
  // DROP, AddSource, LoadCatalogJson): a plan built against an older version
  // is stale.
  virtual uint64_t catalog_version() const = 0;

  // Parses with the engine's limits, sources and the providers' placeholder
  // rules, then executes.
  virtual absl::StatusOr<GraphResult> ExecuteJson(std::string_view qgdl,
                                                  const ExecuteOptions& options = {}) = 0;
  virtual absl::StatusOr<GraphResult> Execute(const Graph& graph,
                                              const ExecuteOptions& options = {}) = 0;

  // Runs catalog statements (qg/catalog_statement.h), in order: catalog
  // changes are checked, applied, persisted (with catalog_path) and drain the
  // pools of the source they touch; EXECUTE STATEMENT runs as a one-node graph
  // (node "statement"). Returns the last statement's result (empty for DDL).
  virtual absl::StatusOr<GraphResult> ExecuteStatements(std::string_view text,
                                                        const ExecuteOptions& options = {}) = 0;

  // Plans without executing (connections are taken only to ask sources for
  // cost estimates).
  virtual absl::StatusOr<Plan> Explain(const Graph& graph, const ExecuteOptions& options = {}) = 0;
  // EXPLAIN of a QGDL text: parsed like ExecuteJson (the engine's limits,
  // sources and placeholder rules, options.params as supplied), planned by
  // Explain() and rendered by RenderPlan (qg/plan.h).
  absl::StatusOr<std::string> ExplainText(std::string_view qgdl, const ExecuteOptions& options,
                                          ExplainFormat format);
  // EXPLAIN ANALYZE: executes the graph, asking the sources for estimates not
  // cached yet (ExecuteOptions::estimate_costs), and renders each node's
  // estimates beside its actuals.
  absl::StatusOr<std::string> ExplainAnalyzeText(std::string_view qgdl, ExecuteOptions options,
                                                 ExplainFormat format);
  // The ParseOptions Execute/Explain use (sources, placeholder rules, limits),
  // for validating a graph with the engine's rules.
  virtual ParseOptions GraphParseOptions(const ParamList* execution_params = nullptr) const = 0;

  // Resolves what a crash left of this engine's two-phase commits, from the
  // coordinator log: prepared branches with a logged commit decision are
  // committed, every other prepared branch carrying this engine's prefix is
  // rolled back (except those of graphs running now). A source that cannot
  // be reached is listed in `unresolved` and kept for the next call.
  virtual absl::StatusOr<RecoveryReport> Recover() = 0;

  // Health check of one source for `options.user`: takes a connection from
  // that user's pool (connecting if none is idle) and asks the provider to
  // Ping it with the source's health_check option — for every provider kind
  // (a REST source answers its HEAD or health_check request). Bounded by
  // options.timeout (kDeadlineExceeded) and options.cancel. kNotFound for an
  // unknown source; errors name the source and never carry a secret.
  virtual absl::Status CheckSource(std::string_view source, const ExecuteOptions& options = {}) = 0;

  // Live pool figures, keyed "source/user".
  virtual std::vector<std::pair<std::string, PoolStats>> PoolStatistics() const = 0;
};

}  // namespace qg

#endif  // QG_ENGINE_H_
