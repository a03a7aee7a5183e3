// The built-in CSV provider (csv_provider.h): CSV files loaded into an
// in-memory SQLite database per connection, queried through the sqlite
// provider.
#include "providers/csv/csv_provider.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "providers/csv/csv_reader.h"
#include "providers/sqlite/sqlite_provider.h"
#include "sql/sql_lexer.h"

namespace qg {
namespace {

namespace fs = std::filesystem;
using csv::CsvOptions;
using csv::CsvTable;

constexpr size_t kMaxPlaceholders = 32766;  // the inner SQLite's limit

// One file's identity: a change of either means "reload".
struct FileStamp {
  int64_t mtime_ns = 0;
  uintmax_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

// A parsed file (or the error that parsing it gave), shared by connections.
struct Loaded {
  FileStamp stamp;
  std::shared_ptr<const CsvTable> table;
  absl::Status error;
};

// Parsed files shared by every connection of every csv source.
class TableCache {
 public:
  std::shared_ptr<const Loaded> Get(const std::string& path, const std::string& name,
                                    const std::string& options_key, const CsvOptions& options,
                                    const FileStamp& stamp) {
    const std::string key = path + '\n' + name + '\n' + options_key;
    {
      absl::MutexLock lock(&mu_);
      auto it = cache_.find(key);
      if (it != cache_.end() && it->second->stamp == stamp) return it->second;
    }
    // Parse outside the lock: other files stay available meanwhile.
    auto loaded = std::make_shared<Loaded>();
    loaded->stamp = stamp;
    auto t = csv::ReadCsv(path, name, options);
    if (t.ok()) {
      loaded->table = std::make_shared<const CsvTable>(std::move(*t));
    } else {
      loaded->error = t.status();
    }
    absl::MutexLock lock(&mu_);
    cache_[key] = loaded;
    return loaded;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Loaded>> cache_ ABSL_GUARDED_BY(mu_);
};

class CsvConnection : public Connection {
 public:
  CsvConnection(std::string source, std::string root, std::string real_root, CsvOptions options,
                std::string options_key, std::unique_ptr<Connection> db,
                std::shared_ptr<TableCache> cache)
      : source_(std::move(source)),
        root_(std::move(root)),
        real_root_(std::move(real_root)),
        options_(std::move(options)),
        options_key_(std::move(options_key)),
        db_(std::move(db)),
        cache_(std::move(cache)) {}

  Connection& inner() { return *db_; }

  absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                       ExecStats* stats) override {
    QG_RETURN_IF_ERROR(Refresh());
    QG_RETURN_IF_ERROR(CheckBrokenTables(stmt.text));
    return Named(db_->Execute(stmt, args, sink, stats));
  }

  void Cancel() override { db_->Cancel(); }

  // The files are loaded into SQLite tables: its planner (with the loaded
  // row counts) answers.
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override {
    QG_RETURN_IF_ERROR(Refresh());
    absl::StatusOr<CostEstimate> est = db_->EstimateCost(stmt, args);
    if (!est.ok()) return Named(est.status());
    est->origin = "csv (sqlite planner)";
    return est;
  }

  absl::Status Ping(std::string_view query) override {
    std::error_code ec;
    if (!fs::exists(root_, ec)) {
      return absl::UnavailableError(
          fmt::format("csv source '{}': '{}' does not exist", source_, root_));
    }
    return Named(db_->Ping(query));
  }

  absl::Status Reset() override { return db_->Reset(); }
  bool broken() const override { return db_->broken(); }

  // Loads (or reloads) every table whose file changed.
  absl::Status Refresh() {
    std::error_code ec;
    std::vector<fs::path> files;
    const bool in_directory = fs::is_directory(root_, ec);
    if (in_directory) {
      for (const fs::directory_entry& e : fs::directory_iterator(root_, ec)) {
        std::error_code fec;
        if (e.is_regular_file(fec) && Lower(e.path().extension().string()) == ".csv") {
          files.push_back(e.path());
        }
      }
      if (ec) {
        return absl::UnavailableError(
            fmt::format("csv source '{}': cannot list '{}': {}", source_, root_, ec.message()));
      }
    } else if (fs::is_regular_file(root_, ec)) {
      files.push_back(root_);
    } else {
      return absl::NotFoundError(
          fmt::format("csv source '{}': '{}' is neither a directory nor a file", source_, root_));
    }
    std::sort(files.begin(), files.end());
    absl::flat_hash_set<std::string> present;
    for (fs::path p : files) {
      const std::string name = p.stem().string();
      const std::string lname = Lower(name);
      if (!present.insert(lname).second) {
        broken_tables_[lname] = absl::InvalidArgumentError(
            fmt::format("csv source '{}': two files give table '{}' (names are case-insensitive)",
                        source_, name));
        continue;
      }
      if (in_directory) {
        // A table file is read through its real path, and only when that
        // stays inside the source's directory: a symbolic link may not lead
        // the source to other files of the machine.
        std::error_code rec;
        fs::path real = fs::canonical(p, rec);
        if (rec) continue;  // vanished meanwhile
        if (!Inside(real)) {
          QG_RETURN_IF_ERROR(Drop(lname));
          loaded_.erase(lname);
          broken_tables_[lname] = absl::PermissionDeniedError(fmt::format(
              "csv source '{}': {} leads outside the source's directory (a symbolic link); "
              "refused, not read",
              source_, p.filename().string()));
          continue;
        }
        p = std::move(real);
      }
      FileStamp stamp;
      std::error_code fec;
      stamp.size = fs::file_size(p, fec);
      auto mtime = fs::last_write_time(p, fec);
      if (fec) continue;  // vanished meanwhile: dropped below on the next refresh
      stamp.mtime_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
      std::shared_ptr<const Loaded> loaded =
          cache_->Get(p.string(), name, options_key_, options_, stamp);
      auto it = loaded_.find(lname);
      if (it != loaded_.end() && it->second == loaded) continue;  // current
      QG_RETURN_IF_ERROR(Drop(lname));
      if (!loaded->error.ok()) {
        broken_tables_[lname] = Annotate(loaded->error, fmt::format("csv source '{}': ", source_));
        loaded_[lname] = loaded;
        continue;
      }
      broken_tables_.erase(lname);
      QG_RETURN_IF_ERROR(Load(*loaded->table));
      loaded_[lname] = loaded;
    }
    // Files that went away.
    return DropGone(present);
  }

 private:
  // The inner database's errors name this source as the csv source it is.
  absl::Status Named(absl::Status st) const {
    if (st.ok()) return st;
    const std::string inner = fmt::format("sqlite source '{}': ", source_);
    absl::string_view msg = st.message();
    if (msg.substr(0, inner.size()) != inner) return st;
    return absl::Status(st.code(), fmt::format("csv source '{}': {}", source_,
                                               std::string(msg.substr(inner.size()))));
  }

  // True when `real` (a canonical path) is inside the source's directory.
  bool Inside(const fs::path& real) const {
    const std::string r = real.string();
    return r.size() > real_root_.size() && r.compare(0, real_root_.size(), real_root_) == 0 &&
           (real_root_.back() == '/' || r[real_root_.size()] == '/');
  }

  absl::Status DropGone(const absl::flat_hash_set<std::string>& present) {
    std::vector<std::string> gone;
    for (const auto& [lname, l] : loaded_) {
      if (!present.contains(lname)) gone.push_back(lname);
    }
    for (const std::string& lname : gone) {
      QG_RETURN_IF_ERROR(Drop(lname));
      loaded_.erase(lname);
      broken_tables_.erase(lname);
    }
    return absl::OkStatus();
  }

  // The provider's own statements are the only writes on the inner
  // database: queries are compiled as reads, which the sqlite provider's
  // authorizer keeps from changing anything (or running PRAGMA, ATTACH, ...).
  absl::Status Run(const std::string& sql, std::vector<BoundArg> args = {}) {
    Statement s;
    s.text = sql;
    s.is_write = true;
    for (size_t i = 0; i < args.size(); ++i) s.args.push_back(BatchArg{});
    return db_->Execute(s, args, nullptr, nullptr);
  }

  absl::Status Drop(const std::string& lname) {
    auto it = created_.find(lname);
    if (it == created_.end()) return absl::OkStatus();
    QG_RETURN_IF_ERROR(Run("DROP TABLE IF EXISTS " + QuoteIdent(it->second)));
    created_.erase(it);
    return absl::OkStatus();
  }

  absl::Status Load(const CsvTable& t) {
    std::string create = "CREATE TABLE " + QuoteIdent(t.name) + " (";
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (c > 0) create += ", ";
      create += QuoteIdent(t.columns[c]) + " " + std::string(csv::SqlType(t.kinds[c]));
    }
    create += ")";
    const size_t ncols = t.columns.size();
    const size_t per_stmt = std::max<size_t>(1, std::min<size_t>(500, kMaxPlaceholders / ncols));
    QG_RETURN_IF_ERROR(db_->Begin(TxOptions{}));
    absl::Status st = Run(create);
    std::string row_ph = "(";
    for (size_t c = 0; c < ncols; ++c) row_ph += c == 0 ? "?" : ", ?";
    row_ph += ")";
    for (size_t r = 0; st.ok() && r < t.rows.size(); r += per_stmt) {
      const size_t end = std::min(t.rows.size(), r + per_stmt);
      std::string sql = "INSERT INTO " + QuoteIdent(t.name) + " VALUES ";
      std::vector<BoundArg> args;
      args.reserve((end - r) * ncols);
      for (size_t k = r; k < end; ++k) {
        sql += k == r ? row_ph : ", " + row_ph;
        for (const Value& v : t.rows[k]) args.push_back(BoundArg{v, {}, false});
      }
      st = Run(sql, std::move(args));
    }
    if (!st.ok()) {
      (void)db_->Rollback();
      return Annotate(st, fmt::format("csv source '{}': loading {}: ", source_, t.path));
    }
    QG_RETURN_IF_ERROR(db_->Commit());
    created_[Lower(t.name)] = t.name;
    return absl::OkStatus();
  }

  // A query naming a table whose file is malformed fails with the file's
  // error (file:line), not with "no such table".
  absl::Status CheckBrokenTables(std::string_view text) {
    if (broken_tables_.empty()) return absl::OkStatus();
    auto tokens = sql::Lex(text);
    if (!tokens.ok()) return absl::OkStatus();  // the inner prepare reports it
    for (const sql::Token& tok : *tokens) {
      std::string_view s = text.substr(tok.begin, tok.end - tok.begin);
      if (tok.kind == sql::TokenKind::kQuotedIdent && s.size() >= 2) {
        s = s.substr(1, s.size() - 2);
      } else if (tok.kind != sql::TokenKind::kWord) {
        continue;
      }
      auto it = broken_tables_.find(Lower(s));
      if (it != broken_tables_.end()) return it->second;
    }
    return absl::OkStatus();
  }

  const std::string source_;
  const std::string root_;
  const std::string real_root_;  // canonical path of root_
  const CsvOptions options_;
  const std::string options_key_;
  std::unique_ptr<Connection> db_;
  std::shared_ptr<TableCache> cache_;
  // Lower-case table name -> what is loaded, the created table's name, or
  // the file's error.
  std::map<std::string, std::shared_ptr<const Loaded>> loaded_;
  std::map<std::string, std::string> created_;
  std::map<std::string, absl::Status> broken_tables_;
};

class CsvProvider : public Provider {
 public:
  CsvProvider() : sqlite_(NewSqliteProvider()), cache_(std::make_shared<TableCache>()) {}

  std::string_view name() const override { return "csv"; }

  Capabilities capabilities() const override {
    Capabilities c = sqlite_->capabilities();
    // The files are the data: the in-memory copy is read-only by contract.
    c.writes = false;
    c.transactions = false;
    c.savepoints = false;
    c.two_phase = false;
    return c;
  }

  std::vector<std::string> option_keys() const override {
    return {"delimiter", "quote", "header", "encoding", "null_string", "types"};
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    const std::string where = fmt::format("csv source '{}': ", request.source_name);
    auto options = csv::ParseCsvOptions(request.options);
    if (!options.ok()) return Annotate(options.status(), where);
    if (request.connect.empty()) {
      return absl::InvalidArgumentError(where +
                                        "empty connection string (a directory or a .csv file)");
    }
    std::error_code ec;
    if (!fs::exists(request.connect, ec)) {
      return absl::NotFoundError(fmt::format(
          "{}'{}' does not exist (expected a directory or a .csv file)", where, request.connect));
    }
    fs::path real_root = fs::canonical(request.connect, ec);
    if (ec) {
      return absl::NotFoundError(
          fmt::format("{}cannot resolve '{}': {}", where, request.connect, ec.message()));
    }
    ConnectRequest inner;
    inner.source_name = request.source_name;
    inner.connect = ":memory:";
    inner.connect_timeout = request.connect_timeout;
    inner.statement_timeout = request.statement_timeout;
    auto db = sqlite_->Connect(inner);
    if (!db.ok()) return db.status();
    std::string options_key;
    for (const auto& [k, v] : request.options) options_key += k + "=" + v + ";";
    auto conn =
        std::make_unique<CsvConnection>(request.source_name, request.connect, real_root.string(),
                                        std::move(*options), options_key, std::move(*db), cache_);
    // Load now, so a broken directory fails at connect; a malformed file
    // only fails the queries that name it.
    QG_RETURN_IF_ERROR(conn->Refresh());
    return std::unique_ptr<Connection>(std::move(conn));
  }

  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    if (request.mode == NodeMode::kWrite) {
      return absl::InvalidArgumentError("csv sources are read-only");
    }
    return sqlite_->Compile(request);
  }

 private:
  std::shared_ptr<Provider> sqlite_;
  std::shared_ptr<TableCache> cache_;
};

}  // namespace

std::shared_ptr<Provider> NewCsvProvider() { return std::make_shared<CsvProvider>(); }

}  // namespace qg
