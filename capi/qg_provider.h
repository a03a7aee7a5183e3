/* qg_provider.h — the implementer's API: a data source kind written in C.
 *
 * A host fills a qg_provider_vtable (a versioned struct of callbacks, in the
 * manner of SQLite's sqlite3_module) and registers it on one engine with
 * qg_engine_register_provider(). Sources in the catalog then name it in
 * "provider", like any built-in provider. There is no process-global
 * registry.
 *
 * The query language is the provider's own. Before execute() is called the
 * engine rewrites the node's `:name` placeholders to `?` (outside string
 * literals, quoted identifiers and comments) and passes the values as
 * arguments, in placeholder order; values are never spliced into the text.
 * A dependent node runs once per binding unless the provider declares
 * QG_PROVIDER_CAP_BATCH_IN_LIST, in which case its query text must be SQL
 * that the engine may rewrite from `col = ?` to `col IN (?, ?, ...)`.
 *
 * Capabilities are declared, never faked: a provider offers only what its
 * flags say (no transactions, no two-phase commit through this ABI).
 *
 * Threading contract:
 *   - connect() may be called from several threads at once (one call per new
 *     connection); it must be thread-safe with respect to `payload`.
 *   - A connection (`conn`) is used by one thread at a time: execute, ping,
 *     reset and disconnect are never called concurrently on one connection.
 *   - cancel(conn) may be called from any thread at any time, also while
 *     execute() runs on another thread, and must be thread-safe.
 *
 * Errors: every fallible callback returns a qg.h code (QG_OK on success) and
 * writes a NUL-terminated message into `errbuf` (at most `errlen` bytes,
 * `errlen` > 0). QG_UNAVAILABLE means the connection is unusable: the pool
 * closes it and opens another. Never put a password in a message.
 *
 * Lifetime: the vtable struct and its name are copied at registration; the
 * payload must live until destroy(payload) is called, which happens when the
 * engine is closed (only if registration succeeded).
 *
 * Example (a provider that returns a constant row):
 *
 *   static int my_execute(void* conn, const char* query, const qg_value* args,
 *                         size_t nargs, qg_row_sink* sink, char* errbuf, size_t errlen) {
 *     qg_sink_add_column(sink, "answer", QG_TYPE_INT64);
 *     qg_sink_begin_row(sink);
 *     qg_sink_int64(sink, 42);
 *     return qg_sink_end_row(sink);
 *   }
 *   ...
 *   qg_provider_vtable vt = QG_PROVIDER_VTABLE_INIT;
 *   vt.name = "answers";
 *   vt.connect = my_connect; vt.disconnect = my_disconnect; vt.execute = my_execute;
 *   qg_engine_register_provider(engine, &vt, NULL);
 */
#ifndef QG_CAPI_PROVIDER_H_
#define QG_CAPI_PROVIDER_H_

#include "qg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives the rows of one execution. Owned by the engine; valid only during
 * the execute() call it was passed to. */
typedef struct qg_row_sink qg_row_sink;

/* Declares one result column. All columns are declared before the first
 * row; a statement with no columns (a write) declares none. `type` is the
 * column's qg_type, or QG_TYPE_NULL when not known up front. */
QG_API int qg_sink_add_column(qg_row_sink* sink, const char* name, int type);
/* Starts a row; then one setter per declared column, in order; then
 * qg_sink_end_row(). */
QG_API int qg_sink_begin_row(qg_row_sink* sink);
QG_API int qg_sink_null(qg_row_sink* sink);
QG_API int qg_sink_int64(qg_row_sink* sink, int64_t value);
QG_API int qg_sink_double(qg_row_sink* sink, double value);
QG_API int qg_sink_bool(qg_row_sink* sink, int value);
/* A text-carried value: `type` is QG_TYPE_DECIMAL, STRING, BYTES, TIMESTAMP
 * or JSON; `data` need not be NUL-terminated. */
QG_API int qg_sink_text(qg_row_sink* sink, int type, const char* data, size_t len);
/* Hands the row to the engine. A non-QG_OK code (a result limit, a wrong
 * number of values) means: stop, and return that code from execute(). */
QG_API int qg_sink_end_row(qg_row_sink* sink);
/* Write statements: the number of rows changed. */
QG_API int qg_sink_set_rows_affected(qg_row_sink* sink, int64_t rows);

/* Capability flags. */
#define QG_PROVIDER_CAP_CANCEL 0x1u        /* cancel() really stops a running execute() */
#define QG_PROVIDER_CAP_WRITES 0x2u        /* accepts "mode": "write" nodes */
#define QG_PROVIDER_CAP_BATCH_IN_LIST 0x4u /* SQL text; `col IN (?, ...)` batching is fine */

#define QG_PROVIDER_VTABLE_VERSION 1
typedef struct qg_provider_vtable {
  unsigned int version;          /* QG_PROVIDER_VTABLE_VERSION */
  const char* name;              /* "provider" in the catalog; required */
  unsigned int capabilities;     /* QG_PROVIDER_CAP_* */
  unsigned int max_placeholders; /* arguments per execute(); 0 = 32766 */

  /* Opens a connection. `connect` is the source's connection string; `user`
   * and `password` the external credentials ("" when none). Required. */
  int (*connect)(void* payload, const char* connect, const char* user, const char* password,
                 void** conn_out, char* errbuf, size_t errlen);
  /* Closes a connection. Required. */
  void (*disconnect)(void* conn);
  /* Runs `query` (placeholders rewritten to `?`) with `nargs` arguments,
   * writing rows into `sink`. The values in `args` are borrowed for the call.
   * Required. */
  int (*execute)(void* conn, const char* query, const qg_value* args, size_t nargs,
                 qg_row_sink* sink, char* errbuf, size_t errlen);
  /* Stops a running execute() as soon as possible (it then returns
   * QG_CANCELLED). Thread-safe. Nullable: the engine still refuses to start
   * new executions on a cancelled connection. */
  void (*cancel)(void* conn);
  /* Health check; `query` is the source's health_check option ("" = the
   * provider's cheapest round trip). Nullable (always healthy). */
  int (*ping)(void* conn, const char* query, char* errbuf, size_t errlen);
  /* Called when the connection returns to its pool: drop per-session state,
   * forget a previous cancel. Nullable. */
  int (*reset)(void* conn, char* errbuf, size_t errlen);
  /* Called once when the engine no longer needs the provider. Nullable. */
  void (*destroy)(void* payload);
} qg_provider_vtable;

#define QG_PROVIDER_VTABLE_INIT \
  { QG_PROVIDER_VTABLE_VERSION, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL }
QG_API int qg_provider_vtable_init(qg_provider_vtable* vtable, unsigned int version);

/* Registers a provider kind on `engine`. QG_ALREADY_EXISTS if the name is
 * taken; QG_INVALID_ARGUMENT for a missing required callback or an unknown
 * vtable version. On failure the payload stays the caller's. */
QG_API int qg_engine_register_provider(qg_engine* engine, const qg_provider_vtable* vtable,
                                       void* payload);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QG_CAPI_PROVIDER_H_ */
