// capi/capi_internal.h — private to the C ABI: the handle structs (each a
// thin wrapper over a C++ object, as LevelDB's c.cc does) and the helpers
// that turn a Status or an exception into a C return code.
#ifndef QG_CAPI_CAPI_INTERNAL_H_
#define QG_CAPI_CAPI_INTERNAL_H_

#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "qg.h"
#include "qg/cancel.h"
#include "qg/engine.h"
#include "qg/result.h"

struct qg_engine {
  std::unique_ptr<qg::Engine> rep;
};

struct qg_result {
  qg::GraphResult rep;
};

struct qg_cancel {
  std::shared_ptr<qg::CancelToken> rep;
};

namespace qg::capi {

// Records `message` as the calling thread's last error and returns `code`.
int SetError(int code, std::string_view message);
// Records a failed status; returns its code (QG_OK for an OK status).
int SetError(const absl::Status& status);
// QG_INVALID_ARGUMENT with "<function>: <what> is NULL".
int NullArgument(const char* function, const char* what);

// Converts the exception being handled into a last error; returns its code.
int ExceptionToError() noexcept;

// Runs `body` (returning int) and turns any exception into a code.
template <typename F>
int Guard(F&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return ExceptionToError();
  }
}

// Runs `body` (returning T) and returns `fallback` on an exception.
template <typename T, typename F>
T GuardValue(T fallback, F&& body) noexcept {
  try {
    return body();
  } catch (...) {
    ExceptionToError();
    return fallback;
  }
}

// Versioned structs (docs/design.md §2.2): a caller built against version v
// owns only the bytes version v had. `v_end[v]` is where version v of `T`
// ends (index 0 unused); the newest version is the whole struct. The library
// reads and writes only those bytes, as SQLite reads members up to iVersion.
template <typename T, size_t N>
size_t VersionBytes(unsigned int version, const size_t (&v_end)[N]) {
  return version < N ? v_end[version] : sizeof(T);
}
// A caller's struct as the library's version: its bytes, the rest zero.
template <typename T, size_t N>
T ReadVersioned(const T* caller, unsigned int version, const size_t (&v_end)[N]) {
  T out{};
  std::memcpy(static_cast<void*>(&out), caller, VersionBytes<T>(version, v_end));
  return out;
}
// Writes the caller's version of `value` into `caller`.
template <typename T, size_t N>
void WriteVersioned(const T& value, T* caller, unsigned int version, const size_t (&v_end)[N]) {
  std::memcpy(static_cast<void*>(caller), &value, VersionBytes<T>(version, v_end));
}
#define QG_CAPI_END_OF(type, member) (offsetof(type, member) + sizeof(type::member))

// A malloc'ed NUL-terminated copy (freed with qg_free), or nullptr.
char* CopyOut(std::string_view s);

// Fills a qg_value view of `v` (borrowed from `v`).
void ToCValue(const qg::Value& v, qg_value* out);

}  // namespace qg::capi

#endif  // QG_CAPI_CAPI_INTERNAL_H_
