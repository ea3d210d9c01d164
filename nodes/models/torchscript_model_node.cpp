#include <ATen/ATen.h>

#include <cmath>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/torchscript_model.h"

namespace sf::nodes {

using diffusion::DiscreteTable;
using diffusion::TorchScriptSettings;

namespace {

// DiscreteTable's errors name the input they are about (sigma_list, beta_start, beta_end, table_steps).
std::shared_ptr<DiscreteTable> discrete_table(const Inputs& in) {
  if (in.get_string("discrete_table") != "list")
    return std::make_shared<DiscreteTable>(
        DiscreteTable::linear_beta(in.get_float("beta_start"), in.get_float("beta_end"), in.get_int("table_steps")));
  if (!in.has("sigma_list")) throw InputError("sigma_list", "null", "discrete_table 'list' needs sigma_list");
  std::vector<double> table;
  for (const auto& v : in.get_literal("sigma_list").as_list()) {
    if (!v.is_number()) throw InputError("sigma_list", v.to_json(), "entries must be numbers");
    table.push_back(v.as_number());
  }
  return std::make_shared<DiscreteTable>(table);
}

// "auto" (and 0 or "" for numbers and shapes) leaves a setting to the file's metadata; without
// metadata the old defaults apply: eps, discrete_index, sigma_data 1, sigma 0.002 .. 80.
TorchScriptSettings settings_from_inputs(Context& ctx, const Inputs& in) {
  TorchScriptSettings s;
  s.path = input_path(ctx, in, "path");
  const std::string& param = in.get_string("parametrization");
  const std::string& time = in.get_string("time_input");
  s.given.parametrization = param != "auto";
  if (s.given.parametrization) parse_parametrization(param, s.parametrization);
  s.given.time_input = time != "auto";
  if (s.given.time_input) parse_time_input(time, s.time_input);
  s.nearest_timestep = in.get_string("timestep_rounding") == "nearest";
  s.given.sigma_data = in.get_float("sigma_data") > 0;
  if (s.given.sigma_data) s.sigma_data = in.get_float("sigma_data");
  s.given.sigma_min = in.get_float("sigma_min") > 0;
  if (s.given.sigma_min) s.sigma_min = in.get_float("sigma_min");
  s.given.sigma_max = in.get_float("sigma_max") > 0;
  if (s.given.sigma_max) s.sigma_max = in.get_float("sigma_max");
  s.dtype = in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat;
  s.sample_shape = parse_shape(in.get_string("sample_shape"), "sample_shape");
  s.given.sample_shape = !s.sample_shape.empty();
  s.device = model_device(ctx, in);
  // The table is built whenever discrete_index may be used (chosen, or the default of "auto").
  if (s.time_input == TimeInput::kDiscreteIndex) s.table = discrete_table(in);
  if (s.given.sigma_min && s.given.sigma_max && !s.table && !(s.sigma_min < s.sigma_max))
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
      "or interpolated as k-diffusion) or flow_t1000. sample_shape is the per-sample shape, e.g. \"4, 64, 64\". "
      "A network TrainDenoiser wrote carries its settings: leave them on auto (0, empty) and they come from the "
      "file; a setting you give wins over the file's, with a warning.",
      {String("path", "model.pt"),
       Tooltip(Combo("parametrization", {"auto", "eps", "v", "x0", "edm", "flow"}),
               "auto: from the file's metadata, else eps"),
       Tooltip(String("sample_shape", ""), "per-sample shape, e.g. \"4, 64, 64\"; empty: from the file's metadata"),
       Tooltip(Combo("time_input", {"auto", "discrete_index", "sigma", "log_sigma_quarter", "flow_t1000"}),
               "auto: from the file's metadata, else discrete_index"),
       Combo("discrete_table", {"linear_beta", "list"}), Float("beta_start", 0.00085, 1e-8, 0.5, 0.00001),
       Float("beta_end", 0.012, 1e-8, 0.999, 0.0001), Int("table_steps", 1000, 2, 100000),
       Optional(Tooltip(List("sigma_list"), "ascending sigma table for discrete_table = list")),
       Combo("timestep_rounding", {"nearest", "interpolate"}),
       Tooltip(Float("sigma_data", 0.0, 0.0, 1e4), "0: from the file's metadata, else 1"),
       Tooltip(Float("sigma_min", 0.0, 0.0, 1e4, 0.001), "0: from the file's metadata, else 0.002"),
       Tooltip(Float("sigma_max", 0.0, 0.0, 1e6, 0.1), "0: from the file's metadata, else 80"),
       String("device", "default"), Combo("dtype", {"float32", "float64"})},
      {{"MODEL", "MODEL"}});
  c.display_name = "TorchScript Model";
  return make_node(c, [](Context& ctx, const Inputs& in) {
    TorchScriptSettings s = settings_from_inputs(ctx, in);
    // The loader's errors name the input they are about (path, sample_shape, time_input, sigma_min, ...).
    std::shared_ptr<const Model> model = diffusion::TorchScriptModel::load(s);
    const auto& notes = std::static_pointer_cast<const diffusion::TorchScriptModel>(model)->notes();
    for (const auto& m : notes.info) ctx.info(m);
    for (const auto& m : notes.warnings) ctx.warn(m);
    return Outputs{Value(model)};
  });
}

}  // namespace sf::nodes
