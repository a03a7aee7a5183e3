// capi/capi_result.cc — navigating and rendering a graph's results.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "capi_internal.h"
#include "qg.h"
#include "qg/output.h"
#include "qg/result.h"

using qg::capi::Guard;
using qg::capi::GuardValue;
using qg::capi::NullArgument;
using qg::capi::SetError;

namespace {

// Bounds-checked access; each sets the last error and returns nullptr when
// an argument is bad.
const qg::NodeResult* GetNode(const qg_result* r, int node, const char* function) {
  if (r == nullptr) {
    NullArgument(function, "result");
    return nullptr;
  }
  if (node < 0 || static_cast<size_t>(node) >= r->rep.nodes.size()) {
    SetError(QG_INVALID_ARGUMENT, std::string(function) + ": node index " + std::to_string(node) +
                                      " out of range (" + std::to_string(r->rep.nodes.size()) +
                                      " nodes)");
    return nullptr;
  }
  return &r->rep.nodes[node];
}

const qg::Column* GetColumn(const qg_result* r, int node, int col, const char* function) {
  const qg::NodeResult* n = GetNode(r, node, function);
  if (n == nullptr) return nullptr;
  if (col < 0 || static_cast<size_t>(col) >= n->columns.size()) {
    SetError(QG_INVALID_ARGUMENT, std::string(function) + ": column index " + std::to_string(col) +
                                      " out of range (node \"" + n->node_id + "\" has " +
                                      std::to_string(n->columns.size()) + " columns)");
    return nullptr;
  }
  return &n->columns[col];
}

const qg::Value* GetCell(const qg_result* r, int node, int col, int64_t row, const char* function) {
  const qg::Column* c = GetColumn(r, node, col, function);
  if (c == nullptr) return nullptr;
  if (row < 0 || static_cast<uint64_t>(row) >= c->values.size()) {
    SetError(QG_INVALID_ARGUMENT, std::string(function) + ": row " + std::to_string(row) +
                                      " out of range (" + std::to_string(c->values.size()) +
                                      " rows)");
    return nullptr;
  }
  return &c->values[static_cast<size_t>(row)];
}

int TypeMismatch(const char* function, const qg::Value& v, const char* wanted) {
  return SetError(QG_INVALID_ARGUMENT, std::string(function) + ": value is " +
                                           std::string(qg::ValueTypeName(v.type())) + ", not " +
                                           wanted);
}

// qg_result_to_text's output: a malloc'd buffer grown by doubling, handed
// to the caller NUL-terminated (freed with qg_free).
class MallocText {
 public:
  MallocText() = default;
  MallocText(const MallocText&) = delete;
  MallocText& operator=(const MallocText&) = delete;
  ~MallocText() { std::free(data_); }

  size_t size() const { return size_; }
  // False when out of memory.
  bool Append(std::string_view chunk) {
    if (!Reserve(size_ + chunk.size() + 1)) return false;
    if (!chunk.empty()) std::memcpy(data_ + size_, chunk.data(), chunk.size());
    size_ += chunk.size();
    return true;
  }
  // The NUL-terminated text (ownership passes to the caller), or nullptr.
  char* Release() {
    if (!Reserve(size_ + 1)) return nullptr;
    data_[size_] = '\0';
    return std::exchange(data_, nullptr);
  }

 private:
  bool Reserve(size_t n) {
    if (n <= capacity_) return true;
    const size_t grown = std::max(n, capacity_ * 2);
    char* p = static_cast<char*>(std::realloc(data_, grown));
    if (p == nullptr) return false;
    data_ = p;
    capacity_ = grown;
    return true;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// The output options for `r`: its graph's own "output", `shape` / `format`
// (when not NULL) overriding the graph's.
int ToOutputOptions(const qg_result& r, const char* shape, const char* format,
                    qg::OutputOptions* out) {
  std::optional<qg::Shape> s;
  std::optional<qg::Format> f;
  if (shape != nullptr) {
    absl::StatusOr<qg::Shape> parsed = qg::ParseShape(shape);
    if (!parsed.ok()) return SetError(parsed.status());
    s = *parsed;
  }
  if (format != nullptr) {
    absl::StatusOr<qg::Format> parsed = qg::ParseFormat(format);
    if (!parsed.ok()) return SetError(parsed.status());
    f = *parsed;
  }
  *out = qg::GraphOutputOptions(r.rep, s, f);
  return QG_OK;
}

}  // namespace

extern "C" {

QG_API int qg_result_node_count(const qg_result* r) {
  return GuardValue(-1, [&] {
    if (r == nullptr) {
      NullArgument("qg_result_node_count", "result");
      return -1;
    }
    return static_cast<int>(r->rep.nodes.size());
  });
}

QG_API const char* qg_result_node_id(const qg_result* r, int node) {
  return GuardValue<const char*>(nullptr, [&]() -> const char* {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_node_id");
    return n == nullptr ? nullptr : n->node_id.c_str();
  });
}

QG_API const char* qg_result_node_source(const qg_result* r, int node) {
  return GuardValue<const char*>(nullptr, [&]() -> const char* {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_node_source");
    return n == nullptr ? nullptr : n->database_id.c_str();
  });
}

QG_API int qg_result_node_index(const qg_result* r, const char* node_id) {
  return GuardValue(-1, [&] {
    if (r == nullptr) {
      NullArgument("qg_result_node_index", "result");
      return -1;
    }
    if (node_id == nullptr) {
      NullArgument("qg_result_node_index", "node_id");
      return -1;
    }
    for (size_t i = 0; i < r->rep.nodes.size(); ++i) {
      if (r->rep.nodes[i].node_id == node_id) return static_cast<int>(i);
    }
    return -1;
  });
}

QG_API int qg_result_node_status(const qg_result* r, int node) {
  return GuardValue(-1, [&] {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_node_status");
    return n == nullptr ? -1 : static_cast<int>(n->status);
  });
}

QG_API const char* qg_result_node_error(const qg_result* r, int node) {
  return GuardValue<const char*>(nullptr, [&]() -> const char* {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_node_error");
    if (n == nullptr || n->error.ok()) return nullptr;
    // absl::Status keeps a non-empty message in a std::string (so it is
    // NUL-terminated) for its lifetime; an empty one has no storage.
    absl::string_view msg = n->error.message();
    return msg.empty() ? "" : msg.data();
  });
}

QG_API int qg_result_node_error_code(const qg_result* r, int node) {
  return GuardValue(-1, [&] {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_node_error_code");
    return n == nullptr ? -1 : static_cast<int>(n->error.code());
  });
}

QG_API int qg_result_column_count(const qg_result* r, int node) {
  return GuardValue(-1, [&] {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_column_count");
    return n == nullptr ? -1 : static_cast<int>(n->columns.size());
  });
}

QG_API const char* qg_result_column_name(const qg_result* r, int node, int col) {
  return GuardValue<const char*>(nullptr, [&]() -> const char* {
    const qg::Column* c = GetColumn(r, node, col, "qg_result_column_name");
    return c == nullptr ? nullptr : c->name.c_str();
  });
}

QG_API int qg_result_column_index(const qg_result* r, int node, const char* name) {
  return GuardValue(-1, [&] {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_column_index");
    if (n == nullptr) return -1;
    if (name == nullptr) {
      NullArgument("qg_result_column_index", "name");
      return -1;
    }
    return n->FindColumn(name);
  });
}

QG_API int64_t qg_result_row_count(const qg_result* r, int node) {
  return GuardValue<int64_t>(-1, [&]() -> int64_t {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_row_count");
    return n == nullptr ? -1 : static_cast<int64_t>(n->num_rows);
  });
}

QG_API int qg_result_value_type(const qg_result* r, int node, int col, int64_t row) {
  return GuardValue(-1, [&] {
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_value_type");
    return v == nullptr ? -1 : static_cast<int>(v->type());
  });
}

QG_API int qg_result_is_null(const qg_result* r, int node, int col, int64_t row) {
  return GuardValue(-1, [&] {
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_is_null");
    return v == nullptr ? -1 : (v->is_null() ? 1 : 0);
  });
}

QG_API int qg_result_get_int64(const qg_result* r, int node, int col, int64_t row, int64_t* out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_get_int64", "out");
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_get_int64");
    if (v == nullptr) return QG_INVALID_ARGUMENT;
    if (v->type() != qg::ValueType::kInt64) return TypeMismatch("qg_result_get_int64", *v, "int64");
    *out = v->as_int();
    return QG_OK;
  });
}

QG_API int qg_result_get_double(const qg_result* r, int node, int col, int64_t row, double* out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_get_double", "out");
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_get_double");
    if (v == nullptr) return QG_INVALID_ARGUMENT;
    if (v->type() != qg::ValueType::kDouble) {
      return TypeMismatch("qg_result_get_double", *v, "double");
    }
    *out = v->as_double();
    return QG_OK;
  });
}

QG_API int qg_result_get_bool(const qg_result* r, int node, int col, int64_t row, int* out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_get_bool", "out");
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_get_bool");
    if (v == nullptr) return QG_INVALID_ARGUMENT;
    if (v->type() != qg::ValueType::kBool) return TypeMismatch("qg_result_get_bool", *v, "bool");
    *out = v->as_bool() ? 1 : 0;
    return QG_OK;
  });
}

QG_API int qg_result_get_text(const qg_result* r, int node, int col, int64_t row, const char** data,
                              size_t* len) {
  return Guard([&] {
    if (data == nullptr) return NullArgument("qg_result_get_text", "data");
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_get_text");
    if (v == nullptr) return QG_INVALID_ARGUMENT;
    if (!v->is_text()) return TypeMismatch("qg_result_get_text", *v, "a text-carried type");
    *data = v->as_text().c_str();
    if (len != nullptr) *len = v->as_text().size();
    return QG_OK;
  });
}

QG_API int qg_result_get_value(const qg_result* r, int node, int col, int64_t row, qg_value* out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_get_value", "out");
    const qg::Value* v = GetCell(r, node, col, row, "qg_result_get_value");
    if (v == nullptr) return QG_INVALID_ARGUMENT;
    qg::capi::ToCValue(*v, out);
    return QG_OK;
  });
}

QG_API int64_t qg_result_row_binding(const qg_result* r, int node, int64_t row) {
  return GuardValue<int64_t>(-1, [&]() -> int64_t {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_row_binding");
    if (n == nullptr) return -1;
    if (row < 0 || static_cast<uint64_t>(row) >= n->num_rows) {
      SetError(QG_INVALID_ARGUMENT, "qg_result_row_binding: row " + std::to_string(row) +
                                        " out of range (" + std::to_string(n->num_rows) + " rows)");
      return -1;
    }
    if (static_cast<uint64_t>(row) >= n->row_binding.size()) return -1;  // a root node
    return static_cast<int64_t>(n->row_binding[static_cast<size_t>(row)]);
  });
}

QG_API int64_t qg_result_binding_count(const qg_result* r, int node) {
  return GuardValue<int64_t>(-1, [&]() -> int64_t {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_binding_count");
    return n == nullptr ? -1 : static_cast<int64_t>(n->bindings.size());
  });
}

QG_API int qg_result_binding_param_count(const qg_result* r, int node) {
  return GuardValue(-1, [&] {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_binding_param_count");
    return n == nullptr ? -1 : static_cast<int>(n->binding_params.size());
  });
}

QG_API const char* qg_result_binding_param(const qg_result* r, int node, int param) {
  return GuardValue<const char*>(nullptr, [&]() -> const char* {
    const qg::NodeResult* n = GetNode(r, node, "qg_result_binding_param");
    if (n == nullptr) return nullptr;
    if (param < 0 || static_cast<size_t>(param) >= n->binding_params.size()) {
      SetError(QG_INVALID_ARGUMENT, "qg_result_binding_param: parameter index " +
                                        std::to_string(param) + " out of range");
      return nullptr;
    }
    return n->binding_params[param].c_str();
  });
}

QG_API int qg_result_binding_value(const qg_result* r, int node, int64_t binding, int param,
                                   qg_value* out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_binding_value", "out");
    const qg::NodeResult* n = GetNode(r, node, "qg_result_binding_value");
    if (n == nullptr) return QG_INVALID_ARGUMENT;
    if (binding < 0 || static_cast<uint64_t>(binding) >= n->bindings.size()) {
      return SetError(QG_INVALID_ARGUMENT, "qg_result_binding_value: binding " +
                                               std::to_string(binding) + " out of range (" +
                                               std::to_string(n->bindings.size()) + " bindings)");
    }
    const std::vector<qg::Value>& b = n->bindings[static_cast<size_t>(binding)];
    if (param < 0 || static_cast<size_t>(param) >= b.size()) {
      return SetError(QG_INVALID_ARGUMENT, "qg_result_binding_value: parameter index " +
                                               std::to_string(param) + " out of range");
    }
    qg::capi::ToCValue(b[param], out);
    return QG_OK;
  });
}

QG_API int qg_result_to_text(const qg_result* r, const char* shape, const char* format, char** out,
                             size_t* len) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_to_text", "out");
    *out = nullptr;
    if (len != nullptr) *len = 0;
    if (r == nullptr) return NullArgument("qg_result_to_text", "result");
    qg::OutputOptions options;
    if (int rc = ToOutputOptions(*r, shape, format, &options); rc != QG_OK) return rc;
    // The chunks go straight into the buffer handed to the caller.
    MallocText text;
    absl::Status s = qg::WriteResult(r->rep, options, [&text](std::string_view chunk) {
      return text.Append(chunk) ? absl::OkStatus()
                                : absl::ResourceExhaustedError("qg_result_to_text: out of memory");
    });
    if (!s.ok()) return SetError(s);
    if (len != nullptr) *len = text.size();
    *out = text.Release();
    if (*out == nullptr) return SetError(QG_RESOURCE_EXHAUSTED, "qg_result_to_text: out of memory");
    return QG_OK;
  });
}

QG_API int qg_result_write(const qg_result* r, const char* shape, const char* format,
                           int (*write_cb)(const char* data, size_t len, void* payload),
                           void* payload) {
  return Guard([&] {
    if (r == nullptr) return NullArgument("qg_result_write", "result");
    if (write_cb == nullptr) return NullArgument("qg_result_write", "write_cb");
    qg::OutputOptions options;
    if (int rc = ToOutputOptions(*r, shape, format, &options); rc != QG_OK) return rc;
    return SetError(qg::WriteResult(r->rep, options, [&](std::string_view chunk) {
      const int rc = write_cb(chunk.data(), chunk.size(), payload);
      if (rc == 0) return absl::OkStatus();
      return absl::CancelledError("qg_result_write: the write callback returned " +
                                  std::to_string(rc));
    }));
  });
}

QG_API int qg_result_transaction(const qg_result* r, char** out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_result_transaction", "out");
    *out = nullptr;
    if (r == nullptr) return NullArgument("qg_result_transaction", "result");
    char* copy = qg::capi::CopyOut(qg::TransactionReportJson(r->rep.transaction));
    if (copy == nullptr) {
      return SetError(QG_RESOURCE_EXHAUSTED, "qg_result_transaction: out of memory");
    }
    *out = copy;
    return QG_OK;
  });
}

QG_API void qg_result_free(qg_result* r) {
  Guard([&] {
    delete r;
    return QG_OK;
  });
}

}  // extern "C"
