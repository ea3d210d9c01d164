// The graph file format: ComfyUI's API prompt format. Torch-free.
//
//   {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["4", 0]}, "_meta": {...}}}
//
// An input is a literal (number, string, bool, {"__value__": [...]}) or a link [source_id, index].
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sigmaflow/literal.h"
#include "sigmaflow/status.h"

namespace sf::host {

struct Link {
  std::string source_id;
  int64_t output_index = 0;
};

struct GraphInput {
  std::string name;
  std::optional<Link> link;     // set for links
  Literal literal;              // set for literals
  std::string raw_json;         // the input as written (cut to kMaxRawJsonChars), for messages
  bool malformed_link = false;  // a list that is neither a link nor a __value__ literal
};

struct GraphNode {
  std::string id;
  std::string class_type;
  std::string title;               // _meta.title, informational
  std::vector<GraphInput> inputs;  // in file order
  const GraphInput* find_input(const std::string& name) const;
};

// A structural problem found while reading (a node that is not an object, no class_type, ...).
struct ParseProblem {
  std::string node_id;  // empty for whole-file problems
  std::string message;
  std::string type;  // ComfyUI error type; empty means invalid_prompt
};

// Limits on what a graph file may hold (docs/limits.md).
inline constexpr int kMaxJsonDepth = 512;
inline constexpr size_t kMaxRawJsonChars = 200;  // an input's text kept for messages

struct Graph {
  std::map<std::string, GraphNode> nodes;  // by id
  std::vector<ParseProblem> problems;
  std::string text;  // the source text
};

// Malformed JSON, and JSON nested deeper than kMaxJsonDepth, are an error Status (naming line
// and column where the parser knows them); structural problems of individual nodes (no
// class_type, duplicate node ids or input names, ...) are collected in Graph::problems so
// validation can report all of them at once. Reading the file refuses non-regular files and
// files over kMaxGraphFileBytes.
Result<Graph> parse_graph(const std::string& text);
// Any JSON text under the same rules (nesting bounded before a document is built: nlohmann's
// destructor recurses), e.g. a request body.
Result<nlohmann::json> parse_json_bounded(const std::string& text);
Result<Graph> load_graph_file(const std::string& path);

// Numeric-aware ordering of node ids ("2" < "10"), for stable messages and plans.
bool node_id_less(const std::string& a, const std::string& b);

}  // namespace sf::host
