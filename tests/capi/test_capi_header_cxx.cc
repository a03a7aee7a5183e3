// tests/capi/test_capi_header_cxx.cc — the C headers compile as C++ (and
// link against libqg.so from a C++ program that sees nothing but them).
#include <cstdio>
#include <cstring>

#include "qg.h"
#include "qg_provider.h"

int main() {
  qg_engine_options eo = QG_ENGINE_OPTIONS_INIT;
  qg_execute_options xo = QG_EXECUTE_OPTIONS_INIT;
  qg_pool_stats ps = QG_POOL_STATS_INIT;
  qg_provider_vtable vt = QG_PROVIDER_VTABLE_INIT;
  if (eo.version != QG_ENGINE_OPTIONS_VERSION || xo.version != QG_EXECUTE_OPTIONS_VERSION ||
      ps.version != QG_POOL_STATS_VERSION || vt.version != QG_PROVIDER_VTABLE_VERSION) {
    std::fprintf(stderr, "bad INIT macros\n");
    return 1;
  }
  if (std::strcmp(qg_version(), QG_VERSION_STRING) != 0) {
    std::fprintf(stderr, "version mismatch: %s\n", qg_version());
    return 1;
  }
  if (qg_cancel_trigger(nullptr) != QG_INVALID_ARGUMENT) return 1;
  std::printf("test_capi_header_cxx: OK\n");
  return 0;
}
