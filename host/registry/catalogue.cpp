#include "registry/catalogue.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sf::host {

using json = nlohmann::ordered_json;

namespace {
void put_name(std::vector<RegistryName>& list, RegistryName n) {
  auto it = std::find_if(list.begin(), list.end(), [&](const RegistryName& e) { return e.name == n.name; });
  if (it == list.end())
    list.push_back(std::move(n));
  else
    *it = std::move(n);
}
const RegistryName* find_name(const std::vector<RegistryName>& list, const std::string& name) {
  for (const auto& n : list)
    if (n.name == name) return &n;
  return nullptr;
}
}  // namespace

void Catalogue::put(CatalogueEntry entry) {
  std::string key = entry.contract.class_type;
  entries_[key] = std::move(entry);
}
void Catalogue::put_schedule(RegistryName name) { put_name(schedules_, std::move(name)); }
void Catalogue::put_sampler(RegistryName name) { put_name(samplers_, std::move(name)); }

const CatalogueEntry* Catalogue::find(const std::string& class_type) const {
  auto it = entries_.find(class_type);
  return it == entries_.end() ? nullptr : &it->second;
}
const RegistryName* Catalogue::find_schedule(const std::string& name) const { return find_name(schedules_, name); }
const RegistryName* Catalogue::find_sampler(const std::string& name) const { return find_name(samplers_, name); }

std::vector<std::string> Catalogue::schedule_names() const {
  std::vector<std::string> out;
  for (const auto& n : schedules_) out.push_back(n.name);
  return out;
}

std::vector<std::string> Catalogue::sampler_names() const { return sampler_names(""); }

std::vector<std::string> Catalogue::sampler_names(const std::string& filter) const {
  std::vector<std::string> out;
  for (const auto& n : samplers_) {
    if (filter == "stochastic" && !n.traits.stochastic) continue;
    if (filter == "deterministic" && n.traits.stochastic) continue;
    if (filter == "multistep" && !n.traits.multistep) continue;
    out.push_back(n.name);
  }
  return out;
}

void Catalogue::expand_registry_choices() {
  for (auto& [_, e] : entries_) {
    for (auto& in : e.contract.inputs) {
      if (in.choices_from.empty()) continue;
      std::vector<std::string> names;
      if (in.choices_from == "schedulers")
        names = schedule_names();
      else if (in.choices_from.rfind("samplers", 0) == 0)
        names = sampler_names(in.choices_from.size() > 9 ? in.choices_from.substr(9) : "");
      for (const auto& n : names)
        if (std::find(in.choices.begin(), in.choices.end(), n) == in.choices.end()) in.choices.push_back(n);
      bool default_ok =
          in.default_value && in.default_value->is_string() &&
          std::find(in.choices.begin(), in.choices.end(), in.default_value->as_string()) != in.choices.end();
      if (!default_ok && !in.choices.empty()) in.default_value = Literal(in.choices.front());
    }
  }
}

namespace {
json literal_json(const Literal& l) { return json::parse(l.to_json(), nullptr, false); }

// A number as ComfyUI's frontends expect it: INT options as integers.
json option_number(double v, bool integer) {
  // The range test first: converting a double outside int64's range is undefined behaviour (a
  // seed's maximum, 2^64 - 1, is one; found by fuzz_caches).
  if (integer && v < 9.2e18 && v > -9.2e18 && v == static_cast<double>(static_cast<int64_t>(v)))
    return json(static_cast<int64_t>(v));
  if (integer && v >= 1.8e19) return json(UINT64_MAX);
  return json(v);
}

json input_json(const InputSpec& in) {
  const bool integer = in.type == "INT";
  json options = json::object();
  if (in.default_value) options["default"] = literal_json(*in.default_value);
  if (in.min) options["min"] = option_number(*in.min, integer);
  if (in.max) options["max"] = option_number(*in.max, integer);
  if (in.step) options["step"] = option_number(*in.step, integer);
  if (in.multiline) options["multiline"] = true;
  if (in.control_after_generate) options["control_after_generate"] = true;
  if (!in.tooltip.empty()) options["tooltip"] = in.tooltip;
  if (!in.requires_caps.empty()) options["requires"] = in.requires_caps;
  // ComfyUI writes a COMBO's type as the list of its choices.
  if (in.type == "COMBO") return json::array({in.choices, options});
  return json::array({in.type, options});
}

json entry_json(const CatalogueEntry& e) {
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
  node["input"]["hidden"] = json::object();
  node["input_order"] = {{"required", order_required}};
  if (!order_optional.empty()) node["input_order"]["optional"] = order_optional;
  json out = json::array(), out_names = json::array(), out_list = json::array(), out_tips = json::array();
  for (const auto& o : c.outputs) {
    out.push_back(o.type);
    out_names.push_back(o.name.empty() ? o.type : o.name);
    out_list.push_back(false);
    out_tips.push_back(o.tooltip);
  }
  node["output"] = out;
  node["output_is_list"] = out_list;
  node["output_name"] = out_names;
  node["output_tooltips"] = out_tips;
  node["name"] = c.class_type;
  node["display_name"] = c.display_name.empty() ? c.class_type : c.display_name;
  node["description"] = c.description;
  node["python_module"] = "sigmaflow." + e.plugin;  // ComfyUI field; here: the plugin name
  node["category"] = c.category;
  node["output_node"] = c.output_node;
  return node;
}
}  // namespace

std::string Catalogue::object_info_json(int indent) const {
  json all = json::object();
  for (const auto& [name, e] : entries_) all[name] = entry_json(e);
  return all.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string Catalogue::input_config_json(const std::string& class_type, const std::string& input) const {
  const CatalogueEntry* e = find(class_type);
  if (!e) return {};
  for (const auto& in : e->contract.inputs)
    if (in.name == input) return input_json(in).dump(-1, ' ', false, json::error_handler_t::replace);
  return {};
}

std::string Catalogue::object_info_json(const std::string& class_type, int indent) const {
  const CatalogueEntry* e = find(class_type);
  if (!e) return {};
  json one = json::object();
  one[class_type] = entry_json(*e);
  return one.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace sf::host
