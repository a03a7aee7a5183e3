#include "providers/mysql/mysql_connection.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "qg/duration.h"

namespace qg::mysql {
namespace {

// MariaDB-only error numbers (not in every mysqld_error.h).
constexpr unsigned int kErStatementTimeout = 1969;  // max_statement_time exceeded
constexpr unsigned int kErConnectionKilled = 1927;
constexpr unsigned int kErMysqlQueryTimeout = 3024;      // MySQL max_execution_time
constexpr unsigned int kErMysqlClientInactivity = 4031;  // MySQL 8: idle session closed
constexpr unsigned int kCrServerLostExtended = 2055;

void LibraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

std::string Shorten(std::string_view sql) {
  constexpr size_t kMax = 400;
  if (sql.size() <= kMax) return std::string(sql);
  return absl::StrCat(Av(sql.substr(0, kMax)), "... (", sql.size(), " bytes)");
}

std::string Scrub(std::string msg, std::string_view secret) {
  if (secret.size() < 3) return msg;  // too short to be found by accident
  size_t pos;
  while ((pos = msg.find(secret)) != std::string::npos) msg.replace(pos, secret.size(), "***");
  return msg;
}

absl::StatusOr<absl::Duration> ParseDur(std::string_view key, const std::string& value) {
  if (absl::StatusOr<absl::Duration> d = qg::ParseDuration(value); d.ok()) return *d;
  return absl::InvalidArgumentError(absl::StrCat("mysql option ", Av(key), "='", value,
                                                 "' is not a duration (\"30s\", \"500ms\")"));
}

// Whole seconds for the driver's timeouts (at least 1 when set).
unsigned int TimeoutSeconds(absl::Duration d) {
  double s = std::ceil(absl::ToDoubleSeconds(d));
  if (s < 1) s = 1;
  if (s > 86400 * 365) s = 86400 * 365;
  return static_cast<unsigned int>(s);
}

// Applies the endpoint's options to a fresh handle.
void SetOptions(MYSQL* m, const Endpoint& e, absl::Duration connect_timeout,
                absl::Duration io_timeout_default) {
  unsigned int ct = TimeoutSeconds(connect_timeout);
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  absl::Duration rt = e.read_timeout > absl::ZeroDuration() ? e.read_timeout : io_timeout_default;
  absl::Duration wt = e.write_timeout > absl::ZeroDuration() ? e.write_timeout : io_timeout_default;
  if (rt > absl::ZeroDuration()) {
    unsigned int s = TimeoutSeconds(rt);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &s);
  }
  if (wt > absl::ZeroDuration()) {
    unsigned int s = TimeoutSeconds(wt);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &s);
  }
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, e.charset.c_str());
  my_bool reconnect = 0;  // a silent reconnect would lose session state
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &reconnect);
  if (e.ssl_mode == "required" || e.ssl_mode == "verify_ca" || e.ssl_mode == "verify_identity") {
    my_bool on = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (e.ssl_mode != "required") mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
  }
}

MYSQL* RealConnect(MYSQL* m, const Endpoint& e, bool with_db) {
  const char* host = e.unix_socket.empty() ? e.host.c_str() : "localhost";
  const char* sock = e.unix_socket.empty() ? nullptr : e.unix_socket.c_str();
  const char* db = with_db && !e.dbname.empty() ? e.dbname.c_str() : nullptr;
  const char* user = e.user.empty() ? nullptr : e.user.c_str();
  return mysql_real_connect(m, host, user, e.password.c_str(), db, e.port, sock,
                            CLIENT_MULTI_RESULTS);
}

const char* IsolationSql(IsolationLevel level) {
  switch (level) {
    case IsolationLevel::kReadCommitted:
      return "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";
    case IsolationLevel::kRepeatableRead:
      return "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case IsolationLevel::kSerializable:
      return "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
    default:
      return nullptr;
  }
}

absl::Status CheckGid(std::string_view gid) {
  if (gid.empty()) return absl::InvalidArgumentError("mysql: empty XA transaction id");
  if (gid.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("mysql: XA transaction id of ", gid.size(), " bytes (at most 64)"));
  }
  return absl::OkStatus();
}

// ---- result columns --------------------------------------------------------

enum class Kind {
  kInt,
  kUInt,
  kDouble,
  kDecimal,
  kDate,
  kDateTime,
  kTime,
  kString,
  kBytes,
  kJson,
  kBit,
  kNull
};

bool IsJsonField(const MYSQL_FIELD& f) {
  if (f.type == MYSQL_TYPE_JSON) return true;
  // MariaDB: JSON is LONGTEXT with a check; the extended metadata says so.
  MARIADB_CONST_STRING attr{nullptr, 0};
  if (mariadb_field_attr(&attr, &f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && attr.str != nullptr) {
    return std::string_view(attr.str, attr.length) == "json";
  }
  return false;
}

Kind KindFor(const MYSQL_FIELD& f) {
  switch (f.type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return (f.flags & UNSIGNED_FLAG) != 0 ? Kind::kUInt : Kind::kInt;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
      return Kind::kDouble;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return Kind::kDecimal;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return Kind::kDate;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2:
      return Kind::kDateTime;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      return Kind::kTime;
    case MYSQL_TYPE_BIT:
      return Kind::kBit;
    case MYSQL_TYPE_NULL:
      return Kind::kNull;
    case MYSQL_TYPE_JSON:
      return Kind::kJson;
    default:
      if (IsJsonField(f)) return Kind::kJson;
      return f.charsetnr == 63 ? Kind::kBytes : Kind::kString;
  }
}

ValueType ValueTypeFor(Kind k, const MYSQL_FIELD& f) {
  switch (k) {
    case Kind::kInt:
      return ValueType::kInt64;
    case Kind::kUInt:  // BIGINT UNSIGNED above INT64_MAX is a decimal
      return f.type == MYSQL_TYPE_LONGLONG ? ValueType::kNull : ValueType::kInt64;
    case Kind::kBit:
      return f.length >= 64 ? ValueType::kNull : ValueType::kInt64;
    case Kind::kDouble:
      return ValueType::kDouble;
    case Kind::kDecimal:
      return ValueType::kDecimal;
    case Kind::kDate:
    case Kind::kDateTime:
    case Kind::kTime:
      return ValueType::kTimestamp;
    case Kind::kString:
      return ValueType::kString;
    case Kind::kBytes:
      return ValueType::kBytes;
    case Kind::kJson:
      return ValueType::kJson;
    case Kind::kNull:
      return ValueType::kNull;
  }
  return ValueType::kNull;
}

std::string NativeTypeName(const MYSQL_FIELD& f, Kind k) {
  std::string name;
  switch (f.type) {
    case MYSQL_TYPE_TINY:
      name = "TINYINT";
      break;
    case MYSQL_TYPE_SHORT:
      name = "SMALLINT";
      break;
    case MYSQL_TYPE_INT24:
      name = "MEDIUMINT";
      break;
    case MYSQL_TYPE_LONG:
      name = "INT";
      break;
    case MYSQL_TYPE_LONGLONG:
      name = "BIGINT";
      break;
    case MYSQL_TYPE_YEAR:
      return "YEAR";
    case MYSQL_TYPE_FLOAT:
      name = "FLOAT";
      break;
    case MYSQL_TYPE_DOUBLE:
      name = "DOUBLE";
      break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: {
      // length counts the digits plus sign and point.
      unsigned long digits =
          f.length - (f.decimals > 0 ? 1 : 0) - ((f.flags & UNSIGNED_FLAG) != 0 ? 0 : 1);
      name = absl::StrCat("DECIMAL(", digits, ",", f.decimals, ")");
      break;
    }
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return "DATE";
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
      name = "DATETIME";
      break;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
      name = "TIMESTAMP";
      break;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      name = "TIME";
      break;
    case MYSQL_TYPE_BIT:
      return absl::StrCat("BIT(", f.length, ")");
    case MYSQL_TYPE_NULL:
      return "NULL";
    case MYSQL_TYPE_JSON:
      return "JSON";
    case MYSQL_TYPE_ENUM:
      return "ENUM";
    case MYSQL_TYPE_SET:
      return "SET";
    case MYSQL_TYPE_GEOMETRY:
      return "GEOMETRY";
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
      if (k == Kind::kJson) return "JSON";
      return k == Kind::kBytes ? "BLOB" : "TEXT";
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
      if (k == Kind::kJson) return "JSON";
      return k == Kind::kBytes ? "VARBINARY" : "VARCHAR";
    case MYSQL_TYPE_STRING:
      if ((f.flags & ENUM_FLAG) != 0) return "ENUM";
      if ((f.flags & SET_FLAG) != 0) return "SET";
      return k == Kind::kBytes ? "BINARY" : "CHAR";
    default:
      return absl::StrCat("TYPE ", static_cast<int>(f.type));
  }
  if ((k == Kind::kDateTime || k == Kind::kTime) && f.decimals > 0 && f.decimals <= 6) {
    absl::StrAppend(&name, "(", f.decimals, ")");
  }
  if ((f.flags & UNSIGNED_FLAG) != 0 && k != Kind::kDateTime) name += " UNSIGNED";
  return name;
}

// Fractional seconds with the column's declared digits (all six, trimmed of
// nothing, when the column does not say).
void AppendFraction(std::string* out, unsigned long micros, unsigned int decimals) {
  if (decimals == 0) return;
  char buf[16];
  if (decimals > 6) {
    if (micros == 0) return;
    decimals = 6;
  }
  unsigned long v = micros;
  for (unsigned int i = decimals; i < 6; ++i) v /= 10;
  std::snprintf(buf, sizeof(buf), ".%0*lu", static_cast<int>(decimals), v);
  *out += buf;
}

std::string FormatTime(const MYSQL_TIME& t, Kind k, unsigned int decimals) {
  char buf[64];
  std::string out;
  if (k == Kind::kDate) {
    std::snprintf(buf, sizeof(buf), "%04u-%02u-%02u", t.year, t.month, t.day);
    return buf;
  }
  if (k == Kind::kTime) {
    unsigned long hours = static_cast<unsigned long>(t.day) * 24 + t.hour;
    std::snprintf(buf, sizeof(buf), "%s%02lu:%02u:%02u", t.neg ? "-" : "", hours, t.minute,
                  t.second);
    out = buf;
  } else {
    std::snprintf(buf, sizeof(buf), "%04u-%02u-%02u %02u:%02u:%02u", t.year, t.month, t.day, t.hour,
                  t.minute, t.second);
    out = buf;
  }
  AppendFraction(&out, t.second_part, decimals);
  return out;
}

Value UnsignedValue(uint64_t u) {
  if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Value::Int(static_cast<int64_t>(u));
  }
  return Value::Decimal(std::to_string(u));
}

struct ColBuf {
  Kind kind = Kind::kString;
  unsigned int decimals = 0;
  std::string buf;
  int64_t i = 0;
  double d = 0;
  MYSQL_TIME t{};
  unsigned long length = 0;
  my_bool is_null = 0;
  my_bool error = 0;
};

bool IsTextKind(Kind k) {
  return k == Kind::kDecimal || k == Kind::kString || k == Kind::kBytes || k == Kind::kJson ||
         k == Kind::kBit || k == Kind::kNull;
}

// Resets and frees a statement's result however Execute leaves.
class ResultGuard {
 public:
  ResultGuard(MYSQL_STMT* s, MYSQL_RES* meta) : s_(s), meta_(meta) {}
  ~ResultGuard() {
    if (meta_ != nullptr) mysql_free_result(meta_);
    mysql_stmt_free_result(s_);
    while (mysql_stmt_more_results(s_) && mysql_stmt_next_result(s_) == 0) {
      mysql_stmt_free_result(s_);
    }
  }
  ResultGuard(const ResultGuard&) = delete;
  ResultGuard& operator=(const ResultGuard&) = delete;

 private:
  MYSQL_STMT* s_;
  MYSQL_RES* meta_;
};

}  // namespace

// ---- helpers exposed in the header -----------------------------------------

std::string HexLiteral(std::string_view bytes) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "X'";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  out += '\'';
  return out;
}

absl::StatusCode CodeForError(unsigned int err, bool* breaks) {
  *breaks = false;
  switch (err) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case kCrServerLostExtended:
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case kErConnectionKilled:
    case kErMysqlClientInactivity:
    case ER_SERVER_SHUTDOWN:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
      *breaks = true;
      return absl::StatusCode::kUnavailable;
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
      return absl::StatusCode::kUnavailable;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_XA_RBDEADLOCK:
    case ER_XA_RBTIMEOUT:
    case ER_XA_RBROLLBACK:
      return absl::StatusCode::kAborted;
    case ER_QUERY_INTERRUPTED:
      return absl::StatusCode::kCancelled;
    case kErStatementTimeout:
    case kErMysqlQueryTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
      return absl::StatusCode::kPermissionDenied;
    case ER_BAD_DB_ERROR:
      return absl::StatusCode::kNotFound;
    case ER_XAER_NOTA:
      return absl::StatusCode::kNotFound;
    case ER_XAER_RMFAIL:
    case ER_XAER_OUTSIDE:
    case ER_XAER_DUPID:
      return absl::StatusCode::kFailedPrecondition;
    case ER_DUP_ENTRY:
    case ER_DUP_KEY:
      return absl::StatusCode::kAlreadyExists;
    case ER_ROW_IS_REFERENCED_2:
    case ER_NO_REFERENCED_ROW_2:
    case ER_BAD_NULL_ERROR:
    case ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION:
      return absl::StatusCode::kFailedPrecondition;
    case ER_OUTOFMEMORY:
    case CR_OUT_OF_MEMORY:
    case ER_NET_PACKET_TOO_LARGE:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (err >= 2000 && err < 3000) return absl::StatusCode::kInternal;  // client errors
  return absl::StatusCode::kInvalidArgument;  // syntax, unknown column/table, bad value, ...
}

absl::StatusOr<Endpoint> ParseEndpoint(const ConnectRequest& request) {
  Endpoint e;
  e.source = request.source_name;
  e.user = request.user;
  e.password = request.password;
  e.connect_timeout = request.connect_timeout;
  e.statement_timeout = request.statement_timeout;
  const std::string where = absl::StrCat("mysql source '", request.source_name, "': ");
  std::string_view s = request.connect;
  size_t i = 0;
  while (true) {
    while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    size_t k = i;
    while (i < s.size() && s[i] != '=' && !absl::ascii_isspace(static_cast<unsigned char>(s[i])))
      ++i;
    std::string key(s.substr(k, i - k));
    while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size() || s[i] != '=') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "connection string: expected key=value at '", key, "'"));
    }
    ++i;
    while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else if (c == '\'') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "connection string: unterminated quote in ", key));
      }
    } else {
      size_t v = i;
      while (i < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[i]))) ++i;
      value = std::string(s.substr(v, i - v));
    }
    if (key == "host") {
      e.host = value;
    } else if (key == "port") {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(value, &port) || port == 0 || port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(where, "port '", value, "' is not a port"));
      }
      e.port = port;
    } else if (key == "dbname" || key == "database" || key == "db") {
      e.dbname = value;
    } else if (key == "unix_socket" || key == "socket") {
      e.unix_socket = value;
    } else if (key == "charset") {
      e.charset = value;
    } else if (key == "user" || key == "password") {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       "credentials do not belong in the connection string: give \"user\" and "
                       "\"password\" in the source instead"));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "unknown connection string key '", key,
                       "' (known: host, port, dbname, unix_socket, charset)"));
    }
  }
  for (const auto& [key, value] : request.options) {
    if (key == "ssl_mode") {
      std::string m = absl::AsciiStrToLower(value);
      if (m != "disabled" && m != "preferred" && m != "required" && m != "verify_ca" &&
          m != "verify_identity") {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "ssl_mode='", value,
            "' is not one of disabled, preferred, required, verify_ca, verify_identity"));
      }
      e.ssl_mode = m;
    } else if (key == "charset") {
      e.charset = value;
    } else if (key == "read_timeout") {
      QG_ASSIGN_OR_RETURN(e.read_timeout, ParseDur(key, value));
    } else if (key == "write_timeout") {
      QG_ASSIGN_OR_RETURN(e.write_timeout, ParseDur(key, value));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "unknown mysql option '", key,
                       "' (known: ssl_mode, charset, read_timeout, write_timeout)"));
    }
  }
  if (e.charset.empty() ||
      e.charset.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "charset '", e.charset, "' is not a character set name"));
  }
  return e;
}

// ---- MysqlConnection -------------------------------------------------------

MysqlConnection::MysqlConnection(Endpoint endpoint)
    : endpoint_(std::move(endpoint)), kill_line_(KillLine::For(endpoint_)) {}

MysqlConnection::~MysqlConnection() { CloseSession(); }

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlConnection::Open(Endpoint endpoint) {
  LibraryInit();
  std::unique_ptr<MysqlConnection> c(new MysqlConnection(std::move(endpoint)));
  QG_RETURN_IF_ERROR(c->Connect());
  return c;
}

void MysqlConnection::CloseSession() {
  for (Cached& c : lru_) mysql_stmt_close(c.stmt);
  lru_.clear();
  cache_.clear();
  if (mysql_ != nullptr) mysql_close(mysql_);
  mysql_ = nullptr;
  in_tx_ = false;
  xa_ = XaState::kNone;
  xa_gid_.clear();
}

absl::Status MysqlConnection::Connect() {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("mysql source '", endpoint_.source, "': mysql_init failed (out of memory)"));
  }
  SetOptions(m, endpoint_, endpoint_.connect_timeout, absl::ZeroDuration());
  if (RealConnect(m, endpoint_, /*with_db=*/true) == nullptr) {
    unsigned int err = mysql_errno(m);
    bool breaks = false;
    absl::StatusCode code = CodeForError(err, &breaks);
    if (code == absl::StatusCode::kInternal || code == absl::StatusCode::kInvalidArgument) {
      code = absl::StatusCode::kUnavailable;
    }
    std::string target = endpoint_.unix_socket.empty()
                             ? absl::StrCat(endpoint_.host, ":", endpoint_.port)
                             : endpoint_.unix_socket;
    absl::Status st(code, absl::StrCat("mysql source '", endpoint_.source, "': connect to ", target,
                                       " failed: error ", err, " (", mysql_sqlstate(m),
                                       "): ", Scrub(mysql_error(m), endpoint_.password)));
    mysql_close(m);
    return st;
  }
  mysql_ = m;
  thread_id_.store(mysql_thread_id(m), std::memory_order_release);
  const char* info = mysql_get_server_info(m);
  is_mariadb_ = info != nullptr && std::strstr(info, "MariaDB") != nullptr;
  absl::Status st = SetupSession();
  if (!st.ok()) CloseSession();
  return st;
}

const char* MysqlConnection::ReadOnlyVariable() const {
  return is_mariadb_ ? "tx_read_only" : "transaction_read_only";
}

absl::Status MysqlConnection::SetupSession() {
  // Read-only by default: a statement outside a transaction may not write
  // (the server refuses with error 1792) unless Execute switched the session
  // to READ WRITE for a write node.
  std::string sql = absl::StrCat("SET SESSION ", ReadOnlyVariable(), " = 1");
  if (endpoint_.statement_timeout > absl::ZeroDuration()) {
    if (is_mariadb_) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.3f", absl::ToDoubleSeconds(endpoint_.statement_timeout));
      absl::StrAppend(&sql, ", SESSION max_statement_time = ", buf);
    } else {
      absl::StrAppend(&sql, ", SESSION max_execution_time = ",
                      std::max<int64_t>(1, absl::ToInt64Milliseconds(endpoint_.statement_timeout)));
    }
  }
  QG_RETURN_IF_ERROR(Simple("session setup", sql, /*check_cancel=*/false));
  session_read_only_ = true;
  dirty_ = false;
  return absl::OkStatus();
}

std::string MysqlConnection::session_id() const {
  return std::to_string(thread_id_.load(std::memory_order_acquire));
}

absl::Status MysqlConnection::MakeError(unsigned int err, const char* sqlstate, const char* msg,
                                        std::string_view what, std::string_view sql) {
  bool breaks = false;
  absl::StatusCode code = CodeForError(err, &breaks);
  if (breaks) broken_.store(true, std::memory_order_release);
  std::string m = absl::StrCat("mysql source '", endpoint_.source, "': ", Av(what), ": error ", err,
                               " (", sqlstate != nullptr ? sqlstate : "HY000",
                               "): ", Scrub(msg != nullptr ? msg : "", endpoint_.password));
  if (!sql.empty()) absl::StrAppend(&m, " in: ", Shorten(sql));
  return absl::Status(code, m);
}

absl::Status MysqlConnection::ConnError(std::string_view what, std::string_view sql) {
  return MakeError(mysql_errno(mysql_), mysql_sqlstate(mysql_), mysql_error(mysql_), what, sql);
}

absl::Status MysqlConnection::StmtError(MYSQL_STMT* s, std::string_view what,
                                        std::string_view sql) {
  if (mysql_stmt_errno(s) == 0 && mysql_errno(mysql_) != 0) {
    // Errors met while streaming rows (e.g. max_statement_time during a
    // fetch) are recorded on the connection, not the statement.
    return ConnError(what, sql);
  }
  return MakeError(mysql_stmt_errno(s), mysql_stmt_sqlstate(s), mysql_stmt_error(s), what, sql);
}

absl::Status MysqlConnection::CancelledStatus() const {
  return absl::CancelledError(
      absl::StrCat("mysql source '", endpoint_.source, "': statement cancelled"));
}

bool MysqlConnection::InTransaction() {
  if (in_tx_ || xa_ == XaState::kActive) return true;
  if (mysql_ == nullptr) return false;
  unsigned int status = 0;
  if (mariadb_get_infov(mysql_, MARIADB_CONNECTION_SERVER_STATUS, &status) == 0) {
    return (status & SERVER_STATUS_IN_TRANS) != 0;
  }
  return false;
}

absl::Status MysqlConnection::EnsureAlive() {
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("mysql source '", endpoint_.source, "': connection is broken"));
  }
  bool dead = mysql_ == nullptr;
  if (!dead) {
    // An idle session's socket has nothing to read; if it has, the server
    // closed it (wait_timeout, KILL, shutdown) or sent a farewell error.
    // mysql_ping confirms (TLS may have unsolicited records).
    pollfd p{mysql_get_socket(mysql_), POLLIN, 0};
    if (p.fd >= 0 && poll(&p, 1, 0) > 0 && mysql_ping(mysql_) != 0) dead = true;
  }
  if (!dead) return absl::OkStatus();
  if (InTransaction() || xa_ != XaState::kNone) {
    broken_.store(true, std::memory_order_release);
    return absl::UnavailableError(absl::StrCat(
        "mysql source '", endpoint_.source,
        "': the server closed the session during a transaction (KILL, wait_timeout or restart)"));
  }
  CloseSession();
  absl::Status st = Connect();
  if (!st.ok()) {
    broken_.store(true, std::memory_order_release);
    return absl::Status(absl::StatusCode::kUnavailable, st.message());
  }
  return absl::OkStatus();
}

absl::StatusOr<MYSQL_STMT*> MysqlConnection::Prepare(const std::string& text) {
  if (auto it = cache_.find(text); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->stmt;
  }
  MYSQL_STMT* s = mysql_stmt_init(mysql_);
  if (s == nullptr) return ConnError("prepare", text);
  my_bool update_max = 0;
  mysql_stmt_attr_set(s, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
  if (mysql_stmt_prepare(s, text.data(), text.size()) != 0) {
    absl::Status st = StmtError(s, "prepare", text);
    mysql_stmt_close(s);
    return st;
  }
  lru_.push_front(Cached{text, s});
  cache_[text] = lru_.begin();
  while (lru_.size() > kMaxPrepared) {
    cache_.erase(lru_.back().text);
    mysql_stmt_close(lru_.back().stmt);
    lru_.pop_back();
  }
  return s;
}

namespace {

// The statement's first word (upper case), past blanks, '(' and comments. An
// executable comment (/*! ... */, /*M! ... */) runs its content, so it is
// not skipped: its first word is "".
std::string FirstWord(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    if (std::isspace(static_cast<unsigned char>(ch)) || ch == '(') {
      ++i;
    } else if (text.substr(i, 2) == "/*" && text.substr(i, 3) != "/*!" &&
               text.substr(i, 4) != "/*M!") {
      size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else if (ch == '#' ||
               (text.substr(i, 2) == "--" &&
                (i + 2 >= text.size() || std::isspace(static_cast<unsigned char>(text[i + 2]))))) {
      size_t end = text.find('\n', i);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else {
      break;
    }
  }
  std::string word;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i++])));
  }
  return word;
}

}  // namespace

absl::Status CheckNoTransactionControl(std::string_view sql) {
  const std::string w = FirstWord(sql);
  if (w == "BEGIN" || w == "START" || w == "COMMIT" || w == "ROLLBACK" || w == "SAVEPOINT" ||
      w == "RELEASE" || w == "XA" || w == "LOCK" || w == "UNLOCK") {
    return absl::InvalidArgumentError(
        absl::StrCat("mysql: a node's statement may not control the transaction (", w,
                     "): the engine begins, commits and rolls back transactions"));
  }
  return absl::OkStatus();
}

absl::Status MysqlConnection::CheckReadText(std::string_view text) const {
  const std::string word = FirstWord(text);
  if (word == "SELECT" || word == "WITH" || word == "VALUES" || word == "TABLE" || word == "SHOW" ||
      word == "EXPLAIN" || word == "DESCRIBE" || word == "DESC") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "mysql source '", endpoint_.source,
      "': a read node must be a query (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN); inside a "
      "transaction MariaDB cannot run it read-only, so it is refused before it runs: ",
      Shorten(text)));
}

absl::Status MysqlConnection::Execute(const Statement& stmt, const std::vector<BoundArg>& args,
                                      RowSink* sink, ExecStats* stats) {
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("mysql source '", endpoint_.source, "': connection is broken"));
  }
  {
    absl::MutexLock l(&mu_);
    if (cancelled_) return CancelledStatus();
  }
  if (args.size() != stmt.args.size()) {
    return absl::InvalidArgumentError(absl::StrCat("mysql source '", endpoint_.source,
                                                   "': statement has ", stmt.args.size(),
                                                   " arguments, ", args.size(), " given"));
  }
  const size_t n = args.size();
  for (size_t i = 0; i < n; ++i) {
    if (args[i].is_array) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mysql source '", endpoint_.source, "': argument ", i + 1, " (:", stmt.args[i].name,
          ") is an array; MySQL has no array parameters (use the IN-list batch form)"));
    }
  }
  QG_RETURN_IF_ERROR(EnsureAlive());
  const bool in_tx = InTransaction();
  if (!stmt.is_write && in_tx) QG_RETURN_IF_ERROR(CheckReadText(stmt.text));
  if (!in_tx && stmt.is_write == session_read_only_) {
    // Outside a transaction the session's access mode decides: read-only for
    // reads (enforced by the server), read-write for writes (which the server
    // checks as early as PREPARE).
    const bool want_ro = !stmt.is_write;
    if (stats != nullptr) ++stats->round_trips;
    QG_RETURN_IF_ERROR(Simple(
        "access mode", absl::StrCat("SET SESSION ", ReadOnlyVariable(), " = ", want_ro ? 1 : 0)));
    session_read_only_ = want_ro;
  }
  QG_ASSIGN_OR_RETURN(MYSQL_STMT * s, Prepare(stmt.text));
  dirty_ = true;
  if (!stmt.is_write && in_tx && mysql_stmt_field_count(s) == 0) {
    // The server, preparing it, says it returns no rows: not a query.
    return absl::InvalidArgumentError(absl::StrCat(
        "mysql source '", endpoint_.source,
        "': a read node must be a query; inside a transaction MariaDB cannot run it read-only, "
        "so a statement that returns no rows is refused before it runs: ",
        Shorten(stmt.text)));
  }
  if (mysql_stmt_param_count(s) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mysql source '", endpoint_.source, "': the statement has ", mysql_stmt_param_count(s),
        " placeholders but ", n, " arguments were given, in: ", Shorten(stmt.text)));
  }

  // Parameters: each value with its own MYSQL_TYPE_*; text and bytes by
  // pointer and length (NUL bytes kept). Buffers live until execute returns.
  std::vector<MYSQL_BIND> pbinds(n);
  std::vector<int64_t> ints(n);
  std::vector<double> dbls(n);
  std::vector<signed char> tinies(n);
  std::vector<unsigned long> lens(n);
  for (size_t i = 0; i < n; ++i) {
    MYSQL_BIND& b = pbinds[i];
    std::memset(&b, 0, sizeof(b));
    const Value& v = args[i].value;
    switch (v.type()) {
      case ValueType::kNull:
        b.buffer_type = MYSQL_TYPE_NULL;
        break;
      case ValueType::kBool:
        tinies[i] = v.as_bool() ? 1 : 0;
        b.buffer_type = MYSQL_TYPE_TINY;
        b.buffer = &tinies[i];
        break;
      case ValueType::kInt64:
        ints[i] = v.as_int();
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &ints[i];
        break;
      case ValueType::kDouble:
        dbls[i] = v.as_double();
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = &dbls[i];
        break;
      case ValueType::kDecimal:
      case ValueType::kString:
      case ValueType::kTimestamp:
      case ValueType::kJson:
      case ValueType::kBytes:
        b.buffer_type = v.type() == ValueType::kBytes     ? MYSQL_TYPE_BLOB
                        : v.type() == ValueType::kDecimal ? MYSQL_TYPE_NEWDECIMAL
                                                          : MYSQL_TYPE_STRING;
        lens[i] = v.as_text().size();
        b.buffer = const_cast<char*>(v.as_text().data());
        b.buffer_length = lens[i];
        b.length = &lens[i];
        break;
    }
  }
  if (n > 0 && mysql_stmt_bind_param(s, pbinds.data()) != 0) {
    return StmtError(s, "bind", stmt.text);
  }

  // In flight: Cancel() KILLs from now until the result is consumed.
  {
    absl::MutexLock l(&mu_);
    if (cancelled_) return CancelledStatus();
    in_flight_ = true;
    ++exec_seq_;
  }
  struct FlightEnd {
    MysqlConnection* c;
    ~FlightEnd() {
      absl::MutexLock l(&c->mu_);
      c->in_flight_ = false;
    }
  } flight_end{this};
  auto cancelled = [this] {
    absl::MutexLock l(&mu_);
    return cancelled_;
  };

  // DDL and a few other statements commit the open transaction implicitly
  // before they run (whether they then succeed or not): what ran before them
  // is committed and the engine's transaction is gone. Said as it is, and
  // the session is not reused.
  // An error packet carries no status flags: after a failed statement the
  // server is asked (MariaDB's @@in_transaction; one round trip, only for a
  // statement that failed inside a transaction).
  auto implicit_commit = [&](bool failed, std::string_view detail) -> absl::Status {
    if (!in_tx_ || xa_ != XaState::kNone || broken()) return absl::OkStatus();
    bool open = true;
    if (failed) {
      if (!is_mariadb_) return absl::OkStatus();
      auto rows = QueryRows("execute (transaction state)", "SELECT @@in_transaction");
      open = !rows.ok() || rows->empty() || rows->front().empty() || rows->front()[0] != "0";
    } else {
      unsigned int server_status = 0;
      open = mariadb_get_infov(mysql_, MARIADB_CONNECTION_SERVER_STATUS, &server_status) != 0 ||
             (server_status & SERVER_STATUS_IN_TRANS) != 0;
    }
    if (open) return absl::OkStatus();
    broken_.store(true, std::memory_order_release);
    return absl::DataLossError(absl::StrCat(
        "mysql source '", endpoint_.source,
        "': the statement committed the transaction implicitly (DDL inside a transaction); "
        "the writes before it on this source are committed: ",
        Shorten(stmt.text), std::string(detail)));
  };
  if (stats != nullptr) ++stats->round_trips;
  if (mysql_stmt_execute(s) != 0) {
    absl::Status st = StmtError(s, "execute", stmt.text);
    mysql_stmt_free_result(s);
    if (cancelled() && !broken()) return CancelledStatus();
    QG_RETURN_IF_ERROR(
        implicit_commit(true, absl::StrCat(" (then it failed: ", st.message(), ")")));
    return st;
  }
  const unsigned int ncols = mysql_stmt_field_count(s);
  if (ncols == 0) {
    if (stats != nullptr) stats->rows_affected = static_cast<int64_t>(mysql_stmt_affected_rows(s));
    ResultGuard done(s, nullptr);
    QG_RETURN_IF_ERROR(implicit_commit(false, ""));
    if (cancelled()) return CancelledStatus();
    if (sink != nullptr) QG_RETURN_IF_ERROR(sink->OnColumns({}));
    return absl::OkStatus();
  }

  MYSQL_RES* meta = mysql_stmt_result_metadata(s);
  ResultGuard guard(s, meta);
  if (meta == nullptr) return StmtError(s, "result metadata", stmt.text);
  MYSQL_FIELD* fields = mysql_fetch_fields(meta);
  std::vector<ColBuf> cols(ncols);
  std::vector<MYSQL_BIND> rbinds(ncols);
  std::vector<ColumnInfo> infos(ncols);
  for (unsigned int c = 0; c < ncols; ++c) {
    const MYSQL_FIELD& f = fields[c];
    ColBuf& cb = cols[c];
    cb.kind = KindFor(f);
    cb.decimals = f.decimals;
    infos[c].name = std::string(f.name, f.name_length);
    infos[c].type = ValueTypeFor(cb.kind, f);
    infos[c].native_type = NativeTypeName(f, cb.kind);
    MYSQL_BIND& b = rbinds[c];
    std::memset(&b, 0, sizeof(b));
    b.length = &cb.length;
    b.is_null = &cb.is_null;
    b.error = &cb.error;
    switch (cb.kind) {
      case Kind::kInt:
      case Kind::kUInt:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &cb.i;
        b.is_unsigned = cb.kind == Kind::kUInt;
        break;
      case Kind::kDouble:
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = &cb.d;
        break;
      case Kind::kDate:
      case Kind::kDateTime:
      case Kind::kTime:
        b.buffer_type = cb.kind == Kind::kDate       ? MYSQL_TYPE_DATE
                        : cb.kind == Kind::kDateTime ? MYSQL_TYPE_DATETIME
                                                     : MYSQL_TYPE_TIME;
        b.buffer = &cb.t;
        b.buffer_length = sizeof(cb.t);
        break;
      default: {
        // Sized from the metadata, capped; longer values are fetched whole.
        unsigned long cap = std::clamp<unsigned long>(f.length, 16, 4096);
        cb.buf.resize(cap);
        b.buffer_type = (cb.kind == Kind::kBytes || cb.kind == Kind::kBit) ? MYSQL_TYPE_BLOB
                                                                           : MYSQL_TYPE_STRING;
        b.buffer = cb.buf.data();
        b.buffer_length = cap;
        break;
      }
    }
  }
  if (sink != nullptr) QG_RETURN_IF_ERROR(sink->OnColumns(infos));
  if (mysql_stmt_bind_result(s, rbinds.data()) != 0) return StmtError(s, "bind result", stmt.text);

  std::vector<Value> row;
  std::string whole;
  while (true) {
    int rc = mysql_stmt_fetch(s);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) {
      absl::Status st = StmtError(s, "fetch", stmt.text);
      if (cancelled() && !broken()) return CancelledStatus();
      return st;
    }
    if (sink == nullptr) continue;
    row.clear();
    row.reserve(ncols);
    for (unsigned int c = 0; c < ncols; ++c) {
      ColBuf& cb = cols[c];
      if (cb.is_null) {
        row.push_back(Value::Null());
        continue;
      }
      std::string text;
      if (IsTextKind(cb.kind)) {
        if (cb.length > cb.buf.size()) {  // truncated: fetch the whole value
          whole.assign(cb.length, '\0');
          MYSQL_BIND wb;
          std::memset(&wb, 0, sizeof(wb));
          unsigned long wlen = 0;
          wb.buffer_type = rbinds[c].buffer_type;
          wb.buffer = whole.data();
          wb.buffer_length = whole.size();
          wb.length = &wlen;
          if (mysql_stmt_fetch_column(s, &wb, c, 0) != 0) {
            return StmtError(s, "fetch of a long value", stmt.text);
          }
          text.assign(whole.data(), std::min<size_t>(wlen, whole.size()));
        } else {
          text.assign(cb.buf.data(), cb.length);
        }
      }
      switch (cb.kind) {
        case Kind::kInt:
          row.push_back(Value::Int(cb.i));
          break;
        case Kind::kUInt:
          row.push_back(UnsignedValue(static_cast<uint64_t>(cb.i)));
          break;
        case Kind::kDouble:
          row.push_back(Value::Double(cb.d));
          break;
        case Kind::kDate:
        case Kind::kDateTime:
        case Kind::kTime:
          row.push_back(Value::Timestamp(FormatTime(cb.t, cb.kind, cb.decimals)));
          break;
        case Kind::kDecimal:
          row.push_back(Value::Decimal(std::move(text)));
          break;
        case Kind::kString:
          row.push_back(Value::String(std::move(text)));
          break;
        case Kind::kBytes:
          row.push_back(Value::Bytes(std::move(text)));
          break;
        case Kind::kJson:
          row.push_back(Value::Json(std::move(text)));
          break;
        case Kind::kBit: {
          uint64_t u = 0;
          for (unsigned char ch : text) u = (u << 8) | ch;
          row.push_back(UnsignedValue(u));
          break;
        }
        case Kind::kNull:
          row.push_back(Value::Null());
          break;
      }
    }
    if (absl::Status st = sink->OnRow(row); !st.ok()) return st;
  }
  if (cancelled()) return CancelledStatus();
  return absl::OkStatus();
}

KillLine::~KillLine() {
  absl::MutexLock l(&mu_);
  Close();
}

std::shared_ptr<KillLine> KillLine::For(const Endpoint& e) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* lines = new absl::flat_hash_map<std::string, std::weak_ptr<KillLine>>();
  std::string key = absl::StrCat(e.host, "\n", e.port, "\n", e.unix_socket, "\n", e.user, "\n",
                                 e.password, "\n", e.ssl_mode);
  absl::MutexLock l(&mu);
  for (auto it = lines->begin(); it != lines->end();) {
    if (it->second.expired()) {
      lines->erase(it++);
    } else {
      ++it;
    }
  }
  std::weak_ptr<KillLine>& slot = (*lines)[key];
  std::shared_ptr<KillLine> line = slot.lock();
  if (line == nullptr) {
    line = std::make_shared<KillLine>(e);
    slot = line;
  }
  return line;
}

KillLine::Use::Use(KillLine* line) : line_(line) {
  absl::MutexLock l(&line_->mu_);
  ++line_->users_;
}

KillLine::Use::~Use() {
  absl::MutexLock l(&line_->mu_);
  if (--line_->users_ == 0) line_->Close();
}

bool KillLine::Open() {
  if (mysql_ != nullptr) return true;
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return false;
  SetOptions(m, endpoint_, std::min(endpoint_.connect_timeout, absl::Seconds(5)), absl::Seconds(5));
  if (RealConnect(m, endpoint_, /*with_db=*/false) == nullptr) {
    mysql_close(m);
    return false;
  }
  mysql_ = m;
  return true;
}

void KillLine::Close() {
  if (mysql_ != nullptr) mysql_close(mysql_);
  mysql_ = nullptr;
}

void KillLine::KillQuery(unsigned long thread_id) {
  const std::string sql = absl::StrCat("KILL QUERY ", thread_id);
  absl::MutexLock l(&mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!Open()) return;
    if (mysql_real_query(mysql_, sql.data(), sql.size()) == 0) return;
    // Unknown thread: the statement's session is gone; nothing to kill.
    if (mysql_errno(mysql_) == ER_NO_SUCH_THREAD) return;
    Close();  // the line itself broke (server closed it): once more
  }
}

void MysqlConnection::Cancel() {
  uint64_t seq;
  {
    absl::MutexLock l(&mu_);
    cancelled_ = true;
    if (!in_flight_) return;
    seq = exec_seq_;
    ++killers_;
  }
  struct KillerEnd {
    MysqlConnection* c;
    ~KillerEnd() {
      absl::MutexLock l(&c->mu_);
      --c->killers_;
    }
  } killer_end{this};
  const unsigned long tid = thread_id_.load(std::memory_order_acquire);
  KillLine::Use use(kill_line_.get());
  // A KILL QUERY that reaches the server before it starts the statement is
  // forgotten: repeat (bounded) until the statement it aimed at has ended.
  for (int attempt = 0; attempt < kKillAttempts; ++attempt) {
    kill_line_->KillQuery(tid);
    absl::MutexLock l(&mu_);
    auto ended = [this, seq]() { return !in_flight_ || exec_seq_ != seq; };
    if (mu_.AwaitWithTimeout(absl::Condition(&ended), kKillWait)) return;
  }
}

absl::Status MysqlConnection::Simple(std::string_view what, const std::string& sql,
                                     bool check_cancel) {
  if (check_cancel) {
    absl::MutexLock l(&mu_);
    if (cancelled_) return CancelledStatus();
  }
  QG_RETURN_IF_ERROR(EnsureAlive());
  dirty_ = true;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return ConnError(what, sql);
  int more = 0;
  do {
    MYSQL_RES* r = mysql_store_result(mysql_);
    if (r != nullptr) {
      mysql_free_result(r);
    } else if (mysql_field_count(mysql_) != 0) {
      return ConnError(what, sql);
    }
    more = mysql_next_result(mysql_);
    if (more > 0) return ConnError(what, sql);
  } while (more == 0);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<std::string>>> MysqlConnection::QueryRows(
    std::string_view what, const std::string& sql) {
  QG_RETURN_IF_ERROR(EnsureAlive());
  dirty_ = true;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return ConnError(what, sql);
  std::vector<std::vector<std::string>> out;
  MYSQL_RES* r = mysql_store_result(mysql_);
  if (r == nullptr) {
    if (mysql_field_count(mysql_) != 0) return ConnError(what, sql);
    return out;
  }
  const unsigned int nf = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    unsigned long* lengths = mysql_fetch_lengths(r);
    std::vector<std::string> cells(nf);
    for (unsigned int i = 0; i < nf; ++i) {
      if (row[i] != nullptr) cells[i].assign(row[i], lengths[i]);
    }
    out.push_back(std::move(cells));
  }
  mysql_free_result(r);
  while (mysql_next_result(mysql_) == 0) {
    if (MYSQL_RES* extra = mysql_store_result(mysql_)) mysql_free_result(extra);
  }
  return out;
}

absl::Status MysqlConnection::Ping(std::string_view query) {
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("mysql source '", endpoint_.source, "': connection is broken"));
  }
  if (mysql_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("mysql source '", endpoint_.source, "': no session"));
  }
  if (query.empty()) {
    if (mysql_ping(mysql_) != 0) {
      absl::Status st = ConnError("ping");
      broken_.store(true, std::memory_order_release);
      return st;
    }
    return absl::OkStatus();
  }
  dirty_ = true;
  if (mysql_real_query(mysql_, query.data(), query.size()) != 0) {
    return ConnError("health check", query);
  }
  do {
    if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
  } while (mysql_next_result(mysql_) == 0);
  if (mysql_errno(mysql_) != 0) return ConnError("health check", query);
  return absl::OkStatus();
}

// A session used since the last Reset goes back to the pool through
// mysql_reset_connection() (COM_RESET_CONNECTION): it rolls back, drops
// temporary tables, user variables, the user's prepared statements and named
// locks (GET_LOCK), and puts session variables back to the server's defaults.
// A ROLLBACK alone would leave all of that to the next user. It deallocates
// our prepared statements too, so the statement cache is dropped, and our
// session settings (read-only, statement timeout) are set again. An active
// XA branch is ended first (the reset does not end it); a prepared one
// belongs to its coordinator (below).
absl::Status MysqlConnection::Reset() {
  {
    absl::MutexLock l(&mu_);
    auto no_killers = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return killers_ == 0; };
    // Bounded by Cancel()'s own bound (kKillAttempts x kKillWait).
    mu_.AwaitWithTimeout(absl::Condition(&no_killers),
                         kKillAttempts * kKillWait + absl::Seconds(1));
    cancelled_ = false;
  }
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("mysql source '", endpoint_.source, "': connection is broken"));
  }
  if (mysql_ == nullptr) return absl::OkStatus();  // reopened on next use
  absl::Status st;
  if (xa_ == XaState::kPrepared) {
    // A prepared XA branch belongs to its coordinator. MariaDB keeps the
    // preparing session in the PREPARED state (every other statement fails
    // with XAER_RMFAIL) and lets no other session commit it while this one
    // lives; on disconnect the branch stays, recoverable from any session
    // (XA RECOVER / XA COMMIT). So: close this session and open a fresh
    // one, and wait (bounded) until the server has let the old one go, so
    // the branch can be committed from anywhere once Reset returns.
    const unsigned long old_id = thread_id_.load(std::memory_order_acquire);
    CloseSession();
    absl::Status st = Connect();
    if (!st.ok()) {
      broken_.store(true, std::memory_order_release);
      return st;
    }
    const std::string probe =
        absl::StrCat("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ", old_id);
    const absl::Time deadline = absl::Now() + kDetachWait;
    while (absl::Now() < deadline) {
      auto rows = QueryRows("reset (detach prepared XA)", probe);
      if (!rows.ok()) {
        broken_.store(true, std::memory_order_release);
        return rows.status();
      }
      if (rows->empty() || rows->front().empty() || rows->front()[0] == "0") break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::OkStatus();
  }
  if (xa_ == XaState::kActive) {
    const std::string id = HexLiteral(xa_gid_);
    (void)Simple("reset (XA END)", "XA END " + id, false);
    st = Simple("reset (XA ROLLBACK)", "XA ROLLBACK " + id, false);
  }
  in_tx_ = false;
  xa_ = XaState::kNone;
  xa_gid_.clear();
  if (st.ok() && dirty_) {
    if (mysql_reset_connection(mysql_) != 0) {
      st = ConnError("reset (reset connection)");
    } else {
      for (Cached& c : lru_) mysql_stmt_close(c.stmt);  // already gone on the server
      lru_.clear();
      cache_.clear();
      st = SetupSession();
    }
  }
  if (!st.ok()) {
    broken_.store(true, std::memory_order_release);
    return st;
  }
  return absl::OkStatus();
}

absl::Status MysqlConnection::Begin(const TxOptions& options) {
  std::string_view gid = options.xa_gid;
  if (!gid.empty()) return BeginXa(gid, options);
  if (in_tx_ || xa_ != XaState::kNone) {
    return absl::FailedPreconditionError(
        absl::StrCat("mysql source '", endpoint_.source, "': a transaction is already open"));
  }
  if (const char* iso = IsolationSql(options.isolation)) {
    QG_RETURN_IF_ERROR(Simple("begin", iso));
  }
  // READ WRITE explicitly: the session default is read-only.
  QG_RETURN_IF_ERROR(Simple(
      "begin", options.read_only ? "START TRANSACTION READ ONLY" : "START TRANSACTION READ WRITE"));
  in_tx_ = true;
  return absl::OkStatus();
}

absl::Status MysqlConnection::BeginXa(std::string_view gid, const TxOptions& options) {
  QG_RETURN_IF_ERROR(CheckGid(gid));
  if (in_tx_ || xa_ != XaState::kNone) {
    return absl::FailedPreconditionError(
        absl::StrCat("mysql source '", endpoint_.source, "': a transaction is already open"));
  }
  if (const char* iso = IsolationSql(options.isolation)) {
    QG_RETURN_IF_ERROR(Simple("begin", iso));
  }
  // XA START takes the session's access mode, read-only by default.
  const bool want_ro = options.read_only;
  if (session_read_only_ != want_ro) {
    QG_RETURN_IF_ERROR(
        Simple("begin", absl::StrCat("SET SESSION ", ReadOnlyVariable(), " = ", want_ro ? 1 : 0)));
    session_read_only_ = want_ro;
  }
  QG_RETURN_IF_ERROR(Simple("XA START", "XA START " + HexLiteral(gid)));
  xa_ = XaState::kActive;
  xa_gid_ = std::string(gid);
  return absl::OkStatus();
}

absl::Status MysqlConnection::Commit() {
  if (xa_ == XaState::kActive) {
    const std::string id = HexLiteral(xa_gid_);
    QG_RETURN_IF_ERROR(Simple("commit (XA END)", "XA END " + id));
    absl::Status st = Simple("commit (XA COMMIT ONE PHASE)", "XA COMMIT " + id + " ONE PHASE");
    xa_ = XaState::kNone;
    xa_gid_.clear();
    return st;
  }
  if (xa_ == XaState::kPrepared) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mysql source '", endpoint_.source, "': the transaction is prepared; use CommitPrepared"));
  }
  absl::Status st = Simple("commit", "COMMIT");
  if (st.ok()) in_tx_ = false;
  return st;
}

absl::Status MysqlConnection::Rollback() {
  absl::Status st;
  if (xa_ == XaState::kActive) {
    const std::string id = HexLiteral(xa_gid_);
    (void)Simple("rollback (XA END)", "XA END " + id, false);
    st = Simple("rollback (XA ROLLBACK)", "XA ROLLBACK " + id, false);
  } else if (xa_ == XaState::kPrepared) {
    st = Simple("rollback (XA ROLLBACK)", "XA ROLLBACK " + HexLiteral(xa_gid_), false);
  } else {
    st = Simple("rollback", "ROLLBACK", false);
  }
  in_tx_ = false;
  xa_ = XaState::kNone;
  xa_gid_.clear();
  return st;
}

absl::Status MysqlConnection::Savepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("mysql: empty savepoint name");
  return Simple("savepoint", "SAVEPOINT " + QuoteIdent(name, '`'));
}

absl::Status MysqlConnection::RollbackToSavepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("mysql: empty savepoint name");
  return Simple("rollback to savepoint", "ROLLBACK TO SAVEPOINT " + QuoteIdent(name, '`'), false);
}

absl::Status MysqlConnection::ReleaseSavepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("mysql: empty savepoint name");
  return Simple("release savepoint", "RELEASE SAVEPOINT " + QuoteIdent(name, '`'));
}

absl::Status MysqlConnection::PrepareTransaction(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckGid(gid));
  if (xa_ != XaState::kActive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mysql source '", endpoint_.source,
        "': PrepareTransaction needs a transaction begun with an XA id (TxOptions.xa_gid): "
        "MySQL/MariaDB cannot make an already started transaction two-phase"));
  }
  if (gid != xa_gid_) {
    return absl::InvalidArgumentError(
        absl::StrCat("mysql source '", endpoint_.source,
                     "': PrepareTransaction id differs from the id the transaction began with"));
  }
  const std::string id = HexLiteral(gid);
  QG_RETURN_IF_ERROR(Simple("prepare (XA END)", "XA END " + id));
  absl::Status st = Simple("prepare (XA PREPARE)", "XA PREPARE " + id);
  if (!st.ok()) {
    // A failed XA PREPARE leaves the branch rolled back or idle: end it.
    (void)Simple("prepare (XA ROLLBACK)", "XA ROLLBACK " + id, false);
    xa_ = XaState::kNone;
    xa_gid_.clear();
    return st;
  }
  xa_ = XaState::kPrepared;
  return absl::OkStatus();
}

absl::Status MysqlConnection::CommitPrepared(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckGid(gid));
  if (xa_ == XaState::kActive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mysql source '", endpoint_.source, "': CommitPrepared inside an active XA transaction"));
  }
  absl::Status st = Simple("XA COMMIT", "XA COMMIT " + HexLiteral(gid), false);
  if (st.ok() && xa_ == XaState::kPrepared && gid == xa_gid_) {
    xa_ = XaState::kNone;
    xa_gid_.clear();
  }
  return st;
}

absl::Status MysqlConnection::RollbackPrepared(std::string_view gid) {
  QG_RETURN_IF_ERROR(CheckGid(gid));
  if (xa_ == XaState::kActive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mysql source '", endpoint_.source, "': RollbackPrepared inside an active XA transaction"));
  }
  absl::Status st = Simple("XA ROLLBACK", "XA ROLLBACK " + HexLiteral(gid), false);
  if (st.ok() && xa_ == XaState::kPrepared && gid == xa_gid_) {
    xa_ = XaState::kNone;
    xa_gid_.clear();
  }
  return st;
}

absl::StatusOr<std::vector<std::string>> MysqlConnection::ListPrepared(std::string_view prefix) {
  // Columns: formatID, gtrid_length, bqual_length, data (gtrid then bqual).
  QG_ASSIGN_OR_RETURN(auto rows, QueryRows("XA RECOVER", "XA RECOVER"));
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (r.size() < 4) continue;
    int64_t format = 0, gtrid_len = 0, bqual_len = 0;
    if (!absl::SimpleAtoi(r[0], &format) || !absl::SimpleAtoi(r[1], &gtrid_len) ||
        !absl::SimpleAtoi(r[2], &bqual_len)) {
      continue;
    }
    if (format != 1 || bqual_len != 0 || gtrid_len < 0 ||
        static_cast<size_t>(gtrid_len) > r[3].size()) {
      continue;
    }
    std::string gid = r[3].substr(0, gtrid_len);
    if (gid.starts_with(prefix)) out.push_back(std::move(gid));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace qg::mysql
