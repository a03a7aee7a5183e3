#include "providers/postgres/postgres_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "providers/postgres/pg_status.h"
#include "simdjson.h"

namespace qg::pg {

// ---------------------------------------------------------------------------
// libpq functions libpqxx does not wrap (cancel keys, transaction status,
// conninfo parsing), called directly: the module links libpq itself.
namespace {

struct LibPq {
  decltype(&PQgetCancel) get_cancel = &PQgetCancel;
  decltype(&PQcancel) cancel = &PQcancel;
  decltype(&PQfreeCancel) free_cancel = &PQfreeCancel;
  decltype(&PQtransactionStatus) transaction_status = &PQtransactionStatus;
  decltype(&PQconninfoParse) conninfo_parse = &PQconninfoParse;
  decltype(&PQconninfoFree) conninfo_free = &PQconninfoFree;
  decltype(&PQfreemem) freemem = &PQfreemem;
  bool ok = true;
};

const LibPq& Pq() {
  static const LibPq pq;
  return pq;
}

}  // namespace

struct PgHandles {
  PGconn* conn = nullptr;      // owned by libpqxx; valid while conn_->is_open()
  PGcancel* cancel = nullptr;  // ours
  ~PgHandles() {
    if (cancel != nullptr) Pq().free_cancel(cancel);
  }
};

struct CancelState {
  absl::Mutex mu;
  bool in_flight ABSL_GUARDED_BY(mu) = false;
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;  // one per Run
  std::shared_ptr<PgHandles> handles ABSL_GUARDED_BY(mu);
};

namespace {

// Sends one cancel request; the caller holds state.mu.
void SendCancel(CancelState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
  if (st.handles == nullptr || st.handles->cancel == nullptr) return;
  char errbuf[256];
  Pq().cancel(st.handles->cancel, errbuf, sizeof(errbuf));  // thread-safe on our own PGcancel
}

// The connection being opened on this thread (see CapturePolicy).
thread_local PgHandles* t_capture = nullptr;

// libpqxx's direct-connect policy, plus: remember the PGconn and copy its
// cancel key when the connection is made.
class CapturePolicy : public pqxx::connect_direct {
 public:
  explicit CapturePolicy(const std::string& opts) : pqxx::connect_direct(opts) {}
  handle do_startconnect(handle orig) override {
    handle h = pqxx::connect_direct::do_startconnect(orig);
    if (t_capture != nullptr && h != nullptr && h != orig) {
      t_capture->conn = h;
      if (t_capture->cancel == nullptr) t_capture->cancel = Pq().get_cancel(h);
    }
    return h;
  }
};
using PgConn = pqxx::basic_connection_base<CapturePolicy>;

// Swallows server notices (e.g. "there is no transaction in progress").
class QuietNotices final : public pqxx::errorhandler {
 public:
  explicit QuietNotices(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char*) noexcept override { return false; }
};

}  // namespace

// A connection plus its notice handler, destroyed in the right order (and
// through its most derived type: connection_base's destructor is not
// virtual, only basic_connection_base's closes the session).
class OwnedConn final : public PgConn {
 public:
  explicit OwnedConn(const std::string& opts) : PgConn(opts), quiet_(*this) {}

 private:
  QuietNotices quiet_;
};

namespace {

// Server messages: drop "ERROR:  " and the LINE/caret context lines, join the
// rest on one line.
std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string CleanMessage(std::string_view raw) {
  std::string out;
  while (!raw.empty()) {
    size_t nl = raw.find('\n');
    std::string_view line = TrimSpace(raw.substr(0, nl));
    raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
    if (line.empty() || line.starts_with("LINE ") ||
        line.find_first_not_of("^ ") == std::string_view::npos) {
      continue;
    }
    for (std::string_view prefix : {"ERROR:", "FATAL:", "PANIC:"}) {
      if (line.starts_with(prefix)) line = TrimSpace(line.substr(prefix.size()));
    }
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

std::string Scrub(std::string msg, std::string_view secret) {
  if (secret.size() < 3) return msg;  // too short to be found by accident
  size_t pos;
  while ((pos = msg.find(secret)) != std::string::npos) msg.replace(pos, secret.size(), "***");
  return msg;
}

// Builds the libpq parameter array for a statement. Bytes go binary (exact,
// NUL-safe); everything else as text.
absl::StatusOr<pqxx::internal::params> BuildParams(const Statement& stmt,
                                                   const std::vector<BoundArg>& args) {
  if (args.size() != stmt.args.size()) {
    return absl::InvalidArgumentError(
        Cat("postgres: statement takes ", stmt.args.size(), " arguments, got ", args.size()));
  }
  pqxx::internal::params p;
  for (size_t i = 0; i < args.size(); ++i) {
    const BoundArg& a = args[i];
    if (a.is_array) {
      auto lit = ArrayLiteral(a.array);
      if (!lit.ok()) return Annotate(lit.status(), Cat("argument $", i + 1, ": "));
      p.lengths.push_back(static_cast<int>(lit->size()));
      p.nonnulls.push_back(1);
      p.binaries.push_back(0);
      p.strings.push_back(std::move(*lit));
    } else if (a.value.is_null()) {
      p.lengths.push_back(0);
      p.nonnulls.push_back(0);
      p.binaries.push_back(0);
    } else if (a.value.type() == ValueType::kBytes) {
      const std::string& b = a.value.as_text();
      p.lengths.push_back(static_cast<int>(b.size()));
      p.nonnulls.push_back(1);
      p.binaries.push_back(1);
      p.bin_strings.emplace_back(b.data(), b.size());
    } else {
      auto text = ParamText(a.value);
      if (!text.ok()) return Annotate(text.status(), Cat("argument $", i + 1, ": "));
      p.lengths.push_back(static_cast<int>(text->size()));
      p.nonnulls.push_back(1);
      p.binaries.push_back(0);
      p.strings.push_back(std::move(*text));
    }
  }
  return p;
}

const char* IsolationSql(IsolationLevel level) {
  switch (level) {
    case IsolationLevel::kReadCommitted:
      return " ISOLATION LEVEL READ COMMITTED";
    case IsolationLevel::kRepeatableRead:
      return " ISOLATION LEVEL REPEATABLE READ";
    case IsolationLevel::kSerializable:
      return " ISOLATION LEVEL SERIALIZABLE";
    default:
      return "";
  }
}

absl::Status CheckNoNul(std::string_view what, std::string_view s) {
  if (s.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(Cat("postgres: ", what, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------

absl::StatusCode CodeForSqlState(std::string_view state, std::string_view message,
                                 bool cancel_requested) {
  if (state == "57014") {
    if (cancel_requested) return absl::StatusCode::kCancelled;
    if (Contains(message, "statement timeout")) {
      return absl::StatusCode::kDeadlineExceeded;
    }
    return absl::StatusCode::kCancelled;
  }
  if (state == "23505") return absl::StatusCode::kAlreadyExists;  // unique violation
  if (state == "25P02") return absl::StatusCode::kAborted;        // in failed transaction
  if (state == "55P03") return absl::StatusCode::kUnavailable;    // lock not available
  if (state == "42501") return absl::StatusCode::kPermissionDenied;
  if (state == "0A000") return absl::StatusCode::kUnimplemented;
  if (StartsWith(state, "57P")) return absl::StatusCode::kUnavailable;  // shutdown
  if (state.size() < 2) return absl::StatusCode::kUnknown;
  std::string_view cls = state.substr(0, 2);
  if (cls == "40") return absl::StatusCode::kAborted;
  if (cls == "08") return absl::StatusCode::kUnavailable;
  if (cls == "53" || cls == "54") return absl::StatusCode::kResourceExhausted;
  if (cls == "42" || cls == "22" || cls == "26" || cls == "34" || cls == "3F") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (cls == "23" || cls == "25" || cls == "55") return absl::StatusCode::kFailedPrecondition;
  if (cls == "28") return absl::StatusCode::kPermissionDenied;
  if (cls == "3D") return absl::StatusCode::kNotFound;
  if (cls == "XX") return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresConnection::Open(
    const ConnectRequest& request) {
  const LibPq& pq = Pq();
  const std::string where = Cat("postgres source ", request.source_name, ": ");
  if (!pq.ok) return absl::InternalError(where + "libpq symbols not found");

  // The connection string must not carry credentials; it never appears in
  // errors either, in case it does anyway.
  if (Contains(absl::AsciiStrToLower(request.connect), "password")) {
    return absl::InvalidArgumentError(
        where + "the connection string must not contain a password (use the source's PASSWORD)");
  }
  char* err = nullptr;
  PQconninfoOption* opts = pq.conninfo_parse(request.connect.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? CleanMessage(err) : "out of memory";
    if (err != nullptr) pq.freemem(err);
    return absl::InvalidArgumentError(where + "invalid connection string: " + msg);
  }
  std::vector<std::pair<std::string, std::string>> kv;
  std::string startup_options;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string key = o->keyword;
    if (key == "options") {
      startup_options = o->val;
      continue;
    }
    if (key == "client_encoding") continue;
    if (key == "user" && !request.user.empty()) continue;
    if (key == "connect_timeout" && request.connect_timeout > absl::ZeroDuration()) continue;
    if (request.options.count(key) > 0) continue;
    kv.emplace_back(key, o->val);
  }
  pq.conninfo_free(opts);

  if (!request.user.empty()) kv.emplace_back("user", request.user);
  if (!request.password.empty()) kv.emplace_back("password", request.password);
  if (request.connect_timeout > absl::ZeroDuration()) {
    int64_t secs = static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(request.connect_timeout)));
    kv.emplace_back("connect_timeout", std::to_string(std::max<int64_t>(secs, 1)));
  }
  kv.emplace_back("client_encoding", "UTF8");
  bool has_app = false;
  for (const auto& [key, value] : request.options) {
    if (key == "sslmode" || key == "application_name") {
      kv.emplace_back(key, value);
      has_app |= key == "application_name";
    }
  }
  if (!has_app && std::none_of(kv.begin(), kv.end(),
                               [](const auto& p) { return p.first == "application_name"; })) {
    kv.emplace_back("application_name", "qgraph");
  }
  // Session settings travel in the startup packet (no extra round trip), and
  // are the session's defaults, so RESET ALL in Reset() keeps them.
  // default_transaction_read_only: every statement outside an explicit
  // transaction is read-only, enforced by the server; a write switches it
  // off for its session (Execute), Reset's RESET ALL switches it back on.
  std::vector<std::string> settings = {"datestyle=ISO,YMD", "bytea_output=hex",
                                       "extra_float_digits=1", "intervalstyle=postgres",
                                       "default_transaction_read_only=on"};
  if (request.statement_timeout > absl::ZeroDuration()) {
    settings.push_back(
        Cat("statement_timeout=",
            std::max<int64_t>(1, absl::ToInt64Milliseconds(request.statement_timeout))));
  }
  auto sp = request.options.find("search_path");
  if (sp != request.options.end()) settings.push_back("search_path=" + sp->second);
  for (const std::string& s : settings) {
    if (!startup_options.empty()) startup_options.push_back(' ');
    startup_options += "-c " + OptionsEscape(s);
  }
  kv.emplace_back("options", startup_options);

  std::string conninfo;
  for (const auto& [key, value] : kv) {
    if (!conninfo.empty()) conninfo.push_back(' ');
    conninfo += key + "=" + ConninfoQuote(value);
  }

  std::unique_ptr<PostgresConnection> c(new PostgresConnection(request.source_name));
  c->handles_ = std::make_shared<PgHandles>();
  c->cstate_ = std::make_shared<CancelState>();
  t_capture = c->handles_.get();
  try {
    c->conn_ = std::make_unique<OwnedConn>(conninfo);
  } catch (const std::exception& e) {
    t_capture = nullptr;
    std::string msg = Scrub(CleanMessage(e.what()), request.password);
    absl::StatusCode code = absl::StatusCode::kUnavailable;
    if (Contains(msg, "password authentication failed") || Contains(msg, "no password supplied")) {
      code = absl::StatusCode::kPermissionDenied;
    } else if (Contains(msg, "too many clients") || Contains(msg, "remaining connection slots")) {
      code = absl::StatusCode::kResourceExhausted;
    } else if (Contains(msg, "does not exist")) {
      code = absl::StatusCode::kNotFound;
    }
    return absl::Status(code, where + "cannot connect: " + msg);
  }
  t_capture = nullptr;
  if (c->handles_->cancel == nullptr || c->handles_->conn == nullptr) {
    return absl::InternalError(where + "could not capture the libpq connection");
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // A lost session must surface as an error, never be silently replaced.
  c->conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  c->session_id_ = std::to_string(c->conn_->backendpid());
  c->request_ = request;
  {
    absl::MutexLock l(&c->cstate_->mu);
    c->cstate_->handles = c->handles_;
  }
  return c;
}

absl::Status PostgresConnection::EnsureLive() {
  if (broken()) return absl::UnavailableError("postgres: connection is broken");
  if (conn_ == nullptr || !conn_->is_open()) {
    broken_.store(true, std::memory_order_release);
    return absl::UnavailableError("postgres: connection is closed");
  }
  pollfd p{};
  p.fd = conn_->sock();
  p.events = POLLIN;
  if (p.fd < 0 || poll(&p, 1, 0) == 0) return absl::OkStatus();  // nothing pending: alive
  // Data or EOF on an idle session: the server's goodbye (FATAL 57P01/57P05)
  // or a hang-up.
  if (InTransaction()) {
    broken_.store(true, std::memory_order_release);
    return absl::UnavailableError(
        "postgres: the server closed the session during an open transaction (connection lost)");
  }
  auto fresh = Open(request_);
  if (!fresh.ok()) {
    broken_.store(true, std::memory_order_release);
    return absl::Status(fresh.status().code(),
                        Cat("postgres: the server closed an idle session and reconnecting failed: ",
                            std::string(fresh.status().message())));
  }
  PostgresConnection& f = **fresh;
  {
    absl::MutexLock l(&cstate_->mu);
    try {
      conn_.reset();
    } catch (...) {
    }
    conn_ = std::move(f.conn_);
    handles_ = std::move(f.handles_);
    cstate_->handles = handles_;
  }
  session_id_ = f.session_id_;
  prepared_.clear();
  prepared_order_.clear();
  types_.clear();
  ++reconnects_;
  return absl::OkStatus();
}

PostgresConnection::PostgresConnection(std::string source) : source_(std::move(source)) {}

PostgresConnection::~PostgresConnection() {
  if (cstate_ != nullptr) {
    absl::MutexLock l(&cstate_->mu);
    cstate_->in_flight = false;
    cstate_->handles.reset();
  }
  try {
    conn_.reset();
  } catch (...) {
  }
}

bool PostgresConnection::InTransaction() const {
  if (broken() || conn_ == nullptr || !conn_->is_open()) return false;
  PGTransactionStatusType s = Pq().transaction_status(handles_->conn);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

absl::Status PostgresConnection::MapException(std::string_view what) {
  std::string state, raw;
  bool lost = false;
  try {
    throw;
  } catch (const pqxx::too_many_connections& e) {
    state = "53300";
    raw = e.what();
  } catch (const pqxx::broken_connection& e) {
    raw = e.what();
    lost = true;
  } catch (const pqxx::sql_error& e) {
    state = e.sqlstate();
    raw = e.what();
  } catch (const pqxx::serialization_failure& e) {
    state = "40001";
    raw = e.what();
  } catch (const pqxx::deadlock_detected& e) {
    state = "40P01";
    raw = e.what();
  } catch (const pqxx::statement_completion_unknown& e) {
    state = "40003";
    raw = e.what();
  } catch (const pqxx::transaction_rollback& e) {
    state = "40000";
    raw = e.what();
  } catch (const pqxx::in_doubt_error& e) {
    raw = e.what();
    lost = true;
  } catch (const std::exception& e) {
    raw = e.what();
  } catch (...) {
    raw = "unknown error";
  }
  if (conn_ == nullptr || !conn_->is_open()) lost = true;
  return MapError(what, state, raw, lost);
}

absl::Status PostgresConnection::MapError(std::string_view what, const std::string& state,
                                          const std::string& raw, bool lost) {
  if (StartsWith(state, "08") || StartsWith(state, "57P")) lost = true;
  std::string msg = CleanMessage(raw);
  if (msg.empty()) msg = "server closed the connection";
  absl::StatusCode code;
  if (lost) {
    broken_.store(true, std::memory_order_release);
    code = absl::StatusCode::kUnavailable;
  } else if (state.empty()) {
    code = absl::StatusCode::kInternal;
  } else {
    code = CodeForSqlState(state, msg, cancelled_.load(std::memory_order_acquire));
  }
  std::string full = Cat("postgres: ", what, ": ", msg);
  if (!state.empty()) full += Cat(" [SQLSTATE ", state, "]");
  if (lost) full += Cat(" (connection lost)");
  return absl::Status(code, full);
}

template <typename Fn>
absl::Status PostgresConnection::Run(std::string_view what, Fn&& fn) {
  if (broken()) {
    return absl::UnavailableError(Cat("postgres: ", what, ": connection is broken"));
  }
  {
    absl::MutexLock l(&cstate_->mu);
    if (cancelled_.load(std::memory_order_acquire)) {
      return absl::CancelledError(Cat("postgres: ", what, ": cancelled"));
    }
    cstate_->in_flight = true;
    ++cstate_->generation;
  }
  dirty_ = true;
  absl::Status status;
  try {
    status = fn();
  } catch (...) {
    status = MapException(what);
    // Thrown while results were still arriving (e.g. out of memory in the
    // sink): the session is mid-command and is not used again.
    if (handles_ != nullptr && handles_->conn != nullptr &&
        Pq().transaction_status(handles_->conn) == PQTRANS_ACTIVE) {
      broken_.store(true, std::memory_order_release);
    }
  }
  {
    absl::MutexLock l(&cstate_->mu);
    cstate_->in_flight = false;
  }
  if (status.ok() && conn_ != nullptr && !conn_->is_open()) {
    broken_.store(true, std::memory_order_release);
  }
  return status;
}

void PostgresConnection::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  std::shared_ptr<CancelState> st = cstate_;
  if (st == nullptr) return;
  uint64_t generation;
  {
    absl::MutexLock l(&st->mu);
    if (!st->in_flight) return;
    generation = st->generation;
    SendCancel(*st);
  }
  // Repeat while the same execution is still running (see the header).
  std::thread([st, generation] {
    for (int i = 0; i < 40; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      absl::MutexLock l(&st->mu);
      if (!st->in_flight || st->generation != generation) return;
      SendCancel(*st);
    }
  }).detach();
}

absl::StatusOr<TypeInfo> PostgresConnection::LookupType(uint32_t oid, void* txp) {
  if (auto b = BuiltinType(oid)) return *b;
  auto it = types_.find(oid);
  if (it != types_.end()) return it->second;
  auto& tx = *static_cast<pqxx::transaction_base*>(txp);
  TypeInfo info;
  info.type = ValueType::kString;
  info.native_type = Cat("oid ", oid);
  pqxx::result r = tx.exec_params(
      "SELECT format_type(t.oid, NULL), t.typcategory, t.typelem, t.typdelim, "
      "t.typtype, bt.oid FROM pg_type t LEFT JOIN pg_type bt ON t.typtype = 'd' AND "
      "bt.oid = t.typbasetype WHERE t.oid = $1",
      static_cast<int64_t>(oid));
  if (!r.empty()) {
    info.native_type = r[0][0].c_str();
    std::string category = r[0][1].c_str();
    uint32_t elem = r[0][2].as<uint32_t>(0);
    std::string delim = r[0][3].c_str();
    if (!r[0][5].is_null()) {  // a domain: map as its base type
      if (auto b = BuiltinType(r[0][5].as<uint32_t>(0))) {
        std::string name = info.native_type;
        info = *b;
        info.native_type = name;
      }
    } else if (category == "A" && elem != 0) {
      info.type = ValueType::kJson;
      info.is_array = true;
      info.elem_oid = elem;
      info.delimiter = delim.empty() ? ',' : delim[0];
    }
  }
  types_[oid] = info;
  return info;
}

namespace {

struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// The server's SQLSTATE and message of a failed result, or the connection's
// message when there is no result.
void ResultError(PGconn* conn, const PGresult* r, std::string* state, std::string* raw) {
  const char* st = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (st != nullptr) *state = st;
  const char* msg = r != nullptr ? PQresultErrorMessage(r) : nullptr;
  if (msg == nullptr || *msg == '\0') msg = PQerrorMessage(conn);
  *raw = msg != nullptr ? msg : "";
}

int64_t CommandRows(PGresult* r) {
  const char* n = PQcmdTuples(r);
  return n != nullptr && *n != '\0' ? std::strtoll(n, nullptr, 10) : 0;
}

}  // namespace

absl::Status PostgresConnection::RawError(std::string_view what, const PGresult* r) {
  std::string state, raw;
  ResultError(handles_->conn, r, &state, &raw);
  return MapError(what, state, raw, PQstatus(handles_->conn) != CONNECTION_OK);
}

absl::Status PostgresConnection::RawCommand(std::string_view what, const std::string& sql) {
  ResultPtr r(PQexec(handles_->conn, sql.c_str()));
  if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return RawError(what, r.get());
  return absl::OkStatus();
}

absl::Status PostgresConnection::Execute(const Statement& stmt, const std::vector<BoundArg>& args,
                                         RowSink* sink, ExecStats* stats) {
  QG_ASSIGN_OR_RETURN(pqxx::internal::params params, BuildParams(stmt, args));
  QG_RETURN_IF_ERROR(CheckNoNul("the statement text", stmt.text));
  if (!cancelled_.load(std::memory_order_acquire)) QG_RETURN_IF_ERROR(EnsureLive());
  int64_t round_trips = 0;
  const bool in_tx = InTransaction();
  absl::Status status = Run("execute", [&]() -> absl::Status {
    PGconn* pc = handles_->conn;
    QG_RETURN_IF_ERROR(SetAccessMode(stmt.is_write, in_tx, &round_trips));
    std::string name;
    auto it = prepared_.find(stmt.text);
    if (it != prepared_.end()) {
      name = it->second;
    } else {
      if (prepared_.size() >= kMaxPrepared) {
        std::string old_text = prepared_order_.front();
        prepared_order_.pop_front();
        auto old = prepared_.find(old_text);
        if (old != prepared_.end()) {
          std::string old_name = old->second;
          prepared_.erase(old);
          if (!InTransaction()) {
            ++round_trips;
            QG_RETURN_IF_ERROR(RawCommand("execute", "DEALLOCATE " + old_name));
          }
        }
      }
      name = Cat("qg_", next_statement_++);
      ++round_trips;
      ResultPtr r(PQprepare(pc, name.c_str(), stmt.text.c_str(), 0, nullptr));
      if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        if (stats != nullptr) stats->round_trips += round_trips;
        return RawError("execute", r.get());
      }
      prepared_.emplace(stmt.text, name);
      prepared_order_.push_back(stmt.text);
    }
    const std::vector<const char*> values = params.get_pointers();
    ++round_trips;
    if (stats != nullptr) stats->round_trips += round_trips;
    if (PQsendQueryPrepared(pc, name.c_str(), static_cast<int>(values.size()), values.data(),
                            params.lengths.data(), params.binaries.data(), 0) == 0) {
      return RawError("execute", nullptr);
    }
    // Rows are converted as they arrive (libpq's single-row mode): a whole
    // PGresult of a large result is fresh memory the client faults in and
    // gives back on every statement, which cost more than the conversion.
    if (sink != nullptr) PQsetSingleRowMode(pc);
    absl::Status read = ReadResults(sink, stats, stmt.is_write);
    if (InTransaction() != in_tx && !broken()) {
      // The statement itself began or ended a transaction (BEGIN, COMMIT,
      // ROLLBACK, a procedure's COMMIT): the engine's transaction state and
      // the access mode above no longer hold, so the session is not reused.
      broken_.store(true, std::memory_order_release);
      return absl::FailedPreconditionError(
          "postgres: execute: a node's statement may not begin or end a transaction");
    }
    return read;
  });
  if (status.ok() && !stmt.is_write && cancelled_.load(std::memory_order_acquire)) {
    // Cancel() came too late to stop the server; the caller asked for it.
    return absl::CancelledError("postgres: execute: cancelled");
  }
  return status;
}

absl::Status PostgresConnection::ReadResults(RowSink* sink, ExecStats* stats, bool is_write) {
  PGconn* pc = handles_->conn;
  absl::Status error;      // the server's, or the sink's: the rest is drained
  bool described = false;  // the sink has the columns
  bool buffering = false;  // the columns have types not looked up yet
  std::vector<ResultPtr> buffered;
  std::vector<TypeInfo> infos;
  std::vector<Value> row;
  size_t n = 0;
  // Stops handing rows to the sink; outside a transaction the server is
  // asked to stop sending them (inside one, a cancelled statement would
  // abort the transaction, so the rest is read and dropped).
  auto stop = [&](absl::Status s) {
    error = std::move(s);
    if (!InTransaction() && handles_->cancel != nullptr) {
      char errbuf[256];
      Pq().cancel(handles_->cancel, errbuf, sizeof(errbuf));
    }
  };
  // Hands the rows of `r` to the sink.
  auto deliver = [&](PGresult* r) -> absl::Status {
    const int rows = PQntuples(r);
    const size_t ncols = infos.size();
    for (int t = 0; t < rows; ++t) {
      if ((++n & 1023) == 0 && cancelled_.load(std::memory_order_acquire)) {
        return absl::CancelledError("postgres: execute: cancelled");
      }
      row.clear();
      row.reserve(ncols);
      for (size_t i = 0; i < ncols; ++i) {
        const int col = static_cast<int>(i);
        if (PQgetisnull(r, t, col)) {
          row.emplace_back();
          continue;
        }
        QG_ASSIGN_OR_RETURN(
            Value v,
            FieldToValue(infos[i], std::string_view(PQgetvalue(r, t, col),
                                                    static_cast<size_t>(PQgetlength(r, t, col)))));
        row.push_back(std::move(v));
      }
      QG_RETURN_IF_ERROR(sink->OnRow(row));
    }
    return absl::OkStatus();
  };
  // Tells the sink the columns; false when a type must be looked up first.
  auto describe = [&](PGresult* r) -> absl::StatusOr<bool> {
    const int ncols = PQnfields(r);
    infos.assign(static_cast<size_t>(ncols), TypeInfo{});
    std::vector<ColumnInfo> cols(static_cast<size_t>(ncols));
    for (int i = 0; i < ncols; ++i) {
      const uint32_t oid = PQftype(r, i);
      std::optional<TypeInfo> known = BuiltinType(oid);
      if (!known) {
        auto cached = types_.find(oid);
        if (cached == types_.end()) return false;
        known = cached->second;
      }
      infos[i] = *known;
      cols[i].name = PQfname(r, i);
      cols[i].type = known->type;
      cols[i].native_type = known->native_type;
    }
    QG_RETURN_IF_ERROR(sink->OnColumns(cols));
    return true;
  };
  while (true) {
    ResultPtr r(PQgetResult(pc));
    if (r == nullptr) break;
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
      if (st == PGRES_TUPLES_OK && stats != nullptr && (is_write || PQnfields(r.get()) == 0)) {
        stats->rows_affected = CommandRows(r.get());
      }
      if (!error.ok() || sink == nullptr) continue;
      if (!described) {
        absl::StatusOr<bool> ready = describe(r.get());
        if (!ready.ok()) {
          stop(ready.status());
          continue;
        }
        described = true;
        buffering = !*ready;
      }
      if (buffering) {
        buffered.push_back(std::move(r));
        continue;
      }
      absl::Status s = deliver(r.get());
      if (!s.ok()) stop(std::move(s));
    } else if (st == PGRES_COMMAND_OK) {
      if (stats != nullptr) stats->rows_affected = CommandRows(r.get());
      if (error.ok() && sink != nullptr && !described) {
        absl::StatusOr<bool> ready = describe(r.get());  // no columns
        if (!ready.ok()) error = ready.status();
        described = true;
      }
    } else if (error.ok() || error.code() == absl::StatusCode::kCancelled) {
      error = RawError("execute", r.get());  // the server's reason wins over our cancel
    }
  }
  if (PQstatus(pc) != CONNECTION_OK && error.code() != absl::StatusCode::kUnavailable) {
    return RawError("execute", nullptr);  // marks the connection broken
  }
  if (!error.ok() || !buffering) return error;
  // First sight of a type on this connection: look it up, then the rows.
  {
    pqxx::nontransaction tx(*conn_);
    for (int i = 0; i < PQnfields(buffered.front().get()); ++i) {
      QG_RETURN_IF_ERROR(LookupType(PQftype(buffered.front().get(), i), &tx).status());
    }
  }
  QG_ASSIGN_OR_RETURN(bool ready, describe(buffered.front().get()));
  if (!ready) return absl::InternalError("postgres: execute: a column type could not be resolved");
  for (const ResultPtr& b : buffered) QG_RETURN_IF_ERROR(deliver(b.get()));
  return absl::OkStatus();
}

absl::Status PostgresConnection::Ping(std::string_view query) {
  std::string sql = query.empty() ? std::string("SELECT 1") : std::string(query);
  bool was_dirty = dirty_;
  absl::Status s = Run("ping", [&]() -> absl::Status {
    pqxx::nontransaction tx(*conn_);
    tx.exec(sql);
    return absl::OkStatus();
  });
  if (query.empty()) dirty_ = was_dirty;  // SELECT 1 changes nothing
  return s;
}

absl::StatusOr<std::string> PostgresConnection::Simple(std::string_view what,
                                                       const std::string& sql) {
  std::string tag;  // unused: libpqxx 6 keeps the command tag private
  QG_RETURN_IF_ERROR(Run(what, [&]() -> absl::Status {
    pqxx::nontransaction tx(*conn_);
    tx.exec(sql);
    return absl::OkStatus();
  }));
  return tag;
}

// What a session can keep from a user besides our own prepared statements:
// the first statement says whether anything that could change how they parse
// or what they return is left (a session setting, a temporary object that
// may shadow a table, a PREPAREd statement of the user's); the rest undoes
// what DISCARD ALL undoes except DEALLOCATE ALL and DISCARD PLANS, in the
// same request. When the answer is yes, DISCARD ALL follows and the
// statement cache is dropped with it (its plans may refer to what is gone).
constexpr char kResetSql[] =
    "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE source = 'session' "
    "AND name <> 'default_transaction_read_only') "
    "OR EXISTS (SELECT 1 FROM pg_prepared_statements WHERE from_sql) "
    "OR EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = pg_my_temp_schema()) "
    "OR EXISTS (SELECT 1 FROM pg_type WHERE typnamespace = pg_my_temp_schema()) "
    "OR EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = pg_my_temp_schema()); "
    "CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD SEQUENCES; DISCARD TEMP; "
    "SET SESSION AUTHORIZATION DEFAULT; RESET ALL";

absl::Status PostgresConnection::Reset() {
  // A cancel that raced with the end of the last statement is harmless: the
  // server ignores a cancel request that reaches an idle session.
  {
    absl::MutexLock l(&cstate_->mu);
    cancelled_.store(false, std::memory_order_release);
  }
  if (broken()) return absl::UnavailableError("postgres: reset: connection is broken");
  if (!dirty_) return absl::OkStatus();
  ro_savepoint_ = false;
  // One request: ROLLBACK (when libpq says a transaction is open), the check
  // and the clean-up above. RESET ALL goes back to the startup values, so
  // statement_timeout, default_transaction_read_only etc. stay.
  std::string sql = Cat(InTransaction() ? "ROLLBACK; " : "", kResetSql);
  bool discard = false;
  absl::Status st = Run("reset", [&]() -> absl::Status {
    PGconn* pc = handles_->conn;
    if (PQsendQuery(pc, sql.c_str()) == 0) return RawError("reset", nullptr);
    absl::Status error;
    bool first_rows = true;
    while (true) {
      ResultPtr r(PQgetResult(pc));
      if (r == nullptr) break;
      const ExecStatusType rs = PQresultStatus(r.get());
      if (rs == PGRES_TUPLES_OK) {
        if (first_rows && PQntuples(r.get()) == 1 && PQnfields(r.get()) == 1) {
          discard = std::string_view(PQgetvalue(r.get(), 0, 0)) != "f";
        }
        first_rows = false;
      } else if (rs != PGRES_COMMAND_OK && error.ok()) {
        error = RawError("reset", r.get());
      }
    }
    QG_RETURN_IF_ERROR(error);
    if (discard) QG_RETURN_IF_ERROR(RawCommand("reset", "DISCARD ALL"));
    return absl::OkStatus();
  });
  dirty_ = false;
  if (discard || !st.ok()) {
    prepared_.clear();
    prepared_order_.clear();
    types_.clear();
  }
  if (!st.ok()) {
    broken_.store(true, std::memory_order_release);
    return st;
  }
  return absl::OkStatus();
}

absl::Status PostgresConnection::Begin(const TxOptions& options) {
  if (InTransaction()) {
    return absl::FailedPreconditionError("postgres: begin: a transaction is already open");
  }
  QG_RETURN_IF_ERROR(EnsureLive());
  std::string sql = Cat("BEGIN", IsolationSql(options.isolation),
                        options.read_only ? " READ ONLY" : " READ WRITE");
  ro_savepoint_ = false;
  return Simple("begin", sql).status();
}

std::string PostgresConnection::Literal(std::string_view text) const {
  std::string lit = "'";
  lit += conn_->esc(std::string(text));  // PQescapeStringConn
  lit += '\'';
  return lit;
}

bool PostgresConnection::TransactionFailed() const {
  if (broken() || conn_ == nullptr || !conn_->is_open()) return false;
  return Pq().transaction_status(handles_->conn) == PQTRANS_INERROR;
}

absl::Status PostgresConnection::Commit() {
  // COMMIT of a failed transaction "succeeds" by rolling back: say so.
  if (TransactionFailed()) {
    ro_savepoint_ = false;
    QG_RETURN_IF_ERROR(Simple("commit", "ROLLBACK").status());
    return absl::AbortedError(
        "postgres: commit: the transaction was rolled back because an earlier statement failed");
  }
  return Simple("commit", EndReadOnly() + "COMMIT").status();
}

absl::Status PostgresConnection::Rollback() {
  ro_savepoint_ = false;
  return Simple("rollback", "ROLLBACK").status();
}

std::string PostgresConnection::EndReadOnly() {
  if (!ro_savepoint_) return "";
  ro_savepoint_ = false;
  return Cat("RELEASE SAVEPOINT ", kReadOnlySavepoint, "; ");
}

absl::Status PostgresConnection::SetAccessMode(bool write, bool in_tx, int64_t* round_trips) {
  PGconn* pc = handles_->conn;
  std::string sql;
  if (in_tx) {
    // Inside a read-write transaction a read runs in a subtransaction made
    // read-only; PostgreSQL restores the access mode when it ends. Each read
    // gets a fresh one (whatever the previous statement did to it); its
    // RELEASE rides along with the next request (here, or the write's, or
    // COMMIT / PREPARE / SAVEPOINT), so a read costs one round trip more.
    if (write) {
      sql = EndReadOnly();
    } else {
      sql = Cat(EndReadOnly(), "SAVEPOINT ", kReadOnlySavepoint, "; SET TRANSACTION READ ONLY");
      ro_savepoint_ = true;
    }
  } else {
    // Outside a transaction: the session default decides (libpq tracks it
    // from the server's ParameterStatus reports: no round trip to check).
    const char* v = PQparameterStatus(pc, "default_transaction_read_only");
    const bool read_only = v != nullptr && std::string_view(v) == "on";
    if (write && read_only) sql = "SET default_transaction_read_only = off";
    if (!write && !read_only) sql = "SET default_transaction_read_only = on";
  }
  if (sql.empty()) return absl::OkStatus();
  if (sql.ends_with("; ")) sql.resize(sql.size() - 2);
  ++*round_trips;
  return RawCommand("execute", sql);
}

absl::Status PostgresConnection::Savepoint(std::string_view name) {
  QG_RETURN_IF_ERROR(CheckNoNul("the savepoint name", name));
  if (conn_ == nullptr) return absl::UnavailableError("postgres: not connected");
  return Simple("savepoint", EndReadOnly() + "SAVEPOINT " + conn_->quote_name(std::string(name)))
      .status();
}

absl::Status PostgresConnection::RollbackToSavepoint(std::string_view name) {
  QG_RETURN_IF_ERROR(CheckNoNul("the savepoint name", name));
  ro_savepoint_ = false;  // it was opened after `name` (Savepoint ends it first)
  return Simple("rollback to savepoint",
                "ROLLBACK TO SAVEPOINT " + conn_->quote_name(std::string(name)))
      .status();
}

absl::Status PostgresConnection::ReleaseSavepoint(std::string_view name) {
  QG_RETURN_IF_ERROR(CheckNoNul("the savepoint name", name));
  return Simple("release savepoint",
                EndReadOnly() + "RELEASE SAVEPOINT " + conn_->quote_name(std::string(name)))
      .status();
}

absl::Status PostgresConnection::PrepareTransaction(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckNoNul("the transaction id", gid));
  if (!InTransaction()) {
    return absl::FailedPreconditionError("postgres: prepare transaction: no transaction is open");
  }
  if (TransactionFailed()) {
    ro_savepoint_ = false;
    QG_RETURN_IF_ERROR(Simple("prepare transaction", "ROLLBACK").status());
    return absl::AbortedError(
        "postgres: prepare transaction: the transaction was rolled back because an earlier "
        "statement failed");
  }
  return Simple("prepare transaction", EndReadOnly() + "PREPARE TRANSACTION " + Literal(gid))
      .status();
}

absl::Status PostgresConnection::CommitPrepared(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckNoNul("the transaction id", gid));
  return Simple("commit prepared", "COMMIT PREPARED " + Literal(gid)).status();
}

absl::Status PostgresConnection::RollbackPrepared(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckNoNul("the transaction id", gid));
  return Simple("rollback prepared", "ROLLBACK PREPARED " + Literal(gid)).status();
}

absl::StatusOr<std::vector<std::string>> PostgresConnection::ListPrepared(std::string_view prefix) {
  QG_RETURN_IF_ERROR(CheckNoNul("the prefix", prefix));
  std::vector<std::string> gids;
  std::string p(prefix);
  QG_RETURN_IF_ERROR(Run("list prepared", [&]() -> absl::Status {
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() "
        "AND starts_with(gid, $1) ORDER BY gid",
        p);
    for (const auto& row : r) gids.emplace_back(row[0].c_str());
    return absl::OkStatus();
  }));
  return gids;
}

namespace {

void WalkPlan(simdjson::dom::element node, bool* uses_index) {
  std::string_view type;
  if (node["Node Type"].get(type) == simdjson::SUCCESS && Contains(type, "Index")) {
    *uses_index = true;
  }
  simdjson::dom::array plans;
  if (node["Plans"].get(plans) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : plans) WalkPlan(child, uses_index);
  }
}

double Number(simdjson::dom::element e, const char* key) {
  double d = 0;
  if (e[key].get(d) == simdjson::SUCCESS) return d;
  int64_t i = 0;
  if (e[key].get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  return -1;
}

}  // namespace

absl::StatusOr<CostEstimate> PostgresConnection::EstimateCost(const Statement& stmt,
                                                              const std::vector<BoundArg>& args) {
  std::vector<BoundArg> use = args;
  use.resize(stmt.args.size());
  bool all_values = true;
  for (const BoundArg& a : use) {
    if (!a.is_array && a.value.is_null()) all_values = false;
  }
  std::string json;
  QG_RETURN_IF_ERROR(CheckNoNul("the statement text", stmt.text));
  if (all_values) {
    // A custom plan for these values, through an unnamed statement.
    QG_ASSIGN_OR_RETURN(pqxx::internal::params params, BuildParams(stmt, use));
    QG_RETURN_IF_ERROR(Run("explain", [&]() -> absl::Status {
      pqxx::nontransaction tx(*conn_);
      pqxx::result r = tx.exec_params("EXPLAIN (FORMAT JSON) " + stmt.text, std::move(params));
      if (!r.empty()) json = r[0][0].c_str();
      return absl::OkStatus();
    }));
  } else {
    // The generic plan: PREPARE, then EXPLAIN EXECUTE with NULLs under
    // plan_cache_mode = force_generic_plan.
    std::string name = Cat("qg_est_", next_statement_++);
    std::string nulls;
    for (size_t i = 0; i < use.size(); ++i) nulls += Cat(i ? ", " : "", "NULL");
    std::string exec =
        Cat("EXPLAIN (FORMAT JSON) EXECUTE ", name, use.empty() ? "" : "(" + nulls + ")");
    QG_RETURN_IF_ERROR(Run("explain", [&]() -> absl::Status {
      pqxx::nontransaction tx(*conn_);
      tx.exec("PREPARE " + name + " AS " + stmt.text);
      absl::Status s;
      try {
        tx.exec("SET plan_cache_mode = force_generic_plan");
        pqxx::result r = tx.exec(exec);
        if (!r.empty()) json = r[0][0].c_str();
      } catch (...) {
        s = MapException("explain");
      }
      if (!broken()) {
        try {
          if (Pq().transaction_status(handles_->conn) != PQTRANS_INERROR) {
            tx.exec("RESET plan_cache_mode");
            tx.exec("DEALLOCATE " + name);
          }
        } catch (...) {
        }
      }
      return s;
    }));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) {
    return absl::InternalError("postgres: explain: unreadable EXPLAIN output");
  }
  simdjson::dom::element plan;
  if (doc.at(0)["Plan"].get(plan) != simdjson::SUCCESS) {
    return absl::InternalError("postgres: explain: no plan in EXPLAIN output");
  }
  // PostgreSQL cost units are roughly one cached page read each; we count one
  // as 0.01 ms, plus a round trip per execution and a transfer cost per row.
  constexpr double kMsPerUnit = 0.01;
  constexpr double kRoundTripMs = 0.15;
  constexpr double kTransferMsPerRow = 0.0005;
  CostEstimate est;
  double startup = std::max(0.0, Number(plan, "Startup Cost"));
  double total = std::max(startup, Number(plan, "Total Cost"));
  est.rows = Number(plan, "Plan Rows");
  est.startup_cost = kRoundTripMs + startup * kMsPerUnit;
  double rows = est.rows > 1 ? est.rows : 1;
  est.per_row_cost = kTransferMsPerRow + (total - startup) * kMsPerUnit / rows;
  WalkPlan(plan, &est.uses_index);
  est.origin = "postgres EXPLAIN";
  return est;
}

}  // namespace qg::pg
