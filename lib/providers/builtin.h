// Internal: explicit registration of the built-in providers on one engine
// (no static initializers, which a static library's linker silently drops).
// sqlite always; postgres and mysql when compiled in (QG_WITH_POSTGRES,
// QG_WITH_MYSQL).
#ifndef QG_LIB_PROVIDERS_BUILTIN_H_
#define QG_LIB_PROVIDERS_BUILTIN_H_

#include "absl/status/status.h"
#include "qg/engine.h"

namespace qg {

absl::Status RegisterBuiltinProviders(Engine& engine);

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_BUILTIN_H_
