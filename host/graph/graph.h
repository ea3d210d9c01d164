// The graph file format: ComfyUI's API prompt format. Torch-free.
//
//   {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["4", 0]}, "_meta": {...}}}
//
// An input is a literal (number, string, bool, {"__value__": [...]}) or a link [source_id, index].
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigmaflow/literal.h"
#include "sigmaflow/status.h"

namespace sf::host {

struct Link {
  std::string source_id;
  int64_t output_index = 0;
};

inline constexpr uint32_t kNoNode = UINT32_MAX;

struct GraphInput {
  std::string name;
  std::optional<Link> link;         // set for links
  uint32_t source_index = kNoNode;  // for links: the source's index in Graph::nodes; kNoNode if it does not exist
  bool malformed_link = false;      // a list that is neither a link nor a __value__ literal
  Literal literal;                  // set for literals
  // Literals and malformed links: the input as written (cut to kMaxRawJsonChars). Links, most
  // inputs of a large graph, keep no text: raw_json() writes theirs from `link`.
  std::shared_ptr<const std::string> written;
  // The input as JSON text (cut to kMaxRawJsonChars), for messages.
  std::string raw_json() const;
};

struct GraphNode {
  std::string id;
  std::string class_type;
  std::string title;               // _meta.title, informational
  std::vector<GraphInput> inputs;  // by name
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

// Nodes sit in one vector in node_id_less order and links carry their source's index, so
// validation and planning walk integers, not string-keyed maps: a 10^6-node graph is read
// straight from the parser's events, without a JSON document (docs/limits.md).
struct Graph {
  std::vector<GraphNode> nodes;  // sorted by node_id_less, ids unique
  std::vector<ParseProblem> problems;
  std::string text;  // the source text

  // The node with this id (binary search), or nullptr / kNoNode.
  const GraphNode* find(std::string_view id) const;
  uint32_t index_of(std::string_view id) const;
  // The node with this id; throws std::out_of_range when there is none.
  const GraphNode& at(std::string_view id) const;
};

// Malformed JSON, and JSON nested deeper than kMaxJsonDepth, are an error Status (naming line
// and column where the parser knows them); structural problems of individual nodes (no
// class_type, duplicate node ids or input names, ...) are collected in Graph::problems so
// validation can report all of them at once. Reading the file refuses non-regular files and
// files over kMaxGraphFileBytes.
Result<Graph> parse_graph(std::string text);
// Any JSON text under the same rules (nesting bounded before a document is built: nlohmann's
// destructor recurses), e.g. a request body.
Result<nlohmann::json> parse_json_bounded(const std::string& text);
Result<Graph> load_graph_file(const std::string& path);

// Numeric-aware strict ordering of node ids ("2" < "10" < "a"), for stable messages and plans:
// all-digit ids (under 18 digits) first by value, then by text ("7" < "007"), then the others
// by text.
bool node_id_less(std::string_view a, std::string_view b);

}  // namespace sf::host
