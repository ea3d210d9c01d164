#include <ATen/ATen.h>

#include "../common/device.h"
#include "../common/text.h"
#include "nodes.h"
#include "torchscript_model.h"

namespace sf::nodes {

NodeDef torchscript_model_node() {
  NodeContract c;
  c.class_type = "TorchScriptModel";
  c.display_name = "TorchScript Model";
  c.category = kModelCategory;
  c.description =
      "Loads a TorchScript module whose forward(x, t) is a diffusion network and wraps it as a MODEL in VE space. "
      "parametrization: eps (c_in = 1/sqrt(s^2+1), D = x - s out), v, x0, edm (Karras preconditioning), flow "
      "(rectified flow: s_f = s/(1+s), x_f = x/(1+s), D = x_f - s_f out). time_input: sigma, log_sigma_quarter "
      "(EDM's ln(s)/4), discrete_index (a table index: the SD linear-beta table or a custom list; nearest as ComfyUI "
      "or interpolated as k-diffusion) or flow_t1000. sample_shape is the per-sample shape, e.g. \"4, 64, 64\".";
  c.inputs = {String("path", "model.pt"),
              Combo("parametrization", {"eps", "v", "x0", "edm", "flow"}),
              String("sample_shape", "4, 64, 64"),
              Combo("time_input", {"discrete_index", "sigma", "log_sigma_quarter", "flow_t1000"}),
              Combo("discrete_table", {"linear_beta", "list"}),
              Float("beta_start", 0.00085, 1e-8, 0.5, 0.00001),
              Float("beta_end", 0.012, 1e-8, 0.999, 0.0001),
              Int("table_steps", 1000, 2, 100000),
              Optional(Tooltip(List("sigma_list"), "ascending sigma table for discrete_table = list")),
              Combo("timestep_rounding", {"nearest", "interpolate"}),
              Float("sigma_data", 1.0, 1e-6, 1e4),
              Float("sigma_min", 0.002, 1e-8, 1e4, 0.001),
              Float("sigma_max", 80.0, 1e-6, 1e6, 0.1),
              String("device", "default"),
              Combo("dtype", {"float32", "float64"})};
  c.outputs = {{"MODEL", "MODEL"}};
  return make_node(c, [](Context& ctx, const Inputs& in) {
    TorchScriptSettings s;
    s.path = in.get_string("path");
    s.parametrization = in.get_string("parametrization");
    s.time_input = in.get_string("time_input");
    s.rounding = in.get_string("timestep_rounding");
    s.sigma_data = in.get_float("sigma_data");
    s.sigma_min = in.get_float("sigma_min");
    s.sigma_max = in.get_float("sigma_max");
    s.dtype = in.get_string("dtype") == "float64" ? at::kDouble : at::kFloat;
    for (const auto& item : split_list(in.get_string("sample_shape"))) {
      double v = 0;
      if (!parse_number(item, v) || v < 1 || v != std::floor(v))
        throw InputError("sample_shape", "\"" + in.get_string("sample_shape") + "\"", "'" + item + "' is not a dimension");
      s.sample_shape.push_back(static_cast<int64_t>(v));
    }
    if (s.sample_shape.empty()) throw InputError("sample_shape", "\"\"", "give the per-sample shape, e.g. \"4, 64, 64\"");
    try {
      s.device = resolve_device(in.get_string("device"), ctx.default_device());
    } catch (const std::invalid_argument& e) {
      throw InputError("device", "\"" + in.get_string("device") + "\"", e.what());
    }
    if (s.time_input == "discrete_index") {
      try {
        if (in.get_string("discrete_table") == "list") {
          if (!in.has("sigma_list")) throw InputError("sigma_list", "null", "discrete_table 'list' needs sigma_list");
          std::vector<double> table;
          for (const auto& v : in.get_literal("sigma_list").as_list()) {
            if (!v.is_number()) throw InputError("sigma_list", v.to_json(), "entries must be numbers");
            table.push_back(v.as_number());
          }
          s.table = std::make_shared<DiscreteTable>(table);
        } else {
          s.table = std::make_shared<DiscreteTable>(
              DiscreteTable::linear_beta(in.get_float("beta_start"), in.get_float("beta_end"), in.get_int("table_steps")));
        }
      } catch (const std::invalid_argument& e) {
        throw InputError(in.get_string("discrete_table") == "list" ? "sigma_list" : "beta_start", "", e.what());
      }
    }
    if (!s.table && !(s.sigma_min < s.sigma_max))
      throw InputError("sigma_min", std::to_string(s.sigma_min), "sigma_min must be < sigma_max");
    std::shared_ptr<TorchScriptModel> model;
    try {
      model = std::make_shared<TorchScriptModel>(s);
    } catch (const std::invalid_argument& e) {
      throw InputError("path", "\"" + s.path + "\"", e.what());
    }
    return Outputs{Value(std::shared_ptr<const Object>(model))};
  });
}

}  // namespace sf::nodes
