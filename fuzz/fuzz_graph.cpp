// libFuzzer target: graph parsing and validation must never crash, whatever the bytes, and the
// graph read from the parser's events must be the one a JSON document of the same text gives
// (the reading before the event-driven reader: last duplicate wins, the {"prompt": ...} wrapper,
// nodes without a class_type string or with non-object inputs dropped).
#include <cstddef>
#include <cstdint>
#include <string>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "sigmaflow/number_list.h"
#include "validate/validate.h"

namespace {
sf::host::CatalogueEntry entry(const sf::NodeContract& c) {
  sf::host::CatalogueEntry e;
  e.contract = c;
  e.plugin = "fuzz";
  e.plugin_path = "fuzz";
  return e;
}

// A small catalogue with every kind of input the validator handles.
const sf::host::Catalogue& catalogue() {
  static sf::host::Catalogue cat = [] {
    sf::host::Catalogue c;
    sf::NodeContract m;
    m.class_type = "ModelNode";
    m.outputs = {{"MODEL", "MODEL"}};
    c.put(entry(m));
    sf::NodeContract s;
    s.class_type = "Sched";
    s.inputs = {sf::Port("model", "MODEL"),
                sf::Int("steps", 20, 1, 10000),
                sf::Float("denoise", 1.0, 0.0, 1.0),
                sf::Combo("kind", {"karras", "exponential"}),
                sf::List("values"),
                sf::Bool("flag", false),
                sf::String("name", "x"),
                sf::String("sigma_list", "1, 0"),
                sf::String("seeds", ""),
                sf::Optional(sf::Port("any", "*")),
                sf::Optional(sf::Port("u", "FLOAT,INT"))};
    s.outputs = {{"SIGMAS", "SIGMAS"}, {"FLOAT", "f"}};
    // The declarative rules (API 3.1 products, 3.2 number lists) over whatever literals arrive.
    sf::NumberListRule sigmas;
    sigmas.min_count = 2;
    sigmas.min_value = 0.0;
    sigmas.strictly_decreasing = true;
    sf::NumberListRule seeds;
    seeds.integers = seeds.commas_only = seeds.blank_is_empty = seeds.unique = true;
    seeds.max_count = 64;
    s.constraints = {sf::NumberListOf("sigma_list", sigmas), sf::NumberListOf("seeds", seeds),
                     sf::ProductAtMost({"steps"}, {"denoise"}, 1e6)};
    c.put(entry(s));
    sf::NodeContract o;
    o.class_type = "Sink";
    o.inputs = {sf::Port("sigmas", "SIGMAS"), sf::Optional(sf::Port("x", "*"))};
    o.output_node = true;
    c.put(entry(o));
    return c;
  }();
  return cat;
}
using json = nlohmann::json;

void expect(bool ok) {
  if (!ok) std::abort();
}

std::string cut(std::string s) {
  if (s.size() > sf::host::kMaxRawJsonChars) s = s.substr(0, sf::host::kMaxRawJsonChars) + "...";
  return s;
}

void check_input(const sf::host::GraphInput& in, const json& v) {
  if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_number_integer()) {
    expect(in.link && in.link->source_id == v[0].get<std::string>() && in.link->output_index == v[1].get<int64_t>());
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    expect(in.link && in.link->source_id == std::to_string(v[0].get<int64_t>()) &&
           in.link->output_index == v[1].get<int64_t>());
  } else {
    expect(!in.link);
    expect(in.raw_json() == cut(v.dump(-1, ' ', false, json::error_handler_t::replace)));
    const bool malformed = v.is_array() || (v.is_object() && !(v.size() == 1 && v.contains("__value__")));
    expect(in.malformed_link == malformed);
  }
}

void check_against_document(const std::string& text, const sf::Result<sf::host::Graph>& g) {
  auto doc = sf::host::parse_json_bounded(text);
  if (!g.ok()) {
    expect(!doc.ok() || !doc->is_object());
    return;
  }
  expect(doc.ok() && doc->is_object());
  json d = std::move(*doc);
  if (d.size() == 1 && d.contains("prompt") && d["prompt"].is_object()) d = d["prompt"];
  size_t kept = 0;
  for (auto it = d.begin(); it != d.end(); ++it) {
    const json& n = it.value();
    const bool usable = n.is_object() && n.contains("class_type") && n["class_type"].is_string() &&
                        (!n.contains("inputs") || n["inputs"].is_object());
    const sf::host::GraphNode* node = g->find(it.key());
    expect(usable == (node != nullptr));
    if (!usable) continue;
    ++kept;
    expect(node->class_type == n["class_type"].get<std::string>());
    const json inputs = n.contains("inputs") ? n["inputs"] : json::object();
    expect(node->inputs.size() == inputs.size());
    size_t k = 0;
    for (auto in = inputs.begin(); in != inputs.end(); ++in, ++k) {  // both in name order
      expect(node->inputs[k].name == in.key());
      check_input(node->inputs[k], in.value());
    }
  }
  expect(kept == g->nodes.size());
  for (size_t i = 1; i < g->nodes.size(); ++i) expect(sf::host::node_id_less(g->nodes[i - 1].id, g->nodes[i].id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto g = sf::host::parse_graph(text);
  check_against_document(text, g);
  if (!g.ok()) {
    (void)sf::host::report_for_unreadable_graph(g.status().message()).to_json();
    return 0;
  }
  auto v = sf::host::validate_graph(*g, catalogue());
  (void)v.report.to_text();
  (void)v.report.to_json();
  return 0;
}
