// http_server.h — qgraph-server's HTTP/1.1 layer (Boost.Beast on Asio).
//
// One I/O thread reads requests asynchronously: a slow client holds a socket
// and a few KiB, never a thread. Every request has a whole-request deadline
// (request line, headers and body), bounded header bytes and field count,
// and a body limit in every framing (Content-Length, chunked; no length ->
// 411; Content-Encoding -> 415). The handler sees the header before the body
// is read and can refuse it; a refused request's connection is closed, so
// its unread body is never parsed as another request. A complete request is
// run by a worker pool, which writes the answer with a write deadline.
// Connections are capped per client address and in total.
//
// Thread-safety: Run() on one thread; BeginDrain/WaitIdle/Stop from any.
#ifndef QG_TOOLS_SERVER_HTTP_SERVER_H_
#define QG_TOOLS_SERVER_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http.h"

namespace qgraph_server {

struct HttpLimits {
  size_t max_header_bytes = 16 << 10;  // request line + header fields
  int max_header_fields = 100;
  uint64_t max_body_bytes = 1 << 20;
  absl::Duration request_timeout = absl::Seconds(10);    // first byte to last body byte
  absl::Duration keep_alive_timeout = absl::Seconds(5);  // idle between requests
  absl::Duration write_timeout = absl::Seconds(30);      // without progress
  int max_connections = 2048;
  int max_connections_per_client = 64;
  int workers = 40;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // On the I/O thread, before any body byte is read (head.body is empty):
  // a response refuses the request (the connection is then closed). Must
  // not block.
  virtual std::optional<HttpResponse> CheckHead(HttpRequest& head) = 0;
  // On a worker: the complete request.
  virtual HttpResponse Handle(HttpRequest& request) = 0;
  // A response for an error the HTTP layer finds itself (400, 408, 411,
  // 413, 415, 431, 503); `head` may be partial.
  virtual HttpResponse Error(const HttpRequest& head, int status, std::string message) = 0;
  // After each response (access log, metrics).
  virtual void Logged(const HttpRequest& request, const HttpResponse& response,
                      absl::Duration elapsed) = 0;
};

class HttpServer {
 public:
  HttpServer(HttpLimits limits, HttpHandler* handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds; port 0 picks a free port. Returns the port.
  absl::StatusOr<int> Listen(const std::string& address, int port);
  // Serves until Stop(). Returns when every connection and worker is done.
  void Run();
  // Stops accepting and closes every connection that has no request being
  // answered; requests being answered finish (their connections then close).
  void BeginDrain();
  // Waits until no request is being answered (true) or `deadline` (false).
  bool WaitIdle(absl::Time deadline);
  // Closes every connection now (writes in progress fail) and ends Run().
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses `bytes` as one request under `limits` without a network (the
// framing checks of the server included) and answers it through `handler`:
// CheckHead, then Handle (or Error). Streams are run into a string. For the
// fuzzer and tests.
std::string ServeBytes(std::string_view bytes, const HttpLimits& limits, HttpHandler* handler);

}  // namespace qgraph_server

#endif  // QG_TOOLS_SERVER_HTTP_SERVER_H_
