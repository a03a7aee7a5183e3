// lib/result/output_settings.cc — the output options a result's graph asks
// for (docs/design.md §6), applied alike by every host.
#include "qg/result.h"

namespace qg {

OutputOptions GraphOutputOptions(const GraphResult& result, std::optional<Shape> shape,
                                 std::optional<Format> format) {
  OutputOptions out = result.graph.output.value_or(OutputOptions{});
  if (shape) out.shape = *shape;
  if (format) out.format = *format;
  return out;
}

}  // namespace qg
