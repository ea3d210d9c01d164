#include <ATen/ATen.h>

#include <cmath>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/torchscript_model.h"

namespace sf::nodes {

using diffusion::DiscreteTable;
using diffusion::TorchScriptSettings;

namespace {

std::shared_ptr<DiscreteTable> discrete_table(const Inputs& in) {
  const bool list = in.get_string("discrete_table") == "list";
  try {
    if (!list)
      return std::make_shared<DiscreteTable>(
          DiscreteTable::linear_beta(in.get_float("beta_start"), in.get_float("beta_end"), in.get_int("table_steps")));
    if (!in.has("sigma_list")) throw InputError("sigma_list", "null", "discrete_table 'list' needs sigma_list");
    std::vector<double> table;
    for (const auto& v : in.get_literal("sigma_list").as_list()) {
      if (!v.is_number()) throw InputError("sigma_list", v.to_json(), "entries must be numbers");
      table.push_back(v.as_number());
    }
    return std::make_shared<DiscreteTable>(table);
  } catch (const std::invalid_argument& e) {
    throw InputError(list ? "sigma_list" : "beta_start", "", e.what());
  }
}

TorchScriptSettings settings_from_inputs(Context& ctx, const Inputs& in) {
  TorchScriptSettings s;
  s.path = input_path(ctx, in, "path");
  parse_parametrization(in.get_string("parametrization"), s.parametrization);
  parse_time_input(in.get_string("time_input"), s.time_input);
  s.nearest_timestep = in.get_string("timestep_rounding") == "nearest";
  s.sigma_data = in.get_float("sigma_data");
  s.sigma_min = in.get_float("sigma_min");
  s.sigma_max = in.get_float("sigma_max");
  s.dtype = in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat;
  s.sample_shape = parse_shape(in.get_string("sample_shape"), "sample_shape");
  if (s.sample_shape.empty()) throw InputError("sample_shape", "\"\"", "give the per-sample shape, e.g. \"4, 64, 64\"");
  s.device = model_device(ctx, in);
  if (s.time_input == TimeInput::kDiscreteIndex) s.table = discrete_table(in);
  if (!s.table && !(s.sigma_min < s.sigma_max))
    throw InputError("sigma_min", std::to_string(s.sigma_min), "sigma_min must be < sigma_max");
  return s;
}

}  // namespace

NodeDef torchscript_model_node() {
  NodeContract c = Node(
      "TorchScriptModel", kModelCategory,
      "Loads a TorchScript module whose forward(x, t) is a diffusion network and wraps it as a MODEL in VE space. "
      "parametrization: eps (c_in = 1/sqrt(s^2+1), D = x - s out), v, x0, edm (Karras preconditioning), flow "
      "(rectified flow: s_f = s/(1+s), x_f = x/(1+s), D = x_f - s_f out). time_input: sigma, log_sigma_quarter "
      "(EDM's ln(s)/4), discrete_index (a table index: the SD linear-beta table or a custom list; nearest as ComfyUI "
      "or interpolated as k-diffusion) or flow_t1000. sample_shape is the per-sample shape, e.g. \"4, 64, 64\".",
      {String("path", "model.pt"), Combo("parametrization", {"eps", "v", "x0", "edm", "flow"}),
       String("sample_shape", "4, 64, 64"),
       Combo("time_input", {"discrete_index", "sigma", "log_sigma_quarter", "flow_t1000"}),
       Combo("discrete_table", {"linear_beta", "list"}), Float("beta_start", 0.00085, 1e-8, 0.5, 0.00001),
       Float("beta_end", 0.012, 1e-8, 0.999, 0.0001), Int("table_steps", 1000, 2, 100000),
       Optional(Tooltip(List("sigma_list"), "ascending sigma table for discrete_table = list")),
       Combo("timestep_rounding", {"nearest", "interpolate"}), Float("sigma_data", 1.0, 1e-6, 1e4),
       Float("sigma_min", 0.002, 1e-8, 1e4, 0.001), Float("sigma_max", 80.0, 1e-6, 1e6, 0.1),
       String("device", "default"), Combo("dtype", {"float32", "float64"})},
      {{"MODEL", "MODEL"}});
  c.display_name = "TorchScript Model";
  return make_node(c, [](Context& ctx, const Inputs& in) {
    TorchScriptSettings s = settings_from_inputs(ctx, in);
    std::shared_ptr<const Model> model;
    try {
      model = diffusion::TorchScriptModel::load(s);
    } catch (const std::invalid_argument& e) {
      throw InputError("path", "\"" + s.path + "\"", e.what());
    }
    return Outputs{Value(model)};
  });
}

}  // namespace sf::nodes
