#include "registry/contract_json.h"

#include <stdexcept>

namespace sf::host {

using json = nlohmann::json;

json literal_to_json(const Literal& l) {
  if (l.is_bool()) return l.as_bool();
  if (l.is_big_uint()) return l.as_uint();
  if (l.is_int()) return l.as_int();
  if (l.is_float()) return l.as_number();
  if (l.is_string()) return l.as_string();
  if (l.is_list()) {
    json a = json::array();
    for (const auto& e : l.as_list()) a.push_back(literal_to_json(e));
    return a;
  }
  return nullptr;
}

Literal literal_from_json(const json& j) {
  switch (j.type()) {
    case json::value_t::boolean:
      return Literal(j.get<bool>());
    case json::value_t::number_integer:
      return Literal(j.get<int64_t>());
    case json::value_t::number_unsigned:
      return Literal(j.get<uint64_t>());
    case json::value_t::number_float:
      return Literal(j.get<double>());
    case json::value_t::string:
      return Literal(j.get<std::string>());
    case json::value_t::array: {
      Literal::List l;
      for (const auto& e : j) l.push_back(literal_from_json(e));
      return Literal(std::move(l));
    }
    default:
      return Literal();
  }
}

namespace {

json input_to_json(const InputSpec& in) {
  json j = {{"name", in.name}, {"type", in.type}};
  if (in.default_value) j["default"] = literal_to_json(*in.default_value);
  if (in.min) j["min"] = *in.min;
  if (in.max) j["max"] = *in.max;
  if (in.step) j["step"] = *in.step;
  if (!in.choices.empty()) j["choices"] = in.choices;
  if (!in.choices_from.empty()) j["choices_from"] = in.choices_from;
  if (!in.requires_caps.empty()) j["requires"] = in.requires_caps;
  if (in.optional) j["optional"] = true;
  if (in.multiline) j["multiline"] = true;
  if (in.control_after_generate) j["control_after_generate"] = true;
  if (!in.tooltip.empty()) j["tooltip"] = in.tooltip;
  return j;
}

InputSpec input_from_json(const json& j) {
  InputSpec in;
  in.name = j.at("name").get<std::string>();
  in.type = j.at("type").get<std::string>();
  if (j.contains("default")) in.default_value = literal_from_json(j["default"]);
  if (j.contains("min")) in.min = j["min"].get<double>();
  if (j.contains("max")) in.max = j["max"].get<double>();
  if (j.contains("step")) in.step = j["step"].get<double>();
  in.choices = j.value("choices", std::vector<std::string>{});
  in.choices_from = j.value("choices_from", std::string());
  in.requires_caps = j.value("requires", std::vector<std::string>{});
  in.optional = j.value("optional", false);
  in.multiline = j.value("multiline", false);
  in.control_after_generate = j.value("control_after_generate", false);
  in.tooltip = j.value("tooltip", std::string());
  return in;
}

}  // namespace

json contract_to_json(const NodeContract& c) {
  json inputs = json::array(), outputs = json::array(), constraints = json::array();
  for (const auto& in : c.inputs) inputs.push_back(input_to_json(in));
  for (const auto& o : c.outputs)
    outputs.push_back({{"type", o.type}, {"name", o.name}, {"provides", o.provides}, {"tooltip", o.tooltip}});
  for (const auto& k : c.constraints)
    constraints.push_back(
        {{"kind", static_cast<int>(k.kind)}, {"a", k.a}, {"b", k.b}, {"value", k.value}, {"message", k.message}});
  return {{"class_type", c.class_type},
          {"display_name", c.display_name},
          {"category", c.category},
          {"description", c.description},
          {"inputs", inputs},
          {"outputs", outputs},
          {"constraints", constraints},
          {"output_node", c.output_node},
          {"checks_inputs", c.checks_inputs},
          {"idempotent", c.idempotent},
          {"overrides", c.overrides}};
}

NodeContract contract_from_json(const json& j) {
  NodeContract c;
  c.class_type = j.at("class_type").get<std::string>();
  c.display_name = j.value("display_name", std::string());
  c.category = j.value("category", std::string());
  c.description = j.value("description", std::string());
  for (const auto& in : j.at("inputs")) c.inputs.push_back(input_from_json(in));
  for (const auto& o : j.at("outputs"))
    c.outputs.push_back({o.at("type").get<std::string>(), o.value("name", std::string()),
                         o.value("provides", std::vector<std::string>{}), o.value("tooltip", std::string())});
  for (const auto& k : j.value("constraints", json::array())) {
    const int kind = k.at("kind").get<int>();
    // A forged or future cache entry: an unknown kind would reach a switch with no case for it.
    if (kind < 0 || kind > static_cast<int>(Constraint::Kind::kNumberList))
      throw std::runtime_error("constraint kind " + std::to_string(kind) + " is unknown");
    c.constraints.push_back({static_cast<Constraint::Kind>(kind), k.value("a", std::string()),
                             k.value("b", std::string()), k.value("value", std::string()),
                             k.value("message", std::string())});
  }
  c.output_node = j.value("output_node", false);
  c.checks_inputs = j.value("checks_inputs", false);
  c.idempotent = j.value("idempotent", true);
  c.overrides = j.value("overrides", std::string());
  return c;
}

json registry_name_to_json(const RegistryName& n) {
  return {{"name", n.name},
          {"description", n.description},
          {"overrides", n.overrides},
          {"sampler_aware", n.sampler_aware},
          {"fixed_length", n.fixed_length},
          {"traits",
           {{"stochastic", n.traits.stochastic},
            {"multistep", n.traits.multistep},
            {"order", n.traits.order},
            {"evaluations_per_step", n.traits.evaluations_per_step}}}};
}

RegistryName registry_name_from_json(const json& j) {
  RegistryName n;
  n.name = j.at("name").get<std::string>();
  n.description = j.value("description", std::string());
  n.sampler_aware = j.value("sampler_aware", false);
  n.overrides = j.value("overrides", false);
  n.fixed_length = j.value("fixed_length", true);
  if (j.contains("traits")) {
    const auto& t = j["traits"];
    n.traits.stochastic = t.value("stochastic", false);
    n.traits.multistep = t.value("multistep", false);
    n.traits.order = t.value("order", 1);
    n.traits.evaluations_per_step = t.value("evaluations_per_step", 1);
  }
  return n;
}

}  // namespace sf::host
