#include "args.h"

#include <algorithm>

namespace qgraph_cli {

std::optional<std::string> ParsedArgs::Get(std::string_view name) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : options) {
    if (k == name) v = val;
  }
  return v;
}

std::vector<std::string> ParsedArgs::GetAll(std::string_view name) const {
  std::vector<std::string> v;
  for (const auto& [k, val] : options) {
    if (k == name) v.push_back(val);
  }
  return v;
}

bool ParsedArgs::Has(std::string_view name) const {
  return std::any_of(options.begin(), options.end(),
                     [&](const auto& kv) { return kv.first == name; });
}

bool ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
               ParsedArgs* out, std::string* error) {
  bool only_positionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positionals || a == "-" || a.size() < 2 || a[0] != '-') {
      out->positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      out->help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      *error = "unknown option " + Clip(a);
      return false;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      *error = "unknown option --" + Clip(name);
      return false;
    }
    if (!spec->repeatable && out->Has(name)) {
      *error = "option --" + name + " given twice";
      return false;
    }
    if (!spec->takes_value) {
      if (inline_value) {
        *error = "option --" + name + " takes no value";
        return false;
      }
      out->options.emplace_back(name, "");
      continue;
    }
    if (inline_value) {
      out->options.emplace_back(name, *inline_value);
      continue;
    }
    if (i + 1 >= args.size()) {
      *error = "option --" + name + " needs a value";
      return false;
    }
    out->options.emplace_back(name, args[++i]);
  }
  return true;
}

std::string Clip(std::string_view s) {
  constexpr size_t kMax = 200;
  if (s.size() <= kMax) return std::string(s);
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…(" + std::to_string(s.size()) + " bytes)";
}

}  // namespace qgraph_cli
