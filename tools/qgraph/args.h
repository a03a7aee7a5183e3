// The qgraph CLI's argument parser: one verb's options, "--name value" or
// "--name=value", flags without values, repeatable options, positionals.
// Only the public API (include/qg/) is used by tools/.
#ifndef QG_TOOLS_QGRAPH_ARGS_H_
#define QG_TOOLS_QGRAPH_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qgraph_cli {

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;
};

class ParsedArgs {
 public:
  // The last value of `name`, or nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  // Every value of a repeatable option, in command-line order.
  std::vector<std::string> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const;

  std::vector<std::string> positionals;
  bool help = false;  // -h / --help seen
  // (option, value) in command-line order; flags have an empty value.
  std::vector<std::pair<std::string, std::string>> options;
};

// Parses `args` (the words after the verb). On a usage problem returns false
// and sets *error.
bool ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
               ParsedArgs* out, std::string* error);

// A piece of the user's input as an error quotes it: whole up to 200 bytes,
// else its first 200 bytes (never cutting a UTF-8 sequence) and
// "…(N bytes)" with its total length.
std::string Clip(std::string_view s);

}  // namespace qgraph_cli

#endif  // QG_TOOLS_QGRAPH_ARGS_H_
