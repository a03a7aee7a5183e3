// capi/capi_common.cc — errors, version, memory and cancellation tokens.
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi_internal.h"
#include "qg.h"

namespace qg::capi {
namespace {

thread_local std::string last_error;

}  // namespace

int SetError(int code, std::string_view message) {
  try {
    last_error.assign(message.data(), message.size());
  } catch (...) {
    last_error.clear();  // out of memory: keep the code, lose the text
  }
  return code;
}

int SetError(const absl::Status& status) {
  if (status.ok()) return QG_OK;
  return SetError(static_cast<int>(status.code()),
                  std::string_view(status.message().data(), status.message().size()));
}

int NullArgument(const char* function, const char* what) {
  std::string msg = function;
  msg += ": ";
  msg += what;
  msg += " is NULL";
  return SetError(QG_INVALID_ARGUMENT, msg);
}

int ExceptionToError() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return SetError(QG_RESOURCE_EXHAUSTED, "out of memory");
  } catch (const std::exception& e) {
    return SetError(QG_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return SetError(QG_INTERNAL, "internal error: unknown exception");
  }
}

char* CopyOut(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

void ToCValue(const qg::Value& v, qg_value* out) {
  *out = qg_value{};
  out->type = static_cast<int>(v.type());
  switch (v.type()) {
    case qg::ValueType::kNull:
      break;
    case qg::ValueType::kBool:
      out->b = v.as_bool() ? 1 : 0;
      break;
    case qg::ValueType::kInt64:
      out->i = v.as_int();
      break;
    case qg::ValueType::kDouble:
      out->d = v.as_double();
      break;
    default:
      out->text = v.as_text().c_str();
      out->len = v.as_text().size();
      break;
  }
}

}  // namespace qg::capi

using qg::capi::Guard;
using qg::capi::NullArgument;

extern "C" {

QG_API const char* qg_version(void) { return QG_VERSION_STRING; }

QG_API const char* qg_last_error(void) {
  return qg::capi::GuardValue<const char*>("", [] { return qg::capi::last_error.c_str(); });
}

QG_API const char* qg_code_name(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) {
    return "UNKNOWN_CODE";
  }
  return kNames[code];
}

QG_API void qg_free(void* ptr) { std::free(ptr); }

QG_API int qg_cancel_new(qg_cancel** out) {
  return Guard([&] {
    if (out == nullptr) return NullArgument("qg_cancel_new", "out");
    *out = nullptr;
    auto c = std::make_unique<qg_cancel>();
    c->rep = std::make_shared<qg::CancelToken>();
    *out = c.release();
    return QG_OK;
  });
}

QG_API int qg_cancel_trigger(qg_cancel* cancel) {
  return Guard([&] {
    if (cancel == nullptr) return NullArgument("qg_cancel_trigger", "cancel");
    cancel->rep->Cancel();
    return QG_OK;
  });
}

QG_API int qg_cancel_is_triggered(const qg_cancel* cancel) {
  return Guard([&] {
    if (cancel == nullptr) {
      NullArgument("qg_cancel_is_triggered", "cancel");
      return -1;
    }
    return cancel->rep->cancelled() ? 1 : 0;
  });
}

QG_API void qg_cancel_free(qg_cancel* cancel) {
  Guard([&] {
    delete cancel;
    return QG_OK;
  });
}

}  // extern "C"
