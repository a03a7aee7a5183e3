// qg/output.h — shaping and serialising a GraphResult.
//
// Shapes (DESIGN.md §6):
//   kNodes  (default) {"nodes": {"<node_id>": {"columns": [...], "rows": [[...], ...]}, ...},
//                      "stats": {"<node_id>": {"status": "ok", "rows": N, ...}, ...}}
//   kJoined  the graph flattened along its mapping edges with SQL inner-join
//            semantics: {"rows": [{"user_data.id": 1, ..., "order_data.amount": "9.50"}, ...]}
//   kNested  every row of each root node carrying an array (possibly empty) of
//            its matching child rows under the child's node_id:
//            {"user_data": [{"id": 1, ..., "order_data": [{"order_id": 7, ...}]}]}
// Formats: kJson, kNdjson (one JSON object per line), kCsv.
//
// Writers stream: they format into a bounded buffer and hand it to the sink
// chunk by chunk, so a large result is never held twice in memory. Limits
// (rows, bytes) fail with kResourceExhausted rather than truncating.
//
// Thread-safety: the functions are reentrant; a GraphResult may be written by
// several threads at once.
#ifndef QG_OUTPUT_H_
#define QG_OUTPUT_H_

#include "qg/export.h"
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qg {

struct GraphResult;

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
