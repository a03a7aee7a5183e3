/* qg.h — the C ABI of qgraph, for C hosts and any FFI (Python ctypes, Go cgo,
 * Rust).
 *
 * qgraph executes federated query graphs (QGDL JSON): nodes are queries
 * against data sources, edges carry values from one node's rows into another
 * node's parameters. This header is a thin layer over the C++ API
 * (<qg/engine.h>); it holds no logic of its own.
 *
 * Rules of this ABI (as LevelDB's c.h and libgit2 state theirs):
 *   - Handles are opaque. Every handle has one destroy function, NULL-safe.
 *   - Functions that can fail return an int code (QG_OK == 0). The codes are
 *     equal to absl::StatusCode values. On failure qg_last_error() holds a
 *     message for the calling thread, and output parameters are set to NULL.
 *     A NULL handle or NULL required argument is QG_INVALID_ARGUMENT, never a
 *     crash.
 *   - Output parameters come first after the handle they belong to, or are
 *     named `out`. Strings are NUL-terminated UTF-8 unless a length is given.
 *   - Borrowed pointers (returned `const char*`) live as long as their parent
 *     handle. Memory the library allocates for the caller (char** outputs)
 *     is freed with qg_free().
 *   - Options structs start with `unsigned int version`; initialise them
 *     with their *_INIT macro or *_init() function. New members are only
 *     ever added at the end.
 *   - No C++ exception crosses this ABI.
 *
 * Thread-safety: an engine may be used from many threads at once (many
 * graphs may run concurrently). A result is a plain value: read it from any
 * number of threads, free it from one. qg_cancel_trigger() may be called from
 * any thread.
 *
 * Example:
 *
 *   qg_engine* engine = NULL;
 *   if (qg_engine_open(&engine, "{\"sources\": [{\"name\": \"db_users\", "
 *                      "\"provider\": \"sqlite\", \"connect\": \"users.sqlite\"}]}",
 *                      NULL) != QG_OK) {
 *     fprintf(stderr, "%s\n", qg_last_error());
 *   }
 *   qg_result* result = NULL;
 *   if (qg_execute(engine, qgdl_text, "{\"city\": \"Paris\"}", NULL, &result) == QG_OK) {
 *     char* json = NULL;
 *     qg_result_to_text(result, "nested", "json", &json, NULL);
 *     puts(json);
 *     qg_free(json);
 *   }
 *   qg_result_free(result);
 *   qg_engine_close(engine);
 */
#ifndef QG_H_
#define QG_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define QG_API
#else
#define QG_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version --------------------------------------------------------- */

#define QG_VERSION_MAJOR 0
#define QG_VERSION_MINOR 1
#define QG_VERSION_PATCH 0
#define QG_VERSION_STRING "0.1.0"

/* The library's version at run time, e.g. "0.1.0" (static storage). */
QG_API const char* qg_version(void);

/* ---- Errors ---------------------------------------------------------- */

/* Return codes; equal to absl::StatusCode values. */
#define QG_OK 0
#define QG_CANCELLED 1
#define QG_UNKNOWN 2
#define QG_INVALID_ARGUMENT 3 /* bad graph, bad JSON, NULL handle, type mismatch */
#define QG_DEADLINE_EXCEEDED 4
#define QG_NOT_FOUND 5
#define QG_ALREADY_EXISTS 6
#define QG_PERMISSION_DENIED 7
#define QG_RESOURCE_EXHAUSTED 8 /* a limit was hit */
#define QG_FAILED_PRECONDITION 9
#define QG_ABORTED 10 /* transaction conflict: retry the graph */
#define QG_OUT_OF_RANGE 11
#define QG_UNIMPLEMENTED 12
#define QG_INTERNAL 13
#define QG_UNAVAILABLE 14 /* source down: retry */
#define QG_DATA_LOSS 15
#define QG_UNAUTHENTICATED 16

/* The message of the last failed qg_ call on the calling thread ("" when
 * there is none). Owned by the library; valid until the next qg_ call on the
 * same thread. Never NULL. A successful call does not clear it. */
QG_API const char* qg_last_error(void);

/* "OK", "CANCELLED", "INVALID_ARGUMENT", ...; "UNKNOWN_CODE" for any other
 * value. Static storage. */
QG_API const char* qg_code_name(int code);

/* Frees memory the library allocated for the caller (char** outputs).
 * NULL-safe. */
QG_API void qg_free(void* ptr);

/* ---- Values ---------------------------------------------------------- */

/* Value types; same order as qg::ValueType. */
typedef enum qg_type {
  QG_TYPE_NULL = 0,
  QG_TYPE_BOOL,
  QG_TYPE_INT64,
  QG_TYPE_DOUBLE,
  QG_TYPE_DECIMAL,   /* exact decimal as text: "12.5000000000" */
  QG_TYPE_STRING,    /* UTF-8 text */
  QG_TYPE_BYTES,     /* arbitrary bytes, may hold NUL: use len */
  QG_TYPE_TIMESTAMP, /* ISO-8601 text */
  QG_TYPE_JSON       /* JSON text */
} qg_type;

/* A borrowed view of one value. Exactly the member matching `type` is
 * meaningful: `b` for BOOL, `i` for INT64, `d` for DOUBLE, `text`/`len` for
 * the text-carried types (DECIMAL, STRING, BYTES, TIMESTAMP, JSON). `text`
 * is NUL-terminated, but bytes may hold NUL themselves: trust `len`. */
typedef struct qg_value {
  int type; /* qg_type */
  int b;
  int64_t i;
  double d;
  const char* text;
  size_t len;
} qg_value;

/* ---- Cancellation ---------------------------------------------------- */

/* A cancellation token, passed in qg_execute_options. Triggering it stops
 * every running query of the graphs it was passed to (sqlite3_interrupt,
 * PQcancel, KILL QUERY) and makes them fail with QG_CANCELLED. A token stays
 * triggered; use a new one for the next graph. */
typedef struct qg_cancel qg_cancel;

QG_API int qg_cancel_new(qg_cancel** out);
/* Thread-safe; idempotent. */
QG_API int qg_cancel_trigger(qg_cancel* cancel);
/* 1 if triggered, 0 if not, -1 for NULL. */
QG_API int qg_cancel_is_triggered(const qg_cancel* cancel);
/* NULL-safe. Safe while a graph using the token still runs (the graph keeps
 * its own reference). */
QG_API void qg_cancel_free(qg_cancel* cancel);

/* ---- Engine ---------------------------------------------------------- */

/* An engine: providers, a catalog of data sources, connection pools and
 * worker threads. Destroyed by qg_engine_close(). */
typedef struct qg_engine qg_engine;

#define QG_ENGINE_OPTIONS_VERSION 3
typedef struct qg_engine_options {
  unsigned int version;           /* QG_ENGINE_OPTIONS_VERSION */
  int workers;                    /* executor threads; 0 = default */
  int register_builtin_providers; /* non-zero (default): sqlite and the others built in */
  /* Version 2: a SQLite file persisting the catalog (created on first use;
   * a corrupt or unknown-version file is refused). NULL = in memory. */
  const char* catalog_path;
  /* Version 2: the two-phase-commit coordinator log (a SQLite file; NULL =
   * none, and "2pc" graphs are refused). With one, qg_engine_open runs
   * qg_engine_recover once the catalog is loaded. */
  const char* coordinator_log;
  /* Version 2: prefix of this engine's global transaction ids (NULL = "qg");
   * engines sharing a database need distinct prefixes. */
  const char* transaction_prefix;
  /* Version 3: limits (qg::EngineOptions in <qg/engine.h>). 0 = the
   * library's default; negative is QG_INVALID_ARGUMENT. Past a limit the
   * graph fails with QG_RESOURCE_EXHAUSTED (graph limits: QG_INVALID_ARGUMENT
   * at validation), the message naming the limit. */
  int64_t max_bindings;       /* bindings per dependent node (1000000) */
  int64_t max_result_rows;    /* rows a graph holds in memory in total (50000000) */
  int64_t max_result_bytes;   /* bytes a graph holds in memory in total (8 GiB) */
  int64_t default_batch_size; /* bindings per batched round trip (1000) */
  /* Graph limits (qg::GraphLimits), checked when a graph is parsed: */
  int64_t max_nodes;          /* nodes per graph (1000) */
  int64_t max_edges;          /* edges per graph (10000) */
  int64_t max_query_length;   /* bytes per query_string (1 MiB) */
  int64_t max_depth;          /* JSON nesting depth (64) */
  int64_t max_document_bytes; /* bytes of a graph's JSON text (16 MiB) */
} qg_engine_options;
#define QG_ENGINE_OPTIONS_INIT \
  { QG_ENGINE_OPTIONS_VERSION, 0, 1, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
/* Fills `opts` with defaults for `version`. QG_INVALID_ARGUMENT for an
 * unknown version or NULL. */
QG_API int qg_engine_options_init(qg_engine_options* opts, unsigned int version);

/* Creates an engine. `sources_json` (nullable) is a catalog in the JSON form
 * of docs/design.md §8 ({"sources": [...], "user_mappings": [...]}); `opts`
 * (nullable) the options. On failure *out is NULL. */
QG_API int qg_engine_open(qg_engine** out, const char* sources_json, const qg_engine_options* opts);
/* Waits for running graphs, closes every connection. NULL-safe. */
QG_API void qg_engine_close(qg_engine* engine);

/* Adds the sources and user mappings of a JSON catalog to the engine. */
QG_API int qg_engine_load_catalog(qg_engine* engine, const char* json);

/* ---- Execution ------------------------------------------------------- */

#define QG_EXECUTE_OPTIONS_VERSION 2
typedef struct qg_execute_options {
  unsigned int version; /* QG_EXECUTE_OPTIONS_VERSION */
  const char* user;     /* the caller's local user (picks user mappings); NULL = none */
  long long timeout_ms; /* 0 = none (the graph's own timeout_ms applies) */
  qg_cancel* cancel;    /* NULL = not cancellable from the host */
  /* Version 2: "autonomous", "common" or "2pc", overriding the graph's
   * "transaction" (see README, Transactions); NULL = the graph's. */
  const char* transaction;
} qg_execute_options;
#define QG_EXECUTE_OPTIONS_INIT \
  { QG_EXECUTE_OPTIONS_VERSION, NULL, 0, NULL, NULL }
QG_API int qg_execute_options_init(qg_execute_options* opts, unsigned int version);

/* A graph's results. Destroyed by qg_result_free(). */
typedef struct qg_result qg_result;

/* Validates, plans and runs a QGDL graph. `params_json` (nullable) is a JSON
 * object of graph parameters ({"city": "Paris"}) overriding the graph's own
 * "params"; `opts` is nullable. On success *out receives the result (free
 * it with qg_result_free). On failure the code is returned, qg_last_error()
 * says what went wrong (naming the node and source, or the JSON pointer of a
 * bad graph) and *out is NULL. */
QG_API int qg_execute(qg_engine* engine, const char* qgdl_json, const char* params_json,
                      const qg_execute_options* opts, qg_result** out);

/* Runs catalog statements (CREATE | ALTER | DROP EXTERNAL DATA SOURCE,
 * CREATE | ALTER | DROP EXTERNAL USER, EXECUTE STATEMENT ... ON EXTERNAL
 * DATA SOURCE), separated by ';', in order. Catalog changes are persisted
 * when the engine has a catalog_path. *out receives the last statement's
 * result like qg_execute (an EXECUTE STATEMENT's one node is "statement";
 * no nodes for a catalog change). `opts` is nullable. */
QG_API int qg_catalog_exec(qg_engine* engine, const char* statements,
                           const qg_execute_options* opts, qg_result** out);

/* Resolves what a crash left of this engine's two-phase commits (see
 * qg_engine_options.coordinator_log): prepared branches whose commit decision
 * is logged are committed, other prepared branches with this engine's prefix
 * rolled back. *report_json (nullable; free with qg_free) receives
 * {"committed", "rolled_back", "resolved_log", "unresolved": ["source: why"]};
 * unreachable sources stay logged for the next call. */
QG_API int qg_engine_recover(qg_engine* engine, char** report_json);

/* Plans a graph without executing it and renders the plan. `format` is
 * "text" (default when NULL), "json" or "dot". *out is allocated: free it with
 * qg_free(). On failure *out is NULL. */
QG_API int qg_explain(qg_engine* engine, const char* qgdl_json, const char* params_json,
                      const char* format, char** out);

/* EXPLAIN ANALYZE: executes the graph and renders the plan with each node's
 * estimates (asked from the sources when not cached) beside its actuals.
 * Same arguments and ownership as qg_explain. */
QG_API int qg_explain_analyze(qg_engine* engine, const char* qgdl_json, const char* params_json,
                              const char* format, char** out);

/* ---- Results --------------------------------------------------------- */

/* Node status; same order as qg::NodeStatus. */
#define QG_NODE_OK 0
#define QG_NODE_SKIPPED 1   /* dependent node without bindings: zero rows */
#define QG_NODE_FAILED 2    /* failed (with on_error=continue the graph went on) */
#define QG_NODE_CANCELLED 3 /* cancelled, or not started */

/* Navigation. Nodes are indexed 0..node_count-1 in the graph's order; columns
 * and rows of a node from 0. Functions returning a count or an index return
 * -1 (and set qg_last_error) for a NULL handle or an index out of range;
 * functions returning a pointer return NULL. Returned strings are borrowed:
 * they live as long as the result. */
QG_API int qg_result_node_count(const qg_result* r);
QG_API const char* qg_result_node_id(const qg_result* r, int node);
/* The source the node ran against (its database_id). */
QG_API const char* qg_result_node_source(const qg_result* r, int node);
/* Index of the node named `node_id`, or -1. */
QG_API int qg_result_node_index(const qg_result* r, const char* node_id);
/* QG_NODE_OK / SKIPPED / FAILED / CANCELLED, or -1. */
QG_API int qg_result_node_status(const qg_result* r, int node);
/* The node's error message (failed/cancelled nodes), or NULL if none. */
QG_API const char* qg_result_node_error(const qg_result* r, int node);
/* The code of the node's error (QG_OK when none), or -1. */
QG_API int qg_result_node_error_code(const qg_result* r, int node);

QG_API int qg_result_column_count(const qg_result* r, int node);
QG_API const char* qg_result_column_name(const qg_result* r, int node, int col);
/* Index of the column named `name` in the node, or -1. */
QG_API int qg_result_column_index(const qg_result* r, int node, const char* name);
QG_API int64_t qg_result_row_count(const qg_result* r, int node);

/* One cell's type (a qg_type; each value keeps its own type, SQLite may mix
 * types in a column), or -1. */
QG_API int qg_result_value_type(const qg_result* r, int node, int col, int64_t row);
/* 1 if the cell is null, 0 if not, -1 for bad arguments. */
QG_API int qg_result_is_null(const qg_result* r, int node, int col, int64_t row);
/* Typed getters: QG_INVALID_ARGUMENT when the cell's type is not the one
 * asked for (nulls included) or an index is out of range; *out is then left
 * unchanged. */
QG_API int qg_result_get_int64(const qg_result* r, int node, int col, int64_t row, int64_t* out);
QG_API int qg_result_get_double(const qg_result* r, int node, int col, int64_t row, double* out);
/* *out is 0 or 1. */
QG_API int qg_result_get_bool(const qg_result* r, int node, int col, int64_t row, int* out);
/* Any text-carried type (decimal, string, bytes, timestamp, json): a
 * borrowed pointer (NUL-terminated; bytes may contain NUL) and its length
 * (`len` nullable). */
QG_API int qg_result_get_text(const qg_result* r, int node, int col, int64_t row, const char** data,
                              size_t* len);
/* Any cell as a borrowed qg_value view. */
QG_API int qg_result_get_value(const qg_result* r, int node, int col, int64_t row, qg_value* out);

/* Dependent nodes run once per distinct binding of their mapped parameters.
 * qg_result_row_binding() says which binding produced a row: an index into
 * the node's bindings, or -1 for rows of nodes without incoming mappings (and
 * for bad arguments). */
QG_API int64_t qg_result_row_binding(const qg_result* r, int node, int64_t row);
/* Number of distinct bindings the node ran with (0 for roots), or -1. */
QG_API int64_t qg_result_binding_count(const qg_result* r, int node);
/* The mapped (target) parameters, in the order the node's edges list them. */
QG_API int qg_result_binding_param_count(const qg_result* r, int node);
QG_API const char* qg_result_binding_param(const qg_result* r, int node, int param);
/* The value of parameter `param` in binding `binding`. */
QG_API int qg_result_binding_value(const qg_result* r, int node, int64_t binding, int param,
                                   qg_value* out);

/* Renders the whole result. `shape`: "nodes", "joined" or "nested";
 * `format`: "json", "ndjson" or "csv" (see docs/design.md §6; nested + csv is
 * refused). The graph's own "output" settings apply as in the CLI's `run`:
 * a NULL shape or format is the graph's (else "nodes" / "json"), and its
 * max_rows / max_bytes fail the call with QG_RESOURCE_EXHAUSTED naming the
 * limit, its pretty indents JSON. *out is allocated and
 * NUL-terminated: free it with qg_free(); *len (nullable) receives its length
 * without the NUL. On failure *out is NULL. */
QG_API int qg_result_to_text(const qg_result* r, const char* shape, const char* format, char** out,
                             size_t* len);

/* Streams the rendering qg_result_to_text makes (same `shape` and `format`,
 * same defaults) to `write_cb`, chunk by chunk: no chunk is larger than
 * 64 KiB and the whole text is never held in memory. `data` is valid only
 * during the call and is not NUL-terminated; `payload` is passed through.
 * A callback returning non-zero stops the writing: qg_result_write then
 * returns QG_CANCELLED (whatever the callback returned) and qg_last_error()
 * says which value the callback returned. Chunks handed over before a
 * failure (a callback's, or a limit's) stay written. */
QG_API int qg_result_write(const qg_result* r, const char* shape, const char* format,
                           int (*write_cb)(const char* data, size_t len, void* payload),
                           void* payload);

/* What the graph's transaction did on each source (common / 2pc), as JSON:
 * {"mode", "id", "participants": [{"source", "user", "gid", "last_resource",
 * "state": "committed" | "rolled_back" | "commit_pending" | "failed",
 * "error"}]}. *out is allocated: free it with qg_free(). */
QG_API int qg_result_transaction(const qg_result* r, char** out);

/* NULL-safe. */
QG_API void qg_result_free(qg_result* r);

/* ---- Pool figures ---------------------------------------------------- */

/* Live figures of one connection pool (one per data source and external
 * user). */
#define QG_POOL_STATS_VERSION 1
typedef struct qg_pool_stats {
  unsigned int version; /* QG_POOL_STATS_VERSION: set by the caller */
  const char* name;     /* "source/user"; borrowed until the next
                           qg_engine_pool_stats call on this thread */
  int in_use;
  int idle;
  int waiting;
  int max;
  uint64_t created;
  uint64_t closed;
  uint64_t broken;
  uint64_t timeouts;
  double wait_seconds; /* total time callers waited for a connection */
} qg_pool_stats;
#define QG_POOL_STATS_INIT \
  { QG_POOL_STATS_VERSION, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0.0 }
QG_API int qg_pool_stats_init(qg_pool_stats* stats, unsigned int version);

/* Number of pools the engine has now (pools appear as sources are first
 * used), or -1. */
QG_API int qg_engine_pool_count(qg_engine* engine);
/* Figures of pool `i` (0..count-1; the order is stable while no pool is
 * added). `out->version` must be set (QG_POOL_STATS_INIT). */
QG_API int qg_engine_pool_stats(qg_engine* engine, int i, qg_pool_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QG_H_ */
