// Node contracts: the static description of a node type (ComfyUI's INPUT_TYPES / RETURN_TYPES /
// CATEGORY / OUTPUT_NODE). The host reads contracts without running anything, validates graphs
// against them and serves them as the catalogue. Torch-free.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sigmaflow/literal.h"

namespace sf {

// One typed input. `type` is a port type string: "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO",
// "LIST" (a {"__value__": [...]} literal), "*" (anything), a value type such as "MODEL" or
// "SIGMAS", or a union "A,B".
struct InputSpec {
  std::string name;
  std::string type;
  std::optional<Literal> default_value;
  std::optional<double> min, max, step;  // min/max enforced; step is a UI hint only
  std::vector<std::string> choices;      // COMBO choices
  // COMBO choices that come from a host registry filled by every loaded plugin: "schedulers"
  // or "samplers". They are appended after `choices` when the catalogue is built.
  std::string choices_from;
  bool optional = false;
  bool multiline = false;  // STRING hint
  std::string tooltip;
};

struct OutputSpec {
  std::string type;
  std::string name;
};

struct NodeContract {
  std::string class_type;  // the graph's class_type; unique across all plugins
  std::string display_name;
  std::string category;
  std::string description;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  bool output_node = false;  // writes files / reports; graphs run what output nodes need
  bool idempotent = true;    // same inputs, same outputs: results may be cached within a run

  const InputSpec* find_input(const std::string& name) const {
    for (const auto& in : inputs)
      if (in.name == name) return &in;
    return nullptr;
  }
};

// Fluent helpers so a contract reads like ComfyUI's INPUT_TYPES.
// An input of `type` with nothing else set.
inline InputSpec Port(std::string name, std::string type) {
  InputSpec s;
  s.name = std::move(name);
  s.type = std::move(type);
  return s;
}
inline InputSpec List(std::string name) { return Port(std::move(name), "LIST"); }

inline InputSpec Int(std::string name, int64_t def, std::optional<double> min = std::nullopt,
                     std::optional<double> max = std::nullopt) {
  InputSpec s = Port(std::move(name), "INT");
  s.default_value = Literal(def);
  s.min = min;
  s.max = max;
  s.step = 1;
  return s;
}
inline InputSpec Float(std::string name, double def, std::optional<double> min = std::nullopt,
                       std::optional<double> max = std::nullopt, double step = 0.01) {
  InputSpec s = Port(std::move(name), "FLOAT");
  s.default_value = Literal(def);
  s.min = min;
  s.max = max;
  s.step = step;
  return s;
}
inline InputSpec Bool(std::string name, bool def) {
  InputSpec s = Port(std::move(name), "BOOLEAN");
  s.default_value = Literal(def);
  return s;
}
inline InputSpec String(std::string name, std::string def, bool multiline = false) {
  InputSpec s = Port(std::move(name), "STRING");
  s.default_value = Literal(std::move(def));
  s.multiline = multiline;
  return s;
}
inline InputSpec Combo(std::string name, std::vector<std::string> choices,
                       std::optional<std::string> def = std::nullopt) {
  InputSpec s = Port(std::move(name), "COMBO");
  if (def) s.default_value = Literal(*def);
  else if (!choices.empty()) s.default_value = Literal(choices.front());
  s.choices = std::move(choices);
  return s;
}

inline InputSpec Optional(InputSpec s) {
  s.optional = true;
  return s;
}
inline InputSpec Tooltip(InputSpec s, std::string tip) {
  s.tooltip = std::move(tip);
  return s;
}

}  // namespace sf
