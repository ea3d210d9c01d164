#include "graph/graph.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "sigmaflow/files.h"

namespace sf::host {

using json = nlohmann::json;

const GraphInput* GraphNode::find_input(const std::string& name) const {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

namespace {

// What node_id_less compares, computed once per id: all-digit ids (under 18 digits) by value,
// equal values ("7", "007") by length; the others by text, after every numeric id.
struct IdKey {
  uint64_t value = 0;
  bool numeric = false;
};

IdKey id_key(std::string_view id) {
  IdKey k;
  if (id.empty() || id.size() >= 18) return k;
  for (char c : id) {
    if (c < '0' || c > '9') return IdKey{};
    k.value = k.value * 10 + static_cast<uint64_t>(c - '0');
  }
  k.numeric = true;
  return k;
}

bool key_less(const IdKey& ka, std::string_view a, const IdKey& kb, std::string_view b) {
  if (ka.numeric && kb.numeric) return ka.value != kb.value ? ka.value < kb.value : a.size() < b.size();
  if (ka.numeric != kb.numeric) return ka.numeric;
  return a < b;
}

}  // namespace

bool node_id_less(std::string_view a, std::string_view b) { return key_less(id_key(a), a, id_key(b), b); }

uint32_t Graph::index_of(std::string_view id) const {
  const IdKey key = id_key(id);
  auto it = std::lower_bound(nodes.begin(), nodes.end(), id, [&](const GraphNode& n, std::string_view wanted) {
    return key_less(id_key(n.id), n.id, key, wanted);
  });
  return it != nodes.end() && it->id == id ? static_cast<uint32_t>(it - nodes.begin()) : kNoNode;
}

const GraphNode* Graph::find(std::string_view id) const {
  const uint32_t i = index_of(id);
  return i == kNoNode ? nullptr : &nodes[i];
}

const GraphNode& Graph::at(std::string_view id) const {
  if (const GraphNode* n = find(id)) return *n;
  throw std::out_of_range("no node with id '" + std::string(id) + "'");
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

}  // namespace

std::string GraphInput::raw_json() const {
  if (!link || malformed_link) return written ? *written : std::string();
  return cut("[" + Literal(link->source_id).to_json() + "," + std::to_string(link->output_index) + "]");
}

namespace {

GraphInput read_input(std::string name, const json& v) {
  GraphInput in;
  in.name = std::move(name);
  if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_number_integer()) {
    in.link = Link{v[0].get<std::string>(), v[1].get<int64_t>()};
    return in;
  }
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    // Some exporters write numeric source ids; ComfyUI accepts them.
    in.link = Link{std::to_string(v[0].get<int64_t>()), v[1].get<int64_t>()};
    return in;
  }
  in.written = std::make_shared<const std::string>(cut(v.dump(-1, ' ', false, json::error_handler_t::replace)));
  if (v.is_array() || (v.is_object() && !(v.size() == 1 && v.contains("__value__"))))
    in.malformed_link = true;
  else
    in.literal = to_literal(v);
  return in;
}

Status malformed(const std::string& text, size_t error_byte, std::string what) {
  size_t line = 0, column = 0;
  line_column(text, error_byte > 0 ? error_byte - 1 : 0, line, column);
  auto pos = what.find("syntax error");
  if (pos != std::string::npos) what = what.substr(pos);
  return InvalidArgument("malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(column) +
                         ": " + what);
}

}  // namespace

// For JSON documents other than graphs (parse_json_bounded): a first, linear SAX pass that bounds
// the nesting before a document is built (nlohmann's parser and destructor recurse) and notes
// duplicate keys (its DOM parser silently keeps the last one; its callback variant rescans the
// parent object at every object end: quadratic in the node count).
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
  if (!scanned) return malformed(text, tracker.error_byte, tracker.error);
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

namespace {

// The graph straight from the parser's events, in one linear pass and without a JSON document
// (a 10^6-node DOM cost ~1 kB per node). Semantics are the DOM's: the last of duplicate keys
// wins (each duplicate is a problem), a node's inputs are kept sorted by name, a node that is
// not an object, has no class_type string or whose inputs are not an object is a problem and
// not kept. Input values are the one place a small document is built (one input at a time).
//
// `{"prompt": {...}}` (ComfyUI's /prompt body) is read as the graph inside when "prompt" is the
// only key; a first key "prompt" is read as that wrapper and, if a second key follows, the pass
// stops with `refuted` set so the caller reads the text again without the wrapper.
class GraphBuilder : public nlohmann::json_sax<json> {
 public:
  // A node takes at least ~30 bytes of text; reserving for that many costs address space, not
  // memory (pages never written are never resident), and saves moving 10^6 nodes as the vector grows.
  GraphBuilder(bool allow_wrapper, size_t text_bytes) : allow_wrapper_(allow_wrapper) {
    nodes.reserve(text_bytes / 30 + 1);
    usable.reserve(text_bytes / 30 + 1);
  }

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return link_integer(v) || value(json(v)); }
  bool number_unsigned(number_unsigned_t v) override {
    return (v <= static_cast<number_unsigned_t>(INT64_MAX) && link_integer(static_cast<int64_t>(v))) || value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (link_stage_ == 1) {
      link_source_ = std::move(v);
      link_source_number_.reset();
      link_stage_ = 2;
      return true;
    }
    if (skip_from_ == 0 && value_stack_.empty() && depth_ == base_ + 1 && field_ == Field::kClassType) {
      has_class_ = true;  // the common case, without a json value in between
      node_.class_type = std::move(v);
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return value(json(nullptr)); }
  bool start_object(std::size_t) override { return open(json::value_t::object); }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override;
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_byte = position;
    error = e.what();
    return false;
  }

  std::vector<GraphNode> nodes;  // in file order
  std::vector<char> usable;      // per entry of `nodes`: false for a node with a structural problem
  std::vector<ParseProblem> problems;
  std::string top_level_type;  // set when the document is not an object
  bool too_deep = false, refuted = false;
  size_t error_byte = 0;
  std::string error;

 private:
  enum class Field { kNone, kClassType, kInputs, kMeta, kOther };
  bool open(json::value_t type);
  bool close();
  bool value(json v);
  void node_value_started(const json& v);
  void input_done();
  void add_input(GraphInput in);
  void node_done();
  // Links, most inputs of a large graph, skip the input's JSON value: [string or integer,
  // integer] is recognised from the events; anything else turns back into a value (unlink).
  bool link_integer(int64_t v) {
    if (link_stage_ == 1) {
      link_source_number_ = v;
      link_stage_ = 2;
      return true;
    }
    if (link_stage_ == 2) {
      link_index_ = v;
      link_stage_ = 3;
      return true;
    }
    return false;
  }
  void unlink();
  // Linear for a few inputs; a name index once a node has many (10^5 inputs stay linear).
  GraphInput* existing_input(const std::string& name) {
    if (input_index_.empty()) {
      for (auto& in : node_.inputs)
        if (in.name == name) return &in;
      return nullptr;
    }
    auto it = input_index_.find(name);
    return it == input_index_.end() ? nullptr : &node_.inputs[it->second];
  }
  static constexpr size_t kIndexedInputs = 32;
  void duplicate_key(const std::string& k) {
    problems.push_back(
        {node_.id, "duplicate key '" + cut(k) + "' in node " + cut(node_.id) + " (each key may appear once)", ""});
  }

  const bool allow_wrapper_;
  size_t depth_ = 0;      // open containers
  size_t base_ = 1;       // the depth inside the graph object (2 inside a {"prompt": ...} wrapper)
  size_t skip_from_ = 0;  // while > 0: a container at this depth and everything in it is ignored
  enum class Wrapper { kUndecided, kInside, kClosed, kNone } wrapper_ = Wrapper::kUndecided;
  bool wrapper_key_ = false;  // the first top-level key was "prompt"; its value decides
  GraphNode node_;
  bool has_class_ = false, inputs_ok_ = true;
  Field field_ = Field::kNone;
  std::vector<std::string> fields_seen_, meta_keys_;
  std::string meta_key_;
  std::string input_name_;
  std::unordered_map<std::string, size_t> input_index_;
  json value_root_;
  std::vector<json*> value_stack_;
  std::string value_key_;
  int link_stage_ = 0;  // 0: not in a link; 1, 2: expecting its first, second element; 3: complete
  std::string link_source_;
  std::optional<int64_t> link_source_number_;
  int64_t link_index_ = 0;
};

void GraphBuilder::unlink() {
  if (link_stage_ == 0) return;
  value_root_ = json::array();
  if (link_stage_ >= 2) {
    if (link_source_number_)
      value_root_.push_back(*link_source_number_);
    else
      value_root_.push_back(std::move(link_source_));
  }
  if (link_stage_ == 3) value_root_.push_back(link_index_);
  value_stack_.push_back(&value_root_);
  link_stage_ = 0;
}

bool GraphBuilder::key(string_t& k) {
  if (skip_from_ > 0) return true;
  if (depth_ == 1 && base_ == 1 && allow_wrapper_ && wrapper_ == Wrapper::kUndecided) {
    if (k == "prompt")
      wrapper_key_ = true;  // read as a node id too, in case its value is not an object
    else
      wrapper_ = Wrapper::kNone;
  }
  if (depth_ == 1 && wrapper_ == Wrapper::kClosed) {
    refuted = true;  // "prompt" was not the only key: a node named "prompt"
    return false;
  }
  if (depth_ == base_) {
    node_ = GraphNode();
    node_.id = std::move(k);
  } else if (depth_ == base_ + 1) {
    if (std::find(fields_seen_.begin(), fields_seen_.end(), k) != fields_seen_.end()) duplicate_key(k);
    fields_seen_.push_back(k);
    field_ = k == "class_type" ? Field::kClassType
             : k == "inputs"   ? Field::kInputs
             : k == "_meta"    ? Field::kMeta
                               : Field::kOther;
  } else if (depth_ == base_ + 2 && field_ == Field::kInputs) {
    if (existing_input(k)) duplicate_key(k);
    input_name_ = std::move(k);
  } else if (depth_ == base_ + 2 && field_ == Field::kMeta) {
    if (std::find(meta_keys_.begin(), meta_keys_.end(), k) != meta_keys_.end()) duplicate_key(k);
    meta_keys_.push_back(k);
    meta_key_ = std::move(k);
  } else if (!value_stack_.empty()) {
    if (value_stack_.back()->contains(k)) duplicate_key(k);
    value_key_ = std::move(k);
  }
  return true;
}

// A value at depth_ (a scalar, or the start of a container about to be opened).
bool GraphBuilder::value(json v) {
  if (skip_from_ > 0) return true;
  unlink();
  if (depth_ == 0) {
    top_level_type = v.type_name();
    return true;
  }
  if (wrapper_key_) {
    wrapper_key_ = false;
    wrapper_ = Wrapper::kNone;
  }
  if (!value_stack_.empty()) {
    json& parent = *value_stack_.back();
    if (parent.is_array())
      parent.push_back(std::move(v));
    else
      parent[value_key_] = std::move(v);
    return true;
  }
  if (depth_ == base_) {
    node_value_started(v);
  } else if (depth_ == base_ + 1) {
    if (field_ == Field::kClassType) {
      has_class_ = v.is_string();
      if (has_class_) node_.class_type = v.get_ref<const std::string&>();
    } else if (field_ == Field::kInputs) {
      inputs_ok_ = false;
    } else if (field_ == Field::kMeta) {
      node_.title.clear();
    }
  } else if (depth_ == base_ + 2 && field_ == Field::kInputs) {
    value_root_ = std::move(v);
    input_done();
  } else if (depth_ == base_ + 2 && field_ == Field::kMeta && meta_key_ == "title") {
    node_.title = v.is_string() ? v.get<std::string>() : std::string();
  }
  return true;
}

// A node id's value that is not an object: a problem, and the id still takes part in duplicates.
void GraphBuilder::node_value_started(const json& v) {
  problems.push_back(
      {node_.id, "node must be an object with class_type and inputs, got " + std::string(v.type_name()), ""});
  nodes.push_back(std::move(node_));
  usable.push_back(false);
}

bool GraphBuilder::open(json::value_t type) {
  if (depth_ + 1 >= static_cast<size_t>(kMaxJsonDepth)) {
    too_deep = true;
    return false;
  }
  const size_t at = depth_++;  // the depth the value sits at
  if (skip_from_ > 0) return true;
  unlink();
  auto skip = [&] { skip_from_ = depth_; };
  const bool object = type == json::value_t::object;
  if (at == 0) {
    if (!object) {
      top_level_type = "array";
      skip();
    }
    return true;
  }
  if (wrapper_key_ && at == 1) {
    wrapper_key_ = false;
    wrapper_ = object ? Wrapper::kInside : Wrapper::kNone;
    if (object) {
      base_ = 2;
      return true;
    }
  }
  if (value_stack_.empty() && at == base_ + 2 && field_ == Field::kInputs && !object) {
    link_stage_ = 1;
    return true;
  }
  if (!value_stack_.empty() || (at == base_ + 2 && field_ == Field::kInputs)) {
    json* made = nullptr;
    if (value_stack_.empty()) {
      value_root_ = json(type);
      made = &value_root_;
    } else if (json& parent = *value_stack_.back(); parent.is_array()) {
      parent.push_back(json(type));
      made = &parent.back();
    } else {
      made = &(parent[value_key_] = json(type));
    }
    value_stack_.push_back(made);
    return true;
  }
  if (at == base_) {
    if (!object) {
      node_value_started(json::array());
      skip();
      return true;
    }
    has_class_ = false;
    inputs_ok_ = true;
    input_index_.clear();
    fields_seen_.clear();
    field_ = Field::kNone;
    return true;
  }
  if (at == base_ + 1 && field_ == Field::kInputs && object) {
    inputs_ok_ = true;
    node_.inputs.clear();  // the last "inputs" wins
    input_index_.clear();
    return true;
  }
  if (at == base_ + 1 && field_ == Field::kMeta && object) {
    node_.title.clear();
    meta_keys_.clear();
    meta_key_.clear();
    return true;
  }
  if (at == base_ + 1 && field_ == Field::kInputs) inputs_ok_ = false;
  if (at == base_ + 1 && field_ == Field::kClassType) has_class_ = false;
  skip();
  return true;
}

bool GraphBuilder::close() {
  const size_t closed = depth_--;  // the depth of the container's contents
  if (skip_from_ > 0) {
    if (closed == skip_from_) skip_from_ = 0;
    return true;
  }
  if (link_stage_ == 3) {
    link_stage_ = 0;
    GraphInput in;
    in.name = std::move(input_name_);
    in.link = Link{link_source_number_ ? std::to_string(*link_source_number_) : std::move(link_source_), link_index_};
    add_input(std::move(in));
    return true;
  }
  unlink();
  if (!value_stack_.empty()) {
    value_stack_.pop_back();
    if (value_stack_.empty()) input_done();
    return true;
  }
  if (wrapper_ == Wrapper::kInside && closed == 2) {
    wrapper_ = Wrapper::kClosed;
  } else if (closed == base_ + 1) {
    node_done();
  }
  return true;
}

void GraphBuilder::input_done() {
  GraphInput in = read_input(std::move(input_name_), value_root_);
  value_root_ = json();
  add_input(std::move(in));
}

void GraphBuilder::add_input(GraphInput in) {
  if (GraphInput* same = existing_input(in.name)) {
    *same = std::move(in);  // the last wins, as in a JSON document
    return;
  }
  if (!input_index_.empty() || node_.inputs.size() >= kIndexedInputs) {
    if (input_index_.empty())
      for (size_t i = 0; i < node_.inputs.size(); ++i) input_index_.emplace(node_.inputs[i].name, i);
    input_index_.emplace(in.name, node_.inputs.size());
  }
  node_.inputs.push_back(std::move(in));
}

void GraphBuilder::node_done() {
  bool ok = true;
  if (!has_class_) {
    problems.push_back({node_.id, "node has no class_type string", ""});
    ok = false;
  } else if (!inputs_ok_) {
    problems.push_back({node_.id, "inputs must be an object", ""});
    ok = false;
  }
  std::sort(node_.inputs.begin(), node_.inputs.end(),
            [](const GraphInput& a, const GraphInput& b) { return a.name < b.name; });
  nodes.push_back(std::move(node_));
  usable.push_back(ok);
}

// nodes[p] = nodes[order[p]] for every p, moving each node once (a second array of 10^6 nodes
// would double the peak).
template <class T>
void permute_in_place(std::vector<T>& items, const std::vector<uint32_t>& order) {
  std::vector<bool> placed(items.size(), false);
  for (size_t start = 0; start < items.size(); ++start) {
    if (placed[start]) continue;
    T carried = std::move(items[start]);
    size_t at = start;
    while (true) {
      placed[at] = true;
      const size_t from = order[at];
      if (from == start) {
        items[at] = std::move(carried);
        break;
      }
      items[at] = std::move(items[from]);
      at = from;
    }
  }
}

// Sorted by id, the last of duplicate ids kept (each duplicate is a problem), problem nodes
// dropped, links resolved to indices.
Graph assemble(GraphBuilder& b, std::string text) {
  Graph g;
  g.problems = std::move(b.problems);
  std::vector<GraphNode>& nodes = b.nodes;
  std::vector<IdKey> keys(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) keys[i] = id_key(nodes[i].id);
  std::vector<uint32_t> order(nodes.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t x, uint32_t y) { return key_less(keys[x], nodes[x].id, keys[y], nodes[y].id); });
  std::vector<char> keep(order.size());
  for (size_t p = 0; p < order.size(); ++p) {
    const bool duplicate = p + 1 < order.size() && nodes[order[p + 1]].id == nodes[order[p]].id;
    if (duplicate)
      g.problems.push_back(
          {nodes[order[p]].id, "duplicate node id '" + cut(nodes[order[p]].id) + "' (each id may appear once)", ""});
    keep[p] = !duplicate && b.usable[order[p]];
  }
  permute_in_place(nodes, order);
  permute_in_place(keys, order);
  size_t kept = 0;
  for (size_t p = 0; p < nodes.size(); ++p) {
    if (!keep[p]) continue;
    if (kept != p) {
      nodes[kept] = std::move(nodes[p]);
      keys[kept] = keys[p];
    }
    ++kept;
  }
  nodes.resize(kept);
  keys.resize(kept);
  g.nodes = std::move(nodes);
  for (auto& n : g.nodes)
    for (auto& in : n.inputs) {
      if (!in.link) continue;
      const std::string& id = in.link->source_id;
      const IdKey key = id_key(id);
      size_t lo = 0, hi = kept;
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (key_less(keys[mid], g.nodes[mid].id, key, id))
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo < kept && g.nodes[lo].id == id) in.source_index = static_cast<uint32_t>(lo);
    }
  g.text = std::move(text);
  return g;
}

}  // namespace

Result<Graph> parse_graph(std::string text) {
  for (const bool wrapper : {true, false}) {
    GraphBuilder b(wrapper, text.size());
    const bool parsed = json::sax_parse(text, &b);
    if (b.refuted) continue;
    if (b.too_deep)
      return InvalidArgument("the JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                             " levels (the limit for graph files; docs/limits.md)");
    if (!parsed) return malformed(text, b.error_byte, b.error);
    if (!b.top_level_type.empty())
      return InvalidArgument("a graph file must be a JSON object mapping node ids to nodes, got " + b.top_level_type);
    return assemble(b, std::move(text));
  }
  return InvalidArgument("malformed JSON");  // unreachable: the second pass never refutes
}

Result<Graph> load_graph_file(const std::string& path) {
  auto text = read_file_bounded(path, kMaxGraphFileBytes);
  if (!text.ok()) return Status(text.status().code(), "graph file: " + text.status().message());
  auto r = parse_graph(std::move(*text));
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
  return r;
}

}  // namespace sf::host
