// capi/capi_engine.cc — engine lifetime, catalog, execution, EXPLAIN and
// pool figures.
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "capi_internal.h"
#include "qg.h"
#include "qg/engine.h"
#include "qg/plan.h"
#include "qg/value.h"

using qg::capi::Guard;
using qg::capi::NullArgument;
using qg::capi::SetError;

namespace {

// Validates an options struct's version (libgit2 style: 0 and newer-than-us
// are refused, so a struct never is read past what the caller filled).
int CheckVersion(const char* function, unsigned int version, unsigned int current) {
  if (version == 0 || version > current) {
    return SetError(QG_INVALID_ARGUMENT, std::string(function) + ": unsupported options version " +
                                             std::to_string(version) + " (this library knows " +
                                             std::to_string(current) + ")");
  }
  return QG_OK;
}

// Where each version of qg_execute_options ends.
constexpr size_t kExecuteOptionsEnd[] = {0, QG_CAPI_END_OF(qg_execute_options, cancel),
                                         QG_CAPI_END_OF(qg_execute_options, transaction)};

// Builds ExecuteOptions from the C arguments.
int ToExecuteOptions(const char* function, const char* params_json, const qg_execute_options* opts,
                     qg::ExecuteOptions* out) {
  if (params_json != nullptr) {
    absl::StatusOr<qg::ParamList> params = qg::ParseParamsJson(params_json);
    if (!params.ok()) {
      return SetError(
          static_cast<int>(params.status().code()),
          std::string(function) + ": params: " + std::string(params.status().message()));
    }
    out->params = std::move(*params);
  }
  if (opts == nullptr) return QG_OK;
  if (int rc = CheckVersion(function, opts->version, QG_EXECUTE_OPTIONS_VERSION); rc != QG_OK) {
    return rc;
  }
  // Members past the caller's version read as zero (NULL: the default).
  const qg_execute_options o = qg::capi::ReadVersioned(opts, opts->version, kExecuteOptionsEnd);
  if (o.user != nullptr) out->user = o.user;
  if (o.timeout_ms < 0) {
    return SetError(QG_INVALID_ARGUMENT, std::string(function) + ": timeout_ms is negative");
  }
  if (o.timeout_ms > 0) out->timeout = absl::Milliseconds(o.timeout_ms);
  if (o.cancel != nullptr) out->cancel = o.cancel->rep;
  if (o.transaction != nullptr) {
    absl::StatusOr<qg::TransactionMode> mode = qg::ParseTransactionMode(o.transaction);
    if (!mode.ok()) {
      return SetError(QG_INVALID_ARGUMENT,
                      std::string(function) + ": " + std::string(mode.status().message()));
    }
    out->transaction = *mode;
  }
  return QG_OK;
}

// Where each version of qg_pool_stats ends.
constexpr size_t kPoolStatsEnd[] = {0, QG_CAPI_END_OF(qg_pool_stats, wait_seconds)};
// Where each version of qg_engine_options ends.
constexpr size_t kEngineOptionsEnd[] = {
    0, QG_CAPI_END_OF(qg_engine_options, register_builtin_providers),
    QG_CAPI_END_OF(qg_engine_options, transaction_prefix),
    QG_CAPI_END_OF(qg_engine_options, max_document_bytes)};

// A version-3 limit: 0 keeps the C++ default, negative is refused.
int SetLimit(const char* name, int64_t value, int64_t* out) {
  if (value < 0) {
    return SetError(QG_INVALID_ARGUMENT, std::string("qg_engine_open: ") + name + " is negative");
  }
  if (value > 0) *out = value;
  return QG_OK;
}

// Builds EngineOptions from the caller's struct, read as far as its version.
int ToEngineOptions(const qg_engine_options* caller, qg::EngineOptions* out) {
  if (caller == nullptr) return QG_OK;
  if (int rc = CheckVersion("qg_engine_open", caller->version, QG_ENGINE_OPTIONS_VERSION);
      rc != QG_OK) {
    return rc;
  }
  const qg_engine_options o = qg::capi::ReadVersioned(caller, caller->version, kEngineOptionsEnd);
  if (o.workers < 0) return SetError(QG_INVALID_ARGUMENT, "qg_engine_open: workers is negative");
  out->workers = o.workers;
  out->register_builtin_providers = o.register_builtin_providers != 0;
  // Members past the caller's version read as zero: NULL, or the default.
  if (o.catalog_path != nullptr) out->catalog_path = o.catalog_path;
  if (o.coordinator_log != nullptr) out->coordinator_log = o.coordinator_log;
  if (o.transaction_prefix != nullptr) out->transaction_prefix = o.transaction_prefix;
  const struct {
    const char* name;
    int64_t value;
    int64_t* target;
  } limits[] = {{"max_bindings", o.max_bindings, &out->max_bindings},
                {"max_result_rows", o.max_result_rows, &out->max_result_rows},
                {"max_result_bytes", o.max_result_bytes, &out->max_result_bytes},
                {"default_batch_size", o.default_batch_size, &out->default_batch_size},
                {"max_nodes", o.max_nodes, &out->limits.max_nodes},
                {"max_edges", o.max_edges, &out->limits.max_edges},
                {"max_query_length", o.max_query_length, &out->limits.max_query_length},
                {"max_depth", o.max_depth, &out->limits.max_depth},
                {"max_document_bytes", o.max_document_bytes, &out->limits.max_document_bytes}};
  for (const auto& limit : limits) {
    if (int rc = SetLimit(limit.name, limit.value, limit.target); rc != QG_OK) return rc;
  }
  return QG_OK;
}

}  // namespace

extern "C" {

QG_API int qg_engine_options_init(qg_engine_options* opts, unsigned int version) {
  return Guard([&] {
    if (opts == nullptr) return NullArgument("qg_engine_options_init", "opts");
    if (int rc = CheckVersion("qg_engine_options_init", version, QG_ENGINE_OPTIONS_VERSION);
        rc != QG_OK) {
      return rc;
    }
    qg_engine_options defaults = QG_ENGINE_OPTIONS_INIT;
    defaults.version = version;  // an older caller's struct ends before the newer members
    qg::capi::WriteVersioned(defaults, opts, version, kEngineOptionsEnd);
    return QG_OK;
  });
}

QG_API int qg_execute_options_init(qg_execute_options* opts, unsigned int version) {
  return Guard([&] {
    if (opts == nullptr) return NullArgument("qg_execute_options_init", "opts");
    if (int rc = CheckVersion("qg_execute_options_init", version, QG_EXECUTE_OPTIONS_VERSION);
        rc != QG_OK) {
      return rc;
    }
    qg_execute_options defaults = QG_EXECUTE_OPTIONS_INIT;
    defaults.version = version;  // a version-1 caller's struct ends before transaction
    qg::capi::WriteVersioned(defaults, opts, version, kExecuteOptionsEnd);
    return QG_OK;
  });
}

QG_API int qg_pool_stats_init(qg_pool_stats* stats, unsigned int version) {
  return Guard([&] {
    if (stats == nullptr) return NullArgument("qg_pool_stats_init", "stats");
    if (int rc = CheckVersion("qg_pool_stats_init", version, QG_POOL_STATS_VERSION); rc != QG_OK) {
      return rc;
    }
    qg_pool_stats fresh = QG_POOL_STATS_INIT;
    fresh.version = version;
    qg::capi::WriteVersioned(fresh, stats, version, kPoolStatsEnd);
    return QG_OK;
  });
}

QG_API int qg_engine_open(qg_engine** out, const char* sources_json,
                          const qg_engine_options* opts) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_engine_open", "out");
    *out = nullptr;
    qg::EngineOptions options;
    if (int rc = ToEngineOptions(opts, &options); rc != QG_OK) return rc;
    absl::StatusOr<std::unique_ptr<qg::Engine>> engine =
        sources_json == nullptr
            ? qg::Engine::Create(std::move(options))
            : qg::Engine::CreateWithCatalogJson(std::move(options), sources_json);
    if (!engine.ok()) return SetError(engine.status());
    auto handle = std::make_unique<qg_engine>();
    handle->rep = std::move(*engine);
    *out = handle.release();
    return QG_OK;
  });
}

QG_API void qg_engine_close(qg_engine* engine) {
  Guard([&] {
    delete engine;
    return QG_OK;
  });
}

QG_API int qg_engine_load_catalog(qg_engine* engine, const char* json) {
  return Guard([&] {
    if (engine == nullptr) return NullArgument("qg_engine_load_catalog", "engine");
    if (json == nullptr) return NullArgument("qg_engine_load_catalog", "json");
    return SetError(engine->rep->LoadCatalogJson(json));
  });
}

QG_API int qg_execute(qg_engine* engine, const char* qgdl_json, const char* params_json,
                      const qg_execute_options* opts, qg_result** out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_execute", "out");
    *out = nullptr;
    if (engine == nullptr) return NullArgument("qg_execute", "engine");
    if (qgdl_json == nullptr) return NullArgument("qg_execute", "qgdl_json");
    qg::ExecuteOptions options;
    if (int rc = ToExecuteOptions("qg_execute", params_json, opts, &options); rc != QG_OK) {
      return rc;
    }
    absl::StatusOr<qg::GraphResult> result = engine->rep->ExecuteJson(qgdl_json, options);
    if (!result.ok()) return SetError(result.status());
    auto handle = std::make_unique<qg_result>();
    handle->rep = std::move(*result);
    *out = handle.release();
    return QG_OK;
  });
}

QG_API int qg_catalog_exec(qg_engine* engine, const char* statements,
                           const qg_execute_options* opts, qg_result** out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_catalog_exec", "out");
    *out = nullptr;
    if (engine == nullptr) return NullArgument("qg_catalog_exec", "engine");
    if (statements == nullptr) return NullArgument("qg_catalog_exec", "statements");
    qg::ExecuteOptions options;
    if (int rc = ToExecuteOptions("qg_catalog_exec", nullptr, opts, &options); rc != QG_OK) {
      return rc;
    }
    absl::StatusOr<qg::GraphResult> result = engine->rep->ExecuteStatements(statements, options);
    if (!result.ok()) return SetError(result.status());
    auto handle = std::make_unique<qg_result>();
    handle->rep = std::move(*result);
    *out = handle.release();
    return QG_OK;
  });
}

QG_API int qg_engine_recover(qg_engine* engine, char** report_json) {
  return Guard([&] {
    if (report_json != nullptr) *report_json = nullptr;
    if (engine == nullptr) return NullArgument("qg_engine_recover", "engine");
    absl::StatusOr<qg::RecoveryReport> report = engine->rep->Recover();
    if (!report.ok()) return SetError(report.status());
    if (report_json != nullptr) {
      char* copy = qg::capi::CopyOut(qg::RecoveryReportJson(*report));
      if (copy == nullptr)
        return SetError(QG_RESOURCE_EXHAUSTED, "qg_engine_recover: out of memory");
      *report_json = copy;
    }
    return QG_OK;
  });
}

namespace {

// qg_explain / qg_explain_analyze: `fn` names the function in errors.
int ExplainImpl(const char* fn, bool analyze, qg_engine* engine, const char* qgdl_json,
                const char* params_json, const char* format, char** out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument(fn, "out");
    *out = nullptr;
    if (engine == nullptr) return NullArgument(fn, "engine");
    if (qgdl_json == nullptr) return NullArgument(fn, "qgdl_json");
    absl::StatusOr<qg::ExplainFormat> fmt =
        qg::ParseExplainFormat(format == nullptr ? "text" : format);
    if (!fmt.ok()) return SetError(fmt.status());
    qg::ExecuteOptions options;
    if (int rc = ToExecuteOptions(fn, params_json, nullptr, &options); rc != QG_OK) {
      return rc;
    }
    absl::StatusOr<std::string> rendered =
        analyze ? engine->rep->ExplainAnalyzeText(qgdl_json, std::move(options), *fmt)
                : engine->rep->ExplainText(qgdl_json, options, *fmt);
    if (!rendered.ok()) return SetError(rendered.status());
    char* text = qg::capi::CopyOut(*rendered);
    if (text == nullptr) {
      return SetError(QG_RESOURCE_EXHAUSTED, std::string(fn) + ": out of memory");
    }
    *out = text;
    return QG_OK;
  });
}

}  // namespace

QG_API int qg_explain(qg_engine* engine, const char* qgdl_json, const char* params_json,
                      const char* format, char** out) {
  return ExplainImpl("qg_explain", false, engine, qgdl_json, params_json, format, out);
}

QG_API int qg_explain_analyze(qg_engine* engine, const char* qgdl_json, const char* params_json,
                              const char* format, char** out) {
  return ExplainImpl("qg_explain_analyze", true, engine, qgdl_json, params_json, format, out);
}

QG_API int qg_engine_pool_count(qg_engine* engine) {
  return Guard([&] {
    if (engine == nullptr) {
      NullArgument("qg_engine_pool_count", "engine");
      return -1;
    }
    return static_cast<int>(engine->rep->PoolStatistics().size());
  });
}

QG_API int qg_engine_pool_stats(qg_engine* engine, int i, qg_pool_stats* out) {
  static thread_local std::string name;  // backs out->name until the next call
  return Guard([&] {
    if (engine == nullptr) return NullArgument("qg_engine_pool_stats", "engine");
    if (out == nullptr) return NullArgument("qg_engine_pool_stats", "out");
    if (int rc = CheckVersion("qg_engine_pool_stats", out->version, QG_POOL_STATS_VERSION);
        rc != QG_OK) {
      return rc;
    }
    std::vector<std::pair<std::string, qg::PoolStats>> all = engine->rep->PoolStatistics();
    if (i < 0 || static_cast<size_t>(i) >= all.size()) {
      return SetError(QG_OUT_OF_RANGE, "qg_engine_pool_stats: pool " + std::to_string(i) +
                                           " out of range (" + std::to_string(all.size()) +
                                           " pools)");
    }
    name = std::move(all[i].first);
    const qg::PoolStats& s = all[i].second;
    // Filled whole here, written back only as far as the caller's version.
    qg_pool_stats full = QG_POOL_STATS_INIT;
    full.version = out->version;
    full.name = name.c_str();
    full.in_use = s.in_use;
    full.idle = s.idle;
    full.waiting = s.waiting;
    full.max = s.max;
    full.created = s.created;
    full.closed = s.closed;
    full.broken = s.broken;
    full.timeouts = s.timeouts;
    full.wait_seconds = s.wait_seconds;
    qg::capi::WriteVersioned(full, out, out->version, kPoolStatsEnd);
    return QG_OK;
  });
}

}  // extern "C"
