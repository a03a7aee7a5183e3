// Internal: the built-in SQLite provider ("sqlite"), registered explicitly by
// the engine (DESIGN.md §7).
//
// Connection string: a file path, ":memory:" or a "file:" URI. A missing file
// is an error (kNotFound naming the path) unless option create=true.
// Options: busy_timeout ("5s", "250ms" or milliseconds; default 5s),
// journal_mode (delete|truncate|persist|memory|wal|off), read_only, create,
// foreign_keys (true|false), cache_size (page cache per connection in KiB, default
// 65536), mmap_size (bytes of memory-mapped I/O, default 268435456; 0 = off).
//
// Thread-safety: the provider is thread-safe; each connection is used by one
// thread at a time, except Connection::Cancel(), callable from any thread.
#ifndef QG_LIB_PROVIDERS_SQLITE_SQLITE_PROVIDER_H_
#define QG_LIB_PROVIDERS_SQLITE_SQLITE_PROVIDER_H_

#include <memory>

#include "qg/provider.h"

namespace qg {

std::shared_ptr<Provider> NewSqliteProvider();

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_SQLITE_SQLITE_PROVIDER_H_
