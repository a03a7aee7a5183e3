// Internal: the built-in `mysql` provider (MariaDB Connector/C), which
// serves MySQL and MariaDB.
//
// Registered explicitly by lib/providers/builtin.cc when the build has
// QG_WITH_MYSQL. Sources: "connect" is a key=value string without
// credentials: host (default 127.0.0.1), port (3306), dbname (also
// "database"), unix_socket, charset (utf8mb4); values may be single-quoted.
// User and password come from the catalog. Provider options: ssl_mode
// (disabled | preferred | required | verify_ca | verify_identity), charset,
// read_timeout, write_timeout (durations: "30s", "500ms", or seconds).
// The engine's connect_timeout maps to MYSQL_OPT_CONNECT_TIMEOUT and its
// statement_timeout to SET SESSION max_statement_time (MariaDB) or
// max_execution_time (MySQL, SELECTs only).
//
// Thread-safety: the provider is thread-safe; each connection is used by one
// thread at a time, except Connection::Cancel(), callable from any thread.
#ifndef QG_LIB_PROVIDERS_MYSQL_MYSQL_PROVIDER_H_
#define QG_LIB_PROVIDERS_MYSQL_MYSQL_PROVIDER_H_

#include <memory>

#include "qg/provider.h"

namespace qg {

// A new mysql provider (stateless; one per engine is enough).
std::unique_ptr<Provider> NewMysqlProvider();

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_MYSQL_MYSQL_PROVIDER_H_
