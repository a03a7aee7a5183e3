// capi/capi_provider.cc — a qg_provider_vtable seen as a qg::Provider, and
// the row sink C providers write into.
//
// Only conversions: C callbacks and codes to qg::Connection calls and
// absl::Status, C values to qg::Value. Compilation is the library's own
// CompileSql (`:name` -> `?`), batched only when the vtable says so.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "capi_internal.h"
#include "qg.h"
#include "qg/provider.h"
#include "qg_provider.h"

using qg::capi::Guard;
using qg::capi::NullArgument;
using qg::capi::ReadVersioned;
using qg::capi::SetError;
using qg::capi::WriteVersioned;

struct qg_row_sink {
  qg::RowSink* rep = nullptr;  // null: the rows are not wanted
  std::vector<qg::ColumnInfo> columns;
  std::vector<qg::Value> row;
  bool columns_sent = false;
  bool in_row = false;
  absl::Status error;  // sticky: the first failure ends the execution
  int64_t rows_affected = -1;
};

namespace {

constexpr size_t kErrLen = 1024;
constexpr unsigned int kDefaultMaxPlaceholders = 32766;

// A C callback's code and message as a Status.
absl::Status CallbackStatus(int rc, const char* errbuf, std::string_view provider,
                            const char* callback) {
  if (rc == QG_OK) return absl::OkStatus();
  absl::StatusCode code = (rc > 0 && rc <= QG_UNAUTHENTICATED) ? static_cast<absl::StatusCode>(rc)
                                                               : absl::StatusCode::kUnknown;
  std::string msg = errbuf;
  if (msg.empty()) {
    msg = std::string(provider) + ": " + callback + " failed (" + qg_code_name(rc) + ")";
  }
  return absl::Status(code, msg);
}

// The registered vtable and payload, shared by the provider and its
// connections so the payload is destroyed only after the last connection
// is closed.
struct ProviderState {
  qg_provider_vtable vt{};
  std::string name;
  void* payload = nullptr;
  std::atomic<bool> owns_payload{false};  // set once registration succeeded

  ~ProviderState() {
    if (owns_payload.load() && vt.destroy != nullptr) vt.destroy(payload);
  }
};

class CConnection final : public qg::Connection {
 public:
  CConnection(std::shared_ptr<const ProviderState> state, void* conn)
      : state_(std::move(state)), conn_(conn) {}
  ~CConnection() override { state_->vt.disconnect(conn_); }

  absl::Status Execute(const qg::Statement& stmt, const std::vector<qg::BoundArg>& args,
                       qg::RowSink* sink, qg::ExecStats* stats) override {
    if (cancelled_.load()) return absl::CancelledError(state_->name + ": connection cancelled");
    std::vector<qg_value> cargs(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i].is_array) {
        return absl::UnimplementedError(state_->name + ": array arguments are not supported");
      }
      qg::capi::ToCValue(args[i].value, &cargs[i]);
    }
    qg_row_sink csink;
    csink.rep = sink;
    char errbuf[kErrLen] = {0};
    int rc = state_->vt.execute(conn_, stmt.text.c_str(), cargs.data(), cargs.size(), &csink,
                                errbuf, sizeof(errbuf));
    errbuf[kErrLen - 1] = '\0';
    if (stats != nullptr) {
      stats->round_trips += 1;
      stats->rows_affected = csink.rows_affected;
    }
    if (!csink.error.ok()) return csink.error;  // the sink's own failure (e.g. a limit)
    if (rc != QG_OK) {
      if (rc == QG_UNAVAILABLE) broken_ = true;
      return CallbackStatus(rc, errbuf, state_->name, "execute");
    }
    if (csink.in_row) {
      return absl::InvalidArgumentError(state_->name + ": execute returned inside a row");
    }
    if (!csink.columns_sent && sink != nullptr) return sink->OnColumns(csink.columns);
    return absl::OkStatus();
  }

  void Cancel() override {
    cancelled_.store(true);
    if (state_->vt.cancel != nullptr) state_->vt.cancel(conn_);
  }

  absl::Status Ping(std::string_view query) override {
    if (state_->vt.ping == nullptr) return absl::OkStatus();
    char errbuf[kErrLen] = {0};
    std::string q(query);
    int rc = state_->vt.ping(conn_, q.c_str(), errbuf, sizeof(errbuf));
    errbuf[kErrLen - 1] = '\0';
    if (rc == QG_UNAVAILABLE) broken_ = true;
    return CallbackStatus(rc, errbuf, state_->name, "ping");
  }

  absl::Status Reset() override {
    cancelled_.store(false);
    if (state_->vt.reset == nullptr) return absl::OkStatus();
    char errbuf[kErrLen] = {0};
    int rc = state_->vt.reset(conn_, errbuf, sizeof(errbuf));
    errbuf[kErrLen - 1] = '\0';
    if (rc != QG_OK) broken_ = true;
    return CallbackStatus(rc, errbuf, state_->name, "reset");
  }

  bool broken() const override { return broken_; }

 private:
  std::shared_ptr<const ProviderState> state_;
  void* conn_;
  std::atomic<bool> cancelled_{false};
  bool broken_ = false;
};

class CProvider final : public qg::Provider {
 public:
  explicit CProvider(std::shared_ptr<const ProviderState> state) : state_(std::move(state)) {}

  std::string_view name() const override { return state_->name; }

  qg::Capabilities capabilities() const override {
    qg::Capabilities caps;
    const unsigned int flags = state_->vt.capabilities;
    caps.placeholder_style = qg::PlaceholderStyle::kQuestion;
    caps.max_placeholders =
        state_->vt.max_placeholders != 0 ? state_->vt.max_placeholders : kDefaultMaxPlaceholders;
    caps.batch_in_list = (flags & QG_PROVIDER_CAP_BATCH_IN_LIST) != 0;
    caps.writes = (flags & QG_PROVIDER_CAP_WRITES) != 0;
    caps.cancel = (flags & QG_PROVIDER_CAP_CANCEL) != 0;
    return caps;
  }

  absl::StatusOr<std::unique_ptr<qg::Connection>> Connect(
      const qg::ConnectRequest& request) override {
    char errbuf[kErrLen] = {0};
    void* conn = nullptr;
    int rc = state_->vt.connect(state_->payload, request.connect.c_str(), request.user.c_str(),
                                request.password.c_str(), &conn, errbuf, sizeof(errbuf));
    errbuf[kErrLen - 1] = '\0';
    if (rc != QG_OK) return CallbackStatus(rc, errbuf, state_->name, "connect");
    return std::unique_ptr<qg::Connection>(std::make_unique<CConnection>(state_, conn));
  }

  absl::StatusOr<qg::Statement> Compile(const qg::CompileRequest& request) const override {
    const qg::Capabilities caps = capabilities();
    if (request.batch_items > 0 &&
        !(caps.batch_in_list && request.form == qg::BatchForm::kInList)) {
      return absl::FailedPreconditionError(state_->name + ": batching not supported");
    }
    if (request.mode == qg::NodeMode::kWrite && !caps.writes) {
      return absl::FailedPreconditionError(state_->name + ": writes not supported");
    }
    return qg::CompileSql(request, qg::PlaceholderStyle::kQuestion);
  }

 private:
  std::shared_ptr<const ProviderState> state_;
};

// Sink helpers: every entry point checks the handle, refuses calls after a
// failure (the code stays the first one), and records misuse as the failure.
int SinkFail(qg_row_sink* sink, absl::Status status) {
  sink->error = std::move(status);
  return SetError(sink->error);
}

int SinkPrecheck(qg_row_sink* sink, const char* function) {
  if (sink == nullptr) return NullArgument(function, "sink");
  if (!sink->error.ok()) return SetError(sink->error);
  return QG_OK;
}

int SinkPush(qg_row_sink* sink, const char* function, qg::Value v) {
  if (int rc = SinkPrecheck(sink, function); rc != QG_OK) return rc;
  if (!sink->in_row) {
    return SinkFail(sink, absl::InvalidArgumentError(std::string(function) +
                                                     ": no row begun (call qg_sink_begin_row)"));
  }
  if (sink->row.size() >= sink->columns.size()) {
    return SinkFail(sink, absl::InvalidArgumentError(
                              std::string(function) + ": more values than the " +
                              std::to_string(sink->columns.size()) + " declared columns"));
  }
  sink->row.push_back(std::move(v));
  return QG_OK;
}

bool ValidType(int type) { return type >= QG_TYPE_NULL && type <= QG_TYPE_JSON; }

// Where each version of qg_provider_vtable ends.
constexpr size_t kVtableEnd[] = {0, QG_CAPI_END_OF(qg_provider_vtable, destroy)};

}  // namespace

extern "C" {

QG_API int qg_sink_add_column(qg_row_sink* sink, const char* name, int type) {
  return Guard([&] {
    if (int rc = SinkPrecheck(sink, "qg_sink_add_column"); rc != QG_OK) return rc;
    if (name == nullptr) return NullArgument("qg_sink_add_column", "name");
    if (sink->columns_sent) {
      return SinkFail(sink, absl::InvalidArgumentError(
                                "qg_sink_add_column: columns must be declared before any row"));
    }
    if (!ValidType(type)) {
      return SinkFail(sink, absl::InvalidArgumentError("qg_sink_add_column: unknown type " +
                                                       std::to_string(type)));
    }
    qg::ColumnInfo info;
    info.name = name;
    info.type = static_cast<qg::ValueType>(type);
    sink->columns.push_back(std::move(info));
    return QG_OK;
  });
}

QG_API int qg_sink_begin_row(qg_row_sink* sink) {
  return Guard([&] {
    if (int rc = SinkPrecheck(sink, "qg_sink_begin_row"); rc != QG_OK) return rc;
    if (sink->in_row) {
      return SinkFail(sink,
                      absl::InvalidArgumentError("qg_sink_begin_row: previous row not ended"));
    }
    if (!sink->columns_sent) {
      sink->columns_sent = true;
      if (sink->rep != nullptr) {
        absl::Status s = sink->rep->OnColumns(sink->columns);
        if (!s.ok()) return SinkFail(sink, std::move(s));
      }
    }
    sink->in_row = true;
    sink->row.clear();
    sink->row.reserve(sink->columns.size());
    return QG_OK;
  });
}

QG_API int qg_sink_null(qg_row_sink* sink) {
  return Guard([&] { return SinkPush(sink, "qg_sink_null", qg::Value::Null()); });
}

QG_API int qg_sink_int64(qg_row_sink* sink, int64_t value) {
  return Guard([&] { return SinkPush(sink, "qg_sink_int64", qg::Value::Int(value)); });
}

QG_API int qg_sink_double(qg_row_sink* sink, double value) {
  return Guard([&] { return SinkPush(sink, "qg_sink_double", qg::Value::Double(value)); });
}

QG_API int qg_sink_bool(qg_row_sink* sink, int value) {
  return Guard([&] { return SinkPush(sink, "qg_sink_bool", qg::Value::Bool(value != 0)); });
}

QG_API int qg_sink_text(qg_row_sink* sink, int type, const char* data, size_t len) {
  return Guard([&] {
    if (int rc = SinkPrecheck(sink, "qg_sink_text"); rc != QG_OK) return rc;
    if (data == nullptr && len != 0) return NullArgument("qg_sink_text", "data");
    std::string s = len == 0 ? std::string() : std::string(data, len);
    switch (type) {
      case QG_TYPE_DECIMAL:
        return SinkPush(sink, "qg_sink_text", qg::Value::Decimal(std::move(s)));
      case QG_TYPE_STRING:
        return SinkPush(sink, "qg_sink_text", qg::Value::String(std::move(s)));
      case QG_TYPE_BYTES:
        return SinkPush(sink, "qg_sink_text", qg::Value::Bytes(std::move(s)));
      case QG_TYPE_TIMESTAMP:
        return SinkPush(sink, "qg_sink_text", qg::Value::Timestamp(std::move(s)));
      case QG_TYPE_JSON:
        return SinkPush(sink, "qg_sink_text", qg::Value::Json(std::move(s)));
      default:
        return SinkFail(sink,
                        absl::InvalidArgumentError("qg_sink_text: type " + std::to_string(type) +
                                                   " is not a text-carried type"));
    }
  });
}

QG_API int qg_sink_end_row(qg_row_sink* sink) {
  return Guard([&] {
    if (int rc = SinkPrecheck(sink, "qg_sink_end_row"); rc != QG_OK) return rc;
    if (!sink->in_row) {
      return SinkFail(sink, absl::InvalidArgumentError("qg_sink_end_row: no row begun"));
    }
    if (sink->row.size() != sink->columns.size()) {
      return SinkFail(
          sink, absl::InvalidArgumentError("qg_sink_end_row: row has " +
                                           std::to_string(sink->row.size()) + " values for " +
                                           std::to_string(sink->columns.size()) + " columns"));
    }
    sink->in_row = false;
    if (sink->rep == nullptr) return QG_OK;
    absl::Status s = sink->rep->OnRow(sink->row);
    if (!s.ok()) return SinkFail(sink, std::move(s));
    return QG_OK;
  });
}

QG_API int qg_sink_set_rows_affected(qg_row_sink* sink, int64_t rows) {
  return Guard([&] {
    if (int rc = SinkPrecheck(sink, "qg_sink_set_rows_affected"); rc != QG_OK) return rc;
    sink->rows_affected = rows;
    return QG_OK;
  });
}

QG_API int qg_provider_vtable_init(qg_provider_vtable* vtable, unsigned int version) {
  return Guard([&] {
    if (vtable == nullptr) return NullArgument("qg_provider_vtable_init", "vtable");
    if (version == 0 || version > QG_PROVIDER_VTABLE_VERSION) {
      return SetError(QG_INVALID_ARGUMENT,
                      "qg_provider_vtable_init: unsupported version " + std::to_string(version));
    }
    qg_provider_vtable fresh = QG_PROVIDER_VTABLE_INIT;
    fresh.version = version;
    WriteVersioned(fresh, vtable, version, kVtableEnd);
    return QG_OK;
  });
}

QG_API int qg_engine_register_provider(qg_engine* engine, const qg_provider_vtable* vtable,
                                       void* payload) {
  return Guard([&] {
    constexpr const char* kFn = "qg_engine_register_provider";
    if (engine == nullptr) return NullArgument(kFn, "engine");
    if (vtable == nullptr) return NullArgument(kFn, "vtable");
    if (vtable->version == 0 || vtable->version > QG_PROVIDER_VTABLE_VERSION) {
      return SetError(QG_INVALID_ARGUMENT, std::string(kFn) + ": unsupported vtable version " +
                                               std::to_string(vtable->version));
    }
    // Only the bytes of the caller's version are read.
    const qg_provider_vtable vt = ReadVersioned(vtable, vtable->version, kVtableEnd);
    if (vt.name == nullptr || vt.name[0] == '\0') {
      return SetError(QG_INVALID_ARGUMENT, std::string(kFn) + ": vtable name is empty");
    }
    if (vt.connect == nullptr) return NullArgument(kFn, "vtable->connect");
    if (vt.disconnect == nullptr) return NullArgument(kFn, "vtable->disconnect");
    if (vt.execute == nullptr) return NullArgument(kFn, "vtable->execute");
    auto state = std::make_shared<ProviderState>();
    state->vt = vt;
    state->name = vt.name;
    state->vt.name = nullptr;  // the copy in `name` is the one used
    state->payload = payload;
    absl::Status s = engine->rep->RegisterProvider(std::make_shared<CProvider>(state));
    if (!s.ok()) return SetError(s);
    state->owns_payload.store(true);
    return QG_OK;
  });
}

}  // extern "C"
