// Node contracts: the static description of a node type (ComfyUI's INPUT_TYPES / RETURN_TYPES /
// CATEGORY / OUTPUT_NODE / VALIDATE_INPUTS). The host reads contracts without running anything:
// the plugin scanner records them in its cache, so `validate` and `nodes` load no plugin. Every
// field is plain data for that reason. Torch-free.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sigmaflow/literal.h"

namespace sf {

// Capability names a MODEL output may provide and a MODEL input may require.
inline constexpr const char* kExactDensity = "exact_density";  // log density, components, exact samples

// What a sampler is, declared by whoever registers it. Option nodes offer samplers by trait
// (choices_from "samplers:stochastic", ...); optimisers refuse stochastic ones.
struct SamplerTraits {
  bool stochastic = false;       // draws fresh noise during the run
  bool multistep = false;        // keeps earlier denoised values (history) between steps
  int order = 1;                 // order of accuracy of the ODE solver
  int evaluations_per_step = 1;  // model calls per step (heun: 2, except into 0)
};

// One typed input. `type` is a port type string: "INT", "FLOAT", "STRING", "BOOLEAN", "COMBO",
// "LIST" (a {"__value__": [...]} literal), "*" (anything), a value type such as "MODEL" or
// "SIGMAS", or a union "A,B".
struct InputSpec {
  std::string name;
  std::string type;
  std::optional<Literal> default_value;
  std::optional<double> min, max, step;  // min/max enforced; step is a UI hint only
  std::vector<std::string> choices;      // COMBO choices
  // COMBO choices filled from a host registry by every loaded plugin: "schedulers", "samplers",
  // or samplers with a trait: "samplers:deterministic", "samplers:stochastic",
  // "samplers:multistep". Appended after `choices` when the catalogue is built.
  std::string choices_from;
  // Capabilities the linked value must provide (validation checks the producing output's
  // `provides`), e.g. {kExactDensity} on a MODEL input.
  std::vector<std::string> requires_caps;
  bool optional = false;
  bool multiline = false;               // STRING hint
  bool control_after_generate = false;  // INT seeds: frontends offer randomize/increment
  std::string tooltip;
};

struct OutputSpec {
  OutputSpec() = default;
  OutputSpec(std::string type_, std::string name_ = {}, std::vector<std::string> provides_ = {},
             std::string tooltip_ = {})
      : type(std::move(type_)), name(std::move(name_)), provides(std::move(provides_)), tooltip(std::move(tooltip_)) {}
  std::string type;
  std::string name;
  std::vector<std::string> provides;  // capabilities of the value, e.g. {kExactDensity}
  std::string tooltip;
};

// A rule over literal inputs that validation checks before anything runs, so a graph that `run`
// would refuse fails `validate` too. Declared as data: no plugin code runs during validation.
struct Constraint {
  enum class Kind {
    kLess,          // a < b (numbers; checked when both are literals)
    kLessEqual,     // a <= b
    kOnlyWhen,      // input a may be given only when input b equals `value`
    kRequiredWhen,  // input a must be given when input b equals `value`
    // At least one of the inputs named in a (comma separated) is given, linked or literal; b is
    // unused. API 2.3.
    kAnyOf,
    // The product of the inputs named in a (comma separated) divided by the product of those named
    // in b (comma separated; may be empty) is at most `value` (a number as text), computed in
    // double precision so no product overflows. Checked when every named input is a number literal
    // and every divisor is > 0 (a zero divisor is the node's own case, e.g. denoise 0 = nothing to
    // do). For sizes the inputs imply (steps / denoise, width x height x batch): an error names the
    // first input of b (the divisor), or of a when b is empty, and says what the product comes to.
    // API 3.1.
    kProductAtMost,
    // The STRING input a, when a literal, is a list of numbers following the rule in `value`
    // (sigmaflow/number_list.h: NumberListOf, parse_number_list); b is unused. API 3.2.
    kNumberList,
  };
  Kind kind = Kind::kLess;
  std::string a, b;
  std::string value;
  std::string message;  // why, shown with the error
};

struct NodeContract {
  std::string class_type;  // the graph's class_type; unique across all plugins
  std::string display_name;
  std::string category;
  std::string description;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  std::vector<Constraint> constraints;
  bool output_node = false;  // writes files / reports; graphs run what output nodes need
  bool idempotent = true;    // same inputs, same outputs: results may be cached
  // The node's NodeDef::check_inputs runs at validation on its literal inputs (ComfyUI's
  // VALIDATE_INPUTS): `validate` hands the graph to the executor, which loads the node's plugin.
  bool checks_inputs = false;
  // Set to the class_type this node deliberately replaces (a stock or earlier plugin's node).
  // Without it a clashing class_type is refused.
  std::string overrides;

  const InputSpec* find_input(const std::string& name) const {
    for (const auto& in : inputs)
      if (in.name == name) return &in;
    return nullptr;
  }
};

// A contract in one expression (set display_name, constraints, output_node, ... afterwards).
inline NodeContract Node(std::string class_type, std::string category, std::string description,
                         std::vector<InputSpec> inputs = {}, std::vector<OutputSpec> outputs = {}) {
  NodeContract c;
  c.class_type = std::move(class_type);
  c.category = std::move(category);
  c.description = std::move(description);
  c.inputs = std::move(inputs);
  c.outputs = std::move(outputs);
  return c;
}
// The same for an output node (one that writes files or reports).
inline NodeContract OutputNode(std::string class_type, std::string category, std::string description,
                               std::vector<InputSpec> inputs = {}) {
  NodeContract c = Node(std::move(class_type), std::move(category), std::move(description), std::move(inputs));
  c.output_node = true;
  return c;
}

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
                     std::optional<double> max = std::nullopt, double step = 1) {
  InputSpec s = Port(std::move(name), "INT");
  s.default_value = Literal(def);
  s.min = min;
  s.max = max;
  s.step = step;
  return s;
}
// A seed: any unsigned 64-bit value (ComfyUI's 0 .. 0xffffffffffffffff), randomizable by frontends.
inline InputSpec Seed(std::string name, int64_t def = 0) {
  InputSpec s = Int(std::move(name), def, 0.0, 18446744073709551615.0);
  s.control_after_generate = true;
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
  if (def)
    s.default_value = Literal(*def);
  else if (!choices.empty())
    s.default_value = Literal(choices.front());
  s.choices = std::move(choices);
  return s;
}
// A COMBO whose choices come from a host registry (see InputSpec::choices_from).
inline InputSpec RegistryCombo(std::string name, std::string registry, std::vector<std::string> first_choices,
                               std::string def) {
  InputSpec s = Combo(std::move(name), std::move(first_choices), std::move(def));
  s.choices_from = std::move(registry);
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
inline InputSpec Requires(InputSpec s, std::string capability) {
  s.requires_caps.push_back(std::move(capability));
  return s;
}

inline Constraint Less(std::string a, std::string b, std::string message = {}) {
  return {Constraint::Kind::kLess, std::move(a), std::move(b), {}, std::move(message)};
}
inline Constraint LessEqual(std::string a, std::string b, std::string message = {}) {
  return {Constraint::Kind::kLessEqual, std::move(a), std::move(b), {}, std::move(message)};
}
inline Constraint OnlyWhen(std::string a, std::string b, std::string value, std::string message = {}) {
  return {Constraint::Kind::kOnlyWhen, std::move(a), std::move(b), std::move(value), std::move(message)};
}
// At least one of `inputs` must be given (e.g. an output node with only optional inputs).
inline Constraint AnyOf(const std::vector<std::string>& inputs, std::string message = {}) {
  std::string list;
  for (const auto& name : inputs) list += (list.empty() ? "" : ",") + name;
  return {Constraint::Kind::kAnyOf, std::move(list), {}, {}, std::move(message)};
}
// The names of a comma-separated list ("" gives none).
inline std::vector<std::string> constraint_names(const std::string& list) {
  std::vector<std::string> names;
  if (list.empty()) return names;
  for (size_t begin = 0; begin <= list.size();) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    names.push_back(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return names;
}
// The inputs a kAnyOf constraint names.
inline std::vector<std::string> any_of_inputs(const Constraint& k) { return constraint_names(k.a); }
// product(numerator) / product(denominator) <= bound (kProductAtMost), e.g.
// ProductAtMost({"steps"}, {"denoise"}, 1e6, "int(steps / denoise) steps are computed").
inline Constraint ProductAtMost(const std::vector<std::string>& numerator, const std::vector<std::string>& denominator,
                                double bound, std::string message = {}) {
  auto join = [](const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ",") + name;
    return list;
  };
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", bound);
  return {Constraint::Kind::kProductAtMost, join(numerator), join(denominator), text, std::move(message)};
}
inline Constraint RequiredWhen(std::string a, std::string b, std::string value, std::string message = {}) {
  return {Constraint::Kind::kRequiredWhen, std::move(a), std::move(b), std::move(value), std::move(message)};
}

}  // namespace sf
