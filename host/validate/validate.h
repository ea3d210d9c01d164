// Validation and planning: checks a parsed graph against the catalogue, reporting every problem at
// once in ComfyUI's vocabulary (error `type` strings and the `node_errors` JSON shape), and, when
// it is clean, produces the execution plan: only the nodes output nodes need, in topological
// order, with literal inputs coerced to their declared types and defaults filled in. Torch-free.
#pragma once

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
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

// Input name -> value for one planned node: a vector sorted by name, with the std::map calls
// the host uses (a node has a handful of inputs, and a std::map node cost ~100 bytes each in a
// 10^6-node plan). Iterates in name order.
template <class V>
class NameMap {
 public:
  using value_type = std::pair<std::string, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t count(const std::string& name) const { return find(name) == end() ? 0 : 1; }
  const_iterator find(const std::string& name) const {
    auto it = lower_bound(name);
    return it != items_.end() && it->first == name ? it : items_.end();
  }
  // The value for `name`; throws std::out_of_range when there is none.
  const V& at(const std::string& name) const {
    auto it = find(name);
    if (it == end()) throw std::out_of_range("no input '" + name + "'");
    return it->second;
  }
  V& operator[](const std::string& name) {
    auto it = lower_bound(name);
    if (it == items_.end() || it->first != name) it = items_.insert(it, value_type(name, V{}));
    return it->second;
  }

 private:
  const_iterator lower_bound(const std::string& name) const {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const value_type& item, const std::string& key) { return item.first < key; });
  }
  iterator lower_bound(const std::string& name) {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const value_type& item, const std::string& key) { return item.first < key; });
  }
  std::vector<value_type> items_;
};

struct PlannedNode {
  std::string id;
  const CatalogueEntry* entry = nullptr;
  NameMap<Literal> literals;  // coerced, defaults filled in
  NameMap<Link> links;
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
