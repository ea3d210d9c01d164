#include "registry/catalogue.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sf::host {

using json = nlohmann::ordered_json;

bool Catalogue::add(NodeContract contract, std::string plugin, std::string plugin_path) {
  if (entries_.count(contract.class_type)) return false;
  std::string key = contract.class_type;
  entries_.emplace(key, CatalogueEntry{std::move(contract), std::move(plugin), std::move(plugin_path)});
  return true;
}

void Catalogue::add_schedule_name(const std::string& name) {
  if (std::find(schedules_.begin(), schedules_.end(), name) == schedules_.end()) schedules_.push_back(name);
}
void Catalogue::add_sampler_name(const std::string& name) {
  if (std::find(samplers_.begin(), samplers_.end(), name) == samplers_.end()) samplers_.push_back(name);
}

const CatalogueEntry* Catalogue::find(const std::string& class_type) const {
  auto it = entries_.find(class_type);
  return it == entries_.end() ? nullptr : &it->second;
}

void Catalogue::expand_registry_choices() {
  for (auto& [_, e] : entries_) {
    for (auto& in : e.contract.inputs) {
      if (in.choices_from.empty()) continue;
      const auto& names = in.choices_from == "schedulers" ? schedules_ : samplers_;
      for (const auto& n : names)
        if (std::find(in.choices.begin(), in.choices.end(), n) == in.choices.end()) in.choices.push_back(n);
      if (!in.default_value && !in.choices.empty()) in.default_value = Literal(in.choices.front());
    }
  }
}

namespace {
json literal_json(const Literal& l) { return json::parse(l.to_json(), nullptr, false); }

json input_json(const InputSpec& in) {
  json options = json::object();
  if (in.default_value) options["default"] = literal_json(*in.default_value);
  if (in.min) options["min"] = *in.min;
  if (in.max) options["max"] = *in.max;
  if (in.step) options["step"] = *in.step;
  if (in.multiline) options["multiline"] = true;
  if (!in.tooltip.empty()) options["tooltip"] = in.tooltip;
  if (in.type == "COMBO") {
    // ComfyUI writes a COMBO's type as the list of its choices.
    return json::array({in.choices, options});
  }
  return json::array({in.type, options});
}
}  // namespace

std::string Catalogue::object_info_json(int indent) const {
  json all = json::object();
  for (const auto& [name, e] : entries_) {
    const auto& c = e.contract;
    json node;
    json required = json::object(), optional = json::object();
    json order_required = json::array(), order_optional = json::array();
    for (const auto& in : c.inputs) {
      (in.optional ? optional : required)[in.name] = input_json(in);
      (in.optional ? order_optional : order_required).push_back(in.name);
    }
    node["input"] = {{"required", required}};
    if (!optional.empty()) node["input"]["optional"] = optional;
    node["input_order"] = {{"required", order_required}};
    if (!order_optional.empty()) node["input_order"]["optional"] = order_optional;
    json out = json::array(), out_names = json::array(), out_list = json::array();
    for (const auto& o : c.outputs) {
      out.push_back(o.type);
      out_names.push_back(o.name.empty() ? o.type : o.name);
      out_list.push_back(false);
    }
    node["output"] = out;
    node["output_is_list"] = out_list;
    node["output_name"] = out_names;
    node["name"] = c.class_type;
    node["display_name"] = c.display_name.empty() ? c.class_type : c.display_name;
    node["description"] = c.description;
    node["python_module"] = "sigmaflow." + e.plugin;  // ComfyUI field; here: the plugin name
    node["category"] = c.category;
    node["output_node"] = c.output_node;
    all[name] = node;
  }
  return all.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace sf::host
