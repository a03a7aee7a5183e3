#include "http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace qgraph_server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------------------
// http.h

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && i + 2 <= s.size() - 1 + 0 &&
               HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Finds name=value in a query string.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

bool HttpRequest::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return IEquals(h.first, name); });
}

std::string HttpRequest::param(std::string_view name) const {
  return QueryParam(query, name).value_or("");
}

bool HttpRequest::has_param(std::string_view name) const {
  return QueryParam(query, name).has_value();
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

void HttpResponse::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (IEquals(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

// ---------------------------------------------------------------------------
// Framing: what Beast's parser accepts but this server refuses.

namespace {

using Parser = http::request_parser<http::string_body>;

constexpr size_t kChunkTarget = 32 << 10;  // a streamed chunk: 32-64 KiB
constexpr size_t kChunkMax = 64 << 10;

struct Refusal {
  int status;
  std::string message;
};

HttpRequest HeadOf(const Parser& parser, const std::string& peer) {
  const auto& msg = parser.get();
  HttpRequest r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& f : msg) {
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  r.peer = peer;
  return r;
}

// Checks a parsed header before its body is read.
std::optional<Refusal> CheckFraming(const Parser& parser, const HttpLimits& limits) {
  const auto& msg = parser.get();
  int fields = 0;
  int lengths = 0;
  for (const auto& f : msg) {
    ++fields;
    if (f.name() == http::field::content_length) {
      ++lengths;
      if (f.value().find(',') != beast::string_view::npos) ++lengths;
    }
  }
  if (fields > limits.max_header_fields) {
    return Refusal{431, "the request has " + std::to_string(fields) + " header fields; at most " +
                            std::to_string(limits.max_header_fields)};
  }
  if (lengths > 1) return Refusal{400, "more than one Content-Length"};
  if (msg.version() != 11 && msg.version() != 10) {
    return Refusal{400, "only HTTP/1.0 and HTTP/1.1 are served"};
  }
  auto te = msg.find(http::field::transfer_encoding);
  if (te != msg.end() && !parser.chunked()) {
    return Refusal{400, "Transfer-Encoding other than \"chunked\" is not accepted"};
  }
  auto ce = msg.find(http::field::content_encoding);
  if (ce != msg.end() &&
      !IEquals(std::string_view(ce->value().data(), ce->value().size()), "identity")) {
    return Refusal{415, "Content-Encoding is not accepted: send the body uncompressed"};
  }
  const bool has_length = parser.content_length().has_value() || parser.chunked();
  const auto method = msg.method();
  if (!has_length &&
      (method == http::verb::post || method == http::verb::put || method == http::verb::patch)) {
    return Refusal{411, "a request body needs Content-Length or chunked transfer encoding"};
  }
  return std::nullopt;
}

std::optional<Refusal> FromParseError(const beast::error_code& ec, const HttpLimits& limits) {
  if (ec == http::error::header_limit) {
    return Refusal{431, "the request line and headers exceed " +
                            std::to_string(limits.max_header_bytes) + " bytes"};
  }
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
    return Refusal{413,
                   "request body exceeds max_body_bytes=" + std::to_string(limits.max_body_bytes)};
  }
  if (ec == http::error::bad_content_length) return Refusal{400, "bad Content-Length"};
  if (ec == http::error::bad_transfer_encoding) return Refusal{400, "bad Transfer-Encoding"};
  return Refusal{400, "malformed HTTP request (" + ec.message() + ")"};
}

bool IsDisconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted ||
         ec == beast::error::timeout || ec == http::error::partial_message;
}

std::string StatusLine(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) + "\r\n";
}

std::string SerializeHead(const HttpResponse& r, bool chunked, bool close) {
  std::string out = StatusLine(r.status);
  for (const auto& [k, v] : r.headers) {
    if (IEquals(k, "Connection") || IEquals(k, "Content-Length") ||
        IEquals(k, "Transfer-Encoding")) {
      continue;
    }
    out += k + ": " + v + "\r\n";
  }
  if (!r.content_type.empty()) out += "Content-Type: " + r.content_type + "\r\n";
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else {
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

std::string ChunkOf(std::string_view data) {
  char size[32];
  int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out(size, static_cast<size_t>(n));
  out.append(data);
  out += "\r\n";
  return out;
}

// Writes a response through `put` (which returns false when the client is
// gone). Returns whether the whole response went out; *must_close is set
// when the connection cannot carry another response.
template <typename Put>
bool WriteResponse(HttpResponse& r, bool close, Put&& put, bool* must_close) {
  if (!r.stream) {
    *must_close = close || r.close;
    std::string head = SerializeHead(r, false, *must_close);
    return put(head) && put(r.body);
  }
  class Sink : public ChunkSink {
   public:
    Sink(HttpResponse& r, bool close, Put& put) : r_(r), close_(close), put_(put) {}
    bool Write(std::string_view bytes) override {
      if (failed_) return false;
      pending_.append(bytes);
      while (pending_.size() >= (committed_ ? kChunkTarget : kChunkMax)) {
        if (!Flush(std::min(pending_.size(), kChunkMax))) return false;
      }
      return true;
    }
    bool committed() const override { return committed_; }
    bool Flush(size_t n) {
      std::string out;
      if (!committed_) {
        committed_ = true;
        out = SerializeHead(r_, true, close_ || r_.close);
      }
      out += ChunkOf(std::string_view(pending_).substr(0, n));
      pending_.erase(0, n);
      if (!put_(out)) failed_ = true;
      return !failed_;
    }
    bool Finish() {
      while (!pending_.empty()) {
        if (!Flush(std::min(pending_.size(), kChunkMax))) return false;
      }
      if (!committed_) {
        committed_ = true;
        if (!put_(SerializeHead(r_, true, close_ || r_.close))) return false;
      }
      return put_("0\r\n\r\n");
    }
    bool failed_ = false;
    bool committed_ = false;
    std::string pending_;

   private:
    HttpResponse& r_;
    bool close_;
    Put& put_;
  };
  Sink sink(r, close, put);
  const bool ok = r.stream(sink);
  if (ok) {
    *must_close = close || r.close;
    return sink.Finish();
  }
  *must_close = true;
  if (sink.failed_) return false;
  HttpResponse err = r.stream_error ? r.stream_error() : HttpResponse{};
  if (!sink.committed_) {
    if (!r.stream_error) return false;
    err.status = err.status ? err.status : 500;
    for (const auto& [k, v] : r.headers) {
      if (IEquals(k, "X-Query-Id") && err.header("X-Query-Id").empty()) err.set_header(k, v);
    }
    r.status = err.status;  // for the log
    std::string head = SerializeHead(err, false, true);
    return put(head) && put(err.body) && false;
  }
  // Mid-stream: what was buffered, the error as the last chunk, no
  // terminating chunk.
  sink.pending_ += err.body;
  while (!sink.pending_.empty()) {
    if (!sink.Flush(std::min(sink.pending_.size(), kChunkMax))) break;
  }
  return false;
}

// A fixed pool of worker threads.
class WorkerPool {
 public:
  explicit WorkerPool(int n) {
    for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Join(); }
  void Submit(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }
  void Join() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

}  // namespace

// ---------------------------------------------------------------------------
// The server.

class Session;

struct HttpServer::Impl {
  Impl(HttpLimits l, HttpHandler* h) : limits(l), handler(h), pool(l.workers) {}

  HttpLimits limits;
  HttpHandler* handler;
  // Connections, for caps and for drain (I/O thread and Stop()). Declared
  // before the io_context: sessions its handlers still hold are destroyed
  // with it and unregister here.
  std::mutex mu;
  std::condition_variable idle_cv;
  std::map<Session*, std::weak_ptr<Session>> sessions;
  std::map<std::string, int> per_client;
  int busy = 0;  // requests handed to workers and not yet answered
  bool draining = false;
  bool stopped = false;

  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard{
      net::make_work_guard(io)};
  WorkerPool pool;

  void Accept();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* server, tcp::socket socket, std::string peer)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server->limits.max_header_bytes + (64 << 10)),
        peer_(std::move(peer)) {}

  ~Session() {
    std::lock_guard<std::mutex> lock(server_->mu);
    server_->sessions.erase(this);
    auto it = server_->per_client.find(peer_);
    if (it != server_->per_client.end() && --it->second <= 0) server_->per_client.erase(it);
  }

  void Start() { WaitForRequest(server_->limits.request_timeout); }

  // Drain: closes the connection unless a worker answers on it.
  void CloseIfIdle() {
    if (!in_worker_.load()) Close();
  }
  int fd() { return stream_.socket().native_handle(); }

 private:
  // Waits for the first byte of a request (or uses pipelined bytes).
  void WaitForRequest(absl::Duration idle) {
    if (buffer_.size() > 0) return ReadHeader();
    stream_.expires_after(ToChrono(idle));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    started_ = absl::Now();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->limits.max_header_bytes));
    parser_->body_limit(server_->limits.max_body_bytes);
    stream_.expires_after(ToChrono(server_->limits.request_timeout));  // the whole request
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) return Refuse(408, "the request was not sent in time");
      if (IsDisconnect(ec)) return Close();
      auto r = FromParseError(ec, server_->limits);
      return Refuse(r->status, r->message);
    }
    head_ = HeadOf(*parser_, peer_);
    if (auto r = CheckFraming(*parser_, server_->limits)) return Refuse(r->status, r->message);
    if (std::optional<HttpResponse> refused = server_->handler->CheckHead(head_)) {
      return SendRefusal(std::move(*refused));
    }
    auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() &&
        IEquals(std::string_view(expect->value().data(), expect->value().size()), "100-continue") &&
        !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue),
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                if (ec) return self->Close();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Dispatch();
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         if (ec == beast::error::timeout) {
                           return self->Refuse(408, "the request was not sent in time");
                         }
                         if (IsDisconnect(ec) && ec != http::error::partial_message) {
                           return self->Close();
                         }
                         auto r = FromParseError(ec, self->server_->limits);
                         return self->Refuse(r->status, r->message);
                       }
                       self->Dispatch();
                     });
  }

  void Dispatch() {
    head_.body = parser_->release().body();
    const bool keep = parser_->keep_alive();
    parser_.reset();
    stream_.expires_never();
    {
      std::lock_guard<std::mutex> lock(server_->mu);
      if (server_->stopped) return Close();
      ++server_->busy;
      in_worker_.store(true);
    }
    server_->pool.Submit([self = shared_from_this(), keep] { self->Work(keep); });
  }

  // On a worker.
  void Work(bool keep) {
    HttpResponse response = server_->handler->Handle(head_);
    bool close = !keep;
    {
      std::lock_guard<std::mutex> lock(server_->mu);
      close = close || server_->draining;
    }
    bool must_close = true;
    const bool ok = WriteResponse(
        response, close, [this](std::string_view b) { return Put(b); }, &must_close);
    server_->handler->Logged(head_, response, absl::Now() - started_);
    if (response.done) response.done(ok);
    response = HttpResponse();
    head_ = HttpRequest();
    {
      std::lock_guard<std::mutex> lock(server_->mu);
      --server_->busy;
      in_worker_.store(false);
      if (server_->draining) must_close = true;
    }
    server_->idle_cv.notify_all();
    net::post(stream_.get_executor(), [self = shared_from_this(), again = ok && !must_close] {
      if (!again) return self->GracefulClose();
      self->WaitForRequest(self->server_->limits.keep_alive_timeout);
    });
  }

  // Blocking write from a worker; fails when no progress for write_timeout.
  bool Put(std::string_view data) {
    const int sock = fd();
    const int timeout_ms = static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(server_->limits.write_timeout)));
    while (!data.empty()) {
      ssize_t n = ::send(sock, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        pollfd p{sock, POLLOUT, 0};
        int r = ::poll(&p, 1, timeout_ms);
        if (r <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
        continue;
      }
      return false;
    }
    return true;
  }

  void Refuse(int status, std::string message) {
    HttpResponse r = server_->handler->Error(head_, status, std::move(message));
    SendRefusal(std::move(r));
  }

  // Writes a refusal (on the I/O thread, with the write deadline) and
  // closes: the request's unread bytes are never parsed.
  void SendRefusal(HttpResponse r) {
    r.close = true;
    r.stream = nullptr;
    out_ = SerializeHead(r, false, true) + r.body;
    server_->handler->Logged(head_, r, absl::Now() - started_);
    parser_.reset();
    stream_.expires_after(ToChrono(server_->limits.write_timeout));
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       self->GracefulClose();
                     });
  }

  // Shuts our side, discards what the client still sends (at most 1 MiB or
  // 1 s) so the answer is not lost to a reset, then closes.
  void GracefulClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(1));
    Drain(1 << 20);
  }
  void Drain(size_t budget) {
    stream_.async_read_some(net::buffer(discard_, sizeof(discard_)),
                            [self = shared_from_this(), budget](beast::error_code ec, size_t n) {
                              if (ec || n >= budget) return self->Close();
                              self->Drain(budget - n);
                            });
  }

 public:
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  HttpServer::Impl* server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  HttpRequest head_;
  std::string peer_;
  std::string out_;
  char discard_[16384];
  absl::Time started_ = absl::Now();
  std::atomic<bool> in_worker_{false};
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      // Out of descriptors and the like: try again shortly.
      auto timer = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](beast::error_code) {
        if (acceptor.is_open()) Accept();
      });
      return;
    }
    beast::error_code pe;
    auto remote = socket.remote_endpoint(pe);
    std::string peer = pe ? std::string("?") : remote.address().to_string();
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(mu);
      int& n = per_client[peer];
      if (draining || static_cast<int>(sessions.size()) >= limits.max_connections ||
          n >= limits.max_connections_per_client) {
        if (n == 0) per_client.erase(peer);
      } else {
        ++n;
        session = std::make_shared<Session>(this, std::move(socket), peer);
        sessions.emplace(session.get(), session);
      }
    }
    if (session) {
      session->Start();
    } else {
      // Over a cap: a short 503 if the socket takes it at once, then close.
      HttpRequest head;
      head.peer = peer;
      HttpResponse r = handler->Error(head, 503, "too many connections from " + peer);
      std::string out = SerializeHead(r, false, true) + r.body;
      ::send(socket.native_handle(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
    Accept();
  });
}

HttpServer::HttpServer(HttpLimits limits, HttpHandler* handler)
    : impl_(std::make_unique<Impl>(limits, handler)) {}

HttpServer::~HttpServer() {
  Stop();
  impl_->pool.Join();
}

absl::StatusOr<int> HttpServer::Listen(const std::string& address, int port) {
  beast::error_code ec;
  auto addr = net::ip::make_address(address, ec);
  if (ec) return absl::InvalidArgumentError("not an IP address: " + address);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("cannot listen on " + address + ":" + std::to_string(port) +
                                  ": " + ec.message());
  }
  return static_cast<int>(impl_->acceptor.local_endpoint().port());
}

void HttpServer::Run() {
  impl_->Accept();
  impl_->io.run();
}

void HttpServer::BeginDrain() {
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(impl->mu);
      impl->draining = true;
      for (const auto& entry : impl->sessions) {
        if (auto s = entry.second.lock()) sessions.push_back(std::move(s));
      }
    }
    for (const auto& s : sessions) s->CloseIfIdle();
  });
}

bool HttpServer::WaitIdle(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->idle_cv.wait_until(lock, absl::ToChronoTime(deadline),
                                   [this] { return impl_->busy == 0; });
}

void HttpServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->draining = true;
    // Writes in progress on workers fail at once.
    for (const auto& entry : impl_->sessions) ::shutdown(entry.first->fd(), SHUT_RDWR);
  }
  // Wait for the workers' current answers to end (their writes now fail).
  WaitIdle(absl::Now() + absl::Seconds(10));
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(impl->mu);
      for (const auto& entry : impl->sessions) {
        if (auto s = entry.second.lock()) sessions.push_back(std::move(s));
      }
    }
    for (const auto& s : sessions) s->Close();
    impl->guard.reset();
  });
}

// ---------------------------------------------------------------------------

std::string ServeBytes(std::string_view bytes, const HttpLimits& limits, HttpHandler* handler) {
  Parser parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(false);
  HttpRequest head;
  std::string out;
  auto put = [&out](std::string_view b) {
    out.append(b);
    return true;
  };
  auto refuse = [&](int status, std::string message) {
    HttpResponse r = handler->Error(head, status, std::move(message));
    out += SerializeHead(r, false, true) + r.body;
    return out;
  };
  beast::error_code ec;
  std::string_view rest = bytes;
  while (!parser.is_header_done()) {
    size_t used = parser.put(net::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more) {
      return out;  // the client would time out (408)
    }
    if (ec) return refuse(FromParseError(ec, limits)->status, FromParseError(ec, limits)->message);
    if (used == 0 && !parser.is_header_done()) return out;
  }
  head = HeadOf(parser, "127.0.0.1");
  if (auto r = CheckFraming(parser, limits)) return refuse(r->status, r->message);
  if (std::optional<HttpResponse> refused = handler->CheckHead(head)) {
    out += SerializeHead(*refused, false, true) + refused->body;
    return out;
  }
  parser.eager(true);
  while (!parser.is_done()) {
    size_t used = parser.put(net::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more) {
      // No more bytes will come: whatever is left (nothing, or a piece the
      // parser cannot take yet) is where the client stopped.
      if (rest.empty() || used == 0) {
        parser.put_eof(ec);
        if (ec) return out;  // incomplete body: the deadline ends it
        break;
      }
      continue;
    }
    if (ec) return refuse(FromParseError(ec, limits)->status, FromParseError(ec, limits)->message);
    if (used == 0) break;
  }
  head.body = parser.release().body();
  HttpResponse response = handler->Handle(head);
  bool must_close = false;
  const bool ok = WriteResponse(response, false, put, &must_close);
  handler->Logged(head, response, absl::ZeroDuration());
  if (response.done) response.done(ok);
  return out;
}

}  // namespace qgraph_server
