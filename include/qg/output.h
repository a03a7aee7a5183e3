// qg/output.h — shaping and serialising a GraphResult.
//
// Shapes (docs/design.md §6):
//   kNodes  (default) {"nodes": {"<node_id>": {"columns": [...], "rows": [[...], ...]}, ...},
//                      "stats": {"<node_id>": {"status": "ok", "rows": N, ...}, ...}}
//   kJoined  the graph flattened along its mapping edges with SQL inner-join
//            semantics: {"rows": [{"user_data.id": 1, ..., "order_data.amount": "9.50"}, ...]}
//   kNested  every row of each root node carrying an array (possibly empty) of
//            its matching child rows under the child's node_id:
//            {"user_data": [{"id": 1, ..., "order_data": [{"order_id": 7, ...}]}]}
// Formats: kJson, kNdjson (one JSON object per line), kCsv.
//
// Details (all shapes list nodes in graph order):
//   - Joining and nesting follow only edges with an input_mapping (ordering
//     edges do not join). A child row matches a parent row when, for every
//     parameter fed from that parent, the row's binding value (NodeResult::
//     bindings/row_binding) equals the parent row's field (ValueKeyEqual).
//     Weakly connected components of the joined shape combine as a cross
//     product; a node that contributes no rows (skipped, failed with
//     on_error=continue, cancelled) makes an inner join empty, and gives
//     empty arrays when nested. Joined keys are "<node_id>.<column>" for
//     every column of every node.
//   - kNested roots are the nodes with no incoming mapping edge; a child with
//     several parents is nested under each, matched only on the parameters
//     that parent feeds.
//   - kNodes stats per node: "status", "rows", "skipped", "strategy",
//     "bindings", "round_trips", "elapsed_ms", plus "rows_affected" for
//     write nodes and "error"/"error_code" when the node has an error. A node
//     not ok lists its columns and no rows.
//   - kNdjson: kNodes -> one line per row {"node": "<id>", "row": {col: v}};
//     kJoined -> one line per joined row object; kNested -> one line per root
//     row {"<root_id>": {...row with nested children...}}. pretty is ignored.
//   - kCsv (RFC 4180 quoting, "\n" line ends): null is an empty field, the
//     empty string is "" so the two differ; fields holding , " CR or LF are
//     quoted. kNodes -> per node "# node: <id>", header, rows, blank line;
//     kJoined -> a header of "<node_id>.<column>" names, then rows.
//   - Values in JSON: int64 -> number; double -> shortest round-trip number,
//     always with '.' or an exponent (1.0), non-finite -> null; bool; null;
//     decimal -> string with the exact digits ("9.50"); string -> string
//     (invalid UTF-8 replaced by U+FFFD); bytes -> base64 string; timestamp
//     -> string; json -> embedded as is when valid JSON, else a string.
//     In CSV: Value::ToText(), bytes in base64.
//   - JSON documents end with a newline.
//
// Writers stream: they format into a buffer of kOutputChunkBytes and hand it
// to the sink chunk by chunk (no chunk is larger), so a large result is never
// held twice in memory. Limits fail with kResourceExhausted ("result exceeds
// max_rows=1000") rather than truncating; max_rows counts every row written
// (in kNested also the nested child rows), max_bytes the bytes handed over.
//
// Thread-safety: the functions are reentrant; a GraphResult may be written by
// several threads at once.
#ifndef QG_OUTPUT_H_
#define QG_OUTPUT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "qg/export.h"

namespace qg {

struct GraphResult;

// Size of the chunks the writers hand to an OutputSink (the last may be
// smaller; none is larger).
inline constexpr size_t kOutputChunkBytes = 64 * 1024;

enum class Shape { kNodes, kJoined, kNested };
enum class Format { kJson, kNdjson, kCsv };

QG_EXPORT absl::StatusOr<Shape> ParseShape(std::string_view s);    // "nodes" | "joined" | "nested"
QG_EXPORT absl::StatusOr<Format> ParseFormat(std::string_view s);  // "json" | "ndjson" | "csv"
QG_EXPORT std::string_view ShapeName(Shape s);
QG_EXPORT std::string_view FormatName(Format f);

struct OutputOptions {
  Shape shape = Shape::kNodes;
  Format format = Format::kJson;
  // 0 = unlimited. Past a limit the writer fails with kResourceExhausted
  // naming the limit; what was already handed to the sink stays written.
  uint64_t max_rows = 0;
  uint64_t max_bytes = 0;
  bool pretty = false;  // json only: indented output
};

// Receives output chunks in order. Returning an error stops the writer.
using OutputSink = std::function<absl::Status(std::string_view chunk)>;

// Streams `result` in the requested shape and format into `sink`.
//
// kNodes + kCsv writes one section per node: a line "# node: <id>", the
// header, the rows, a blank line. kNodes + kNdjson writes one object per row:
// {"node": "<id>", "row": {...}}. kNested + kCsv is refused
// (kInvalidArgument): CSV cannot nest.
QG_EXPORT absl::Status WriteResult(const GraphResult& result, const OutputOptions& options,
                                   const OutputSink& sink);

// Convenience: the whole output as one string.
QG_EXPORT absl::StatusOr<std::string> ResultToString(const GraphResult& result,
                                                     const OutputOptions& options);

}  // namespace qg

#endif  // QG_OUTPUT_H_
