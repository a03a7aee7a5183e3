// Internal: the built-in `postgres` provider (libpqxx 6.4 over libpq).
//
// Registered explicitly by lib/providers/builtin.cc when the build has
// QG_WITH_POSTGRES. Sources: "connect" is a libpq connection string
// (key=value or URI) without credentials; user and password come from the
// catalog. Provider options: sslmode, application_name, search_path.
#ifndef QG_LIB_PROVIDERS_POSTGRES_POSTGRES_PROVIDER_H_
#define QG_LIB_PROVIDERS_POSTGRES_POSTGRES_PROVIDER_H_

#include <memory>

#include "qg/provider.h"

namespace qg {

// A new postgres provider (stateless; one per engine is enough).
std::unique_ptr<Provider> NewPostgresProvider();

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_POSTGRES_POSTGRES_PROVIDER_H_
