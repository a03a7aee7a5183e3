// Internal: the built-in REST/JSON provider ("http"), on libcurl (docs/design.md §7).
//
// Source. `connect` is the base URL ("https://api.example.com/v1", may carry
// a query such as ?api_key=..., which is redacted in every error). The
// catalog's user/password are the credentials (auth option). Options:
//   headers      default headers, "X-A: 1|X-B: 2"
//   auth         none (default) | bearer (Authorization: Bearer <password>) |
//                basic (<user>:<password>) | header:<Name> (<Name>: <password>) |
//                query:<name> (?<name>=<password>, redacted in errors)
//   allow_hosts  comma list of origins requests, redirects and next-page
//                links may reach: "scheme://host[:port][/path-prefix]"; a
//                bare "host" or "host:port" takes the base URL's scheme, and
//                without a port that scheme's default port only (never any
//                port); "*" / "*.example.com" as the host; a path prefix
//                holds for the path as sent and as decoded. Default: the
//                base URL's origin only
//   timeout      per request (default 30s; the source's statement_timeout,
//                when set and shorter, wins); connect_timeout is the engine's
//   rate_limit   requests per second for the whole source (all its pooled
//                connections share one token bucket); 0 = unlimited
//   burst        bucket size (default 1)
//   retries      retries on 429/503 (default 3), waiting Retry-After (seconds
//                or an HTTP date) or an exponential backoff from 100 ms, each
//                wait capped by retry_max_wait (default 10s)
//   max_pages    pages one request may follow (default 100); more is an error
//                (kResourceExhausted), never a silent truncation
//   next_at      JSON pointer of the next-page link in the body (e.g. /next)
//   page_param / page_start (default 1)   ?page=N pagination
//   offset_param                          ?offset=N pagination
//   limit_param / page_size               sent with page/offset pagination;
//                page_size also ends paging on a short page
//   rows_at      JSON pointer of the rows (default "": the whole document)
//   batch_key_field  response field (name or /pointer) holding a batched
//                row's key (default "id")
//   max_batch    keys per batched request (default 100)
//   max_response_bytes  per response (default 64 MiB)
//   user_agent
// Pagination: a `Link: <url>; rel="next"` header is always followed (unless
// paginate=none); a next_at link when configured; page/offset styles stop at
// an empty page (or one shorter than page_size). Next links are resolved
// against the page's URL and checked against allow_hosts.
//
// Query (a node's query_string) is a request template:
//   [METHOD] PATH[?QUERY] [directive=value ...] [JSON-BODY]
//   GET /users/:user_id/orders?status=:status
//   POST /search rows_at=/hits {"ids": :ids, "q": :q}
//   GET /users?ids=:id batch=id batch_key=id max_batch=50
// METHOD is GET (default), POST, PUT, PATCH, DELETE or HEAD. `:name` is a
// placeholder (`::` is a literal colon). Values are percent-encoded in the
// path and the query (integral doubles print as integers; null in the path
// is an error, in the query it omits that key=value; bytes and JSON cannot
// go into a URL) and JSON-encoded in the body (placeholders inside JSON
// strings are literal text). Directives:
//   rows_at=/ptr, next_at=/ptr    override the source options
//   fields=a,b,c=/x/y             the columns: by key, or by JSON pointer;
//                                 default: every key of every row, in order
//                                 of first appearance
//   paginate=none                 follow no next page
//   batch=<param>                 the API takes a list for <param> (which must
//                                 be a whole query value, sent comma-joined,
//                                 or a JSON body value, sent as an array):
//                                 the planner may then batch lookups keyed by
//                                 it; batch_key=<field>, max_batch=<n> and
//                                 batch_sep=<s> refine it.
// Batching is declared in the query because Provider::Compile sees only the
// query, not the source: a template without batch= refuses batched compiles
// (kFailedPrecondition) and the planner runs one request per binding, in
// parallel over the pool's connections. A batched request's rows are linked
// back to their keys by batch_key; a row whose key was not asked for is an
// error.
//
// Results: the value at rows_at — an array of objects (each a row), one
// object (one row), an array of scalars (column "value"), or null (no rows).
// Values: integer -> int64 (beyond int64 -> decimal), other numbers ->
// double, string, bool, null, objects/arrays -> json.
// Credentials (auth, credential-like `headers` such as Authorization, Cookie
// or X-Api-Key, the base URL's user info and query) go only to requests on
// the base URL's origin: a redirect or next-page link to another allowed
// origin is followed without them. libcurl never follows redirects itself.
// Every secret of the source is replaced by "***" in every message, in raw,
// base64, percent-encoded and JSON-escaped form (http_redact.h).
// Errors: HTTP errors fail with the status and the URL minus credentials
// (401/403 kPermissionDenied, 404 kNotFound, 400/422 kInvalidArgument,
// 429 kResourceExhausted, 408/504 kDeadlineExceeded, 5xx kUnavailable);
// redirects are followed (at most 5) only inside allow_hosts.
//
// Thread-safety: the provider is thread-safe; a connection (one CURL easy
// handle in its own multi handle, keeping its connections alive) is used by
// one thread at a time; Cancel() from any thread aborts the transfer and any
// retry or rate-limit wait at once.
#ifndef QG_LIB_PROVIDERS_HTTP_HTTP_PROVIDER_H_
#define QG_LIB_PROVIDERS_HTTP_HTTP_PROVIDER_H_

#include <memory>

#include "qg/provider.h"

namespace qg {

std::shared_ptr<Provider> NewHttpProvider();

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_HTTP_HTTP_PROVIDER_H_
