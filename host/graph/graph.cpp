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

struct TooDeep {};

// Tracks keys per object while parsing: duplicate node ids and duplicate keys inside a node are
// problems (nlohmann would silently keep the last), and nesting is bounded.
class KeyTracker {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) throw TooDeep{};
        if (event == json::parse_event_t::object_start)
          keys_.emplace_back();
        else
          keys_.emplace_back();  // arrays hold no keys; keep the stack aligned with depth
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (depth == 1) node_ = k;
        if (!keys_.empty() && !keys_.back().insert(k).second) {
          if (depth == 1)
            problems.push_back({k, "duplicate node id '" + cut(k) + "' (each id may appear once)", ""});
          else
            problems.push_back(
                {node_, "duplicate key '" + cut(k) + "' in node " + cut(node_) + " (each key may appear once)", ""});
        }
        break;
      }
      default:
        break;
    }
    return true;
  }
  std::vector<ParseProblem> problems;

 private:
  std::vector<std::unordered_set<std::string>> keys_;
  std::string node_;
};

Result<Graph> parse_graph(const std::string& text) {
  json doc;
  KeyTracker tracker;
  try {
    doc = json::parse(
        text, [&tracker](int depth, json::parse_event_t event, json& parsed) { return tracker(depth, event, parsed); });
  } catch (const TooDeep&) {
    return InvalidArgument("the JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels (the limit for graph files; docs/limits.md)");
  } catch (const json::out_of_range& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  } catch (const json::parse_error& e) {
    size_t line = 0, column = 0;
    size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    line_column(text, byte, line, column);
    std::string what = e.what();
    auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    return InvalidArgument("malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(column) +
                           ": " + what);
  }
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
