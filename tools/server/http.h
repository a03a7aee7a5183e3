// http.h — the HTTP request and response of qgraph-server, independent of
// the library that reads and writes them (http_server.h).
//
// A request arrives whole: the server reads its header, lets the service
// refuse it (before any body byte is read), then reads the body under the
// limits and hands the complete request to a worker. A response is either a
// fixed body or a stream of chunks (Transfer-Encoding: chunked).
#ifndef QG_TOOLS_SERVER_HTTP_H_
#define QG_TOOLS_SERVER_HTTP_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qgraph_server {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // as sent: path and query
  std::string path;                                          // target before '?'
  std::string query;                                         // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  std::string peer;      // the client's address
  std::string query_id;  // the X-Query-Id the service gave the request

  // The first header of that name (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // A query-string parameter, percent-decoded; "" when absent.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

// Where a streamed response's bytes go. Write() returns false once the
// client is gone or too slow (the write deadline passed); the producer
// stops then.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  virtual bool Write(std::string_view bytes) = 0;
  // True once the status line and headers went out; until then Fail() can
  // still replace the whole response.
  virtual bool committed() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string content_type = "application/json";
  std::string body;
  // Close the connection after this response (also sent as
  // "Connection: close").
  bool close = false;

  // A streamed answer: called on the worker with the sink; returns true when
  // the whole answer was written. On false, `stream_error` (when set) is the
  // response sent instead if nothing was committed yet, or else its body is
  // written as a last chunk and the connection is closed without the
  // terminating chunk, so the client sees the answer is incomplete.
  std::function<bool(ChunkSink&)> stream;
  std::function<HttpResponse()> stream_error;
  // Called once after the response was written (true) or abandoned (false).
  std::function<void(bool)> done;

  std::string header(std::string_view name) const;
  void set_header(std::string name, std::string value);
};

// The reason phrase of a status (499 included).
std::string_view ReasonPhrase(int status);

}  // namespace qgraph_server

#endif  // QG_TOOLS_SERVER_HTTP_H_
