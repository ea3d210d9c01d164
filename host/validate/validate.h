// Validation and planning: checks a parsed graph against the catalogue, reporting every problem at
// once in ComfyUI's vocabulary (error `type` strings and the `node_errors` JSON shape), and, when
// it is clean, produces the execution plan: only the nodes output nodes need, in topological
// order, with literal inputs coerced to their declared types and defaults filled in. Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "registry/catalogue.h"

namespace sf::host {

struct ValidationIssue {
  std::string type;     // ComfyUI error type, e.g. "value_smaller_than_min"
  std::string message;  // ComfyUI-style short message
  std::string details;  // what exactly: input name, value, limits, nodes
  std::string node_id;  // empty for problems of the whole graph
  std::string class_type;
  std::string input_name;
  std::string value;         // the offending value as JSON text
  std::string input_config;  // the input's object_info entry as JSON text (ComfyUI's input_config)
};

struct ValidationReport {
  std::vector<ValidationIssue> issues;
  std::map<std::string, std::vector<std::string>> dependent_outputs;  // node id -> output node ids

  bool ok() const { return issues.empty(); }
  // One line per problem: "node 5 (KSampler) input 'steps' = 0: value_smaller_than_min: ...".
  std::string to_text() const;
  // {"error": {...}, "node_errors": {"<id>": {"errors": [...], "dependent_outputs": [...],
  // "class_type": "..."}}} as ComfyUI's /prompt answers.
  std::string to_json(int indent = 2) const;
};

struct PlannedNode {
  std::string id;
  const CatalogueEntry* entry = nullptr;
  std::map<std::string, Literal> literals;  // coerced, defaults filled in
  std::map<std::string, Link> links;
};

struct Plan {
  std::vector<PlannedNode> order;  // topological: every node after the nodes it reads
  std::vector<std::string> outputs;
};

struct Validated {
  Plan plan;  // empty unless report.ok()
  ValidationReport report;
};

Validated validate_graph(const Graph& graph, const Catalogue& catalogue);

// A report holding one graph-level problem (malformed JSON, unreadable file).
// For nodes with issues: the output nodes that depend on them (ComfyUI's dependent_outputs).
std::map<std::string, std::vector<std::string>> dependent_outputs(const Graph& graph,
                                                                  const std::vector<std::string>& outputs,
                                                                  const std::vector<ValidationIssue>& issues);

ValidationReport report_for_unreadable_graph(const std::string& message);

// Checks one literal against its input spec: coercion to the declared type, min/max, COMBO
// choices. On failure fills `problem` with ComfyUI's error type, message and details.
struct LiteralProblem {
  std::string type, message, details;
};
bool coerce_literal(const InputSpec& spec, const Literal& literal, Literal& coerced, LiteralProblem& problem);
bool is_literal_type(const std::string& type);

// `text` cut to `max_chars` with a note of its full length: messages never echo unbounded input.
std::string shorten_json(const std::string& text, size_t max_chars = 200);
// User text made safe for a terminal: control characters (C0, DEL, C1) and Unicode's bidi
// controls (U+200E/F, U+202A-E, U+2066-9) written as \xNN or \u{NNNN}, then cut at max_bytes
// (at a character boundary) with the original length appended. keep_newlines keeps '\n'.
std::string printable(const std::string& text, size_t max_bytes = 200, bool keep_newlines = false);

// Port type compatibility with "*" and unions "A,B".
bool types_compatible(const std::string& output_type, const std::string& input_type);

}  // namespace sf::host
