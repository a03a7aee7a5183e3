// Internal: the built-in SQLite provider ("sqlite"), registered explicitly by
// the engine (docs/design.md §7).
//
// Connection string: a file path, ":memory:" or a "file:" URI. A missing file
// is an error (kNotFound naming the path) unless option create=true.
// Options: busy_timeout ("5s", "250ms" or milliseconds; default 5s),
// journal_mode (delete|truncate|persist|memory|wal|off), read_only, create,
// foreign_keys (true|false), cache_size (page cache per connection in KiB, default
// 65536), mmap_size (bytes of memory-mapped I/O, default 268435456; 0 = off),
// allow_attach and allow_pragma (default false; see below).
//
// Access: an authorizer checks every statement as SQLite compiles it. A read
// node's statement may only read (and must be sqlite3_stmt_readonly); a
// write node's may change data and schema. No node may ATTACH/DETACH (nor
// VACUUM, which attaches) unless allow_attach=true, run a PRAGMA that sets
// anything unless allow_pragma=true (both for write nodes only), call
// load_extension() or control transactions. Defensive mode is on. Reset drops
// attachments and TEMP objects a write node left, and fails (the pool closes
// the connection) after a PRAGMA allow_pragma let through.
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
