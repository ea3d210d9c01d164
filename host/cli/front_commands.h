// The commands that need no plugin code and no LibTorch: `validate` (unless a node checks its
// literals with its own code) and `nodes`. Shared by the torch-free front and the executor.
#pragma once

#include <functional>
#include <vector>

#include "cli/cli_spec.h"
#include "graph/graph.h"
#include "plugins/plugin_index.h"
#include "validate/validate.h"

namespace sf::host {

// Scans the plugin folders (no plugin is loaded into this process) and, unless `quiet`, reports
// problems, missing folders and deliberate overrides on stderr (print_scan_notes).
void scan_plugins(PluginIndex& index, const CliOptions& o, bool quiet);
void print_scan_notes(const PluginIndex& index, const CliOptions& o);

// The nodes' own literal checks (their check_inputs hooks: plugin code, so only the executor has
// them), run on a plan that passed validation.
using LiteralChecks = std::function<std::vector<ValidationIssue>(const Plan&)>;

// What check_graph_file returns when the graph is valid as far as contracts go but a node checks
// its literals with its own code and no `checks` were given: the front hands the command to the
// executor.
inline constexpr int kNeedsNodeCode = -2;

// Parses and validates o.graph_path, then runs `checks` (when given). Prints nothing. Returns
// kExitOk, kExitValidation (the problems in `report`) or kNeedsNodeCode. Graph::text (which
// nodes see as the graph's JSON when run) is released before validation unless `keep_text`:
// a 10^6-node file is 70 MB.
int check_graph_file(const PluginIndex& index, const CliOptions& o, const LiteralChecks& checks, Graph& graph,
                     Plan& plan, ValidationReport& report, bool keep_text = true);
// The problems as text on stderr, or as ComfyUI node_errors JSON on stdout with --json.
void print_validation_problems(const ValidationReport& report, const CliOptions& o);

// `sigmaflow validate`: scans, validates, prints the verdict. kNeedsNodeCode as above (then
// nothing has been printed).
int cmd_validate(const CliOptions& o, PluginIndex& index, const LiteralChecks& checks);
// `sigmaflow nodes`.
int cmd_nodes(const CliOptions& o);

}  // namespace sf::host
