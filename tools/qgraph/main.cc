// qgraph — the command-line front end of the qgraph library (docs/design.md §1):
//
//   qgraph run GRAPH.json --sources CATALOG.json [--param name=value]... [--transaction MODE]
//   qgraph validate GRAPH.json [--sources CATALOG.json] [--param name=value]...
//   qgraph explain GRAPH.json --sources CATALOG.json [--format text|json|dot] [--analyze]
//   qgraph catalog exec STATEMENT... [--catalog FILE | --sources FILE] [--user U]
//   qgraph catalog list [--catalog FILE | --sources FILE]
//   qgraph recover --tx-log FILE (--sources CATALOG.json | --catalog FILE)
//
// Every verb takes --catalog FILE (a persisted SQLite catalog) instead of
// --sources FILE (a JSON catalog).
//
// Results go to stdout, streamed through qg::WriteResult; errors go to stderr
// as "qgraph: <STATUS_CODE>: <message>". Exit status: 0 ok, 1 graph or
// execution error, 2 usage error. A thin main over the public API only.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "args.h"
#include "qg/engine.h"
#include "qg/graph.h"
#include "qg/output.h"
#include "qg/plan.h"
#include "qg/result.h"
#include "qg/value.h"

#ifndef QG_VERSION_STRING
#define QG_VERSION_STRING "unknown"
#endif

namespace qgraph_cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Verb {
  const char* name;
  const char* summary;
  const char* usage;  // full help text
  std::vector<OptionSpec> options;
  int (*handler)(const ParsedArgs& args);
};

const char kMainHelp[] =
    "qgraph — run federated query graphs (QGDL) over SQLite and other sources\n"
    "\n"
    "Usage: qgraph <verb> [arguments]\n"
    "\n"
    "Verbs:\n"
    "%s"
    "\n"
    "Global options:\n"
    "  -h, --help     show this help (qgraph help <verb> for a verb's options)\n"
    "  --version      print the version\n"
    "\n"
    "Exit status: 0 ok, 1 graph or execution error, 2 usage error.\n";

const char kRunHelp[] =
    "Usage: qgraph run GRAPH.json --sources CATALOG.json [options]\n"
    "\n"
    "Executes a query graph and writes its result to stdout. GRAPH.json may be\n"
    "\"-\" to read the graph from stdin.\n"
    "\n"
    "Options:\n"
    "  --sources FILE       the catalog of data sources (JSON, docs/design.md §8)\n"
    "  --catalog FILE       a persisted SQLite catalog instead (qgraph catalog exec)\n"
    "                       one of --sources and --catalog is required\n"
    "  --param NAME=VALUE   a graph input, passed as a string (repeatable)\n"
    "  --params JSON        graph inputs as a JSON object, e.g. '{\"city\": \"Paris\", \"n\": "
    "3}';\n"
    "                       @FILE reads the object from FILE. --param wins for the same name\n"
    "  --user NAME          the local user that picks the catalog's user mappings\n"
    "  --shape SHAPE        nodes | joined | nested (default: the graph's \"output\", else nodes)\n"
    "  --format FORMAT      json | ndjson | csv (default: the graph's \"output\", else json)\n"
    "  --pretty             indent JSON output (the default when stdout is a terminal)\n"
    "  --compact            never indent JSON output\n"
    "  --timeout-ms N       cancel the graph after N milliseconds (overrides \"timeout_ms\")\n"
    "  --transaction MODE   autonomous | common | 2pc (overrides the graph's \"transaction\")\n"
    "  --tx-log FILE        the two-phase-commit coordinator log (SQLite; needed by 2pc);\n"
    "                       what a crash left prepared is resolved on open\n"
    "  --tx-prefix P        prefix of this engine's global transaction ids (default qg)\n";

const char kValidateHelp[] =
    "Usage: qgraph validate GRAPH.json [--sources CATALOG.json] [--param NAME=VALUE]...\n"
    "\n"
    "Parses and validates a graph without running it. Prints \"ok\", or every\n"
    "problem as \"<JSON pointer>: <message>\" on stderr and exits with 1.\n"
    "With --sources, database_ids are checked against the catalog and query\n"
    "placeholders with each source's provider. With --param/--params, every\n"
    "parameter must have a source (an edge, the graph's \"params\" or a value\n"
    "given here); without them that rule is not checked.\n"
    "\n"
    "Options:\n"
    "  --sources FILE       the catalog of data sources\n"
    "  --catalog FILE       a persisted SQLite catalog instead\n"
    "  --param NAME=VALUE   a graph input (repeatable)\n"
    "  --params JSON        graph inputs as a JSON object (@FILE reads it from FILE)\n";

const char kExplainHelp[] =
    "Usage: qgraph explain GRAPH.json --sources CATALOG.json [options]\n"
    "\n"
    "Prints the plan: per node its strategy, batch size, parallel width, native\n"
    "statement and cost estimate. --analyze also executes the graph and shows\n"
    "actual rows, round trips and times beside the estimates.\n"
    "\n"
    "Options:\n"
    "  --sources FILE       the catalog of data sources (JSON)\n"
    "  --catalog FILE       a persisted SQLite catalog instead; one of the two is required\n"
    "  --param NAME=VALUE   a graph input (repeatable)\n"
    "  --params JSON        graph inputs as a JSON object (@FILE reads it from FILE)\n"
    "  --user NAME          the local user that picks the catalog's user mappings\n"
    "  --format FORMAT      text | json | dot (default text)\n"
    "  --analyze            execute and show actuals\n"
    "  --timeout-ms N       cancel after N milliseconds (with --analyze)\n";

const char kCatalogHelp[] =
    "Usage: qgraph catalog exec STATEMENT... [--catalog FILE | --sources FILE] [--user NAME]\n"
    "       qgraph catalog list [--catalog FILE | --sources FILE]\n"
    "\n"
    "exec runs catalog statements in order (each argument one or more statements\n"
    "separated by ';'; \"-\" reads them from stdin): CREATE | ALTER | DROP EXTERNAL\n"
    "DATA SOURCE, CREATE | ALTER | DROP EXTERNAL USER, and EXECUTE STATEMENT '<sql>'\n"
    "[(name := value, ...)] ON EXTERNAL DATA SOURCE <ds>, whose result is printed\n"
    "as JSON (a catalog change prints \"ok\"). With --catalog the changes are saved\n"
    "in that SQLite file (created on first use); with --sources they last for the\n"
    "command only. list prints the catalog as JSON; passwords are never shown,\n"
    "only their kind (ENV, FILE or a hidden literal).\n"
    "\n"
    "Options:\n"
    "  --catalog FILE       a persisted SQLite catalog (created on first use)\n"
    "  --sources FILE       a JSON catalog (docs/design.md §8)\n"
    "  --user NAME          the local user that picks the catalog's user mappings\n"
    "  --pretty             indent JSON output\n"
    "  --tx-log FILE        coordinator log for WITHIN COMMON 2PC TRANSACTION\n"
    "  --tx-prefix P        prefix of this engine's global transaction ids (default qg)\n";

const char kRecoverHelp[] =
    "Usage: qgraph recover --tx-log FILE (--sources CATALOG.json | --catalog FILE)\n"
    "                      [--tx-prefix P]\n"
    "\n"
    "Resolves the two-phase commits a crash left prepared: a branch whose commit\n"
    "decision is in the coordinator log is committed, any other prepared branch\n"
    "whose id starts with the prefix is rolled back. Prints {\"committed\",\n"
    "\"rolled_back\", \"resolved_log\", \"unresolved\"}; exits 1 while a source is\n"
    "unreachable (its transactions stay in the log for the next run).\n"
    "\n"
    "Options:\n"
    "  --tx-log FILE        the coordinator log (required)\n"
    "  --sources FILE       the catalog of data sources (JSON)\n"
    "  --catalog FILE       a persisted SQLite catalog instead\n"
    "  --tx-prefix P        the prefix the engine ran with (default qg)\n";

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "qgraph: %s: %.*s\n", absl::StatusCodeToString(status.code()).c_str(),
               static_cast<int>(status.message().size()), status.message().data());
  return kExitError;
}

int UsageError(std::string_view verb, std::string_view message) {
  std::fprintf(stderr, "qgraph: usage: %.*s\n", static_cast<int>(message.size()), message.data());
  if (verb.empty()) {
    std::fprintf(stderr, "Try 'qgraph --help'.\n");
  } else {
    std::fprintf(stderr, "Try 'qgraph help %.*s'.\n", static_cast<int>(verb.size()), verb.data());
  }
  return kExitUsage;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string msg = "cannot open " + path + ": " + std::strerror(err);
    return err == ENOENT ? absl::NotFoundError(msg) : absl::PermissionDeniedError(msg);
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  if (f != stdin) std::fclose(f);
  if (failed) {
    return absl::DataLossError("cannot read " + (path == "-" ? std::string("stdin") : path) + ": " +
                               std::strerror(err));
  }
  return text;
}

// --params objects first (later ones override earlier ones), then every
// --param NAME=VALUE, which wins over --params for the same name.
absl::StatusOr<qg::ParamList> CollectParams(const ParsedArgs& args) {
  qg::ParamList params;
  absl::flat_hash_map<std::string, size_t> index;  // name -> position in params
  auto set = [&params, &index](const std::string& name, qg::Value v) {
    auto [it, inserted] = index.emplace(name, params.size());
    if (!inserted) {
      params[it->second].second = std::move(v);
      return;
    }
    params.emplace_back(name, std::move(v));
  };
  for (const std::string& text : args.GetAll("params")) {
    std::string json = text;
    if (!text.empty() && text[0] == '@') {
      auto file = ReadInput(text.substr(1));
      if (!file.ok()) return absl::InvalidArgumentError("--params: " + file.status().ToString());
      json = *std::move(file);
    }
    auto parsed = qg::ParseParamsJson(json);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError("--params: " + std::string(parsed.status().message()));
    }
    for (auto& [k, v] : *parsed) set(k, std::move(v));
  }
  for (const std::string& kv : args.GetAll("param")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("--param expects NAME=VALUE, got \"" + Clip(kv) + "\"");
    }
    set(kv.substr(0, eq), qg::Value::String(kv.substr(eq + 1)));
  }
  return params;
}

absl::StatusOr<std::optional<absl::Duration>> CollectTimeout(const ParsedArgs& args) {
  std::optional<std::string> t = args.Get("timeout-ms");
  if (!t) return std::optional<absl::Duration>();
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), ms);
  if (ec != std::errc() || end != t->data() + t->size() || ms <= 0) {
    return absl::InvalidArgumentError("--timeout-ms expects a positive integer, got \"" + *t +
                                      "\"");
  }
  return std::optional<absl::Duration>(absl::Milliseconds(ms));
}

absl::StatusOr<std::unique_ptr<qg::Engine>> OpenEngine(const std::string& catalog_path,
                                                       qg::EngineOptions options = {});

// Engine options from --tx-log FILE and --tx-prefix P.
qg::EngineOptions TransactionOptions(const ParsedArgs& args) {
  qg::EngineOptions options;
  options.coordinator_log = args.Get("tx-log").value_or("");
  if (auto p = args.Get("tx-prefix")) options.transaction_prefix = *p;
  return options;
}

// The engine of --catalog FILE (persisted, SQLite) or --sources FILE (JSON);
// nullptr when neither was given. A usage error when both were.
absl::StatusOr<std::unique_ptr<qg::Engine>> OpenCatalog(const ParsedArgs& args) {
  std::optional<std::string> sqlite = args.Get("catalog");
  std::optional<std::string> json = args.Get("sources");
  if (sqlite && json) {
    return absl::InvalidArgumentError("--catalog and --sources cannot be used together");
  }
  if (json) return OpenEngine(*json, TransactionOptions(args));
  if (!sqlite) return std::unique_ptr<qg::Engine>();
  qg::EngineOptions options = TransactionOptions(args);
  options.catalog_path = *sqlite;
  auto engine = qg::Engine::Create(options);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        *sqlite + ": " + std::string(engine.status().message()));
  }
  return engine;
}

absl::StatusOr<std::unique_ptr<qg::Engine>> OpenEngine(const std::string& catalog_path,
                                                       qg::EngineOptions options) {
  const bool recover = !options.coordinator_log.empty();
  options.recover_on_open = false;  // once the sources are loaded, below
  auto engine = qg::Engine::Create(options);
  if (!engine.ok()) return engine.status();
  auto catalog = ReadInput(catalog_path);
  if (!catalog.ok()) return catalog.status();
  absl::Status s = (*engine)->LoadCatalogJson(*catalog);
  if (!s.ok()) {
    return absl::Status(s.code(), catalog_path + ": " + std::string(s.message()));
  }
  if (recover) (void)(*engine)->Recover();  // unreachable sources stay logged
  return engine;
}

// A graph's transaction report on stderr when a participant did not commit
// cleanly (commit pending until `qgraph recover`).
void ReportTransaction(const qg::TransactionReport& report) {
  for (const qg::ParticipantOutcome& p : report.participants) {
    if (p.state != qg::ParticipantState::kCommitted) {
      std::fprintf(stderr, "qgraph: transaction: %s\n", qg::TransactionReportJson(report).c_str());
      return;
    }
  }
}

// Writes chunks straight to stdout, remembering the last byte so a final
// newline can be added when the writer did not end with one.
class StdoutSink {
 public:
  qg::OutputSink sink() {
    return [this](std::string_view chunk) -> absl::Status {
      if (chunk.empty()) return absl::OkStatus();
      if (std::fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size()) {
        return absl::UnavailableError(std::string("writing to stdout: ") + std::strerror(errno));
      }
      last_ = chunk.back();
      return absl::OkStatus();
    };
  }
  absl::Status Finish() {
    if (last_ != '\n' && last_ != '\0') std::fputc('\n', stdout);
    if (std::fflush(stdout) != 0) {
      return absl::UnavailableError(std::string("writing to stdout: ") + std::strerror(errno));
    }
    return absl::OkStatus();
  }

 private:
  char last_ = '\0';
};

// Common to the verbs: exactly one GRAPH argument.
bool OneGraph(std::string_view verb, const ParsedArgs& args, int* exit_code) {
  if (args.positionals.size() == 1) return true;
  *exit_code = UsageError(verb, args.positionals.empty()
                                    ? "missing GRAPH.json (use - for stdin)"
                                    : "expected one GRAPH.json, got " +
                                          std::to_string(args.positionals.size()) + " arguments");
  return false;
}

// The usage errors of --catalog / --sources: both given, or (when
// `required`) neither.
bool CatalogArgs(std::string_view verb, const ParsedArgs& args, bool required, int* exit_code) {
  if (args.Has("catalog") && args.Has("sources")) {
    *exit_code = UsageError(verb, "--catalog and --sources cannot be used together");
    return false;
  }
  if (required && !args.Has("sources") && !args.Has("catalog")) {
    *exit_code = UsageError(verb, "--sources CATALOG.json or --catalog FILE is required");
    return false;
  }
  return true;
}

int RunCommand(const ParsedArgs& args) {
  int code = kExitOk;
  if (!OneGraph("run", args, &code)) return code;
  if (!CatalogArgs("run", args, /*required=*/true, &code)) return code;
  auto params = CollectParams(args);
  if (!params.ok()) return UsageError("run", std::string(params.status().message()));
  auto timeout = CollectTimeout(args);
  if (!timeout.ok()) return UsageError("run", std::string(timeout.status().message()));
  std::optional<qg::Shape> shape;
  std::optional<qg::Format> format;
  if (auto s = args.Get("shape")) {
    auto parsed = qg::ParseShape(*s);
    if (!parsed.ok()) return UsageError("run", "--shape must be nodes, joined or nested");
    shape = *parsed;
  }
  if (auto f = args.Get("format")) {
    auto parsed = qg::ParseFormat(*f);
    if (!parsed.ok()) return UsageError("run", "--format must be json, ndjson or csv");
    format = *parsed;
  }
  if (shape == qg::Shape::kNested && format == qg::Format::kCsv) {
    return UsageError("run", "--shape nested cannot be written as --format csv");
  }

  auto graph_text = ReadInput(args.positionals[0]);
  if (!graph_text.ok()) return Fail(graph_text.status());
  auto engine = OpenCatalog(args);
  if (!engine.ok()) return Fail(engine.status());

  qg::ExecuteOptions opts;
  opts.user = args.Get("user").value_or("");
  opts.params = *std::move(params);
  opts.timeout = *timeout;
  if (auto t = args.Get("transaction")) {
    auto mode = qg::ParseTransactionMode(*t);
    if (!mode.ok()) return UsageError("run", std::string(mode.status().message()));
    opts.transaction = *mode;
  }
  auto result = (*engine)->ExecuteJson(*graph_text, opts);
  if (!result.ok()) return Fail(result.status());
  ReportTransaction(result->transaction);

  qg::OutputOptions out = qg::GraphOutputOptions(*result, shape, format);
  if (args.Has("pretty") || (!args.Has("compact") && isatty(STDOUT_FILENO) == 1)) {
    out.pretty = true;
  }
  StdoutSink sink;
  absl::Status s = qg::WriteResult(*result, out, sink.sink());
  absl::Status finished = sink.Finish();
  if (!s.ok()) return Fail(s);
  if (!finished.ok()) return Fail(finished);
  return kExitOk;
}

int ValidateCommand(const ParsedArgs& args) {
  int code = kExitOk;
  if (!OneGraph("validate", args, &code)) return code;
  auto params = CollectParams(args);
  if (!params.ok()) return UsageError("validate", std::string(params.status().message()));
  bool params_given = args.Has("param") || args.Has("params");

  auto graph_text = ReadInput(args.positionals[0]);
  if (!graph_text.ok()) return Fail(graph_text.status());

  qg::ParseOptions options;
  std::unique_ptr<qg::Engine> engine;
  if (int code = kExitOk; !CatalogArgs("validate", args, /*required=*/false, &code)) return code;
  if (args.Has("sources") || args.Has("catalog")) {
    auto opened = OpenCatalog(args);
    if (!opened.ok()) return Fail(opened.status());
    engine = *std::move(opened);
    options = engine->GraphParseOptions(params_given ? &*params : nullptr);
  }
  if (params_given) {
    std::set<std::string> names;
    for (const auto& [k, v] : *params) names.insert(k);
    options.provided_params = std::move(names);
  } else {
    options.provided_params.reset();
  }

  std::vector<qg::GraphIssue> issues;
  auto graph = qg::ParseGraph(*graph_text, options, &issues);
  if (graph.ok()) {
    std::printf("ok\n");
    return kExitOk;
  }
  if (issues.empty()) return Fail(graph.status());
  std::fprintf(stderr, "qgraph: %s: %zu problem%s in %s\n",
               absl::StatusCodeToString(graph.status().code()).c_str(), issues.size(),
               issues.size() == 1 ? "" : "s",
               args.positionals[0] == "-" ? "stdin" : args.positionals[0].c_str());
  for (const qg::GraphIssue& issue : issues) {
    // The document root as `run` (and every status message) writes it: "/".
    std::fprintf(stderr, "%s: %s\n", issue.pointer.empty() ? "/" : issue.pointer.c_str(),
                 issue.message.c_str());
  }
  return kExitError;
}

int ExplainCommand(const ParsedArgs& args) {
  int code = kExitOk;
  if (!OneGraph("explain", args, &code)) return code;
  if (!CatalogArgs("explain", args, /*required=*/true, &code)) return code;
  auto params = CollectParams(args);
  if (!params.ok()) return UsageError("explain", std::string(params.status().message()));
  auto timeout = CollectTimeout(args);
  if (!timeout.ok()) return UsageError("explain", std::string(timeout.status().message()));
  qg::ExplainFormat format = qg::ExplainFormat::kText;
  if (auto f = args.Get("format")) {
    auto parsed = qg::ParseExplainFormat(*f);
    if (!parsed.ok()) return UsageError("explain", "--format must be text, json or dot");
    format = *parsed;
  }

  auto graph_text = ReadInput(args.positionals[0]);
  if (!graph_text.ok()) return Fail(graph_text.status());
  auto engine = OpenCatalog(args);
  if (!engine.ok()) return Fail(engine.status());
  auto graph = qg::ParseGraph(*graph_text, (*engine)->GraphParseOptions(&*params));
  if (!graph.ok()) return Fail(graph.status());

  qg::ExecuteOptions opts;
  opts.user = args.Get("user").value_or("");
  opts.params = *std::move(params);
  opts.timeout = *timeout;
  std::string text;
  if (args.Has("analyze")) {
    opts.estimate_costs = true;  // a one-shot run shows real estimates
    auto result = (*engine)->Execute(*graph, opts);
    if (!result.ok()) return Fail(result.status());
    text = qg::RenderPlan(result->plan, format, &*result);
  } else {
    auto plan = (*engine)->Explain(*graph, opts);
    if (!plan.ok()) return Fail(plan.status());
    text = qg::RenderPlan(*plan, format);
  }
  if (text.empty() || text.back() != '\n') text += '\n';
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    return Fail(absl::UnavailableError(std::string("writing to stdout: ") + std::strerror(errno)));
  }
  return kExitOk;
}

int CatalogCommand(const ParsedArgs& args) {
  if (args.positionals.empty()) return UsageError("catalog", "missing exec or list");
  const std::string& sub = args.positionals[0];
  if (sub != "exec" && sub != "list") {
    return UsageError("catalog", "unknown catalog command \"" + sub + "\" (exec or list)");
  }
  if (int code = kExitOk; !CatalogArgs("catalog", args, /*required=*/false, &code)) return code;
  if (sub == "list" && args.positionals.size() > 1) {
    return UsageError("catalog", "list takes no arguments");
  }
  if (sub == "exec" && args.positionals.size() < 2) {
    return UsageError("catalog", "exec needs at least one STATEMENT");
  }
  auto opened = OpenCatalog(args);
  if (!opened.ok()) return Fail(opened.status());
  std::unique_ptr<qg::Engine> engine = *std::move(opened);
  if (engine == nullptr) {
    auto created = qg::Engine::Create();  // an in-memory catalog
    if (!created.ok()) return Fail(created.status());
    engine = *std::move(created);
  }
  if (sub == "list") {
    std::printf("%s\n", engine->catalog().ToJson().c_str());
    return kExitOk;
  }
  std::string statements;
  for (size_t i = 1; i < args.positionals.size(); ++i) {
    std::string text = args.positionals[i];
    if (text == "-") {
      auto in = ReadInput("-");
      if (!in.ok()) return Fail(in.status());
      text = *std::move(in);
    }
    if (!statements.empty()) statements += ";\n";
    statements += text;
  }
  qg::ExecuteOptions opts;
  opts.user = args.Get("user").value_or("");
  auto result = engine->ExecuteStatements(statements, opts);
  if (!result.ok()) return Fail(result.status());
  ReportTransaction(result->transaction);
  if (result->nodes.empty()) {
    std::printf("ok\n");
    return kExitOk;
  }
  qg::OutputOptions out;
  out.pretty = args.Has("pretty");
  StdoutSink sink;
  absl::Status s = qg::WriteResult(*result, out, sink.sink());
  absl::Status finished = sink.Finish();
  if (!s.ok()) return Fail(s);
  if (!finished.ok()) return Fail(finished);
  return kExitOk;
}

int RecoverCommand(const ParsedArgs& args) {
  if (!args.positionals.empty()) return UsageError("recover", "recover takes no arguments");
  if (!args.Has("tx-log")) return UsageError("recover", "--tx-log FILE is required");
  if (int code = kExitOk; !CatalogArgs("recover", args, /*required=*/true, &code)) return code;
  auto engine = OpenCatalog(args);
  if (!engine.ok()) return Fail(engine.status());
  auto report = (*engine)->Recover();
  if (!report.ok()) return Fail(report.status());
  std::printf("%s\n", qg::RecoveryReportJson(*report).c_str());
  return report->unresolved.empty() ? kExitOk : kExitError;
}

const std::vector<Verb>& Verbs() {
  static const std::vector<Verb> verbs = {
      {"run",
       "execute a graph and print its result",
       kRunHelp,
       {{"sources"},
        {"catalog"},
        {"param", true, true},
        {"params", true, true},
        {"user"},
        {"shape"},
        {"format"},
        {"pretty", false},
        {"compact", false},
        {"timeout-ms"},
        {"transaction"},
        {"tx-log"},
        {"tx-prefix"}},
       RunCommand},
      {"validate",
       "check a graph and report every problem with its JSON pointer",
       kValidateHelp,
       {{"sources"}, {"catalog"}, {"param", true, true}, {"params", true, true}},
       ValidateCommand},
      {"explain",
       "show the plan (--analyze: with actual rows and times)",
       kExplainHelp,
       {{"sources"},
        {"catalog"},
        {"param", true, true},
        {"params", true, true},
        {"user"},
        {"format"},
        {"analyze", false},
        {"timeout-ms"}},
       ExplainCommand},
      {"catalog",
       "run catalog statements (exec) or print the catalog (list)",
       kCatalogHelp,
       {{"catalog"}, {"sources"}, {"user"}, {"pretty", false}, {"tx-log"}, {"tx-prefix"}},
       CatalogCommand},
      {"recover",
       "resolve two-phase commits a crash left prepared, from the coordinator log",
       kRecoverHelp,
       {{"catalog"}, {"sources"}, {"tx-log"}, {"tx-prefix"}},
       RecoverCommand},
  };
  return verbs;
}

const Verb* FindVerb(std::string_view name) {
  for (const Verb& v : Verbs()) {
    if (name == v.name) return &v;
  }
  return nullptr;
}

void PrintMainHelp(std::FILE* out) {
  std::string list;
  for (const Verb& v : Verbs()) {
    std::string line = std::string("  ") + v.name;
    line.resize(16, ' ');
    list += line + v.summary + "\n";
  }
  list += "  help <verb>   show a verb's options\n";
  std::fprintf(out, kMainHelp, list.c_str());
}

int Main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty()) {
    PrintMainHelp(stderr);
    return kExitUsage;
  }
  const std::string& first = words[0];
  if (first == "-h" || first == "--help") {
    PrintMainHelp(stdout);
    return kExitOk;
  }
  if (first == "--version" || first == "version") {
    std::printf("qgraph %s\n", QG_VERSION_STRING);
    return kExitOk;
  }
  if (first == "help") {
    if (words.size() == 1) {
      PrintMainHelp(stdout);
      return kExitOk;
    }
    const Verb* v = FindVerb(words[1]);
    if (v == nullptr || words.size() > 2) {
      return UsageError("", "help: unknown verb \"" + words[1] + "\"");
    }
    std::fputs(v->usage, stdout);
    return kExitOk;
  }
  const Verb* verb = FindVerb(first);
  if (verb == nullptr) {
    return UsageError(
        "", first[0] == '-' ? "unknown option " + first : "unknown verb \"" + first + "\"");
  }
  ParsedArgs args;
  std::string error;
  if (!ParseArgs({words.begin() + 1, words.end()}, verb->options, &args, &error)) {
    return UsageError(verb->name, error);
  }
  if (args.help) {
    std::fputs(verb->usage, stdout);
    return kExitOk;
  }
  return verb->handler(args);
}

}  // namespace
}  // namespace qgraph_cli

int main(int argc, char** argv) { return qgraph_cli::Main(argc, argv); }
