// libFuzzer target: graph parsing and validation must never crash, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string>

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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto g = sf::host::parse_graph(text);
  if (!g.ok()) {
    (void)sf::host::report_for_unreadable_graph(g.status().message()).to_json();
    return 0;
  }
  auto v = sf::host::validate_graph(*g, catalogue());
  (void)v.report.to_text();
  (void)v.report.to_json();
  return 0;
}
