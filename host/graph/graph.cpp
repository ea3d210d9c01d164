#include "graph/graph.h"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "sigmaflow/files.h"

namespace sf::host {

using json = nlohmann::json;

const GraphInput* GraphNode::find_input(const std::string& name) const {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

bool node_id_less(const std::string& a, const std::string& b) {
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 18 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  bool na = numeric(a), nb = numeric(b);
  if (na && nb) return std::stoll(a) < std::stoll(b);
  if (na != nb) return na;
  return a < b;
}

namespace {

void line_column(const std::string& text, size_t byte, size_t& line, size_t& column) {
  line = 1;
  column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
}

Literal to_literal(const json& j) {
  switch (j.type()) {
    case json::value_t::boolean:
      return Literal(j.get<bool>());
    case json::value_t::number_integer:
      return Literal(j.get<int64_t>());
    case json::value_t::number_unsigned: {
      return Literal(j.get<uint64_t>());
    }
    case json::value_t::number_float:
      return Literal(j.get<double>());
    case json::value_t::string:
      return Literal(j.get<std::string>());
    case json::value_t::array: {
      Literal::List l;
      for (const auto& e : j) l.push_back(to_literal(e));
      return Literal(std::move(l));
    }
    case json::value_t::object: {
      if (j.size() == 1 && j.contains("__value__")) return to_literal(j["__value__"]);
      return Literal(
          j.dump(-1, ' ', false, json::error_handler_t::replace));  // an object literal travels as its JSON text
    }
    default:
      return Literal();
  }
}

std::string cut(std::string s) {
  if (s.size() > kMaxRawJsonChars) s = s.substr(0, kMaxRawJsonChars) + "...";
  return s;
}

GraphInput read_input(const std::string& name, const json& v) {
  GraphInput in;
  in.name = name;
  in.raw_json = cut(v.dump(-1, ' ', false, json::error_handler_t::replace));
  if (v.is_array()) {
    if (v.size() == 2 && v[0].is_string() && v[1].is_number_integer()) {
      in.link = Link{v[0].get<std::string>(), v[1].get<int64_t>()};
    } else if (v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
      // Some exporters write numeric source ids; ComfyUI accepts them.
      in.link = Link{std::to_string(v[0].get<int64_t>()), v[1].get<int64_t>()};
    } else {
      in.malformed_link = true;
    }
  } else if (v.is_object() && !(v.size() == 1 && v.contains("__value__"))) {
    in.malformed_link = true;
  } else {
    in.literal = to_literal(v);
  }
  return in;
}

}  // namespace

// A first, linear SAX pass over the text: it bounds the nesting and finds duplicate node ids and
// duplicate keys inside a node (nlohmann's DOM parser would silently keep the last one, and its
// callback variant rescans the parent object at every object end: quadratic in the node count).
class KeyTracker : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return open(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    const size_t depth = keys_.size();  // 1: node ids; 2: a node's fields; 3: its inputs
    if (depth == 1) node_ = k;
    if (!keys_.back().insert(k).second) {
      if (depth == 1)
        problems.push_back({k, "duplicate node id '" + cut(k) + "' (each id may appear once)", ""});
      else
        problems.push_back(
            {node_, "duplicate key '" + cut(k) + "' in node " + cut(node_) + " (each key may appear once)", ""});
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_byte = position;
    error = e.what();
    return false;
  }

  std::vector<ParseProblem> problems;
  bool too_deep = false;
  size_t error_byte = 0;
  std::string error;

 private:
  bool open() {
    if (keys_.size() + 1 >= static_cast<size_t>(kMaxJsonDepth)) {
      too_deep = true;
      return false;
    }
    keys_.emplace_back();  // arrays hold no keys; the stack stays aligned with depth
    return true;
  }
  bool close() {
    if (!keys_.empty()) keys_.pop_back();
    return true;
  }
  std::vector<std::unordered_set<std::string>> keys_;
  std::string node_;
};

namespace {

// The tracker's linear pass, then the document.
Result<json> scan_and_parse(const std::string& text, KeyTracker& tracker) {
  const bool scanned = json::sax_parse(text, &tracker);
  if (tracker.too_deep)
    return InvalidArgument("the JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels (the limit for graph files; docs/limits.md)");
  if (!scanned) {
    size_t line = 0, column = 0;
    line_column(text, tracker.error_byte > 0 ? tracker.error_byte - 1 : 0, line, column);
    std::string what = tracker.error;
    auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    return InvalidArgument("malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(column) +
                           ": " + what);
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace

Result<json> parse_json_bounded(const std::string& text) {
  KeyTracker tracker;
  return scan_and_parse(text, tracker);
}

Result<Graph> parse_graph(const std::string& text) {
  KeyTracker tracker;
  auto parsed = scan_and_parse(text, tracker);
  if (!parsed.ok()) return parsed.status();
  json doc = std::move(*parsed);
  Graph g;
  g.text = text;
  g.problems = std::move(tracker.problems);
  if (!doc.is_object()) {
    return InvalidArgument("a graph file must be a JSON object mapping node ids to nodes, got " +
                           std::string(doc.type_name()));
  }
  // ComfyUI's /prompt body wraps the graph as {"prompt": {...}}: accept that too.
  if (doc.size() == 1 && doc.contains("prompt") && doc["prompt"].is_object()) doc = doc["prompt"];
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& id = it.key();
    const json& n = it.value();
    if (!n.is_object()) {
      g.problems.push_back(
          {id, "node must be an object with class_type and inputs, got " + std::string(n.type_name()), ""});
      continue;
    }
    GraphNode node;
    node.id = id;
    if (!n.contains("class_type") || !n["class_type"].is_string()) {
      g.problems.push_back({id, "node has no class_type string", ""});
      continue;
    }
    node.class_type = n["class_type"].get<std::string>();
    if (n.contains("_meta") && n["_meta"].is_object() && n["_meta"].contains("title") &&
        n["_meta"]["title"].is_string())
      node.title = n["_meta"]["title"].get<std::string>();
    if (n.contains("inputs")) {
      if (!n["inputs"].is_object()) {
        g.problems.push_back({id, "inputs must be an object", ""});
        continue;
      }
      for (auto in = n["inputs"].begin(); in != n["inputs"].end(); ++in)
        node.inputs.push_back(read_input(in.key(), in.value()));
    }
    g.nodes.emplace(id, std::move(node));
  }
  return g;
}

Result<Graph> load_graph_file(const std::string& path) {
  auto text = read_file_bounded(path, kMaxGraphFileBytes);
  if (!text.ok()) return Status(text.status().code(), "graph file: " + text.status().message());
  auto r = parse_graph(*text);
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
  return r;
}

}  // namespace sf::host
