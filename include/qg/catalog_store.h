// qg/catalog_store.h — a Catalog persisted in an embedded SQLite file.
//
// The host asks for persistence by opening a store on a path (the CLI's
// `--catalog FILE`); without one the catalog lives in memory only.
//
//  - The file is created with mode 0600 whatever the umask (an existing
//    file's mode is left as its owner set it). SQLite's journal inherits
//    the database file's mode.
//  - The schema is versioned: a `meta` table holds schema_version = 1. A
//    file that is not an SQLite database, fails SQLite's quick_check, lacks
//    the tables, or has another schema version is refused at Open() with an
//    error naming the file (kDataLoss for damage, kFailedPrecondition for a
//    version or a foreign database); Load() refuses an invalid row the same
//    way. A catalog is never half-loaded.
//  - Save() replaces the whole stored catalog in one transaction with
//    synchronous=FULL: after a crash the file holds the old catalog or the
//    new one, never a mix.
//
// Secrets: ENV and FILE passwords are stored as their references (the
// variable name, the path), never resolved. A literal password is stored as
// given — the file is 0600 — and, like everywhere else, it never appears in
// an error, a listing (Catalog::ToJson writes "***") or a log line. Prefer
// ENV / FILE passwords for catalogs that are shared or backed up.
//
// Thread-safety: all members are thread-safe (calls are serialized). Several
// processes may open the same file; SQLite's locking serializes their
// Save()s (a busy file is waited on for up to 5 s, then kUnavailable).
//
//   QG_ASSIGN_OR_RETURN(auto store, qg::CatalogStore::Open("/var/lib/qg/catalog.db"));
//   QG_ASSIGN_OR_RETURN(qg::Catalog catalog, store->Load());
//   QG_ASSIGN_OR_RETURN(catalog, store->Update([&](qg::Catalog* c) {
//     return qg::ApplyStatement(stmt, c);
//   }));
#ifndef QG_CATALOG_STORE_H_
#define QG_CATALOG_STORE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "qg/catalog.h"
#include "qg/export.h"

struct sqlite3;

namespace qg {

class QG_EXPORT CatalogStore {
 public:
  // The schema version this build reads and writes.
  static constexpr int kSchemaVersion = 1;

  // Opens `path`, creating it (mode 0600, empty catalog) when absent.
  static absl::StatusOr<std::unique_ptr<CatalogStore>> Open(std::string_view path);
  ~CatalogStore();
  CatalogStore(const CatalogStore&) = delete;
  CatalogStore& operator=(const CatalogStore&) = delete;

  // The stored catalog, read in one transaction.
  absl::StatusOr<Catalog> Load();
  // Replaces the stored catalog, atomically.
  absl::Status Save(const Catalog& catalog);
  // Read-modify-write in one write transaction: loads the stored catalog,
  // calls `change` on it, and saves the result only if `change` returns OK.
  // Use it for statements (`qgraph catalog exec`), so two processes changing
  // the same file never lose each other's changes. Returns the new catalog;
  // on any error the file is unchanged.
  absl::StatusOr<Catalog> Update(const std::function<absl::Status(Catalog*)>& change);

  const std::string& path() const { return path_; }

 private:
  CatalogStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  std::string path_;
  sqlite3* db_;
  std::mutex mu_;
};

}  // namespace qg

#endif  // QG_CATALOG_STORE_H_
