// The Engine: providers, catalog, pools keyed by Login::pool_key, the worker
// pool, the watchdog and a maintenance thread; Execute = validate, plan, run.
#include "qg/engine.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "engine/cost_model.h"
#include "engine/executor.h"
#include "engine/plan_cache.h"
#include "engine/planner.h"
#include "engine/thread_pool.h"
#include "engine/transaction.h"
#include "engine/watchdog.h"
#include "providers/builtin.h"
#include "qg/catalog_statement.h"
#include "qg/catalog_store.h"
#include "qg/placeholders.h"
#include "store/coordinator_log.h"

namespace qg {
namespace {

int WorkerCount(const EngineOptions& o) {
  if (o.workers > 0) return o.workers;
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(4, 4 * hw);
}

// Graph params overridden by execution params (same name: the execution's).
ParamList MergeParams(const Graph& graph, const ExecuteOptions& options) {
  ParamList merged;
  absl::flat_hash_set<std::string_view> overridden;
  for (const auto& o : options.params) overridden.insert(o.first);
  for (const auto& kv : graph.params) {
    if (!overridden.contains(kv.first)) merged.push_back(kv);
  }
  for (const auto& o : options.params) merged.push_back(o);
  return merged;
}

// The source a catalog change touches (its pools are drained).
std::string ChangedSource(const CatalogStatement& statement) {
  if (const auto* c = std::get_if<CreateSourceStatement>(&statement)) return c->source.name;
  if (const auto* d = std::get_if<DropSourceStatement>(&statement)) return d->name;
  if (const auto* m = std::get_if<SetMappingStatement>(&statement)) return m->mapping.source;
  if (const auto* dm = std::get_if<DropMappingStatement>(&statement)) return dm->source;
  return "";
}

// True when the SQL's first keyword reads (SELECT, WITH, VALUES, SHOW,
// EXPLAIN, PRAGMA); anything else runs as a write node.
bool IsReadSql(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(')) {
    ++i;
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
  }
  return word == "SELECT" || word == "WITH" || word == "VALUES" || word == "SHOW" ||
         word == "EXPLAIN" || word == "PRAGMA";
}

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(EngineOptions options, std::unique_ptr<CatalogStore> store = nullptr,
                      Catalog catalog = {}, std::unique_ptr<CoordinatorLog> txlog = nullptr)
      : options_(std::move(options)),
        store_(std::move(store)),
        txlog_(std::move(txlog)),
        catalog_(std::move(catalog)),
        workers_(WorkerCount(options_)),
        maintenance_([this] { MaintenanceLoop(); }) {}

  ~EngineImpl() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      mu_.Await(absl::Condition(
          +[](int* active) { return *active == 0; }, &active_));
      maintenance_cv_.Signal();
    }
    maintenance_.join();
  }

  absl::Status RegisterProvider(std::shared_ptr<Provider> provider) override {
    if (provider == nullptr) return absl::InvalidArgumentError("provider is null");
    std::string name(provider->name());
    if (name.empty()) return absl::InvalidArgumentError("provider has an empty name");
    absl::MutexLock lock(&mu_);
    if (!providers_.emplace(name, std::move(provider)).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("provider \"", name, "\" is already registered"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadCatalogJson(std::string_view json) override {
    QG_ASSIGN_OR_RETURN(Catalog loaded, Catalog::FromJson(json));
    absl::MutexLock lock(&mu_);
    Catalog next = catalog_;
    for (const SourceConfig& s : loaded.sources()) {
      QG_RETURN_IF_ERROR(CheckSourceLocked(s));
      QG_RETURN_IF_ERROR(next.AddSource(s));
    }
    for (const UserMapping& m : loaded.mappings()) QG_RETURN_IF_ERROR(next.SetMapping(m));
    catalog_ = std::move(next);
    ++catalog_version_;
    return absl::OkStatus();
  }

  absl::Status AddSource(SourceConfig source) override {
    absl::MutexLock lock(&mu_);
    QG_RETURN_IF_ERROR(CheckSourceLocked(source));
    QG_RETURN_IF_ERROR(catalog_.AddSource(std::move(source)));
    ++catalog_version_;
    return absl::OkStatus();
  }

  Catalog catalog() const override {
    absl::MutexLock lock(&mu_);
    return catalog_;
  }

  uint64_t catalog_version() const override {
    absl::MutexLock lock(&mu_);
    return catalog_version_;
  }

  absl::StatusOr<GraphResult> ExecuteJson(std::string_view qgdl,
                                          const ExecuteOptions& options) override {
    const CostMode cost_mode = CostModeFor(options);
    // The version is read before parsing: a plan made while the catalog
    // changes is stored under the older version and never found again.
    const std::string key = plan_cache_.Key(qgdl, options, catalog_version(), cost_mode);
    if (!key.empty()) {
      if (std::shared_ptr<PlannedGraph> hit = plan_cache_.Lookup(key)) {
        ActiveGraph active(this);
        return Run(std::move(hit), options, /*cached=*/true);
      }
    }
    ParseOptions parse_options = GraphParseOptions(&options.params);
    {
      // A dropped source parses, so that Execute reports it as not found.
      absl::MutexLock lock(&mu_);
      for (const std::string& name : dropped_) parse_options.known_sources->insert(name);
    }
    QG_ASSIGN_OR_RETURN(Graph graph, ParseGraph(qgdl, parse_options));
    ActiveGraph active(this);
    QG_ASSIGN_OR_RETURN(std::shared_ptr<PlannedGraph> planned,
                        PlanGraph(graph, options, cost_mode));
    plan_cache_.Insert(key, planned);
    return Run(std::move(planned), options, /*cached=*/false);
  }

  absl::StatusOr<GraphResult> ExecuteStatements(std::string_view text,
                                                const ExecuteOptions& options) override {
    QG_ASSIGN_OR_RETURN(std::vector<ParsedStatement> statements, ParseStatements(text));
    GraphResult last;
    for (const ParsedStatement& parsed : statements) {
      const CatalogStatement& st = parsed.statement;
      if (IsCatalogChange(st)) {
        QG_RETURN_IF_ERROR(ApplyCatalogChange(st));
        last = GraphResult{};
        continue;
      }
      const auto* pass = std::get_if<PassThroughStatement>(&st);
      if (pass == nullptr) {
        return absl::InternalError(absl::StrCat("statement at ", parsed.line, ":", parsed.column,
                                                " is neither a change nor EXECUTE STATEMENT"));
      }
      Graph graph;
      Node node;
      node.node_id = "statement";
      node.database_id = pass->source;
      node.query_string = pass->sql;
      for (const auto& kv : pass->params) node.input_parameters.push_back(kv.first);
      node.mode = IsReadSql(pass->sql) ? NodeMode::kRead : NodeMode::kWrite;
      graph.nodes.push_back(std::move(node));
      graph.params = pass->params;
      graph.transaction = pass->transaction;
      QG_ASSIGN_OR_RETURN(last, Execute(graph, options));
    }
    return last;
  }

  absl::StatusOr<GraphResult> Execute(const Graph& graph, const ExecuteOptions& options) override {
    ActiveGraph active(this);
    QG_ASSIGN_OR_RETURN(std::shared_ptr<PlannedGraph> planned,
                        PlanGraph(graph, options, CostModeFor(options)));
    return Run(std::move(planned), options, /*cached=*/false);
  }

  absl::StatusOr<RecoveryReport> Recover() override;

  absl::Status CheckSource(std::string_view source, const ExecuteOptions& options) override {
    ActiveGraph active(this);
    Graph g;
    Node n;
    n.node_id = "health";
    n.database_id = std::string(source);
    g.nodes.push_back(std::move(n));
    QG_RETURN_IF_ERROR(CheckDroppedSources(g));
    QG_ASSIGN_OR_RETURN(auto handles, ResolveSources(g, options.user));
    const std::shared_ptr<SourceHandle>& h = handles.begin()->second;
    const std::string prefix = absl::StrCat("source \"", std::string(source), "\"");
    // A token of its own, cancelled by the caller's and by the deadline.
    auto token = std::make_shared<CancelToken>();
    CancelLink link(options.cancel.get(), token);
    uint64_t deadline = 0;
    if (options.timeout.has_value()) {
      deadline = watchdog_.Schedule(
          absl::Now() + *options.timeout, token,
          absl::DeadlineExceededError(absl::StrCat(prefix, ": health check took longer than ",
                                                   absl::FormatDuration(*options.timeout))));
    }
    absl::Status st = [&]() -> absl::Status {
      absl::StatusOr<PooledConnection> conn = h->pool->Acquire(token.get());
      if (!conn.ok()) return conn.status();
      CancelRegistration reg(token.get(), [c = &**conn] { c->Cancel(); });
      absl::Status ping = (*conn)->Ping(h->config.pool.health_check);
      if (!ping.ok() && (*conn)->broken()) conn->MarkBroken();
      if (!ping.ok()) return ping;
      return token->status();
    }();
    if (deadline != 0) watchdog_.Unschedule(deadline);
    if (token->cancelled()) st = token->status();
    if (st.ok()) return st;
    if (absl::StartsWith(st.message(), prefix)) return st;
    return absl::Status(st.code(), absl::StrCat(prefix, ": ", st.message()));
  }

  absl::StatusOr<Plan> Explain(const Graph& graph, const ExecuteOptions& options) override {
    ActiveGraph active(this);
    QG_RETURN_IF_ERROR(CheckDroppedSources(graph));
    QG_RETURN_IF_ERROR(ValidateGraph(graph, GraphParseOptions(&options.params)));
    const ParamList params = MergeParams(graph, options);
    QG_ASSIGN_OR_RETURN(std::shared_ptr<PlannedGraph> planned,
                        Prepare(graph, options, params, CostMode::kFetch));
    return planned->plan;
  }

  ParseOptions GraphParseOptions(const ParamList* execution_params) const override {
    ParseOptions o;
    o.limits = options_.limits;
    auto providers =
        std::make_shared<absl::flat_hash_map<std::string, std::shared_ptr<Provider>>>();
    {
      absl::MutexLock lock(&mu_);
      std::set<std::string> names;
      for (const SourceConfig& s : catalog_.sources()) {
        names.insert(s.name);
        auto it = providers_.find(s.provider);
        if (it != providers_.end()) (*providers)[s.name] = it->second;
      }
      o.known_sources = std::move(names);
    }
    if (execution_params != nullptr) {
      std::set<std::string> provided;
      for (const auto& kv : *execution_params) provided.insert(kv.first);
      o.provided_params = std::move(provided);
    }
    o.placeholders_of = [providers](const Node& node) -> absl::StatusOr<std::vector<std::string>> {
      auto it = providers->find(node.database_id);
      if (it != providers->end()) return it->second->Placeholders(node.query_string);
      // Unknown source: the known_sources rule reports it; list the SQL
      // placeholders so no second, misleading issue appears.
      QG_ASSIGN_OR_RETURN(ParsedSql parsed, ParseSql(node.query_string));
      return parsed.Names();
    };
    return o;
  }

  std::vector<std::pair<std::string, PoolStats>> PoolStatistics() const override {
    std::vector<std::pair<std::string, PoolStats>> out;
    absl::MutexLock lock(&mu_);
    for (const auto& [key, pool] : pools_) out.emplace_back(key, pool->stats());
    return out;
  }

 private:
  // Counts running Execute/Explain calls so the destructor can wait for them.
  class ActiveGraph {
   public:
    explicit ActiveGraph(EngineImpl* e) : e_(e) {
      absl::MutexLock lock(&e_->mu_);
      ++e_->active_;
    }
    ~ActiveGraph() {
      absl::MutexLock lock(&e_->mu_);
      --e_->active_;
    }

   private:
    EngineImpl* e_;
  };

  absl::Status CheckSourceLocked(const SourceConfig& s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (s.name.empty()) return absl::InvalidArgumentError("a data source needs a name");
    auto it = providers_.find(s.provider);
    if (it == providers_.end()) {
      std::vector<std::string> known;
      for (const auto& kv : providers_) known.push_back(kv.first);
      std::sort(known.begin(), known.end());
      return absl::NotFoundError(
          absl::StrCat("source \"", s.name, "\": provider \"", s.provider,
                       "\" is not registered (registered: ", absl::StrJoin(known, ", "), ")"));
    }
    const std::vector<std::string> keys = it->second->option_keys();
    for (const auto& kv : s.provider_options) {
      if (std::find(keys.begin(), keys.end(), kv.first) == keys.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "source \"", s.name, "\": provider \"", s.provider, "\" does not accept option \"",
            kv.first, "\"", keys.empty() ? " (it takes none)" : " (it takes: ",
            absl::StrJoin(keys, ", "), keys.empty() ? "" : ")"));
      }
    }
    return absl::OkStatus();
  }

  // kNotFound naming a source the graph uses that a DROP removed.
  absl::Status CheckDroppedSources(const Graph& graph) const {
    absl::MutexLock lock(&mu_);
    for (const Node& node : graph.nodes) {
      if (dropped_.contains(node.database_id) && catalog_.FindSource(node.database_id) == nullptr) {
        return absl::NotFoundError(absl::StrCat(NodeErrorPrefix(node), "data source \"",
                                                node.database_id, "\" was dropped"));
      }
    }
    return absl::OkStatus();
  }

  // Checks, applies and persists one catalog change, then drains and forgets
  // the pools of the source it touches (running graphs keep theirs).
  absl::Status ApplyCatalogChange(const CatalogStatement& st) {
    const std::string source = ChangedSource(st);
    std::vector<std::shared_ptr<ConnectionPool>> drained;
    {
      absl::MutexLock lock(&mu_);
      if (const auto* c = std::get_if<CreateSourceStatement>(&st)) {
        QG_RETURN_IF_ERROR(CheckSourceLocked(c->source));
      }
      Catalog next = catalog_;
      QG_RETURN_IF_ERROR(ApplyStatement(st, &next));
      if (store_ != nullptr) {
        QG_ASSIGN_OR_RETURN(next,
                            store_->Update([&st](Catalog* c) { return ApplyStatement(st, c); }));
      }
      catalog_ = std::move(next);
      cost_model_.DropSource(source);
      ++catalog_version_;
      if (std::holds_alternative<DropSourceStatement>(st)) {
        dropped_.insert(source);
      } else if (catalog_.FindSource(source) != nullptr) {
        dropped_.erase(source);
      }
      for (auto it = pool_sources_.begin(); it != pool_sources_.end();) {
        if (it->second != source) {
          ++it;
          continue;
        }
        auto pit = pools_.find(it->first);
        if (pit != pools_.end()) {
          drained.push_back(pit->second);
          pools_.erase(pit);
        }
        it = pool_sources_.erase(it);
      }
    }
    for (const auto& pool : drained) pool->Drain();
    return absl::OkStatus();
  }

  // Runs a graph whose writes take part in a common / 2pc transaction.
  absl::StatusOr<GraphResult> RunInTransaction(ExecutionContext& ctx, TransactionMode mode,
                                               std::vector<std::shared_ptr<SourceHandle>> parts,
                                               const ExecuteOptions& options) {
    const std::string id = NewTransactionId();
    InflightTransaction inflight(this, id);
    TransactionBroker tx(mode, std::move(parts), options_.transaction_prefix, id);
    TransactionReport report;
    if (absl::Status st = tx.Open(ctx.cancel.get()); !st.ok()) {
      tx.Rollback(&report);
      return st;
    }
    ctx.broker = &tx;
    absl::StatusOr<GraphResult> result = RunGraph(ctx);
    if (!result.ok()) {
      tx.Rollback(&report);
      return absl::Status(
          result.status().code(),
          absl::StrCat(result.status().message(), "; transaction \"",
                       std::string(TransactionModeName(mode)), "\" ", tx.RollbackOutcome()));
    }
    QG_RETURN_IF_ERROR(tx.Commit(txlog_.get(), options.user, options_.transaction_hook, &report));
    result->transaction = std::move(report);
    return result;
  }

  // Marks a 2pc transaction id as running (Recover() leaves it alone).
  class InflightTransaction {
   public:
    InflightTransaction(EngineImpl* e, std::string id) : e_(e), id_(std::move(id)) {
      absl::MutexLock lock(&e_->mu_);
      e_->inflight_tx_.insert(id_);
    }
    ~InflightTransaction() {
      absl::MutexLock lock(&e_->mu_);
      e_->inflight_tx_.erase(id_);
    }

   private:
    EngineImpl* e_;
    std::string id_;
  };

  // A connection to `source` as `local_user` would reach it (recovery).
  absl::StatusOr<PooledConnection> AcquireFor(const std::string& source,
                                              const std::string& local_user) {
    Graph g;
    Node n;
    n.node_id = "recover";
    n.database_id = source;
    g.nodes.push_back(std::move(n));
    QG_ASSIGN_OR_RETURN(auto handles, ResolveSources(g, local_user));
    const auto& h = handles.begin()->second;
    if (!h->caps.two_phase) {
      return absl::FailedPreconditionError(
          absl::StrCat("source \"", source, "\" no longer supports two-phase commit"));
    }
    return h->pool->Acquire();
  }

  // Resolves every source of the graph for `user`, creating pools on demand.
  absl::StatusOr<absl::flat_hash_map<std::string, std::shared_ptr<SourceHandle>>> ResolveSources(
      const Graph& graph, std::string_view user) {
    absl::flat_hash_map<std::string, std::shared_ptr<SourceHandle>> out;
    absl::MutexLock lock(&mu_);
    for (const Node& node : graph.nodes) {
      if (out.contains(node.database_id)) continue;
      const SourceConfig* src = catalog_.FindSource(node.database_id);
      if (src == nullptr) {
        return absl::NotFoundError(absl::StrCat(NodeErrorPrefix(node), "unknown data source"));
      }
      auto pit = providers_.find(src->provider);
      if (pit == providers_.end()) {
        return absl::NotFoundError(absl::StrCat(NodeErrorPrefix(node), "provider \"", src->provider,
                                                "\" is not registered"));
      }
      auto h = std::make_shared<SourceHandle>();
      h->name = src->name;
      h->config = *src;
      h->provider = pit->second;
      h->caps = h->provider->capabilities();
      Login login = catalog_.ResolveLogin(*src, user);
      h->pool_key =
          login.pool_key.empty() ? absl::StrCat(src->name, "/", login.user) : login.pool_key;
      h->external_user = login.user;
      auto& pool = pools_[h->pool_key];
      if (pool == nullptr) {
        pool = NewPool(h->pool_key, *src, h->provider, std::move(login));
        pool_sources_[h->pool_key] = src->name;
      }
      h->pool = pool;
      out.emplace(node.database_id, std::move(h));
    }
    return out;
  }

  static std::shared_ptr<ConnectionPool> NewPool(const std::string& key, const SourceConfig& src,
                                                 std::shared_ptr<Provider> provider, Login login) {
    ConnectionFactory factory = [provider, src,
                                 login]() -> absl::StatusOr<std::unique_ptr<Connection>> {
      ConnectRequest req;
      req.source_name = src.name;
      req.connect = src.connect;
      req.user = login.user;
      if (login.password.kind() != Secret::Kind::kNone) {
        absl::StatusOr<std::string> pw = login.password.Resolve();  // at connect time only
        if (!pw.ok()) {
          return absl::Status(
              pw.status().code(),
              absl::StrCat("source \"", src.name, "\": password: ", pw.status().message()));
        }
        req.password = std::move(*pw);
      }
      req.connect_timeout = src.pool.connect_timeout;
      req.statement_timeout = src.pool.statement_timeout;
      req.options = src.provider_options;
      return provider->Connect(req);
    };
    return std::make_shared<ConnectionPool>(key, src.pool, std::move(factory));
  }

  CostMode CostModeFor(const ExecuteOptions& options) const {
    return options_.estimate_costs_on_execute || options.estimate_costs ? CostMode::kFetch
                                                                        : CostMode::kCachedOnly;
  }

  // Checks and plans `graph` for one execution with `options` (the plan's
  // transaction mode is the options' override, else the graph's).
  absl::StatusOr<std::shared_ptr<PlannedGraph>> PlanGraph(const Graph& graph,
                                                          const ExecuteOptions& options,
                                                          CostMode cost_mode) {
    QG_RETURN_IF_ERROR(CheckDroppedSources(graph));
    QG_RETURN_IF_ERROR(ValidateGraph(graph, GraphParseOptions(&options.params)));
    const ParamList params = MergeParams(graph, options);
    QG_ASSIGN_OR_RETURN(std::shared_ptr<PlannedGraph> planned,
                        Prepare(graph, options, params, cost_mode));
    planned->plan.transaction = options.transaction.value_or(graph.transaction);
    return planned;
  }

  // Runs a plan (fresh or from the plan cache: it is only read).
  absl::StatusOr<GraphResult> Run(std::shared_ptr<PlannedGraph> planned,
                                  const ExecuteOptions& options, bool cached) {
    const Graph& graph = planned->graph;
    const TransactionMode mode = planned->plan.transaction;
    QG_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<SourceHandle>> participants,
                        TransactionParticipants(*planned, mode, txlog_ != nullptr));
    ExecutionContext ctx;
    ctx.params = MergeParams(graph, options);
    if (options.timeout.has_value()) {
      ctx.timeout = *options.timeout;
    } else if (graph.timeout_ms.has_value()) {
      ctx.timeout = absl::Milliseconds(*graph.timeout_ms);
    }
    ctx.planned = std::move(planned);
    ctx.max_bindings = options_.max_bindings;
    ctx.max_result_rows = options_.max_result_rows;
    ctx.max_result_bytes = options_.max_result_bytes;
    ctx.workers = &workers_;
    ctx.watchdog = &watchdog_;
    ctx.broker = &broker_;
    ctx.cost_model = &cost_model_;
    ctx.cancel = options.cancel;
    absl::StatusOr<GraphResult> result =
        participants.empty() ? RunGraph(ctx)
                             : RunInTransaction(ctx, mode, std::move(participants), options);
    if (result.ok()) result->plan.cached = cached;
    return result;
  }

  absl::StatusOr<std::shared_ptr<PlannedGraph>> Prepare(const Graph& graph,
                                                        const ExecuteOptions& options,
                                                        const ParamList& params, CostMode mode) {
    PlannerInputs in;
    QG_ASSIGN_OR_RETURN(in.sources, ResolveSources(graph, options.user));
    in.params = &params;
    in.default_batch_size = options_.default_batch_size;
    in.workers = workers_.max_threads();
    in.cost_mode = mode;
    in.cost_model = &cost_model_;
    if (options_.plan_hook) in.plan_hook = &options_.plan_hook;
    in.max_bindings = options_.max_bindings;
    in.cancel = options.cancel.get();
    if (options.timeout.has_value()) {
      in.timeout = *options.timeout;
    } else if (graph.timeout_ms.has_value()) {
      in.timeout = absl::Milliseconds(*graph.timeout_ms);
    }
    if (in.timeout != absl::InfiniteDuration()) in.deadline = absl::Now() + in.timeout;
    return BuildPlan(graph, in);
  }

  void MaintenanceLoop() {
    absl::MutexLock lock(&mu_);
    while (!stopping_) {
      maintenance_cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
      if (stopping_) break;
      std::vector<std::shared_ptr<ConnectionPool>> pools;
      for (const auto& kv : pools_) pools.push_back(kv.second);
      mu_.Unlock();
      for (const auto& p : pools) p->Maintain();
      mu_.Lock();
    }
  }

  const EngineOptions options_;
  const std::unique_ptr<CatalogStore> store_;    // with catalog_path
  const std::unique_ptr<CoordinatorLog> txlog_;  // with coordinator_log
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> inflight_tx_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Provider>> providers_ ABSL_GUARDED_BY(mu_);
  Catalog catalog_ ABSL_GUARDED_BY(mu_);
  // Bumped on every change of catalog_ (docs/design.md §11).
  uint64_t catalog_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<ConnectionPool>> pools_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> pool_sources_ ABSL_GUARDED_BY(mu_);  // pool key -> source
  std::set<std::string> dropped_ ABSL_GUARDED_BY(mu_);
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar maintenance_cv_;
  CostModel cost_model_{options_.cost_estimators};
  PlanCache plan_cache_{options_.plan_cache_size};
  PoolBroker broker_;
  Watchdog watchdog_;
  // Declared after the pools: destroyed (joined) before them.
  ThreadPool workers_;
  std::thread maintenance_;
};

absl::StatusOr<RecoveryReport> EngineImpl::Recover() {
  RecoveryReport report;
  if (txlog_ == nullptr) return report;
  ActiveGraph active(this);
  QG_ASSIGN_OR_RETURN(std::vector<LoggedTransaction> logged, txlog_->List());
  absl::flat_hash_set<std::string> running;
  {
    absl::MutexLock lock(&mu_);
    running = inflight_tx_;
  }
  absl::flat_hash_set<std::string> keep;  // tx ids still needing a commit
  for (const LoggedTransaction& tx : logged) {
    if (running.contains(tx.id)) {
      keep.insert(tx.id);
      continue;
    }
    bool resolved = true;
    for (const LoggedParticipant& p : tx.participants) {
      if (p.last_resource || p.gid.empty()) continue;
      absl::StatusOr<PooledConnection> c = AcquireFor(p.source, p.local_user);
      absl::Status st = c.status();
      if (st.ok()) {
        absl::StatusOr<std::vector<std::string>> prepared = (*c)->ListPrepared(p.gid);
        st = prepared.status();
        if (st.ok() && std::find(prepared->begin(), prepared->end(), p.gid) != prepared->end()) {
          st = tx.commit ? (*c)->CommitPrepared(p.gid) : (*c)->RollbackPrepared(p.gid);
          if (st.ok()) ++(tx.commit ? report.committed : report.rolled_back);
        }
        if ((*c)->broken()) c->MarkBroken();
      }
      if (!st.ok()) {
        resolved = false;
        report.unresolved.push_back(absl::StrCat(p.source, ": ", st.message()));
      }
    }
    if (resolved) {
      QG_RETURN_IF_ERROR(txlog_->Forget(tx.id));
      ++report.resolved_log;
    } else if (tx.commit) {
      keep.insert(tx.id);
    }
  }
  // Prepared branches of ours that no commit decision covers: a crash before
  // the decision (or a lost log record) — roll them back.
  const std::string prefix = absl::StrCat(options_.transaction_prefix, ".");
  std::vector<std::string> sources;
  {
    absl::MutexLock lock(&mu_);
    for (const SourceConfig& s : catalog_.sources()) {
      auto it = providers_.find(s.provider);
      if (it != providers_.end() && it->second->capabilities().two_phase) sources.push_back(s.name);
    }
  }
  for (const std::string& source : sources) {
    absl::StatusOr<PooledConnection> c = AcquireFor(source, "");
    absl::StatusOr<std::vector<std::string>> prepared =
        c.ok() ? (*c)->ListPrepared(prefix) : c.status();
    if (!prepared.ok()) {
      report.unresolved.push_back(absl::StrCat(source, ": ", prepared.status().message()));
      continue;
    }
    for (const std::string& gid : *prepared) {
      // "<prefix>.<tx id>.<n>"
      std::string_view rest = std::string_view(gid).substr(prefix.size());
      const std::string id(rest.substr(0, rest.find('.')));
      if (running.contains(id) || keep.contains(id)) continue;
      absl::Status st = (*c)->RollbackPrepared(gid);
      if (st.ok()) {
        ++report.rolled_back;
      } else {
        report.unresolved.push_back(absl::StrCat(source, ": ", st.message()));
      }
    }
  }
  return report;
}

bool ValidTransactionPrefix(std::string_view p) {
  if (p.empty() || p.size() > 16) return false;
  for (char ch : p) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  if (options.workers < 0) return absl::InvalidArgumentError("workers must be >= 0");
  if (options.max_bindings <= 0) return absl::InvalidArgumentError("max_bindings must be > 0");
  if (options.default_batch_size <= 0) {
    return absl::InvalidArgumentError("default_batch_size must be > 0");
  }
  const bool builtins = options.register_builtin_providers;
  std::unique_ptr<CatalogStore> store;
  Catalog catalog;
  if (!ValidTransactionPrefix(options.transaction_prefix)) {
    return absl::InvalidArgumentError(
        "transaction_prefix must be 1 to 16 letters, digits, '_' or '-'");
  }
  if (!options.catalog_path.empty()) {
    QG_ASSIGN_OR_RETURN(store, CatalogStore::Open(options.catalog_path));
    QG_ASSIGN_OR_RETURN(catalog, store->Load());
  }
  std::unique_ptr<CoordinatorLog> txlog;
  if (!options.coordinator_log.empty()) {
    QG_ASSIGN_OR_RETURN(txlog, CoordinatorLog::Open(options.coordinator_log));
  }
  const bool recover = options.recover_on_open && txlog != nullptr;
  auto engine = std::make_unique<EngineImpl>(std::move(options), std::move(store),
                                             std::move(catalog), std::move(txlog));
  if (builtins) QG_RETURN_IF_ERROR(RegisterBuiltinProviders(*engine));
  // Unreachable sources stay in the log for a later Recover().
  if (recover) (void)engine->Recover();
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace qg
